"""Routes: e-supervision warnings, KPIs and their CSV/XLSX export."""

from __future__ import annotations

import io
from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from openpyxl import Workbook

from analysis.export_cells import append_row, csv_text
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.deps import today
from app.edge.params import RowId
from app.projects import supervision
from app.projects.kpis import GroupBy, KpiRow
from app.projects.supervision import SupervisionWarning

router = APIRouter(tags=["supervision"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.SUPERVISION_READ))]
ProjectFilter = Annotated[RowId | None, Query(description="只看某项目")]
DepartmentFilter = Annotated[str | None, Query(description="只看某部门（组织代码）")]
AsOf = Annotated[date | None, Query(description="计算日期；缺省为今天")]
By = Annotated[GroupBy, Query(description="分组：total、department、item、month")]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = [
    ("key", "分组"),
    ("items", "事项数"),
    ("finished", "办结数"),
    ("early", "提前办结数"),
    ("early_completion_rate", "提前办结率"),
    ("approved", "批准数"),
    ("one_time_pass", "一次性通过数"),
    ("one_time_pass_rate", "一次性通过率"),
    ("mean_working_days", "平均办理工作日"),
    ("overdue", "超时数"),
]


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


def _cell(row: KpiRow, field: str) -> object:
    value = getattr(row, field)
    return round(value, 4) if isinstance(value, float) else value


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
) -> Response:
    """The KPI table as CSV (UTF-8 with BOM, opens in Excel) or XLSX, with Chinese column headers."""
    rows = supervision.kpis(conn, grant, by, as_of or today(), project_id, department)
    # By item, the item's names follow its code (the code alone tells a reader little).
    columns = COLUMNS[:1] + [("name_zh", "事项名称"), ("name_en", "Item")] + COLUMNS[1:]
    columns = columns if by is GroupBy.ITEM else COLUMNS
    name = f"kpis-{by.value}.{format.value}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is ExportFormat.CSV:
        table: list[list[object]] = [[zh for _, zh in columns]]
        table.extend([_cell(r, f) for f, _ in columns] for r in rows)
        return Response("\ufeff" + csv_text(table), media_type="text/csv; charset=utf-8", headers=headers)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "绩效指标"
    append_row(sheet, [zh for _, zh in columns])
    for r in rows:
        append_row(sheet, [_cell(r, f) for f, _ in columns])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=XLSX, headers=headers)
