"""Approval items: plan from template, state machine with roles, 容缺受理, 补正, versions, the gate."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.settings import Settings
from tests.api.test_projects import new_project
from tests.concurrency import race_on_locked_row


def plan_items(client: TestClient, acct: Any, project_id: int) -> dict[str, dict[str, Any]]:
    r = client.post(f"/api/projects/{project_id}/plan", headers=acct.headers)
    assert r.status_code == 201, r.text
    return {i["item_code"]: i for i in r.json()}


def move(client: TestClient, acct: Any, item: dict[str, Any], action: str, **body: Any) -> Any:
    r = client.post(
        f"/api/items/{item['id']}/transitions",
        json={"action": action, "version": item["version"], **body},
        headers=acct.headers,
    )
    if r.status_code == 200:
        item.update(r.json())
    return r


def test_small_project_plan_merges_and_drops_by_investment(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    items = plan_items(client, unit, p["id"])
    assert "energy_review" not in items and "stability_assessment" not in items
    assert items["project_proposal"]["status"] == "merged"
    assert items["project_proposal"]["merged_into_id"] == items["preliminary_design"]["id"]
    assert items["land_planning_permit"]["prerequisites"] == [items["land_pre_review"]["id"]]
    assert items["land_pre_review"]["department_code"] == "pnr"
    r = client.post(f"/api/projects/{p['id']}/plan", headers=unit.headers)
    assert r.status_code == 409 and r.json()["code"] == "plan_exists"


def test_item_life_with_conditional_acceptance_and_correction(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    pnr, water = make_account(Role.REVIEWER, "pnr"), make_account(Role.REVIEWER, "water")
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    items = plan_items(client, unit, p["id"])
    item = items["land_pre_review"]

    r = move(client, pnr, item, "submit")  # only the project unit submits
    assert r.status_code == 403 and r.json()["code"] == "wrong_party"
    assert move(client, unit, item, "submit").status_code == 200 and item["status"] == "submitted"
    assert move(client, unit, item, "accept").status_code == 403
    assert move(client, water, item, "accept").status_code == 403  # another department's item
    r = move(client, pnr, item, "accept", missing_documents=["地形图"])
    assert r.status_code == 422 and r.json()["code"] == "supplement_due_required"
    r = move(
        client, pnr, item, "accept", missing_documents=["地形图"], supplement_due="2099-01-01", note="容缺"
    )
    assert r.status_code == 200 and item["status"] == "accepted_conditional"
    assert item["missing_documents"] == ["地形图"]
    r = move(client, pnr, item, "approve")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    assert r.json()["current"]["status"] == "accepted_conditional"
    assert move(client, pnr, item, "start_review").status_code == 200
    r = move(client, pnr, item, "approve")
    assert r.status_code == 409 and r.json()["code"] == "supplement_outstanding"
    stale = dict(item)
    assert move(client, unit, item, "supplement").status_code == 200
    # A stale version: 409 with a version field, 412 with If-Match; both carry the current state.
    r = move(client, pnr, stale, "return_for_correction")
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    assert r.json()["current"]["version"] == item["version"]
    r = client.post(
        f"/api/items/{item['id']}/transitions",
        json={"action": "return_for_correction"},
        headers={**pnr.headers, "If-Match": f'"{stale["version"]}"'},
    )
    assert r.status_code == 412 and r.json()["current"]["supplemented_at"] is not None
    assert move(client, pnr, item, "return_for_correction", note="补充论证").status_code == 200
    assert move(client, pnr, item, "resubmit").status_code == 403
    assert move(client, unit, item, "resubmit").status_code == 200 and item["status"] == "under_review"
    assert move(client, pnr, item, "approve").status_code == 200 and item["status"] == "approved"
    assert move(client, pnr, item, "reject").status_code == 409  # terminal
    r = client.get(f"/api/items/{item['id']}", headers=unit.headers)
    assert r.headers["etag"] == f'"{item["version"]}"'

    events = client.get(f"/api/items/{item['id']}/events", headers=unit.headers).json()
    assert [e["action"] for e in events] == [
        "submit",
        "accept",
        "start_review",
        "supplement",
        "return_for_correction",
        "resubmit",
        "approve",
    ]
    assert [e["to_status"] for e in events][-3:] == ["correction", "under_review", "approved"]
    assert events[0]["actor_name"] == unit.username and events[1]["actor_name"] == pnr.username
    assert events[4]["note"] == "补充论证"

    # The next item may now be submitted; one further down still waits for its prerequisites.
    assert move(client, unit, items["land_planning_permit"], "submit").status_code == 200
    r = move(client, unit, items["preliminary_design"], "submit")
    assert r.status_code == 409 and r.json()["code"] == "prerequisites_pending"
    # People read the item's name; the code stays in the machine-readable field only.
    assert r.json()["message_zh"] == "前置事项尚未办结：建设用地规划许可证。"
    assert "land_planning_permit" not in r.json()["message_en"]
    assert r.json()["pending"] == ["land_planning_permit"]
    r = move(client, unit, items["preliminary_design"], "fly")
    assert r.status_code == 422 and r.json()["code"] == "unknown_action"


def test_construction_permit_gate_reads_demolition_progress(client: TestClient, make_account: Any) -> None:
    unit, admin = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.SYSTEM_ADMIN, "gov-data")
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    items = plan_items(client, unit, p["id"])
    for code, item in items.items():
        if item["status"] == "not_started" and code not in (
            "construction_permit",
            "joint_acceptance",
            "completion_filing",
        ):
            assert move(client, admin, item, "cancel").status_code == 200
    permit = items["construction_permit"]
    r = move(client, unit, permit, "submit")
    assert r.status_code == 409 and r.json()["code"] == "demolition_gate"
    assert r.json()["threshold_pct"] == 100.0 and r.json()["progress_pct"] is None
    r = client.patch(
        f"/api/projects/{p['id']}", json={"version": 1, "demolition_progress_pct": 60}, headers=unit.headers
    )
    assert r.status_code == 200
    r = move(client, unit, permit, "submit")
    assert r.status_code == 409 and r.json()["progress_pct"] == 60.0
    client.patch(
        f"/api/projects/{p['id']}", json={"version": 2, "demolition_progress_pct": 100}, headers=unit.headers
    )
    assert move(client, unit, permit, "submit").status_code == 200


def test_work_queues_per_department_and_unit(client: TestClient, make_account: Any) -> None:
    unit, water = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.REVIEWER, "water")
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    items = plan_items(client, unit, p["id"])
    assert move(client, unit, items["soil_conservation"], "submit").status_code == 200
    queue = client.get("/api/items?status=submitted", headers=water.headers).json()
    assert items["soil_conservation"]["id"] in [i["id"] for i in queue]
    assert {i["department_code"] for i in queue} == {"water"}
    mine = client.get(f"/api/items?project_id={p['id']}", headers=unit.headers).json()
    assert len(mine) == len(items)
    assert client.get(f"/api/items?project_id={p['id']}&department=pnr", headers=water.headers).json() == []


def test_concurrent_moves_with_one_version_lose_nothing(
    client: TestClient, make_account: Any, settings: Settings
) -> None:
    unit, pnr = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.REVIEWER, "pnr")
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    item = plan_items(client, unit, p["id"])["land_pre_review"]
    assert move(client, unit, item, "submit").status_code == 200

    def attempt(action: str) -> int:
        body = {"action": action, "version": item["version"]}
        return client.post(f"/api/items/{item['id']}/transitions", json=body, headers=pnr.headers).status_code

    # Both requests wait on the item's row, held by a third connection, before either reads its version.
    codes = sorted(
        race_on_locked_row(
            settings.owner_dsn,
            "SELECT 1 FROM approval.item WHERE id = %s FOR UPDATE",
            [item["id"]],
            [lambda: attempt("accept"), lambda: attempt("reject")],
        )
    )
    assert codes == [200, 409]  # one wins; the other is told the state changed
    events = client.get(f"/api/items/{item['id']}/events", headers=unit.headers).json()
    assert len(events) == 2


def test_plan_lists_the_actions_each_caller_may_take(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    pnr, planner = make_account(Role.REVIEWER, "pnr"), make_account(Role.PLANNER, "pnr")
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    items = plan_items(client, unit, p["id"])

    def actions(acct: Any) -> dict[str, list[str]]:
        r = client.get(f"/api/projects/{p['id']}/plan?as_of=2025-06-02", headers=acct.headers)
        assert r.status_code == 200, r.text
        return {i["item_code"]: i["actions"] for i in r.json()["items"]}

    assert actions(unit)["land_pre_review"] == ["submit"]
    assert actions(unit)["project_proposal"] == []  # merged: nothing left to do
    assert actions(pnr)["land_pre_review"] == ["cancel", "merge"]
    assert actions(pnr)["preliminary_design"] == []  # another department's item
    assert actions(planner)["land_pre_review"] == []  # no items:transition
    assert move(client, unit, items["land_pre_review"], "submit").status_code == 200
    assert actions(pnr)["land_pre_review"] == ["accept", "reject", "cancel", "merge"]
    assert actions(unit)["land_pre_review"] == []
