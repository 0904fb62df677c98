"""Routes: a candidate site of the gap analysis becomes a reserve-tier project (储备库) or a demand in the
pool (项目需求库) in one call — planners generate projects from the map (``gaps:propose``).

Either gets the planned parcel as its footprint, a ``plan_link`` to the parcel (pinned to the layer version
read) naming the gap it closes, and a pre-evaluation of that footprint; a project also gets its approval
plan. A candidate becomes one project or one demand, once (``gap.candidate_use``): a second request is
refused naming the first. The answer is read or computed first holding no connection (as the GET route
does); a connection is leased for the write only, and any refusal leaves nothing.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from psycopg import Connection
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from analysis.engine import evaluate
from analysis.footprint import parse_footprint
from analysis.gaps.answer import Candidate, GapAnswer
from analysis.standards.model import FacilityStandard, Standards
from app.auth.deps import AllowBriefly, Grant
from app.auth.policy import Action
from app.db import leased_connection
from app.deps import catalog_of, check_plan_of, today
from app.edge.params import RowId
from app.errors import Conflict, NotFound, Unprocessable
from app.gaps.routes import current_answer, known_standard, publish_deficit
from app.preevaluation.sites import ruleset_for
from app.preevaluation.store import StoredReport, store_report_audited
from app.projects import demands, service
from app.projects.models import FootprintIn, PlanLink, Project, ProjectCreate, Tier
from app.projects.preevaluation_link import create_plan_with_pre_evaluation
from layers.audit import record

router = APIRouter(prefix="/api/gaps", tags=["gaps"])
ProposeGrant = Annotated[Grant, Depends(AllowBriefly(Action.GAPS_PROPOSE))]
FacilityPath = Annotated[str, Path(max_length=64, description="设施类型，如 primary_school")]


class CandidateProjectRequest(BaseModel):
    """The parties and money of the new project; the rest comes from the candidate."""

    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="项目名称；缺省按设施与地块命名"
    )
    unit_org_code: str | None = Field(
        default=None, max_length=64, description="建设单位组织代码，如 works；缺省为该类设施的实施单位"
    )
    owner_dept_code: str | None = Field(
        default=None, max_length=64, description="主管部门组织代码；缺省为该类设施的主管部门"
    )
    investment_wan: Decimal = Field(ge=0, le=Decimal("1e10"), description="估算总投资（万元）")
    funding_source: str = Field(default="区政府投资", min_length=1, max_length=100)
    planned_start: date | None = None


class CandidateDemandRequest(BaseModel):
    """The demand's title and description (defaults name the facility, the parcel and the gap)."""

    title: str | None = Field(default=None, min_length=1, max_length=200, description="需求标题")
    description: str | None = Field(default=None, min_length=1, max_length=5000, description="需求说明")


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


class CandidateDemand(BaseModel):
    """The demand made from a candidate, with its pre-evaluation."""

    demand: demands.Demand
    footprint_area_m2: float
    pre_evaluation_id: int
    verdict: str
    candidate: Candidate
    cache_key: str


def _candidate(answer: GapAnswer, fid: int) -> Candidate:
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
    return candidate


def _candidate_version(answer: GapAnswer, candidate: Candidate) -> int:
    return next(s.version_id for s in answer.layers if s.layer == candidate.layer)


def _refuse_if_taken(conn: Connection[Any], answer: GapAnswer, candidate: Candidate) -> None:
    """409 when the candidate already became a project or a demand, naming which (and locking the check)."""
    version = _candidate_version(answer, candidate)
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(%s))",
        (f"duogui.gap.candidate.{answer.facility}.{candidate.layer}.{version}.{candidate.fid}",),
    )
    row = conn.execute(
        "SELECT u.project_id, p.code, u.demand_id FROM gap.candidate_use u"
        " LEFT JOIN project.project p ON p.id = u.project_id"
        " WHERE u.facility = %s AND u.layer = %s AND u.version_id = %s AND u.fid = %s",
        (answer.facility, candidate.layer, version, candidate.fid),
    ).fetchone()
    if row is None:
        return
    project_id, project_code, demand_id = row
    if project_id is not None:
        raise Conflict(
            f"该候选用地已生成项目 {project_code}（#{project_id}）。",
            f"This candidate site already became project {project_code} (#{project_id}).",
            code="candidate_taken",
            taken={"kind": "project", "id": project_id, "code": project_code},
        )
    raise Conflict(
        f"该候选用地已生成需求 #{demand_id}。",
        f"This candidate site already became demand #{demand_id}.",
        code="candidate_taken",
        taken={"kind": "demand", "id": demand_id, "code": None},
    )


