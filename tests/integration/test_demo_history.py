"""The demo history at scale small: written through the services, read back through the HTTP API.

The KPI figures the API gives are checked against the targets (±3 points) and against figures counted
here straight from ``approval.item_event`` with the shipped working-day calendar (our own count, not the
product's KPI code).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from app import migrate
from app.auth.policy import Role
from app.demo.history import generate_history
from app.main import create_app
from app.materials.storage import blob_store
from app.orgs import service as orgs
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.demo.loader import load_demo
from layers.store.versions import register_layers
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import signed_in_account

TODAY = date(2026, 12, 7)


@pytest.fixture(scope="module")
def history_db() -> Iterator[Settings]:
    """A throwaway database with the small demo and its history (the shared demo stays untouched)."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_hist")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            load_demo(conn, get_catalog(), "small", settings.data_dir, progress=lambda _: None)
            catch_up(conn, get_check_plan())
            conn.commit()
            generate_history(
                conn,
                get_catalog(),
                "small",
                2017,
                TODAY,
                progress=lambda _: None,
                store=blob_store(settings),
                data_dir=settings.data_dir,
            )
        yield settings
    finally:
        drop_database(name)


def _independent_kpis(settings: Settings) -> tuple[int, int, int, int]:
    """(finished, early, approved, approved without correction) counted from the event rows."""
    with psycopg.connect(settings.owner_dsn) as conn:
        overrides = dict(conn.execute("SELECT day, working FROM approval.calendar_day").fetchall())
        rows = conn.execute(
            "SELECT e.item_id, i.promised_days, e.to_status, (e.at AT TIME ZONE 'Asia/Shanghai')::date"
            " FROM approval.item_event e JOIN approval.item i ON i.id = e.item_id"
            " ORDER BY e.item_id, e.at, e.id"
        ).fetchall()

    def working(d: date) -> bool:
        return overrides.get(d, d.weekday() < 5)

    def used(a: date, b: date) -> int:  # working days after a up to b
        return sum(1 for k in range(1, (b - a).days + 1) if working(a + timedelta(days=k)))

    per: dict[int, list[tuple[str, date]]] = {}
    promised: dict[int, int] = {}
    for item_id, days, status, on in rows:
        per.setdefault(item_id, []).append((status, on))
        promised[item_id] = days
    finished = early = approved = clean = 0
    running = ("accepted", "accepted_conditional", "under_review")
    for item_id, events in per.items():
        since: date | None = None
        total, corrections, done, ok = 0, 0, False, False
        for status, on in events:
            if status in running:
                since = since or on
                continue
            if since is not None:
                total += used(since, on)
                since = None
            if status == "correction":
                corrections += 1
            if status in ("approved", "rejected"):
                done, ok = True, status == "approved"
        if done:
            finished += 1
            early += total < promised[item_id]
            if ok:
                approved += 1
                clean += corrections == 0
    return finished, early, approved, clean


def test_history_kpis_and_pages(history_db: Settings) -> None:
    with (
        TestClient(create_app(history_db)) as client,
        psycopg.connect(history_db.owner_dsn, autocommit=True) as c,
    ):
        leader = signed_in_account(c, client, Role.SYSTEM_ADMIN, "gov-data")
        h = leader.headers
        kpi = client.get("/api/kpis", params={"as_of": TODAY.isoformat()}, headers=h)
        assert kpi.status_code == 200, kpi.text
        total = kpi.json()[0]
        finished, early, approved, clean = _independent_kpis(history_db)
        assert (total["finished"], total["early"], total["approved"], total["one_time_pass"]) == (
            finished,
            early,
            approved,
            clean,
        )
        assert abs(100 * early / finished - 26.6) <= 3
        assert abs(100 * clean / approved - 98) <= 3
        warnings = client.get("/api/warnings", params={"as_of": TODAY.isoformat()}, headers=h).json()
        assert any(w["kind"] == "overdue" for w in warnings)
        assert client.get("/api/projects", headers=h).json()
        assert client.get("/api/applications", headers=h).json()
        years = c.execute(
            "SELECT DISTINCT extract(year FROM at)::int FROM approval.item_event ORDER BY 1"
        ).fetchall()
        assert [y for (y,) in years] == [2024, 2025, 2026]
