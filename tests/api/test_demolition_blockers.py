"""Blockers: raised by coordinators, worked by the assigned department, overdue ones in e-supervision."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project, new_unit


def test_blocker_life_and_overdue_warnings(client: TestClient, make_account: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    water, drc = make_account(Role.REVIEWER, "water"), make_account(Role.REVIEWER, "drc")
    unit_acct = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, admin)
    u = new_unit(client, coord, p["id"], "BL-1")
    body = {
        "unit_id": u["id"],
        "category": "utility",
        "title": "供水管线需迁改",
        "description": "DN600 供水管穿越地块",
        "department_code": "water",
        "deadline": "2026-03-10",
    }
    url = f"/api/demolition/projects/{p['id']}/blockers"
    assert client.post(url, json=body, headers=unit_acct.headers).status_code == 403
    assert client.post(url, json=body, headers=water.headers).status_code == 403
    assert (
        client.post(url, json={**body, "department_code": "nope"}, headers=coord.headers).status_code == 422
    )
    r = client.post(url, json=body, headers=coord.headers)
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["status"], b["department_code"], b["unit_code"], b["category_zh"]) == (
        "open",
        "water",
        "BL-1",
        "管线迁改",
    )
    act = f"/api/demolition/blockers/{b['id']}/actions"

    # The assigned department sees and discusses it; another department does not see it.
    assert [x["id"] for x in client.get("/api/demolition/blockers", headers=water.headers).json()] == [
        b["id"]
    ]
    assert client.get("/api/demolition/blockers", headers=drc.headers).json() == []
    assert client.post(act, json={"action": "comment", "body": "x"}, headers=drc.headers).status_code == 404
    r = client.post(act, json={"action": "comment", "body": "已联系供水公司"}, headers=water.headers)
    assert r.status_code == 200
    r = client.post(act, json={"action": "comment", "body": "请加快"}, headers=unit_acct.headers)
    assert r.status_code == 200
    r = client.post(act, json={"action": "escalate", "body": "x", "version": 1}, headers=water.headers)
    assert r.status_code == 403

    # Overdue on 15 March: a red warning for coordinators, the department and the project unit.
    q = f"/api/warnings?project_id={p['id']}&as_of=2026-03-15"
    for acct in (coord, water, unit_acct):
        warnings = client.get(q, headers=acct.headers).json()
        assert [(w["kind"], w["level"], w["blocker_id"]) for w in warnings] == [
            ("blocker_overdue", "red", b["id"])
        ], acct.username
    assert "已逾期 5 天" in warnings[0]["message_zh"]
    assert client.get(q, headers=drc.headers).json() == []
    assert client.get(q + "&department=drc", headers=coord.headers).json() == []
    assert (
        client.get(f"/api/warnings?project_id={p['id']}&as_of=2026-03-10", headers=coord.headers).json() == []
    )
    overdue = client.get(f"{url}?overdue_on=2026-03-15", headers=coord.headers).json()
    assert [x["id"] for x in overdue] == [b["id"]]

    # Escalated with a new deadline: no longer overdue on the 15th.
    r = client.post(
        act,
        json={"action": "escalate", "body": "提请区领导协调", "version": 1, "deadline": "2026-03-20"},
        headers=coord.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "escalated" and r.json()["escalation_level"] == 1
    assert client.get(q, headers=coord.headers).json() == []
    r = client.post(act, json={"action": "resolve", "body": "x", "version": 1}, headers=water.headers)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.post(
        act, json={"action": "resolve", "body": "管线已迁改完成", "version": 2}, headers=water.headers
    )
    assert (
        r.status_code == 200
        and r.json()["status"] == "resolved"
        and r.json()["resolution"] == "管线已迁改完成"
    )
    assert client.get(q.replace("03-15", "03-25"), headers=coord.headers).json() == []
    r = client.post(act, json={"action": "resolve", "body": "again", "version": 3}, headers=coord.headers)
    assert r.status_code == 409 and r.json()["code"] == "blocker_resolved"
    thread = client.get(f"/api/demolition/blockers/{b['id']}/comments", headers=coord.headers).json()
    assert [c["kind"] for c in thread] == ["raise", "comment", "comment", "escalate", "resolve"]
    assert thread[1]["actor_name"] == water.username
