"""Route: pre-evaluation (预评价) of a project footprint against the base map."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Query, Request, Response
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from analysis.engine import Report, evaluate
from analysis.footprint import Footprint, parse_footprint
from analysis.report_diff import ReportChanges, compare
from analysis.rules_model import get_ruleset
from app.audit.rules import fingerprint
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import catalog_of
from app.edge.params import RowId
from app.errors import NotFound, Unprocessable
from layers.audit import record
from layers.district import DISTRICT, STORAGE_SRID

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


class StaleMark(BaseModel):
    """A later layer version changed features this report met: the report should be re-checked."""

    layer: str
    from_version: int | None
    to_version: int | None
    changed: int
    marked_at: datetime


class StoredReport(BaseModel):
    """A stored pre-evaluation: its id and the report exactly as it was produced."""

    id: int
    created_at: datetime
    created_by_id: int
    org_id: int
    project_code: str | None
    previous_id: int | None = None
    report: Report
    stale: list[StaleMark] = Field(
        default_factory=list, description="报告所用图层此后有更新、且变化触及用地范围（需重新评价）"
    )
    changes: ReportChanges | None = Field(default=None, description="重新评价时：与上一份报告相比的变化")


class ReportSummary(BaseModel):
    """One line of the report list."""

    id: int
    created_at: datetime
    project_code: str | None
    project_type: str
    verdict: str
    footprint_area_m2: float
    rules_version: str
    stale: bool


@router.post("", response_model=StoredReport, status_code=201, summary="项目预评价")
def run_pre_evaluation(
    body: PreEvaluationRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> Response:
    """Check a footprint against every pre-evaluation layer: verdict, findings, not-checkable layers."""
    ruleset = get_ruleset()
    if body.project_type not in ruleset.settings.project_types:
        known = "、".join(ruleset.settings.project_types)
        raise Unprocessable(
            f"未知项目类型“{body.project_type}”，可选：{known}。",
            f"Unknown project type '{body.project_type}'.",
            code="unknown_project_type",
        )
    footprint = parse_footprint(body.footprint, body.crs)
    report = evaluate(
        conn,
        footprint,
        body.project_type,
        catalog=catalog_of(request),
        ruleset=ruleset,
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


def insert_report(
    conn: Connection[Any],
    user_id: int,
    org_id: int,
    project_code: str | None,
    footprint: shapely.Geometry,
    report: Report,
    *,
    previous_id: int | None = None,
) -> tuple[int, datetime]:
    """Insert a report row (the table is append-only for the service); returns its id and time."""
    row = conn.execute(
        """
        INSERT INTO project.pre_evaluation
          (created_by_id, org_id, project_code, project_type, verdict, footprint, footprint_area_m2,
           rules_version, layer_versions, report, previous_id)
        VALUES (%s, %s, %s, %s, %s, ST_GeomFromWKB(%s, %s), %s, %s, %s, %s::jsonb, %s)
        RETURNING id, created_at
        """,
        (
            user_id,
            org_id,
            project_code,
            report.project_type,
            report.verdict,
            shapely.to_wkb(footprint),
            STORAGE_SRID,
            report.footprint_area_m2,
            report.rules_version,
            Jsonb(report.layer_versions),
            # pydantic's own JSON writer: a 10 km² report holds thousands of hits.
            report.model_dump_json(),
            previous_id,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def store_report_audited(
    conn: Connection[Any],
    grant: Grant,
    project_code: str | None,
    org_id: int,
    footprint: shapely.Geometry,
    report: Report,
    previous: tuple[int, Report] | None = None,
    audit_extra: dict[str, Any] | None = None,
) -> StoredReport:
    """Store a report (append-only) and audit it; a re-check also records what changed since ``previous``."""
    changes = compare(previous[0], previous[1], report) if previous else None
    with conn.transaction():
        report_id, created_at = insert_report(
            conn,
            grant.principal.user_id,
            org_id,
            project_code,
            footprint,
            report,
            previous_id=previous[0] if previous else None,
        )
        after: dict[str, Any] = {
            "verdict": report.verdict,
            "project_type": report.project_type,
            "project_code": project_code,
            "findings": len(report.findings),
        }
        if changes is not None:
            after.update(previous_id=changes.previous_id, changed_findings=len(changes.findings))
        after.update(audit_extra or {})
        action = "pre_evaluation.recheck" if previous else "pre_evaluation.create"
        record(conn, grant.actor, action, "pre_evaluation", report_id, after=after)
    return StoredReport(
        id=report_id,
        created_at=created_at,
        created_by_id=grant.principal.user_id,
        org_id=org_id,
        project_code=project_code,
        previous_id=previous[0] if previous else None,
        report=report,
        changes=changes,
    )


@router.get("", response_model=list[ReportSummary], summary="预评价报告列表")
def list_reports(
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    project_code: Annotated[str | None, Query(max_length=64, description="按项目代码筛选")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReportSummary]:
    """Stored reports the caller may see (a project unit: its own organisation's), newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT id, created_at, project_code, project_type, verdict, footprint_area_m2, rules_version,
                   EXISTS (SELECT 1 FROM project.pre_evaluation_stale s WHERE s.report_id = e.id) AS stale
            FROM project.pre_evaluation e
            WHERE (%(org)s::bigint IS NULL OR org_id = %(org)s)
              AND (%(code)s::text IS NULL OR project_code = %(code)s)
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {"org": grant.org_filter(), "code": project_code, "limit": limit},
        ).fetchall()
    return [ReportSummary(**r) for r in rows]


