"""Route: a candidate site of the gap analysis becomes a reserve-tier project (储备库) in one call.

The project gets the planned parcel as its footprint, a ``plan_link`` to the parcel (pinned to the layer
version read) naming the gap it closes, a pre-evaluation of that footprint stored under its code, and its
approval plan with what the report triggers. All of it is one transaction: any refusal leaves nothing.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from psycopg import Connection
from pydantic import BaseModel, Field

from analysis.engine import evaluate
from analysis.footprint import parse_footprint
from analysis.gaps import store
from analysis.gaps.answer import Candidate, GapAnswer, build_answer
from analysis.gaps.inputs import cache_key, gather
from analysis.standards.model import FacilityStandard, Standards, get_standards
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import catalog_of, check_plan_of, today
from app.edge.params import RowId
from app.errors import NotFound, Unprocessable
from app.preevaluation.sites import ruleset_for
from app.preevaluation.store import store_report_audited
from app.projects import service
from app.projects.models import FootprintIn, PlanLink, Project, ProjectCreate, Tier
from app.projects.preevaluation_link import create_plan_with_pre_evaluation
from layers.audit import record

router = APIRouter(prefix="/api/gaps", tags=["gaps"])


class CandidateProjectRequest(BaseModel):
    """The parties and money of the new project; the rest comes from the candidate."""

    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="项目名称；缺省按设施与地块命名"
    )
    unit_org_code: str | None = Field(default=None, max_length=64, description="建设单位组织代码，如 works")
    owner_dept_code: str | None = Field(default=None, max_length=64, description="主管部门组织代码")
    investment_wan: Decimal = Field(ge=0, le=Decimal("1e10"), description="估算总投资（万元）")
    funding_source: str = Field(default="区政府投资", min_length=1, max_length=100)
    planned_start: date | None = None


class CandidateProject(BaseModel):
    """The project made from a candidate, with its pre-evaluation and approval plan."""

    project: Project
    footprint_id: int
    footprint_area_m2: float
    pre_evaluation_id: int
    verdict: str
    plan_items: int
    candidate: Candidate
    cache_key: str


def _answer(conn: Connection[Any], standards: Standards, standard: FacilityStandard) -> GapAnswer:
    """The current answer (stored, or computed now: this route is rare and already costly)."""
    stored = store.load(conn, cache_key(conn, standards, standard))
    if stored is not None:
        return GapAnswer.model_validate_json(stored)
    answer = build_answer(gather(conn, standards, standard))
    store.save(conn, answer, answer.model_dump_json())
    return answer


def _parcel_geojson(conn: Connection[Any], parcel_fid: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT ST_AsGeoJSON(ST_Transform(f.geom, 4326), 9) FROM basemap.feature f JOIN basemap.layer l"
        " ON l.current_version = f.version_id WHERE l.code = 'sp_parcel' AND f.fid = %s",
        (parcel_fid,),
    ).fetchone()
    if row is None:
        raise NotFound("规划地块不存在。", "The plan parcel does not exist.", code="parcel_not_found")
    geojson: dict[str, Any] = json.loads(row[0])
    return geojson


@router.post(
    "/candidates/{facility}/{fid}/project",
    response_model=CandidateProject,
    status_code=201,
    summary="候选用地生成储备项目",
)
def candidate_project(
    facility: Annotated[str, Path(max_length=64, description="设施类型，如 primary_school")],
    fid: RowId,
    body: CandidateProjectRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PROJECTS_MANAGE))],
) -> CandidateProject:
    """Turn candidate ``fid`` of the current answer into a reserve-tier project with the parcel as its
    footprint, a plan link to the parcel and the gap, a stored pre-evaluation and its approval plan."""
    standards = get_standards()
    standard = standards.get(facility)
    if standard is None:
        raise Unprocessable(
            f"未知的设施类型“{facility}”。", f"Unknown facility type '{facility}'.", code="unknown_facility"
        )
    kind = standard.project
    ruleset_for(request, kind.preevaluation_type)
    answer = _answer(conn, standards, standard)
    candidate = next((c for c in answer.candidates if c.fid == fid), None)
    if candidate is None:
        raise NotFound(
            "当前分析中没有该候选用地（可能已建或不是该类设施的规划用地）。",
            "No such candidate site in the current analysis (built already, or not planned for this type).",
            code="not_a_candidate",
        )
    if candidate.parcel_fid is None:
        raise Unprocessable(
            "该规划设施点不在任何规划地块内，无法确定用地范围；请在项目库中手绘用地红线。",
            "The planned site lies on no plan parcel, so it has no footprint; draw one in the library.",
            code="no_parcel",
        )
    objective = (
        f"补足{standard.name_zh}缺口：新增服务 {candidate.newly_served} 人，"
        f"可缓解缺口 {candidate.shortfall_reached} {standard.provision.unit_zh}"
        f"（{candidate.layer} #{candidate.fid}，标准 {standards.version}）"
    )
    geojson = _parcel_geojson(conn, candidate.parcel_fid)
    with conn.transaction():
        project = service.create_project(
            conn,
            grant,
            ProjectCreate(
                name=body.name or f"{standard.name_zh}（{candidate.parcel_code or candidate.parcel_fid}）",
                project_type=kind.template,
                unit_org_code=body.unit_org_code,
                owner_dept_code=body.owner_dept_code,
                investment_wan=body.investment_wan,
                funding_source=body.funding_source,
                planned_start=body.planned_start,
                tier=Tier.RESERVE,
                plan_link=PlanLink(layer="sp_parcel", fid=candidate.parcel_fid, objective=objective[:500]),
            ),
            known_layers=set(catalog_of(request).layers),
            today=today(),
            initiation="top_down",
        )
        footprint = service.add_footprint(
            conn, grant, project.id, FootprintIn(footprint=geojson, note="规划地块")
        )
        parsed = parse_footprint(geojson, None)
        report = evaluate(
            conn,
            parsed,
            kind.preevaluation_type,
            plan=check_plan_of(request),
            data_dir=request.app.state.settings.data_dir,
            resident=request.app.state.resident,
        )
        stored = store_report_audited(
            conn, grant, project.code, grant.principal.org_id, parsed.geometry, report
        )
        items = create_plan_with_pre_evaluation(conn, grant, project.id)
        record(
            conn,
            grant.actor,
            "gap.candidate_project",
            "project",
            project.id,
            after={
                "facility": standard.code,
                "candidate": candidate.model_dump(mode="json"),
                "cache_key": answer.cache_key,
                "pre_evaluation_id": stored.id,
            },
        )
    return CandidateProject(
        project=service.fetch_project(conn, project.id),
        footprint_id=footprint.id,
        footprint_area_m2=round(parsed.geometry.area, 1),
        pre_evaluation_id=stored.id,
        verdict=str(report.verdict),
        plan_items=len(items),
        candidate=candidate,
        cache_key=answer.cache_key,
    )
