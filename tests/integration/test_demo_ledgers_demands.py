"""The demo history's demand pool and demolition ledgers, written at small scale on a fresh small demo
district and read back through the HTTP API; figures checked against our own SQL over the rows."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.demo import demands, ledgers
from app.demo.context import HISTORY_START
from app.settings import Settings
from layers.audit import Actor
from layers.district import DISTRICT
from tests.conftest import HistoryWorld
from tests.helpers import Account, sign_in

SEED = 20240102
CLEARED = ("demolished", "handed_over")


@dataclass
class World:
    """The small demo district with the demand pool and the ledgers written into it."""

    settings: Settings
    client: TestClient
    today: date
    demands: int
    ledgers: int

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.owner_dsn, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def world(history_world: HistoryWorld) -> World:
    """The history's world, with the counts its demand pool and ledgers reported."""
    parts = history_world.report.parts
    return World(
        history_world.settings, history_world.client, history_world.today, parts["demands"], parts["ledgers"]
    )


def account(world: World, role: Role, org: str) -> Account:
    """A signed-in account of our own (not one of the demo's people)."""
    import uuid

    from app.auth import users

    username, password = f"t{uuid.uuid4().hex[:10]}", "Passw0rd-" + uuid.uuid4().hex[:6]
    with psycopg.connect(world.settings.owner_dsn, autocommit=True) as conn:
        user, _ = users.create_user(
            conn,
            Actor.system("tests"),
            users.UserCreate(username=username, role=role, org_code=org, password=password),
        )
    return Account(user.id, username, password, user.org_id, sign_in(world.client, username, password))


def district_day(value: str) -> date:
    from datetime import datetime

    return datetime.fromisoformat(value).astimezone(DISTRICT.tz).date()


