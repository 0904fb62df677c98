"""The stored pre-evaluations a project's ledger can be created from, with what each would bring in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.demolition.creation import BUILDING_RULE
from app.demolition.ledger import visible_project

# Reports whose demolition finding holds buildings; the project's own (same project code) first.
_CHOICES = """
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


class ReportChoice(BaseModel):
    """A stored pre-evaluation with demolition findings, as offered for creating the ledger."""

    id: int
    created_at: datetime
    project_code: str | None
    project_type: str
    verdict: str
    footprint_area_m2: float
    linked: bool = Field(description="报告的项目代码即本项目代码")
    stale: bool = Field(description="报告所用图层此后有更新（建议重新评价）")
    buildings: int
    households: int
    floor_area_m2: float
    in_ledger: int = Field(description="其中已在本项目台账中的建筑（按单元编号），再次生成时跳过")


def _code(hit: dict[str, Any]) -> str:
    """The unit code creation gives a building (as creation.from_pre_evaluation does)."""
    return str((hit.get("attributes") or {}).get("building_code") or f"cur_building-{hit.get('fid')}")


def report_choices(
    conn: Connection[Any], grant: Grant, project_id: int, limit: int = 100
) -> list[ReportChoice]:
    """Reports the caller may see that would bring buildings in, linked ones first, newest first."""
    project = visible_project(conn, grant, project_id)
    existing = {
        r[0]
        for r in conn.execute("SELECT unit_code FROM demolition.unit WHERE project_id = %s", (project_id,))
    }
    params = {"code": project.code, "rule": BUILDING_RULE, "org": grant.org_filter(), "limit": limit}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_CHOICES, params).fetchall()
    choices = []
    for row in rows:
        hits = row.pop("hits") or []
        row["in_ledger"] = len({_code(h) for h in hits} & existing)
        choices.append(ReportChoice(**row))
    return choices