@router.get("/rules", response_model=dict[str, Any], summary="预评价规则（公开的评价标准）")
def published_rules(grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))]) -> dict[str, Any]:
    """The rule set in force: every rule's layer, grade, conditions, distances, legal basis, department and
    the approval it triggers, the compatibility matrix, tolerances, and the rule files' fingerprint."""
    ruleset = get_ruleset()
    return {"version": ruleset.version, "sha256": fingerprint(), **ruleset.model_dump(mode="json")}


def _load(conn: Connection[Any], grant: Grant, report_id: int) -> tuple[StoredReport, bytes]:
    """A stored report the caller may see, with its stale marks and its footprint (WKB)."""
    row = conn.execute(
        "SELECT id, created_at, created_by_id, org_id, project_code, report, previous_id,"
        " ST_AsBinary(footprint) FROM project.pre_evaluation WHERE id = %s",
        (report_id,),
    ).fetchone()
    if row is None:
        raise NotFound("预评价报告不存在。", "No such pre-evaluation report.")
    grant.check_org(row[3])
    with conn.cursor(row_factory=dict_row) as cur:
        marks = cur.execute(
            "SELECT layer_code AS layer, from_version, to_version, changed, marked_at"
            " FROM project.pre_evaluation_stale WHERE report_id = %s ORDER BY id",
            (report_id,),
        ).fetchall()
    stored = StoredReport(
        id=row[0],
        created_at=row[1],
        created_by_id=row[2],
        org_id=row[3],
        project_code=row[4],
        previous_id=row[6],
        report=Report.model_validate(row[5]),
        stale=[StaleMark(**m) for m in marks],
    )
    return stored, row[7]


@router.get("/{report_id:int}", response_model=StoredReport, summary="预评价报告")
def get_report(
    report_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))]
) -> StoredReport:
    """One stored report, exactly as produced, with stale marks (other organisations' reports answer 404)."""
    return _load(conn, grant, report_id)[0]


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
    previous, wkb = _load(conn, grant, report_id)
    geometry = shapely.from_wkb(wkb)
    footprint = Footprint(geometry, float(geometry.area), list(previous.report.repairs))
    report = evaluate(
        conn,
        footprint,
        previous.report.project_type,
        catalog=catalog_of(request),
        ruleset=get_ruleset(),
        flags=previous.report.flags,
        data_dir=request.app.state.settings.data_dir,
        resident=request.app.state.resident,
    )
    return store_report_audited(
        conn, grant, previous.project_code, previous.org_id, geometry, report, (previous.id, previous.report)
    )
