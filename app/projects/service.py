"""The project library: creating, reading (by who may see what), updating, footprints with history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from analysis.footprint import parse_footprint
from app.auth.deps import Grant
from app.auth.policy import Role, Scope
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.projects.code import REGION, make_code, validate_code
from app.projects.models import (
    STATUS_NEXT,
    FootprintIn,
    FootprintOut,
    PlanLink,
    Project,
    ProjectCreate,
    ProjectStatus,
    ProjectUpdate,
)
from app.projects.places import subdistricts_of
from app.projects.templates import get_template
from app.versioning import check_version
from layers.audit import record
from layers.district import STORAGE_SRID

PROJECT_COLUMNS = sql.SQL(
    "id, code, name, project_type, owner_dept_id, unit_org_id, investment_wan, funding_source, planned_start,"
    " status, tier, initiation, plan_link, demolition_progress_pct, demolition_threshold_pct, created_at,"
    " updated_at, version"
)


@dataclass(frozen=True)
class ProjectFilters:
    """The library's narrowing besides status and tier (the overview's figures link to these)."""

    project_type: str | None = None
    funding_source: str | None = None
    unit: str | None = None
    subdistrict: str | None = None  # a code of admin_subdistrict, or places.UNLOCATED


def visibility(
    grant: Grant, alias: str = "p", *, bound: bool = True
) -> tuple[sql.Composable, dict[str, Any]]:
    """WHERE clause of the projects ``grant`` may see: units their own, departments those involving them.

    ``bound=False`` writes the organisation into the clause (for a subquery inside another statement)."""
    p = sql.Identifier(alias)
    org = grant.principal.org_id
    vis: sql.Composable = sql.Placeholder("vis_org") if bound else sql.Literal(org)
    params = {"vis_org": org} if bound else {}
    if grant.scope is Scope.ANY:
        return sql.SQL("TRUE"), {}
    if grant.principal.role is Role.REVIEWER:
        clause = sql.SQL(
            "({p}.owner_dept_id = {vis} OR EXISTS (SELECT 1 FROM approval.item vi"
            " WHERE vi.project_id = {p}.id AND vi.department_id = {vis}))"
        ).format(p=p, vis=vis)
        return clause, params
    return sql.SQL("{p}.unit_org_id = {vis}").format(p=p, vis=vis), params


def plan_link(conn: Connection[Any], link: PlanLink, known_layers: set[str]) -> dict[str, Any]:
    """A checked link to what a top-down project implements; a feature is pinned to the layer version read."""
    out = link.model_dump(exclude_none=True)
    if link.layer is None:
        if link.fid is not None:
            raise Unprocessable("要素编号须与图层一起给出。", "A fid needs its layer.", code="bad_plan_link")
        return out
    if link.layer not in known_layers:
        raise Unprocessable(
            f"规划图层“{link.layer}”不存在。", f"Unknown layer '{link.layer}'.", code="unknown_layer"
        )
    if link.fid is not None:
        row = conn.execute(
            "SELECT current_version FROM basemap.layer WHERE code = %s", (link.layer,)
        ).fetchone()
        version = None if row is None else row[0]
        found = (
            version is not None
            and conn.execute(
                "SELECT 1 FROM basemap.feature WHERE version_id = %s AND fid = %s", (version, link.fid)
            ).fetchone()
        )
        if not found:
            raise Unprocessable(
                f"图层“{link.layer}”的现行版本中没有要素 {link.fid}。",
                f"Layer '{link.layer}' has no feature {link.fid} in its current version.",
                code="unknown_feature",
            )
        out["layer_version_id"] = version
    return out


def _org_id(conn: Connection[Any], code: str, kinds: tuple[str, ...], what: str) -> int:
    row = conn.execute("SELECT id, kind FROM auth.organisation WHERE code = %s", (code,)).fetchone()
    if row is None or row[1] not in kinds:
        raise Unprocessable(f"{what}“{code}”不存在。", f"No such {what}: '{code}'.", code="unknown_org")
    return int(row[0])


def fetch_project(conn: Connection[Any], project_id: int, grant: Grant | None = None) -> Project:
    """One project, or 404 (also when ``grant`` may not see it)."""
    where, params = visibility(grant) if grant else (sql.SQL("TRUE"), {})
    query = sql.SQL("SELECT {cols} FROM project.project p WHERE p.id = %(id)s AND {where}").format(
        cols=PROJECT_COLUMNS, where=where
    )
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, {"id": project_id, **params}).fetchone()
    if row is None:
        raise NotFound("项目不存在。", "No such project.")
    return Project(**row)


def check_may_change(grant: Grant, project: Project) -> None:
    """Units change their own projects, departments the projects they own; others get 404."""
    if grant.scope is Scope.ANY:
        return
    org = grant.principal.org_id
    if grant.principal.role is Role.PROJECT_UNIT and project.unit_org_id == org:
        return
    if grant.principal.role is Role.REVIEWER and project.owner_dept_id == org:
        return
    raise NotFound("项目不存在。", "No such project.")


def list_projects(
    conn: Connection[Any],
    grant: Grant,
    status: ProjectStatus | Sequence[str] | None,
    tier: str | None,
    filters: ProjectFilters | None = None,
) -> list[Project]:
    """Projects visible to the caller, newest first (optionally narrowed by ``filters``)."""
    where, params = visibility(grant)
    f = filters or ProjectFilters()
    statuses = [status] if isinstance(status, str) else list(status or []) or None
    query = sql.SQL(
        "SELECT {cols} FROM project.project p WHERE {where}"
        " AND (%(status)s::text[] IS NULL OR p.status = ANY(%(status)s))"
        " AND (%(tier)s::text IS NULL OR p.tier = %(tier)s)"
        " AND (%(type)s::text IS NULL OR p.project_type = %(type)s)"
        " AND (%(funding)s::text IS NULL OR p.funding_source = %(funding)s)"
        " AND (%(unit)s::text IS NULL OR EXISTS (SELECT 1 FROM auth.organisation o"
        " WHERE o.id = p.unit_org_id AND o.code = %(unit)s)) ORDER BY p.id DESC"
    ).format(cols=PROJECT_COLUMNS, where=where)
    args = {**params, "status": statuses, "tier": tier, "type": f.project_type,
            "funding": f.funding_source, "unit": f.unit}  # fmt: skip
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, args).fetchall()
    projects = [Project(**r) for r in rows]
    if f.subdistrict is not None:
        places = subdistricts_of(conn, [p.id for p in projects])
        projects = [p for p in projects if places[p.id] == f.subdistrict]
    return projects


def next_code(conn: Connection[Any], year: int, industry: str, code_type: str) -> str:
    """Allocate the next serial of ``year``/region/industry/type and return the full code."""
    prefix = f"{year:04d}-{REGION}-{industry}-{code_type}"
    row = conn.execute(
        "INSERT INTO project.code_serial (prefix, last_serial) VALUES (%s, 1)"
        " ON CONFLICT (prefix) DO UPDATE SET last_serial = project.code_serial.last_serial + 1"
        " RETURNING last_serial",
        (prefix,),
    ).fetchone()
    assert row is not None
    return make_code(year, industry, code_type, int(row[0]))


def _parties(conn: Connection[Any], grant: Grant, data: ProjectCreate) -> tuple[int, int, str]:
    """(owning department, project unit, initiation) from the caller and the request."""
    principal = grant.principal
    if principal.role is Role.PROJECT_UNIT:
        if not data.owner_dept_code:
            raise Unprocessable("请填写主管部门 owner_dept_code。", "owner_dept_code is required.")
        owner = _org_id(conn, data.owner_dept_code, ("department",), "主管部门")
        return owner, principal.org_id, "unit"
    if principal.role is Role.REVIEWER:
        if not data.unit_org_code:
            raise Unprocessable("请填写建设单位 unit_org_code。", "unit_org_code is required.")
        unit = _org_id(conn, data.unit_org_code, ("project_unit", "subdistrict"), "建设单位")
        return principal.org_id, unit, "top_down"
    if (
        principal.role not in (Role.SYSTEM_ADMIN, Role.PLANNER)
        or not data.owner_dept_code
        or not data.unit_org_code
    ):
        raise Forbidden(
            "管理员须同时指定主管部门和建设单位。", "Give both owner_dept_code and unit_org_code."
        )
    owner = _org_id(conn, data.owner_dept_code, ("department",), "主管部门")
    unit = _org_id(conn, data.unit_org_code, ("project_unit", "subdistrict"), "建设单位")
    return owner, unit, "top_down"


def create_project(
    conn: Connection[Any],
    grant: Grant,
    data: ProjectCreate,
    *,
    known_layers: set[str],
    today: date,
    initiation: str | None = None,
) -> Project:
    """Register a project with its national code (given and validated, or allocated)."""
    template = get_template(data.project_type)
    with conn.transaction():
        owner, unit, how = _parties(conn, grant, data)
        code = (
            validate_code(data.code)
            if data.code
            else next_code(conn, today.year, template.industry, template.code_type)
        )
        if conn.execute("SELECT 1 FROM project.project WHERE code = %s", (code,)).fetchone():
            raise Conflict(
                f"项目代码“{code}”已被使用。", f"Project code '{code}' is taken.", code="code_taken"
            )
        row = conn.execute(
            """
            INSERT INTO project.project
              (code, name, project_type, owner_dept_id, unit_org_id, investment_wan, funding_source,
               planned_start, tier, initiation, plan_link, demolition_progress_pct, demolition_threshold_pct,
               created_by_id)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
            """,
            (
                code,
                data.name,
                data.project_type,
                owner,
                unit,
                data.investment_wan,
                data.funding_source,
                data.planned_start,
                data.tier.value,
                initiation or how,
                Jsonb(plan_link(conn, data.plan_link, known_layers)) if data.plan_link else None,
                data.demolition_progress_pct,
                template.demolition_gate_pct,
                grant.principal.user_id,
            ),
        ).fetchone()
        assert row is not None
        project = fetch_project(conn, int(row[0]))
        record(
            conn, grant.actor, "project.create", "project", project.id, after=project.model_dump(mode="json")
        )
    return project


def update_project(
    conn: Connection[Any],
    grant: Grant,
    project_id: int,
    data: ProjectUpdate,
    expected: int,
    from_header: bool,
    known_layers: set[str],
) -> Project:
    """Apply a versioned change; stale versions are refused with the current state."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM project.project WHERE id = %s FOR UPDATE", (project_id,))
        before = fetch_project(conn, project_id, grant)
        check_may_change(grant, before)
        check_version(before.version, expected, from_header, before.model_dump(mode="json"))
        changes = data.model_dump(exclude_unset=True, exclude={"version"})
        if "status" in changes and data.status != before.status:
            assert data.status is not None
            if data.status not in STATUS_NEXT[before.status]:
                raise Conflict(
                    f"项目状态不能从“{before.status.value}”变为“{data.status.value}”。",
                    f"A project cannot go from '{before.status.value}' to '{data.status.value}'.",
                    code="illegal_status_change",
                )
        if not changes:
            return before
        if "plan_link" in changes and data.plan_link is not None:
            changes["plan_link"] = Jsonb(plan_link(conn, data.plan_link, known_layers))
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
        )
        conn.execute(
            sql.SQL(
                "UPDATE project.project SET {a}, version = version + 1, updated_at = now() WHERE id = %(id)s"
            ).format(a=assignments),
            {**{k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}, "id": project_id},
        )
        after = fetch_project(conn, project_id)
        record(
            conn,
            grant.actor,
            "project.update",
            "project",
            project_id,
            before=before.model_dump(mode="json"),
            after=after.model_dump(mode="json"),
        )
    return after


