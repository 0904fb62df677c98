"""Demolition progress as the tracker's 施工许可 gate reads it.

Progress is measured from the demolition ledger (app/demolition): the share of the ledger's floor area
that is demolished or handed over. A project without ledger units falls back to the progress it states
itself (``demolition_progress_pct``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg import Connection

from app.demolition.progress import ledger_progress_pct
from app.errors import Conflict

GATED_ITEMS = frozenset({"construction_permit"})


def demolition_progress(conn: Connection[Any], project_id: int) -> Decimal | None:
    """Share of demolition done for the project, in percent; None when unknown."""
    measured = ledger_progress_pct(conn, project_id)
    if measured is not None:
        return measured
    row = conn.execute(
        "SELECT demolition_progress_pct FROM project.project WHERE id = %s", (project_id,)
    ).fetchone()
    return None if row is None else row[0]


def check_gate(conn: Connection[Any], project_id: int, item_code: str) -> None:
    """Refuse submitting a gated item while demolition is below the plan's threshold."""
    if item_code not in GATED_ITEMS:
        return
    row = conn.execute(
        "SELECT demolition_threshold_pct FROM project.project WHERE id = %s", (project_id,)
    ).fetchone()
    threshold = None if row is None else row[0]
    if threshold is None:
        return
    progress = demolition_progress(conn, project_id)
    if progress is None or progress < threshold:
        shown = "未知" if progress is None else f"{progress}%"
        raise Conflict(
            f"征拆进度（{shown}）未达到施工许可所需的 {threshold}%，暂不能申报施工许可。",
            f"Demolition progress ({progress if progress is not None else 'unknown'}%) is below the "
            f"{threshold}% the construction permit needs.",
            code="demolition_gate",
            progress_pct=None if progress is None else float(progress),
            threshold_pct=float(threshold),
        )
