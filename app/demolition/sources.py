"""The stored pre-evaluations a project's ledger can be created from, with what each would bring in."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from pydantic import Field

from app.auth.deps import Grant
from app.demolition.creation import BUILDING_RULE
from app.demolition.ledger import visible_project
from app.preevaluation.store import ReportHeading, demolition_sources


class ReportChoice(ReportHeading):
    """A stored pre-evaluation with demolition findings, as offered for creating the ledger."""

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
    rows = demolition_sources(conn, project.code, BUILDING_RULE, grant.org_filter(), limit)
    choices = []
    for row in rows:
        hits = row.pop("hits") or []
        row["in_ledger"] = len({_code(h) for h in hits} & existing)
        choices.append(ReportChoice(**row))
    return choices
