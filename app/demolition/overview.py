"""The projects a coordinator chooses from: each visible project with its ledger's size and progress."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row
from pydantic import BaseModel

from app.auth.deps import Grant
from app.demolition.models import CLEARED
from app.demolition.progress import pct
from app.projects.service import visibility

_OVERVIEW = sql.SQL(
    "SELECT p.id, p.code, p.name, p.demolition_threshold_pct, count(u.id) AS units,"
    " coalesce(sum(u.floor_area_m2), 0) AS floor_area_m2,"
    " count(u.id) FILTER (WHERE u.status = ANY(%(cleared)s)) AS cleared_units,"
    " coalesce(sum(u.floor_area_m2) FILTER (WHERE u.status = ANY(%(cleared)s)), 0) AS cleared_floor_area_m2"
    " FROM project.project p LEFT JOIN demolition.unit u ON u.project_id = p.id"
    " WHERE {where} GROUP BY p.id ORDER BY count(u.id) = 0, p.code"
)


class LedgerProject(BaseModel):
    """A visible project with the size of its ledger (projects with units come first)."""

    id: int
    code: str
    name: str
    units: int
    floor_area_m2: float
    cleared_units: int
    progress_pct: float | None
    demolition_threshold_pct: Decimal | None


def ledger_projects(conn: Connection[Any], grant: Grant) -> list[LedgerProject]:
    """Every project ``grant`` may see, with units first, then by code; progress as the gate measures it."""
    where, params = visibility(grant)
    cleared = [s.value for s in CLEARED]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_OVERVIEW.format(where=where), {**params, "cleared": cleared}).fetchall()
    out = []
    for r in rows:
        area, cleared_area = float(r["floor_area_m2"]), float(r["cleared_floor_area_m2"])
        progress = pct(cleared_area, area) if area > 0 else pct(r["cleared_units"], r["units"])
        out.append(
            LedgerProject(
                id=r["id"],
                code=r["code"],
                name=r["name"],
                units=r["units"],
                floor_area_m2=round(area, 2),
                cleared_units=r["cleared_units"],
                progress_pct=progress,
                demolition_threshold_pct=r["demolition_threshold_pct"],
            )
        )
    return out