def working(world: World, admin: Account, days: set[date]) -> set[date]:
    """The days among ``days`` the calendar API counts as working days."""
    out = set()
    for day in days:
        r = world.client.get(
            "/api/calendar/working-days", params={"from": str(day), "to": str(day)}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
        if r.json()["working_days"] == 1:
            out.add(day)
    return out


def test_demand_pool_has_every_state_decided_by_planners(world: World) -> None:
    planner = account(world, Role.PLANNER, "pnr")
    r = world.client.get("/api/demands", headers=planner.headers)
    assert r.status_code == 200, r.text
    pool = r.json()
    assert len(pool) == world.demands == 10
    by_status = Counter(d["status"] for d in pool)
    assert set(by_status) == {"open", "merged", "accepted", "rejected"}
    # Our own count of the rows.
    rows = dict(world.sql("SELECT status, count(*) FROM project.demand GROUP BY status"))
    assert by_status == rows
    ids = {d["id"]: d for d in pool}
    for d in pool:
        created = district_day(d["created_at"])
        assert HISTORY_START <= created < world.today
        if d["status"] == "open":
            assert d["decided_at"] is None and d["project_id"] is None
            continue
        decided = district_day(d["decided_at"])
        assert created <= decided < world.today
        if d["status"] == "rejected":
            assert d["reason"]
        if d["status"] == "merged":
            kept = ids[d["merged_into_id"]]
            assert kept["status"] in ("open", "accepted")
            assert d["project_id"] == kept["project_id"]
        if d["status"] == "accepted":
            assert d["project_id"] is not None
    # Accepted needs became reserve projects registered bottom-up (and a later one joined one of them).
    accepted = [d for d in pool if d["status"] == "accepted"]
    projects = {d["project_id"] for d in accepted}
    assert len(projects) < len(accepted)
    for project_id in projects:
        p = world.client.get(f"/api/projects/{project_id}", headers=planner.headers).json()
        assert p["initiation"] == "bottom_up" and p["tier"] == "reserve" and p["status"] == "reserve"
        first = min(district_day(d["decided_at"]) for d in accepted if d["project_id"] == project_id)
        assert district_day(p["created_at"]) == first
        assert p["code"].startswith(str(first.year))
    # Who decided: planners of 发改局; who submitted: sub-district offices and project units.
    deciders = world.sql(
        "SELECT DISTINCT u.role, o.code FROM project.demand d JOIN auth.user u ON u.id = d.decided_by_id"
        " JOIN auth.organisation o ON o.id = u.org_id"
    )
    assert deciders == [("planner", "drc")]
    kinds = {r[0] for r in world.sql(
        "SELECT DISTINCT o.kind FROM project.demand d JOIN auth.organisation o ON o.id = d.submitter_org_id"
    )}  # fmt: skip
    assert kinds <= {"subdistrict", "project_unit"} and "subdistrict" in kinds


def test_ledgers_stand_at_their_stages(world: World) -> None:
    coordinator = account(world, Role.COORDINATOR, "land-prep")
    admin = account(world, Role.SYSTEM_ADMIN, "gov-data")
    listed = world.client.get("/api/demolition/projects", headers=coordinator.headers).json()
    with_units = [p for p in listed if p["units"] > 0]
    assert len(with_units) == world.ledgers == 4
    stages = []
    all_days: set[date] = set()
    for p in with_units:
        units = world.sql(
            "SELECT id, status, floor_area_m2, households FROM demolition.unit WHERE project_id = %s", p["id"]
        )
        area = sum(float(u[2]) for u in units)
        cleared_area = sum(float(u[2]) for u in units if u[1] in CLEARED)
        assert p["units"] == len(units)
        assert p["cleared_units"] == sum(1 for u in units if u[1] in CLEARED)
        assert p["progress_pct"] == round(100 * cleared_area / area, 2)
        progress = world.client.get(
            f"/api/demolition/projects/{p['id']}/progress", headers=coordinator.headers
        ).json()
        assert progress["total"]["units"] == len(units)
        assert progress["total"]["households"] == sum(u[3] for u in units)
        counts = Counter(u[1] for u in units)
        assert {t["status"]: t["units"] for t in progress["total"]["by_status"] if t["units"]} == counts
        assert progress["total"]["progress_pct"] == p["progress_pct"]
        series = progress["burndown"]
        remaining = [pt["remaining_units"] for pt in series]
        assert remaining == sorted(remaining, reverse=True)  # nothing cleared ever stands again
        assert remaining[-1] == len(units) - p["cleared_units"]
        # Every unit's events: in the past, in pipeline order, each move from where the last one left.
        events = world.sql(
            "SELECT unit_id, kind, from_status, to_status, at, attachment FROM demolition.unit_event"
            " WHERE project_id = %s ORDER BY unit_id, at, id",
            p["id"],
        )
        last: dict[int, tuple[str, date]] = {}
        cleared_on: dict[int, date] = {}
        for unit_id, kind, from_status, to_status, at, attachment in events:
            day = at.astimezone(DISTRICT.tz).date()
            assert HISTORY_START <= day < world.today
            all_days.add(day)
            if kind == "create":
                assert unit_id not in last
            elif kind == "transition":
                assert last[unit_id][0] == from_status and last[unit_id][1] <= day
                if to_status == "signed":
                    assert attachment and attachment["media_type"] == "application/pdf"
                if to_status in CLEARED:
                    cleared_on.setdefault(unit_id, day)
            last[unit_id] = (to_status, day)
        assert {u: s for u, (s, _) in last.items()} == {u[0]: u[1] for u in units}
        stages.append((counts, p, cleared_on, progress))
    # One ledger just created (nothing past 评估), one complete, one almost, one mid-way.
    kinds = []
    for counts, p, cleared_on, progress in stages:
        if set(counts) <= {"surveyed", "valued"}:
            kinds.append("new")
            assert progress["burndown"][0]["day"] >= str(world.today - timedelta(days=40))
        elif set(counts) == {"handed_over"}:
            kinds.append("complete")
            assert p["progress_pct"] == 100
            assert progress["forecast"]["finish_on"] == str(max(cleared_on.values()))
        elif counts["handed_over"] >= 0.75 * sum(counts.values()):
            kinds.append("almost")
        else:
            kinds.append("midway")
            assert len(counts) >= 3 and 0 < p["progress_pct"] < 100
            if counts["demolished"]:  # demolitions in its last weeks: the forecast has a pace and a date
                assert progress["forecast"]["pace_units_per_day"] > 0 and progress["forecast"]["finish_on"]
    assert sorted(kinds) == ["almost", "complete", "midway", "new"]
    # The days of the events are working days of the district's calendar.
    assert working(world, admin, all_days) == all_days


def test_blockers_in_several_states_and_documents_in_the_store(world: World) -> None:
    coordinator = account(world, Role.COORDINATOR, "land-prep")
    r = world.client.get("/api/demolition/blockers", headers=coordinator.headers)
    assert r.status_code == 200
    shown = r.json()
    rows = world.sql("SELECT id, status, escalation_level FROM demolition.blocker")
    assert {b["id"]: (b["status"], b["escalation_level"]) for b in shown} == {
        r[0]: (r[1], r[2]) for r in rows
    }
    assert {b["status"] for b in shown} == {"open", "escalated", "resolved"}
    assert max(b["escalation_level"] for b in shown) == 2
    for b in shown:
        raised = district_day(b["raised_at"])
        assert HISTORY_START <= raised < world.today
        if b["status"] == "resolved":
            assert b["resolution"] and raised <= district_day(b["resolved_at"]) < world.today
        thread = world.client.get(f"/api/demolition/blockers/{b['id']}/comments", headers=coordinator.headers)
        assert [c["kind"] for c in thread.json()][:2] == ["raise", "comment"]
    # Overdue ones (open past their deadline) are on the e-supervision warnings.
    overdue = {r[0] for r in world.sql(
        "SELECT id FROM demolition.blocker WHERE status <> 'resolved' AND deadline < %s", world.today
    )}  # fmt: skip
    assert overdue
    planner = account(world, Role.PLANNER, "pnr")
    warnings = world.client.get("/api/warnings", headers=planner.headers).json()
    assert {w["blocker_id"] for w in warnings if w["kind"] == "blocker_overdue"} == overdue
    # Every attachment is a real PDF in the materials store, as the event recorded it.
    attachments = world.sql(
        "SELECT DISTINCT attachment ->> 'material_id', attachment ->> 'sha256' FROM demolition.unit_event"
        " WHERE attachment IS NOT NULL"
    )
    assert attachments
    for material_id, sha256 in attachments[:5]:
        body = world.client.get(f"/api/materials/{material_id}/content", headers=coordinator.headers)
        assert body.status_code == 200 and body.content.startswith(b"%PDF-")
        assert hashlib.sha256(body.content).hexdigest() == sha256


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def test_the_plans_are_pure_functions_of_the_seed() -> None:
    today = date(2026, 12, 7)
    sds = ["sd-bantian", "sd-buji", "sd-pinghu"]

    def everything(seed: int) -> Any:
        pool = demands.plan_demands(seed, "district", today, HISTORY_START, sds, weekdays)
        plans = ledgers.plan_ledgers(seed, "district", today, HISTORY_START, weekdays)
        units = [ledgers.plan_units(p, 20, weekdays) for p in plans]
        blocks = [ledgers.plan_blockers(p, 20, today, weekdays) for p in plans]
        return pool, plans, units, blocks

    first = everything(7)
    assert first == everything(7)
    assert first != everything(8)
    pool, plans, units, blocks = first
    assert Counter(p.outcome for p in pool) == {
        "open": 8, "merged": 5, "accepted_new": 9, "accepted_existing": 3, "rejected": 11
    }  # fmt: skip
    assert len(plans) == 7
    for plan, steps, bsteps in zip(plans, units, blocks, strict=True):
        assert HISTORY_START <= plan.registered <= plan.checked <= plan.created <= plan.last < today
        for step in steps + bsteps:  # type: ignore[operator]
            assert plan.created <= step.day <= plan.last and weekdays(step.day)
        by_unit: dict[int, list[Any]] = {}
        for step in steps:
            by_unit.setdefault(step.unit, []).append(step)
        for seq in by_unit.values():
            assert [s.day for s in seq] == sorted(s.day for s in seq)
