"""The bottom-up demand pool (需求池): residents, deputies, enterprises and parks raise needs; triagers
merge duplicates, accept a demand into a new or existing project, or reject it with a reason. Submitters
see the outcome; a demand keeps its link to the project it became."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.auth.policy import Scope
from app.edge.params import Number, RowId
from app.errors import Conflict, NotFound, Unprocessable
from app.projects import service
from app.projects.models import ProjectCreate
from app.versioning import check_version
from layers.audit import record
from layers.district import DISTRICT, STORAGE_SRID


class SourceKind(StrEnum):
    """Who raised the need."""

    RESIDENT = "resident"
    DEPUTY = "deputy"  # 两代表一委员
    ENTERPRISE = "enterprise"
    PARK = "park"  # 产业园区
    GAP_ANALYSIS = "gap_analysis"  # 设施缺口分析：规划人员由候选用地生成（app/gaps/project_routes.py）


class DemandCreate(BaseModel):
    """A need raised bottom-up, with its place."""

    source_kind: SourceKind
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    lon: float | None = Field(default=None, description="经度（CRS84）")
    lat: float | None = Field(default=None, description="纬度（CRS84）")


class Demand(BaseModel):
    """A demand and its outcome."""

    id: int
    source_kind: SourceKind
    title: str
    description: str
    lon: float | None
    lat: float | None
    submitted_by_id: int
    status: str
    merged_into_id: int | None
    project_id: int | None
    project_code: str | None
    reason: str | None
    decided_at: datetime | None
    created_at: datetime
    version: int
    plan_link: dict[str, Any] | None = Field(default=None, description="规划依据（如规划地块）")
    gap: dict[str, Any] | None = Field(default=None, description="所补设施缺口（设施缺口分析生成的需求）")
    pre_evaluation_id: int | None = Field(default=None, description="用地范围的预评估报告")
    footprint_area_m2: float | None = Field(default=None, description="用地范围面积（平方米）")


class Triage(BaseModel):
    """A decision on a demand, carrying the version read."""

    version: Number | None = None
    reason: str | None = Field(default=None, max_length=2000, description="驳回理由 / 说明")
    into_id: RowId | None = Field(default=None, description="合并：保留的需求")
    project_id: RowId | None = Field(default=None, description="采纳：纳入已有项目")
    new_project: ProjectCreate | None = Field(default=None, description="采纳：新建项目")


SELECT = """
SELECT d.id, d.source_kind, d.title, d.description,
       ST_X(ST_Transform(d.location, 4326)) AS lon, ST_Y(ST_Transform(d.location, 4326)) AS lat,
       d.submitted_by_id, d.status, d.merged_into_id, d.project_id, p.code AS project_code, d.reason,
       d.decided_at, d.created_at, d.version, d.plan_link, d.gap, d.pre_evaluation_id,
       round(ST_Area(d.footprint)::numeric, 1)::float8 AS footprint_area_m2
