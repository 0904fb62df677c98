"""Routes: the project library (项目库) and its approval templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import Versioned, catalog_of, today, with_etag
from app.edge.params import RowId
from app.errors import Unprocessable
from app.projects import service
from app.projects.code import validate_code
from app.projects.models import (
    FootprintIn,
    FootprintOut,
    Project,
    ProjectCreate,
    ProjectStatus,
    ProjectUpdate,
    Tier,
)
from app.projects.places import subdistrict_codes
from app.projects.templates import Template, load_templates

router = APIRouter(tags=["projects"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.PROJECTS_READ))]
ManageGrant = Annotated[Grant, Depends(Allow(Action.PROJECTS_MANAGE))]


class CodeCheck(BaseModel):
    """A valid project code and its parts."""

    code: str
    year: int
    region: str
    industry: str
    project_type: str
    serial: str
    check: str


@router.post("/api/projects", response_model=Project, status_code=201, summary="登记项目")
def create_project(body: ProjectCreate, request: Request, conn: Conn, grant: ManageGrant) -> Project:
    """Register a project: departments top-down (with the plan feature it implements), units their own."""
    known = set(catalog_of(request).layers)
    return service.create_project(conn, grant, body, known_layers=known, today=today())


@router.get("/api/projects", response_model=list[Project], summary="项目库")
def list_projects(
    request: Request,
    conn: Conn,
    grant: ReadGrant,
    status: Annotated[list[ProjectStatus] | None, Query(description="状态（可多选）")] = None,
    tier: Annotated[Tier | None, Query(description="库别")] = None,
    project_type: Annotated[str | None, Query(max_length=64, description="项目类型")] = None,
    funding_source: Annotated[str | None, Query(max_length=100, description="资金来源")] = None,
    unit: Annotated[str | None, Query(max_length=64, description="项目单位（组织代码）")] = None,
    subdistrict: Annotated[
        str | None,
        Query(max_length=64, description="街道代码（按现状用地范围落位）；unassigned 为未定位"),
    ] = None,
) -> list[Project]:
    """Projects the caller may see: units their own, departments those involving them; narrowed by
    status, tier, type, funding source, project unit and the sub-district its footprint lies in."""
    if subdistrict is not None and subdistrict not in subdistrict_codes(catalog_of(request)):
        raise Unprocessable(
            f"未知的街道代码“{subdistrict}”。",
            f"Unknown sub-district '{subdistrict}'.",
            code="unknown_subdistrict",
        )
    filters = service.ProjectFilters(project_type, funding_source, unit, subdistrict)
    return service.list_projects(conn, grant, status, tier.value if tier else None, filters)


@router.get("/api/projects/{project_id}", response_model=Project, summary="项目详情")
def get_project(project_id: RowId, response: Response, conn: Conn, grant: ReadGrant) -> Project:
    """One project; its ETag is the version to send back with a change."""
    return with_etag(response, service.fetch_project(conn, project_id, grant))


@router.patch("/api/projects/{project_id}", response_model=Project, summary="修改项目")
def update_project(
    project_id: RowId,
    body: ProjectUpdate,
    request: Request,
    conn: Conn,
    grant: ManageGrant,
    check: Versioned,
) -> Project:
    """Change a project; a stale version answers 412 (If-Match) or 409 (version field) with the state."""
    expected, from_header = check.expected(body.version)
    known = set(catalog_of(request).layers)
    return check.answer(service.update_project(conn, grant, project_id, body, expected, from_header, known))


@router.post(
    "/api/projects/{project_id}/footprints",
    response_model=FootprintOut,
    status_code=201,
    summary="新增项目红线",
)
def add_footprint(project_id: RowId, body: FootprintIn, conn: Conn, grant: ManageGrant) -> FootprintOut:
    """Store a new footprint; the previous one is kept as history."""
    return service.add_footprint(conn, grant, project_id, body)


@router.get(
    "/api/projects/{project_id}/footprints", response_model=list[FootprintOut], summary="项目红线历史"
)
def list_footprints(project_id: RowId, conn: Conn, grant: ReadGrant) -> list[FootprintOut]:
    """Every footprint of the project, current first."""
    return service.list_footprints(conn, grant, project_id)


@router.get("/api/project-codes/{code}", response_model=CodeCheck, summary="校验项目代码")
def check_code(code: str, _: ReadGrant) -> CodeCheck:
    """Validate a national project code (format and check character); 422 when it is wrong."""
    validate_code(code)
    year, region, industry, ptype, tail = code.split("-")
    return CodeCheck(
        code=code,
        year=int(year),
        region=region,
        industry=industry,
        project_type=ptype,
        serial=tail[:5],
        check=tail[5],
    )


@router.get("/api/approval-templates", response_model=list[Template], summary="审批计划模板")
def list_templates(_: ReadGrant) -> list[Template]:
    """Approval plan templates per project type (data files)."""
    return list(load_templates().values())
