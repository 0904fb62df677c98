"""Routes: e-supervision warnings, KPIs and their CSV/XLSX export."""

from __future__ import annotations

import io
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from openpyxl import Workbook
from psycopg import sql

from analysis.export_cells import COUNT, DECIMAL, PERCENT, append_row, csv_text
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.deps import today
from app.edge.params import RowId
from app.projects import supervision
from app.projects.item_figures import ItemQuery, ItemRow, ItemState, KpiSet, list_items
from app.projects.kpis import GroupBy, KpiRow
from app.projects.supervision import SupervisionWarning

router = APIRouter(tags=["supervision"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.SUPERVISION_READ))]
ProjectFilter = Annotated[RowId | None, Query(description="只看某项目")]
DepartmentFilter = Annotated[str | None, Query(description="只看某部门（组织代码）")]
AsOf = Annotated[date | None, Query(description="计算日期；缺省为今天")]
By = Annotated[GroupBy, Query(description="分组：total、department、item、month")]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# (field, Chinese header, English header, XLSX number format): the group's name first, its code last.
COLUMNS = [
    ("name", "分组", "Group", None),
    ("items", "事项数", "Items", COUNT),
    ("finished", "办结数", "Finished", COUNT),
    ("early", "提前办结数", "Finished early", COUNT),
    ("early_completion_rate", "提前办结率（%）", "Early-completion rate (%)", PERCENT),
    ("approved", "批准数", "Approved", COUNT),
    ("one_time_pass", "一次性通过数", "Passed first time", COUNT),
    ("one_time_pass_rate", "一次性通过率（%）", "First-time pass rate (%)", PERCENT),
    ("mean_working_days", "平均办理工作日", "Mean working days", DECIMAL),
    ("overdue", "超时数", "Overdue", COUNT),
    ("key", "分组代码", "Group code", None),
]
Lang = Annotated[Literal["zh", "en"], Query(description="表头和名称的语言 zh/en")]


class ExportFormat(StrEnum):
    """Export file formats."""

    CSV = "csv"
    XLSX = "xlsx"


@router.get("/api/warnings", response_model=list[SupervisionWarning], summary="电子监察预警")
def list_warnings(
    conn: Conn,
    grant: ReadGrant,
    project_id: ProjectFilter = None,
    department: DepartmentFilter = None,
    as_of: AsOf = None,
) -> list[SupervisionWarning]:
    """Yellow at ≥ 80 % of the promised limit, red when overdue or a 容缺 supplement is late."""
    return supervision.warnings(conn, grant, as_of or today(), project_id, department)


@router.get("/api/approval-items", response_model=list[ItemRow], summary="审批事项清单")
def list_approval_items(
    conn: Conn,
    grant: ReadGrant,
    state: Annotated[ItemState | None, Query(description="in_flight 在办，overdue 超时")] = None,
    stage: Annotated[
        Literal["project_land", "engineering", "construction", "completion"] | None,
        Query(description="阶段"),
    ] = None,
    department: DepartmentFilter = None,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="绩效月份 YYYY-MM（办结月）")
    ] = None,
    kpi: Annotated[
        KpiSet | None,
        Query(
            description="绩效口径：started 已受理，finished 办结，early 提前办结，approved 通过，"
            "one_time_pass 一次性通过"
        ),
    ] = None,
    unit: Annotated[str | None, Query(max_length=64, description="只看某项目单位（组织代码）")] = None,
    as_of: AsOf = None,
) -> list[ItemRow]:
    """The items behind a figure of the leaders' overview or of the KPIs, with their clocks."""
    query = ItemQuery(state=state, stage=stage, department=department, month=month, kpi=kpi)
    return list_items(conn, grant, query, as_of or today(), unit)


@router.get("/api/kpis", response_model=list[KpiRow], summary="绩效指标")
def list_kpis(
    conn: Conn,
    grant: ReadGrant,
    by: By = GroupBy.TOTAL,
    project_id: ProjectFilter = None,
    department: DepartmentFilter = None,
    as_of: AsOf = None,
) -> list[KpiRow]:
    """Early-completion rate, one-time pass rate, mean working days, overdue count — from the event log."""
    return supervision.kpis(conn, grant, by, as_of or today(), project_id, department)


def _cell(row: KpiRow, field: str, names: dict[str, str]) -> object:
    if field == "name":
        return names.get(row.key, row.key)
    if field == "key":
        return row.key if row.key in names and row.key != "total" else None
    value = getattr(row, field)
    if field.endswith("_rate"):
        return None if value is None else round(100 * value, 1)
    return round(value, 2) if isinstance(value, float) else value


def _group_names(conn: Conn, rows: list[KpiRow], by: GroupBy, english: bool) -> dict[str, str]:
    """What people call each group: the department's or the item's name, 合计 for the total; a month is
    its own name (and has no code)."""
    if by is GroupBy.DEPARTMENT:
        column = "name_en" if english else "name_zh"
        query = sql.SQL(
            "SELECT code, coalesce(nullif({}, ''), name_zh) FROM auth.organisation WHERE code = ANY(%s)"
        ).format(sql.Identifier(column))
        found = conn.execute(query, ([r.key for r in rows],)).fetchall()
        return dict(found)
    if by is GroupBy.ITEM:
        return {r.key: (r.name_en if english else r.name_zh) or r.key for r in rows}
    return {"total": "Total" if english else "合计"}


@router.get(
    "/api/kpis/export",
    dependencies=[HeavyWork],
    summary="导出绩效指标",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def export_kpis(
    conn: Conn,
    grant: ReadGrant,
    format: Annotated[ExportFormat, Query(description="csv 或 xlsx")] = ExportFormat.CSV,
    by: By = GroupBy.DEPARTMENT,
    project_id: ProjectFilter = None,
    department: DepartmentFilter = None,
    as_of: AsOf = None,
    lang: Lang = "zh",
) -> Response:
    """The KPI table as CSV (UTF-8 with BOM, opens in Excel) or XLSX, with Chinese column headers."""
    rows = supervision.kpis(conn, grant, by, as_of or today(), project_id, department)
    english = lang == "en"
    names = _group_names(conn, rows, by, english)
    head = [en if english else zh for _, zh, en, _ in COLUMNS]
    table = [[_cell(r, field, names) for field, *_ in COLUMNS] for r in rows]
    name = f"kpis-{by.value}.{format.value}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is ExportFormat.CSV:
        return Response(
            "\ufeff" + csv_text([head, *table]), media_type="text/csv; charset=utf-8", headers=headers
        )
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "KPIs" if english else "绩效指标"
    append_row(sheet, head)
    formats = [number_format for *_, number_format in COLUMNS]
    for cells in table:
        append_row(sheet, cells, formats)
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=XLSX, headers=headers)