def add_footprint(conn: Connection[Any], grant: Grant, project_id: int, data: FootprintIn) -> FootprintOut:
    """Store a new current footprint; the previous one becomes history."""
    footprint = parse_footprint(data.footprint, data.crs)
    with conn.transaction():
        project = fetch_project(conn, project_id, grant)
        check_may_change(grant, project)
        conn.execute(
            "UPDATE project.footprint SET superseded_at = now()"
            " WHERE project_id = %s AND superseded_at IS NULL",
            (project_id,),
        )
        row = conn.execute(
            "INSERT INTO project.footprint (project_id, geom, area_m2, note, created_by_id)"
            " VALUES (%s, ST_GeomFromWKB(%s, %s), %s, %s, %s) RETURNING id",
            (
                project_id,
                shapely.to_wkb(footprint.geometry),
                STORAGE_SRID,
                footprint.geometry.area,
                data.note,
                grant.principal.user_id,
            ),
        ).fetchone()
        assert row is not None
        record(
            conn,
            grant.actor,
            "project.footprint",
            "project",
            project_id,
            after={"footprint_id": row[0], "area_m2": footprint.geometry.area, "note": data.note},
        )
    return [f for f in list_footprints(conn, grant, project_id) if f.id == row[0]][0]


def list_footprints(conn: Connection[Any], grant: Grant, project_id: int) -> list[FootprintOut]:
    """Every footprint of a project, current first (GeoJSON in CRS84)."""
    fetch_project(conn, project_id, grant)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, area_m2, note, created_at, superseded_at,"
            " ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json AS geometry"
            " FROM project.footprint WHERE project_id = %s ORDER BY id DESC",
            (project_id,),
        ).fetchall()
    return [FootprintOut(**r) for r in rows]
