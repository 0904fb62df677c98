"""Routes: pre-evaluation (预评价) of a project footprint against the base map; the stored reports."""

from __future__ import annotations

from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from analysis.engine import evaluate
from analysis.footprint import Footprint, parse_footprint
from app.audit.rules import fingerprint
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import catalog_of, check_plan_of
from app.edge.params import Offset, RowId
from app.preevaluation import listing
from app.preevaluation.listing import ReportListing
from app.preevaluation.sites import ruleset_for
from app.preevaluation.store import (
    StoredReport,
    store_report_audited,
    visible_report,
)
from layers.district import DISTRICT

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])


class PreEvaluationRequest(BaseModel):
    """A footprint (GeoJSON geometry, Feature or FeatureCollection) and the kind of project."""

    footprint: dict[str, Any] = Field(description="GeoJSON（默认 CRS84 经纬度）")
    project_type: str = Field(description="项目类型，如 school、road、housing")
    crs: str | None = Field(
        default=None, description=f"坐标系，如 {DISTRICT.storage_crs.label}；缺省为 CRS84"
    )
    flags: list[str] = Field(default_factory=list, description="项目属性，如 national_major")
    project_code: str | None = Field(default=None, max_length=64, description="项目代码（可选）")


@router.post("", response_model=StoredReport, status_code=201, summary="项目预评价")
def run_pre_evaluation(
    body: PreEvaluationRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> Response:
    """Check a footprint against every pre-evaluation layer: verdict, findings, not-checkable layers."""
    ruleset_for(request, body.project_type)
    footprint = parse_footprint(body.footprint, body.crs)
    report = evaluate(
        conn,
        footprint,
        body.project_type,
        plan=check_plan_of(request),
        flags=body.flags,
        data_dir=request.app.state.settings.data_dir,
        resident=request.app.state.resident,
    )
    stored = store_report_audited(
        conn, grant, body.project_code, grant.principal.org_id, footprint.geometry, report
    )
    return _json(stored, 201)


def _json(stored: StoredReport, status: int = 200) -> Response:
    """The stored report as JSON, written once by pydantic (not validated again on the way out)."""
    return Response(stored.model_dump_json(), status_code=status, media_type="application/json")


@router.get("", response_model=list[ReportListing], summary="预评价报告列表")
def list_reports(
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    project_code: Annotated[str | None, Query(max_length=64, description="按项目代码筛选")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="搜索：报告编号、项目代码或名称、项目类型、所在街道、结论（中英文均可）",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="最多返回条数")] = 100,
    offset: Annotated[Offset, Query(description="跳过条数（分页）")] = 0,
) -> list[ReportListing]:
    """Stored reports the caller may see (a project unit: its own organisation's), newest first."""
    return listing.list_reports(
        conn,
        check_plan_of(request).ruleset,
        catalog_of(request),
        org_id=grant.org_filter(),
        project_code=project_code,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.get("/rules", response_model=dict[str, Any], summary="预评价规则（公开的评价标准）")
def published_rules(
    request: Request, grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))]
) -> dict[str, Any]:
    """The rule set in force: every rule's layer, grade, conditions, distances, legal basis, department and
    the approval it triggers, the compatibility matrix, tolerances, and the rule files' fingerprint."""
    ruleset = check_plan_of(request).ruleset
    return {"version": ruleset.version, "sha256": fingerprint(), **ruleset.model_dump(mode="json")}


@router.get("/{report_id:int}", response_model=StoredReport, summary="预评价报告")
def get_report(
    report_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))]
) -> StoredReport:
    """One stored report, exactly as produced, with stale marks (other organisations' reports answer 404)."""
    return visible_report(conn, grant, report_id)[0]


@router.post(
    "/{report_id}/recheck", response_model=StoredReport, status_code=201, summary="重新评价（图层更新后）"
)
def recheck_report(
    report_id: RowId,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> StoredReport:
    """Check a stored report's footprint again on today's layers; the answer lists what changed."""
    previous, wkb = visible_report(conn, grant, report_id)
    geometry = shapely.from_wkb(wkb)
    footprint = Footprint(geometry, float(geometry.area), list(previous.report.repairs))
    report = evaluate(
        conn,
        footprint,
        previous.report.project_type,
        plan=check_plan_of(request),
        flags=previous.report.flags,
        data_dir=request.app.state.settings.data_dir,
        resident=request.app.state.resident,
    )
    return store_report_audited(
        conn, grant, previous.project_code, previous.org_id, geometry, report, (previous.id, previous.report)
    )
