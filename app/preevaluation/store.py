"""Stored pre-evaluation reports: the only module of ``app/`` that reads or writes ``project.pre_evaluation``
and ``project.pre_evaluation_stale``.

Reports are append-only for the service: a re-check stores a new report naming the one it replaces.
The one other writer is the engine: ``analysis/checkindex.py`` marks reports stale (inserts into
``project.pre_evaluation_stale``) when the check index catches up with a new layer version. That statement
stays there because it is the engine's own bookkeeping of the index switch, run in the same transaction by
the CLI, the layer routes and the bench alike, and ``analysis/`` may not import ``app/``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import shapely
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from analysis.report import Report
from analysis.report_diff import ReportChanges, compare
from app.auth.deps import Grant
from app.errors import NotFound
from layers.audit import record
from layers.district import STORAGE_SRID


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


class ReportHeading(BaseModel):
    """What names a stored report in a list: number, time, project, type, verdict and area."""

    id: int
    created_at: datetime
    project_code: str | None
    project_type: str
    verdict: str
    footprint_area_m2: float


class ReportSummary(ReportHeading):
    """One line of the report list."""

    rules_version: str
    stale: bool


class ReportDocument(NamedTuple):
    """A stored report as its JSON document, with the organisation and project code it was run for."""

    org_id: int
    project_code: str | None
    report: dict[str, Any]


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


def visible_report(conn: Connection[Any], grant: Grant, report_id: int) -> tuple[StoredReport, bytes]:
    """A stored report the caller may see, with its stale marks and its footprint (WKB).

    Other organisations' reports answer 404, like missing ones.
    """
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
    return stored, bytes(row[7])


def visible_footprint(conn: Connection[Any], grant: Grant, report_id: int) -> dict[str, Any]:
    """The footprint of a report the caller may see, as a GeoJSON geometry in CRS84."""
    row = conn.execute(
        "SELECT org_id, ST_AsGeoJSON(ST_Transform(footprint, 4326), 7)::json"
        " FROM project.pre_evaluation WHERE id = %s",
        (report_id,),
    ).fetchone()
    if row is None:
        raise NotFound("预评价报告不存在。", "No such pre-evaluation report.")
    grant.check_org(row[0])
    geometry: dict[str, Any] = row[1]
    return geometry


def fetch_document(conn: Connection[Any], report_id: int) -> ReportDocument | None:
    """A stored report's JSON document and whom it was run for (the caller decides who may see it)."""
    row = conn.execute(
        "SELECT org_id, project_code, report FROM project.pre_evaluation WHERE id = %s", (report_id,)
    ).fetchone()
    return None if row is None else ReportDocument(row[0], row[1], row[2])


def latest_report_id(conn: Connection[Any], project_code: str) -> int | None:
    """The newest report naming ``project_code``, of any organisation."""
    row = conn.execute(
        "SELECT id FROM project.pre_evaluation WHERE project_code = %s ORDER BY id DESC LIMIT 1",
        (project_code,),
    ).fetchone()
    return None if row is None else int(row[0])


# Reports whose demolition finding holds buildings; the project's own (same project code) first.
_DEMOLITION_SOURCES = """
    SELECT e.id, e.created_at, e.project_code, e.project_type, e.verdict, e.footprint_area_m2,
           coalesce(e.project_code = %(code)s, false) AS linked,
           EXISTS (SELECT 1 FROM project.pre_evaluation_stale s WHERE s.report_id = e.id) AS stale,
           coalesce((e.report -> 'demolition' ->> 'buildings')::int, 0) AS buildings,
           coalesce((e.report -> 'demolition' ->> 'households')::int, 0) AS households,
           coalesce((e.report -> 'demolition' ->> 'floor_area_m2')::float8, 0) AS floor_area_m2,
           jsonb_path_query_array(e.report, '$.findings[*] ? (@.rule_id == $rule).features[*]',
                                  jsonb_build_object('rule', %(rule)s::text)) AS hits
    FROM project.pre_evaluation e
    WHERE (%(org)s::bigint IS NULL OR e.org_id = %(org)s)
      AND coalesce((e.report -> 'demolition' ->> 'buildings')::int, 0) > 0
    ORDER BY linked DESC, e.id DESC
    LIMIT %(limit)s
"""


def demolition_sources(
    conn: Connection[Any], project_code: str, rule_id: str, org_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Reports with buildings to demolish (those naming ``project_code`` first, then newest first): their
    summary, demolition figures, stale flag, and under ``hits`` the features of finding ``rule_id``."""
    params = {"code": project_code, "rule": rule_id, "org": org_id, "limit": limit}
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_DEMOLITION_SOURCES, params).fetchall()