def _register_use(
    conn: Connection[Any],
    grant: Grant,
    answer: GapAnswer,
    candidate: Candidate,
    *,
    project_id: int | None = None,
    demand_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO gap.candidate_use (facility, layer, version_id, fid, project_id, demand_id, cache_key,"
        " created_by_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            answer.facility,
            candidate.layer,
            _candidate_version(answer, candidate),
            candidate.fid,
            project_id,
            demand_id,
            answer.cache_key,
            grant.principal.user_id,
        ),
    )


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


def _objective(standards: Standards, standard: FacilityStandard, candidate: Candidate) -> str:
    text = (
        f"补足{standard.name_zh}缺口：新增服务 {candidate.newly_served} 人，"
        f"可缓解缺口 {candidate.shortfall_reached} {standard.provision.unit_zh}"
        f"（{candidate.layer} #{candidate.fid}，标准 {standards.version}）"
    )
    return text[:500]


def _link(standards: Standards, standard: FacilityStandard, candidate: Candidate) -> PlanLink:
    objective = _objective(standards, standard, candidate)
    return PlanLink(layer="sp_parcel", fid=candidate.parcel_fid, objective=objective)


def _gap(standard: FacilityStandard, answer: GapAnswer, candidate: Candidate) -> dict[str, Any]:
    """The gap a candidate closes, as recorded with its project or demand."""
    return {
        "facility": standard.code,
        "facility_zh": standard.name_zh,
        "newly_served": candidate.newly_served,
        "shortfall_reached": candidate.shortfall_reached,
        "unit_zh": standard.provision.unit_zh,
        "unit_en": standard.provision.unit_en,
        "candidate_layer": candidate.layer,
        "candidate_fid": candidate.fid,
        "rank": candidate.rank,
        "standards_version": answer.standard.standards_version,
        "cache_key": answer.cache_key,
    }


def _pre_evaluate(
    conn: Connection[Any],
    request: Request,
    grant: Grant,
    geojson: dict[str, Any],
    project_type: str,
    project_code: str | None,
    extra: dict[str, Any],
) -> tuple[StoredReport, float]:
    parsed = parse_footprint(geojson, None)
    report = evaluate(
        conn,
        parsed,
        project_type,
        plan=check_plan_of(request),
        data_dir=request.app.state.settings.data_dir,
        resident=request.app.state.resident,
    )
    stored = store_report_audited(
        conn, grant, project_code, grant.principal.org_id, parsed.geometry, report, audit_extra=extra
    )
    return stored, round(parsed.geometry.area, 1)


async def _answer_and_candidate(
    request: Request, grant: Grant, facility: str, fid: int
) -> tuple[Standards, FacilityStandard, GapAnswer, Candidate]:
    standards, standard = known_standard(facility)
    ruleset_for(request, standard.project.preevaluation_type)
    answer, _, published = await current_answer(request, standards, standard, grant.actor)
    candidate = _candidate(answer, fid)
    if not published:
        async with leased_connection(request) as conn:
            await run_in_threadpool(publish_deficit, conn, request, standards, answer, grant.actor)
    return standards, standard, answer, candidate


def _make_project(
    conn: Connection[Any],
    request: Request,
    grant: Grant,
    body: CandidateProjectRequest,
    standards: Standards,
    standard: FacilityStandard,
    answer: GapAnswer,
    candidate: Candidate,
) -> CandidateProject:
    kind = standard.project
    assert candidate.parcel_fid is not None
    owner, unit = body.owner_dept_code or kind.owner_dept, body.unit_org_code or kind.unit
    if owner is None or unit is None:
        raise Unprocessable(
            f"{standard.name_zh}未配置主管部门或实施单位，请填写 owner_dept_code 与 unit_org_code。",
            f"No default department or unit for {standard.name_en}; give owner_dept_code and unit_org_code.",
            code="parties_required",
        )
    with conn.transaction():
        _refuse_if_taken(conn, answer, candidate)
        geojson = _parcel_geojson(conn, candidate.parcel_fid)
        project = service.create_project(
            conn,
            grant,
            ProjectCreate(
                name=body.name or f"{standard.name_zh}（{candidate.parcel_code or candidate.parcel_fid}）",
                project_type=kind.template,
                unit_org_code=unit,
                owner_dept_code=owner,
                investment_wan=body.investment_wan,
                funding_source=body.funding_source,
                planned_start=body.planned_start,
                tier=Tier.RESERVE,
                plan_link=_link(standards, standard, candidate),
            ),
            known_layers=set(catalog_of(request).layers),
            today=today(),
            initiation="top_down",
        )
        footprint = service.add_footprint(
            conn, grant, project.id, FootprintIn(footprint=geojson, note="规划地块")
        )
        stored, area = _pre_evaluate(conn, request, grant, geojson, kind.preevaluation_type, project.code, {})
        items = create_plan_with_pre_evaluation(conn, grant, project.id)
        _register_use(conn, grant, answer, candidate, project_id=project.id)
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
        made = service.fetch_project(conn, project.id)
    return CandidateProject(
        project=made,
        footprint_id=footprint.id,
        footprint_area_m2=area,
        pre_evaluation_id=stored.id,
        verdict=str(stored.report.verdict),
        plan_items=len(items),
        candidate=candidate,
        cache_key=answer.cache_key,
    )