FROM project.demand d LEFT JOIN project.project p ON p.id = d.project_id
"""


def _fetch(conn: Connection[Any], grant: Grant, demand_id: int) -> Demand:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(SELECT + " WHERE d.id = %s", (demand_id,)).fetchone()
    if row is None or (grant.scope is Scope.SELF and row["submitted_by_id"] != grant.principal.user_id):
        raise NotFound("需求不存在。", "No such demand.")
    return Demand(**row)


def get_demand(conn: Connection[Any], grant: Grant, demand_id: int) -> Demand:
    """One demand: its submitter sees it and its outcome; triagers see every demand."""
    return _fetch(conn, grant, demand_id)


def list_demands(conn: Connection[Any], grant: Grant, status: str | None) -> list[Demand]:
    """Demands visible to the caller, newest first."""
    mine = grant.principal.user_id if grant.scope is Scope.SELF else None
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            SELECT + " WHERE (%(mine)s::bigint IS NULL OR d.submitted_by_id = %(mine)s)"
            " AND (%(status)s::text IS NULL OR d.status = %(status)s) ORDER BY d.id DESC",
            {"mine": mine, "status": status},
        ).fetchall()
    return [Demand(**r) for r in rows]


def submit(conn: Connection[Any], grant: Grant, data: DemandCreate) -> Demand:
    """Add a demand to the pool."""
    if data.source_kind is SourceKind.GAP_ANALYSIS:
        raise Unprocessable(
            "设施缺口分析的需求由候选用地生成（POST /api/gaps/candidates/{设施}/{编号}/demand）。",
            "Gap-analysis demands are made from a candidate site (POST /api/gaps/candidates/…/demand).",
            code="bad_source_kind",
        )
    if (data.lon is None) != (data.lat is None):
        raise Unprocessable("经纬度须同时提供。", "Give both lon and lat.", code="bad_location")
    if data.lon is not None and data.lat is not None:
        west, south, east, north = DISTRICT.extent
        if not (west <= data.lon <= east and south <= data.lat <= north):
            raise Unprocessable(
                f"位置（{data.lon}, {data.lat}）不在{DISTRICT.name_zh}范围内。",
                f"Location ({data.lon}, {data.lat}) is outside the district.",
                code="outside_district",
            )
    with conn.transaction():
        row = conn.execute(
            """
            INSERT INTO project.demand (source_kind, title, description, location, submitted_by_id,
              submitter_org_id)
            VALUES (%s, %s, %s,
              CASE WHEN %s::float8 IS NULL THEN NULL
                   ELSE ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s) END, %s, %s)
            RETURNING id
            """,
            (
                data.source_kind.value,
                data.title,
                data.description,
                data.lon,
                data.lon,
                data.lat,
                STORAGE_SRID,
                grant.principal.user_id,
                grant.principal.org_id,
            ),
        ).fetchone()
        assert row is not None
        demand = _fetch(conn, grant, int(row[0]))
        record(conn, grant.actor, "demand.submit", "demand", demand.id, after=demand.model_dump(mode="json"))
    return demand


def _open_for_decision(
    conn: Connection[Any], grant: Grant, demand_id: int, expected: int, from_header: bool
) -> Demand:
    conn.execute("SELECT 1 FROM project.demand WHERE id = %s FOR UPDATE", (demand_id,))
    demand = _fetch(conn, grant, demand_id)
    check_version(demand.version, expected, from_header, demand.model_dump(mode="json"))
    if demand.status != "open":
        raise Conflict(
            f"该需求已处理（{demand.status}）。",
            f"The demand is already {demand.status}.",
            code="demand_decided",
            current=demand.model_dump(mode="json"),
        )
    return demand


def _decide(conn: Connection[Any], grant: Grant, demand_id: int, status: str, **columns: Any) -> None:
    conn.execute(
        "UPDATE project.demand SET status = %(status)s, merged_into_id = %(into)s, project_id = %(project)s,"
        " reason = %(reason)s, decided_by_id = %(by)s, decided_at = now(), version = version + 1"
        " WHERE id = %(id)s",
        {
            "status": status,
            "into": columns.get("into"),
            "project": columns.get("project"),
            "reason": columns.get("reason"),
            "by": grant.principal.user_id,
            "id": demand_id,
        },
    )


def decide(
    conn: Connection[Any],
    grant: Grant,
    demand_id: int,
    verb: str,
    data: Triage,
    expected: int,
    from_header: bool,
    *,
    known_layers: set[str],
    today: date,
) -> Demand:
    """Merge, accept or reject an open demand (audited)."""
    with conn.transaction():
        before = _open_for_decision(conn, grant, demand_id, expected, from_header)
        if verb == "reject":
            if not (data.reason and data.reason.strip()):
                raise Unprocessable("驳回须说明理由。", "A rejection needs a reason.", code="reason_required")
            _decide(conn, grant, demand_id, "rejected", reason=data.reason.strip())
        elif verb == "merge":
            target = _fetch(conn, grant, data.into_id or 0) if data.into_id else None
            if target is None or target.id == demand_id or target.status in ("merged", "rejected"):
                raise Unprocessable(
                    "into_id 须为另一条未驳回、未合并的需求。",
                    "into_id must be another demand that is neither merged nor rejected.",
                    code="bad_merge_target",
                )
            _decide(
                conn,
                grant,
                demand_id,
                "merged",
                into=target.id,
                project=target.project_id,
                reason=data.reason,
            )
        else:
            project_id = _accepted_project(conn, grant, data, known_layers, today)
            _decide(conn, grant, demand_id, "accepted", project=project_id, reason=data.reason)
            # Duplicates merged into this demand (directly or through other duplicates) follow it.
            conn.execute(
                """
                WITH RECURSIVE dup(id) AS (
                  SELECT id FROM project.demand WHERE merged_into_id = %(d)s
                  UNION SELECT d.id FROM project.demand d JOIN dup ON d.merged_into_id = dup.id
                )
                UPDATE project.demand SET project_id = %(p)s, version = version + 1
                WHERE id IN (SELECT id FROM dup)
                """,
                {"d": demand_id, "p": project_id},
            )
        after = _fetch(conn, grant, demand_id)
        record(
            conn,
            grant.actor,
            f"demand.{verb}",
            "demand",
            demand_id,
            before=before.model_dump(mode="json"),
            after=after.model_dump(mode="json"),
        )
    return after


def _accepted_project(
    conn: Connection[Any], grant: Grant, data: Triage, known_layers: set[str], today: date
) -> int:
    if (data.project_id is None) == (data.new_project is None):
        raise Unprocessable(
            "采纳须指定 project_id（已有项目）或 new_project（新建项目）之一。",
            "Give either project_id or new_project.",
            code="project_required",
        )
    if data.project_id is not None:
        return service.fetch_project(conn, data.project_id).id
    assert data.new_project is not None
    project = service.create_project(
        conn, grant, data.new_project, known_layers=known_layers, today=today, initiation="bottom_up"
    )
    return project.id
