"""The demo history at scale small: written through the services, read back through the HTTP API.

The KPI figures the API gives are checked against the targets (±3 points) and against figures counted
here straight from ``approval.item_event`` with the shipped working-day calendar (our own count, not the
product's KPI code).
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import HistoryWorld
from tests.helpers import signed_in_account


@pytest.fixture
def history_db(history_world: HistoryWorld) -> Settings:
    return history_world.settings


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


def test_history_kpis_and_pages(history_db: Settings, history_world: HistoryWorld) -> None:
    today = history_world.today
    with (
        TestClient(create_app(history_db)) as client,
        psycopg.connect(history_db.owner_dsn, autocommit=True) as c,
    ):
        leader = signed_in_account(c, client, Role.SYSTEM_ADMIN, "gov-data")
        h = leader.headers
        kpi = client.get("/api/kpis", params={"as_of": today.isoformat()}, headers=h)
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
        warnings = client.get("/api/warnings", params={"as_of": today.isoformat()}, headers=h).json()
        assert any(w["kind"] == "overdue" for w in warnings)
        assert client.get("/api/projects", headers=h).json()
        assert client.get("/api/applications", headers=h).json()
        years = c.execute(
            "SELECT DISTINCT extract(year FROM at)::int FROM approval.item_event ORDER BY 1"
        ).fetchall()
        assert [y for (y,) in years] == [2024, 2025, 2026]