@router.post(
    "/candidates/{facility}/{fid}/project",
    response_model=CandidateProject,
    status_code=201,
    summary="候选用地生成储备项目",
)
async def candidate_project(
    facility: FacilityPath,
    fid: RowId,
    body: CandidateProjectRequest,
    request: Request,
    grant: ProposeGrant,
) -> CandidateProject:
    """Turn candidate ``fid`` of the current answer into a reserve-tier project with the parcel as its
    footprint, a plan link to the parcel and the gap, a stored pre-evaluation and its approval plan. The
    owning department and the unit default to the facility type's (standards file)."""
    standards, standard, answer, candidate = await _answer_and_candidate(request, grant, facility, fid)
    async with leased_connection(request) as conn:
        return await run_in_threadpool(
            _make_project, conn, request, grant, body, standards, standard, answer, candidate
        )


def _make_demand(
    conn: Connection[Any],
    request: Request,
    grant: Grant,
    body: CandidateDemandRequest,
    standards: Standards,
    standard: FacilityStandard,
    answer: GapAnswer,
    candidate: Candidate,
) -> CandidateDemand:
    kind = standard.project
    assert candidate.parcel_fid is not None
    with conn.transaction():
        _refuse_if_taken(conn, answer, candidate)
        geojson = _parcel_geojson(conn, candidate.parcel_fid)
        link = service.plan_link(
            conn,
            _link(standards, standard, candidate),
            set(catalog_of(request).layers),
        )
        gap = _gap(standard, answer, candidate)
        parcel = candidate.parcel_code or f"#{candidate.parcel_fid}"
        title = body.title or f"新建{standard.name_zh}（规划地块 {parcel}）"
        description = body.description or (
            f"设施缺口分析：{standard.name_zh}候选用地第 {candidate.rank} 名，"
            f"新增服务 {candidate.newly_served} 人，可缓解缺口 {candidate.shortfall_reached} "
            f"{standard.provision.unit_zh}。标准 {standards.version}。"
        )
        stored, area = _pre_evaluate(conn, request, grant, geojson, kind.preevaluation_type, None, {})
        row = conn.execute(
            """
            INSERT INTO project.demand (source_kind, title, description, location, submitted_by_id,
              submitter_org_id, footprint, plan_link, gap, pre_evaluation_id)
            SELECT %s, %s, %s, ST_PointOnSurface(f.geom), %s, %s, f.geom, %s, %s, %s
            FROM basemap.feature f WHERE f.version_id = %s AND f.fid = %s
            RETURNING id
            """,
            (
                demands.SourceKind.GAP_ANALYSIS.value,
                title,
                description,
                grant.principal.user_id,
                grant.principal.org_id,
                Jsonb(link),
                Jsonb(gap),
                stored.id,
                link["layer_version_id"],
                candidate.parcel_fid,
            ),
        ).fetchone()
        assert row is not None
        demand = demands.get_demand(conn, grant, int(row[0]))
        _register_use(conn, grant, answer, candidate, demand_id=demand.id)
        record(conn, grant.actor, "demand.submit", "demand", demand.id, after=demand.model_dump(mode="json"))
        record(
            conn,
            grant.actor,
            "gap.candidate_demand",
            "demand",
            demand.id,
            after={
                "facility": standard.code,
                "candidate": candidate.model_dump(mode="json"),
                "cache_key": answer.cache_key,
                "pre_evaluation_id": stored.id,
            },
        )
    return CandidateDemand(
        demand=demand,
        footprint_area_m2=area,
        pre_evaluation_id=stored.id,
        verdict=str(stored.report.verdict),
        candidate=candidate,
        cache_key=answer.cache_key,
    )


@router.post(
    "/candidates/{facility}/{fid}/demand",
    response_model=CandidateDemand,
    status_code=201,
    summary="候选用地生成项目需求",
)
async def candidate_demand(
    facility: FacilityPath,
    fid: RowId,
    body: CandidateDemandRequest,
    request: Request,
    grant: ProposeGrant,
) -> CandidateDemand:
    """Turn candidate ``fid`` of the current answer into a demand in the pool (项目需求库) with the parcel as
    its footprint, a plan link to the parcel, the gap it closes and a stored pre-evaluation."""
    standards, standard, answer, candidate = await _answer_and_candidate(request, grant, facility, fid)
    async with leased_connection(request) as conn:
        return await run_in_threadpool(
            _make_demand, conn, request, grant, body, standards, standard, answer, candidate
        )
