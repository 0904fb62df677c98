"""Routes: the demolition ledger (征拆台账) — units, versioned changes, transitions, event log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.csp import page_policy
from app.db import Conn, HeavyWork
from app.demolition import blockers, exports, ledger
from app.demolition.disclosure import masked_unit, shown_unit, shown_units
from app.demolition.models import (
    PIPELINE,
    STATUS_COLOURS,
    STATUS_LABELS,
    StatusInfo,
    TransitionIn,
    Unit,
    UnitCreate,
    UnitEvent,
    UnitStatus,
    UnitUpdate,
)
from app.demolition.overview import LedgerProject, ledger_projects
from app.demolition.progress import Breakdown, Progress, project_progress, subdistrict_progress
from app.demolition.sheets import subdistrict_names
from app.deps import Versioned, today, with_etag
from app.edge.params import RowId
from app.projects.service import visibility

router = APIRouter(tags=["demolition"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.DEMOLITION_READ))]
ManageGrant = Annotated[Grant, Depends(Allow(Action.DEMOLITION_MANAGE))]


@router.get("/api/demolition/statuses", response_model=list[StatusInfo], summary="征拆状态与图例颜色")
def list_statuses(_: ReadGrant) -> list[StatusInfo]:
    """The pipeline 调查 → 评估 → 签约 → 补偿 → 腾空 → 拆除 → 移交, with map colours."""
    return [
        StatusInfo(
            code=s,
            order=i,
            name_zh=STATUS_LABELS[s][0],
            name_en=STATUS_LABELS[s][1],
            colour=STATUS_COLOURS[s],
        )
        for i, s in enumerate(PIPELINE)
    ]


@router.get("/api/demolition/projects", response_model=list[LedgerProject], summary="征拆项目一览")
def list_ledger_projects(conn: Conn, grant: ReadGrant) -> list[LedgerProject]:
    """The visible projects, those with ledger units first, with unit counts, progress and threshold."""
    return ledger_projects(conn, grant)


@router.get("/api/demolition/projects/{project_id}/units", response_model=list[Unit], summary="征拆台账")
def list_units(
    project_id: RowId,
    conn: Conn,
    grant: ReadGrant,
    status: Annotated[UnitStatus | None, Query(description="只看某状态")] = None,
) -> list[Unit]:
    """Every unit of the project (一户一档), GeoJSON geometry in CRS84; personal values masked unless the
    caller works the case (土地整备局, the unit's sub-district coordinators), and audited when shown."""
    units = ledger.list_units(conn, grant, project_id, status)
    return shown_units(conn, grant, project_id, units, "api").units


@router.post(
    "/api/demolition/projects/{project_id}/units",
    response_model=Unit,
    status_code=201,
    summary="新增征拆单元",
)
def create_unit(
    project_id: RowId, body: UnitCreate, response: Response, conn: Conn, grant: ManageGrant
) -> Unit:
    """Enter one unit by hand (status 调查)."""
    return with_etag(response, shown_unit(conn, grant, ledger.create_unit(conn, grant, project_id, body)))


@router.get("/api/demolition/units/{unit_id}", response_model=Unit, summary="征拆单元")
def get_unit(unit_id: RowId, response: Response, conn: Conn, grant: ReadGrant) -> Unit:
    """One unit; its ETag is the version to send back with a change."""
    return with_etag(response, shown_unit(conn, grant, ledger.fetch_unit(conn, unit_id, grant)))


@router.patch("/api/demolition/units/{unit_id}", response_model=Unit, summary="修改征拆单元")
def update_unit(
    unit_id: RowId,
    body: UnitUpdate,
    conn: Conn,
    grant: ManageGrant,
    check: Versioned,
) -> Unit:
    """Change attributes (valuation, compensation…); stale versions answer 412 (If-Match) or 409."""
    unit = ledger.update_unit(conn, grant, unit_id, body, *check.expected(body.version))
    return check.answer(shown_unit(conn, grant, unit))


@router.post("/api/demolition/units/{unit_id}/transitions", response_model=Unit, summary="变更征拆状态")
def transition_unit(
    unit_id: RowId,
    body: TransitionIn,
    conn: Conn,
    grant: ManageGrant,
    check: Versioned,
) -> Unit:
    """Move the unit along the pipeline; skipping steps or going back needs a reason and is recorded."""
    unit = ledger.transition_unit(conn, grant, unit_id, body, *check.expected(body.version))
    return check.answer(shown_unit(conn, grant, unit))


@router.get("/api/demolition/units/{unit_id}/events", response_model=list[UnitEvent], summary="征拆单元日志")
def unit_events(unit_id: RowId, conn: Conn, grant: ReadGrant) -> list[UnitEvent]:
    """Creation, transitions (who, when, note, reason, attachment) and attribute changes, oldest first."""
    return ledger.unit_events(conn, grant, unit_id)


@router.get("/api/demolition/projects/{project_id}/progress", response_model=Progress, summary="征拆进度")
def progress(
    project_id: RowId,
    conn: Conn,
    grant: ReadGrant,
    as_of: Annotated[date | None, Query(description="计算日期；缺省为今天")] = None,
) -> Progress:
    """Counts, floor area and households per status and sub-district, burndown and finish forecast."""
    ledger.visible_project(conn, grant, project_id)
    return project_progress(conn, project_id, as_of or today())


@router.get("/api/demolition/progress/subdistricts", response_model=list[Breakdown], summary="各街道征拆进度")
def progress_by_subdistrict(conn: Conn, grant: ReadGrant) -> list[Breakdown]:
    """Units, floor area and households per status for each sub-district, over the visible projects."""
    where, params = visibility(grant)
    return subdistrict_progress(conn, where, params)


@router.get(
    "/api/demolition/projects/{project_id}/units.csv",
    dependencies=[HeavyWork],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV (UTF-8 with BOM)"}},
    summary="导出征拆台账（CSV）",
)
def units_csv(project_id: RowId, conn: Conn, grant: ReadGrant) -> Response:
    """The ledger with Chinese headers, as the 台账 sheet of the XLSX (the bulk update reads it back)."""
    project = ledger.visible_project(conn, grant, project_id)
    shown = shown_units(conn, grant, project_id, ledger.list_units(conn, grant, project_id), "csv")
    body = exports.ledger_csv(shown.units, subdistrict_names(conn), shown.personal)
    name = f"demolition-ledger-{project.code}-{exports.personal_suffix(shown.personal)}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/api/demolition/projects/{project_id}/progress.xlsx",
    dependencies=[HeavyWork],
    response_class=Response,
    responses={200: {"content": {exports.XLSX: {}}, "description": "XLSX"}},
    summary="导出征拆进度（XLSX）",
)
def progress_xlsx(
    project_id: RowId,
    conn: Conn,
    grant: ReadGrant,
    as_of: Annotated[date | None, Query(description="计算日期；缺省为今天")] = None,
) -> Response:
    """Summary by status, sub-districts, burndown and the ledger itself, with Chinese headers."""
    project = ledger.visible_project(conn, grant, project_id)
    progress = project_progress(conn, project_id, as_of or today())
    shown = shown_units(conn, grant, project_id, ledger.list_units(conn, grant, project_id), "xlsx")
    body = exports.progress_xlsx(project, progress, shown, subdistrict_names(conn))
    name = f"demolition-{project.code}-{exports.personal_suffix(shown.personal)}.xlsx"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=exports.XLSX, headers=headers)


@router.get(
    "/api/demolition/projects/{project_id}/summary.html",
    dependencies=[HeavyWork],
    response_class=HTMLResponse,
    summary="征拆进度报告（可打印，含地图）",
)
def summary_html(
    project_id: RowId,
    conn: Conn,
    grant: ReadGrant,
    as_of: Annotated[date | None, Query(description="计算日期；缺省为今天")] = None,
) -> HTMLResponse:
    """A printable page: headline figures, tables, open blockers and a map (Leaflet served locally)."""
    project = ledger.visible_project(conn, grant, project_id)
    progress = project_progress(conn, project_id, as_of or today())
    # The page shows no personal value; the units go masked so that none can reach it by mistake.
    units = [masked_unit(u) for u in ledger.list_units(conn, grant, project_id)]
    open_blockers = blockers.list_blockers(conn, grant, project_id, None, None)
    page = exports.summary_html(project, progress, units, open_blockers)
    # The page's own policy: the app's, with the map's inline code (folium's) allowed by hash.
    policy = page_policy(page.script_hashes, page.style_hashes)
    return HTMLResponse(page.html, headers={"Content-Security-Policy": policy})
