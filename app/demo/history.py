"""The demo district's two years of history: projects, approvals, demands and demolition ledgers.

:func:`generate_history` builds the shared context (one owner connection, the clock that dates service
calls on simulated days, the demo people) and runs the parts in order: the project library and its
approvals (:mod:`app.demo.approvals`), then the demand pool and the demolition ledgers
(:mod:`app.demo.demands`, :mod:`app.demo.ledgers`). It writes only on a database whose demo
layers are loaded and whose project library is empty (:func:`refusal` says why not otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from psycopg import Connection

from app.demo import approvals, demands, ledgers
from app.demo.actors import People
from app.demo.clock import Clock
from app.demo.context import HistoryContext, Scale
from app.materials.storage import BlobStore
from layers.catalog.model import Catalog
from layers.demo.loader import demo_loaded
from layers.district import DISTRICT


@dataclass
class HistoryReport:
    """What the history wrote."""

    scale: str
    seed: int
    today: date
    projects: int = 0
    items: int = 0
    applications: int = 0
    steps: int = 0
    parts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the command line."""
        more = "".join(f", {name} {n}" for name, n in self.parts.items())
        return (
            f"demo history ({self.scale}, seed {self.seed}, to {self.today}): {self.projects} projects,"
            f" {self.items:,} approval items, {self.applications:,} applications{more}"
            f" in {self.seconds:.0f}s"
        )


def refusal(conn: Connection[Any]) -> tuple[str, str] | None:
    """Why the history may not be written here (Chinese, English), or None when it may."""
    if not demo_loaded(conn):
        return (
            "演示底图尚未加载，请先运行 duogui demo generate。",
            "The demo layers are not loaded: run `duogui demo generate` first.",
        )
    row = conn.execute("SELECT count(*) FROM project.project").fetchone()
    if row and row[0]:
        return (
            f"项目库已有 {row[0]} 个项目，演示历史只写入空的项目库。",
            f"The project library already holds {row[0]} projects; the demo history is written only into"
            " an empty library.",
        )
    return None


def generate_history(
    conn: Connection[Any],
    catalog: Catalog,
    scale: Scale,
    seed: int,
    today: date | None = None,
    progress: Callable[[str], None] = print,
    *,
    store: BlobStore,
    data_dir: Path | None = None,
) -> HistoryReport:
    """Write the history on ``conn`` (the owner connection; each simulated day is one transaction)."""
    started = time.monotonic()
    day = today or datetime.now(DISTRICT.tz).date()
    why = refusal(conn)
    if why is not None:
        raise RuntimeError(f"{why[0]} {why[1]}")
    conn.commit()
    # Autocommit between the clock's days: a read outside a day must not open a transaction the days
    # would then run inside (one transaction for the whole history, one now() for every day).
    was_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        return _generate(conn, catalog, scale, seed, day, progress, store, data_dir, started)
    finally:
        conn.autocommit = was_autocommit


def _generate(
    conn: Connection[Any],
    catalog: Catalog,
    scale: Scale,
    seed: int,
    day: date,
    progress: Callable[[str], None],
    store: BlobStore,
    data_dir: Path | None,
    started: float,
) -> HistoryReport:
    ctx = HistoryContext(conn, catalog, Clock(conn), People(conn), seed, scale, day)
    report = HistoryReport(scale, seed, day)
    progress(f"duogui: writing the demo history ({scale}, seed {seed}) up to {day}")
    made = approvals.generate(ctx, store=store, data_dir=data_dir, progress=progress)
    conn.commit()
    report.projects, report.items = made.projects, made.items
    report.applications, report.steps = made.applications, made.steps
    report.parts["demands"] = demands.generate(ctx)
    conn.commit()
    progress(f"  demand pool: {report.parts['demands']} entries  {time.monotonic() - started:6.1f}s")
    report.parts["ledgers"] = ledgers.generate(ctx, data_dir=data_dir, store=store)
    conn.commit()
    progress(f"  demolition: {report.parts['ledgers']} ledgers  {time.monotonic() - started:6.1f}s")
    report.seconds = time.monotonic() - started
    return report
