"""Route: pre-evaluation (预评价) of a project footprint against the base map."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Query, Request
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from analysis.engine import Report, evaluate
from analysis.footprint import parse_footprint
from analysis.rules_model import get_ruleset
from app.api.routes.layers import catalog_of
from app.audit.log import record
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.errors import NotFound, Unprocessable

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])


class PreEvaluationRequest(BaseModel):
    """A footprint (GeoJSON geometry, Feature or FeatureCollection) and the kind of project."""

    footprint: dict[str, Any] = Field(description="GeoJSON（默认 CRS84 经纬度）")
    project_type: str = Field(description="项目类型，如 school、road、housing")
    crs: str | None = Field(default=None, description="坐标系，如 EPSG:4547；缺省为 CRS84")
    flags: list[str] = Field(default_factory=list, description="项目属性，如 national_major")
    project_code: str | None = Field(default=None, max_length=64, description="项目代码（可选）")


class StoredReport(BaseModel):
    """A stored pre-evaluation: its id and the report exactly as it was produced."""

    id: int
    created_at: datetime
    created_by_id: int
    org_id: int
    project_code: str | None
    report: Report


class ReportSummary(BaseModel):
    """One line of the report list."""

    id: int
    created_at: datetime
    project_code: str | None
    project_type: str
    verdict: str
    footprint_area_m2: float
    rules_version: str


@router.post("", response_model=StoredReport, status_code=201, summary="项目预评价")
def run_pre_evaluation(
    body: PreEvaluationRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> StoredReport:
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
    )
    principal = grant.principal
    with conn.transaction():
        row = conn.execute(
            """
            INSERT INTO project.pre_evaluation
              (created_by_id, org_id, project_code, project_type, verdict, footprint, footprint_area_m2,
               rules_version, layer_versions, report)
            VALUES (%s, %s, %s, %s, %s, ST_GeomFromWKB(%s, 4547), %s, %s, %s, %s)
            RETURNING id, created_at
            """,
            (
                principal.user_id,
                principal.org_id,
                body.project_code,
                body.project_type,
                report.verdict,
                shapely.to_wkb(footprint.geometry),
                report.footprint_area_m2,
                report.rules_version,
                Jsonb(report.layer_versions),
                Jsonb(report.model_dump(mode="json")),
            ),
        ).fetchone()
        assert row is not None
        record(
            conn,
            grant.actor,
            "pre_evaluation.create",
            "pre_evaluation",
            row[0],
            after={
                "verdict": report.verdict,
                "project_type": body.project_type,
                "project_code": body.project_code,
                "findings": len(report.findings),
            },
        )
    return StoredReport(
        id=row[0],
        created_at=row[1],
        created_by_id=principal.user_id,
        org_id=principal.org_id,
        project_code=body.project_code,
        report=report,
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
            SELECT id, created_at, project_code, project_type, verdict, footprint_area_m2, rules_version
            FROM project.pre_evaluation
            WHERE (%(org)s::bigint IS NULL OR org_id = %(org)s)
              AND (%(code)s::text IS NULL OR project_code = %(code)s)
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {"org": grant.org_filter(), "code": project_code, "limit": limit},
        ).fetchall()
    return [ReportSummary(**r) for r in rows]


@router.get("/{report_id}", response_model=StoredReport, summary="预评价报告")
def get_report(
    report_id: int, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))]
) -> StoredReport:
    """One stored report, exactly as produced (other organisations' reports answer 404)."""
    row = conn.execute(
        "SELECT id, created_at, created_by_id, org_id, project_code, report FROM project.pre_evaluation"
        " WHERE id = %s",
        (report_id,),
    ).fetchone()
    if row is None:
        raise NotFound("预评价报告不存在。", "No such pre-evaluation report.")
    grant.check_org(row[3])
    return StoredReport(
        id=row[0],
        created_at=row[1],
        created_by_id=row[2],
        org_id=row[3],
        project_code=row[4],
        report=Report.model_validate(row[5]),
    )
