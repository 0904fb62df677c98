"""Routes of the leaders' overview (领导驾驶舱) and its XLSX export."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from openpyxl import Workbook
from starlette.concurrency import run_in_threadpool

from analysis.export_cells import append_row
from app.auth.deps import Allow, AllowBriefly, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork, leased_connection
from app.deps import catalog_of, today
from app.overview.service import Figure, GapFigure, KpiFigure, Overview, overview
from app.projects.places import subdistrict_labels

router = APIRouter(tags=["overview"])
ReadGrant = Annotated[Grant, Depends(Allow(Action.OVERVIEW_READ))]
# Checked on a connection given back at once: the export leases its own for the read only.
BriefReader = Annotated[Grant, Depends(AllowBriefly(Action.OVERVIEW_READ))]
AsOf = Annotated[date | None, Query(description="计算日期；缺省为今天")]
Unit = Annotated[str | None, Query(description="只看某项目单位（组织代码）", max_length=64)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/api/overview", response_model=Overview, summary="领导驾驶舱")
def get_overview(
    request: Request, conn: Conn, grant: ReadGrant, as_of: AsOf = None, unit: Unit = None
) -> Overview:
    """Projects by status, tier, type, sub-district (of the footprint) and funding; investment; approvals;
    KPIs; demolition; facility gaps by sub-district (from the stored gap answers). Every figure names the
    list behind it (``link``)."""
    labels = subdistrict_labels(catalog_of(request))
    return overview(conn, grant, as_of or today(), unit, labels)


def _figures(book: Workbook, title: str, figures: list[Figure]) -> None:
    sheet = book.create_sheet(title)
    append_row(sheet, ["分组 Group", "名称 Name", "数量 Count", "投资（万元） Investment (10k CNY)", "ids"])
    for f in figures:
        investment = None if f.investment_wan is None else float(f.investment_wan)
        name = " ".join(n for n in (f.name_zh, f.name_en) if n) or None
        append_row(sheet, [f.key, name, f.count, investment, ",".join(map(str, f.ids))])


GAP_STATES = {"current": "当前 current", "stale": "输入已更新 inputs changed since",
              "not_computed": "未计算 not computed yet"}  # fmt: skip


def _gaps(book: Workbook, gaps: list[GapFigure]) -> None:
    sheet = book.create_sheet("设施缺口 Facility gaps")
    append_row(
        sheet,
        ["设施 Facility", "街道 Sub-district", "人口 Population", "覆盖 Covered", "未覆盖 Not covered",
         "缺口 Shortfall", "单位 Unit", "状态 State", "计算时间 Computed at", "标准版本 Standards",
         "图层版本 Layer versions"],
    )  # fmt: skip
    for g in gaps:
        facility = f"{g.name_zh} {g.name_en}"
        unit = f"{g.unit_zh} {g.unit_en}"
        state = GAP_STATES[g.state]
        if g.district is None:
            append_row(sheet, [facility, None, None, None, None, None, unit, state, None, None, None])
            continue
        computed = g.computed_at.isoformat(timespec="seconds") if g.computed_at else None
        versions = ", ".join(f"{v.layer}@{v.number}" for v in [*g.layers, *g.network])
        for a in [*g.subdistricts, g.district]:
            place = f"{a.name_zh or a.subdistrict} {a.name_en or ''}" if a.subdistrict else "全区 District"
            append_row(
                sheet,
                [facility, place.strip(), a.population, a.covered, a.not_covered, a.shortfall, unit, state,
                 computed, g.standards_version, versions],
            )  # fmt: skip


def _kpis(book: Workbook, title: str, rows: list[KpiFigure]) -> None:
    sheet = book.create_sheet(title)
    append_row(
        sheet,
        ["分组 Group", "事项 Items", "办结 Finished", "提前办结 Early", "提前办结率 Early %",
         "通过 Approved", "一次性通过 One-time pass", "一次性通过率 One-time %", "超时 Overdue"],
    )  # fmt: skip
    for r in rows:
        append_row(
            sheet,
            [
                r.key,
                r.items,
                r.finished,
                r.early,
                None if r.early_completion_rate is None else round(100 * r.early_completion_rate, 1),
                r.approved,
                r.one_time_pass,
                None if r.one_time_pass_rate is None else round(100 * r.one_time_pass_rate, 1),
                r.overdue,
            ],
        )


def _workbook(data: Overview) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    _figures(book, "状态 Status", data.by_status)
    _figures(book, "库别 Tier", data.by_tier)
    _figures(book, "类型 Type", data.by_type)
    _figures(book, "街道 Sub-district", data.by_subdistrict)
    _figures(book, "资金 Funding", data.by_funding)
    _figures(book, "投资 Investment", [data.investment_planned_wan, data.investment_under_way_wan])
    approvals = data.approvals
    _figures(book, "审批 Approvals", [approvals.in_flight, approvals.overdue, *approvals.by_stage])
    _figures(book, "申报件 Applications", data.applications_by_status)
    _kpis(book, "部门 By department", data.kpi_by_department)
    _kpis(book, "月份 By month", data.kpi_by_month)
    _gaps(book, data.gaps)
    sheet = book.create_sheet("征拆 Demolition")
    append_row(sheet, ["项目代码 Code", "项目 Project", "户数 Units", "已腾空 Cleared", "进度 % Progress"])
    for d in data.demolition:
        append_row(sheet, [d.code, d.name, d.units, d.cleared_units, d.progress_pct])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@router.get(
    "/api/overview.xlsx",
    dependencies=[HeavyWork],
    summary="导出领导驾驶舱",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
async def export_overview(
    request: Request, grant: BriefReader, as_of: AsOf = None, unit: Unit = None
) -> Response:
    """The overview's figures as an XLSX workbook, one sheet per breakdown. The figures are read on a
    connection given back before the workbook is built (CPU work that needs no connection)."""
    day = as_of or today()
    labels = subdistrict_labels(catalog_of(request))
    async with leased_connection(request) as conn:
        data = await run_in_threadpool(overview, conn, grant, day, unit, labels)
    body = await run_in_threadpool(_workbook, data)
    headers = {"Content-Disposition": 'attachment; filename="overview.xlsx"'}
    return Response(body, media_type=XLSX, headers=headers)
