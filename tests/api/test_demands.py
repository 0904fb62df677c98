"""The bottom-up demand pool: submit, merge duplicates, accept into new/existing projects, reject."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_projects import new_project

NEED = {
    "source_kind": "deputy",
    "title": "坂田片区缺少公办小学",
    "description": "学位紧张",
    "lon": 114.07,
    "lat": 22.64,
}


def submit(client: TestClient, acct: Any, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/demands", json={**NEED, **extra}, headers=acct.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_demand_becomes_a_new_project_and_duplicates_follow(client: TestClient, make_account: Any) -> None:
    deputy, resident = make_account(Role.VIEWER, "sd-bantian"), make_account(Role.VIEWER, "sd-bantian")
    planner = make_account(Role.PLANNER, "pnr")
    first = submit(client, deputy)
    assert abs(first["lon"] - 114.07) < 1e-9 and first["status"] == "open"
    dup = submit(client, resident, source_kind="resident", title="希望建小学")
    # Submitters see only their own demands.
    assert client.get(f"/api/demands/{dup['id']}", headers=deputy.headers).status_code == 404
    assert [d["id"] for d in client.get("/api/demands", headers=deputy.headers).json()] == [first["id"]]
    # Only triagers decide.
    r = client.post(
        f"/api/demands/{dup['id']}/merge", json={"version": 1, "into_id": first["id"]}, headers=deputy.headers
    )
    assert r.status_code == 403
    third = submit(client, resident, source_kind="enterprise", title="企业员工子女入学难")
    r = client.post(
        f"/api/demands/{third['id']}/merge",
        json={"version": 1, "into_id": dup["id"]},
        headers=planner.headers,
    )
    assert r.status_code == 200
    r = client.post(
        f"/api/demands/{dup['id']}/merge",
        json={"version": 1, "into_id": first["id"]},
        headers=planner.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "merged"
    new = {
        "name": "坂田小学",
        "project_type": "house_building",
        "investment_wan": "12000",
        "funding_source": "区财政",
        "owner_dept_code": "education",
        "unit_org_code": "works",
    }
    r = client.post(
        f"/api/demands/{first['id']}/accept", json={"version": 1, "new_project": new}, headers=planner.headers
    )
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted" and accepted["project_code"].split("-")[1] == "440307"
    # The submitters see the outcome, the duplicate too.
    mine = client.get(f"/api/demands/{first['id']}", headers=deputy.headers).json()
    assert mine["project_id"] == accepted["project_id"]
    theirs = client.get(f"/api/demands/{dup['id']}", headers=resident.headers).json()
    assert theirs["merged_into_id"] == first["id"] and theirs["project_id"] == accepted["project_id"]
    chained = client.get(f"/api/demands/{third['id']}", headers=resident.headers).json()
    assert chained["merged_into_id"] == dup["id"] and chained["project_id"] == accepted["project_id"]
    p = client.get(f"/api/projects/{accepted['project_id']}", headers=planner.headers).json()
    assert p["initiation"] == "bottom_up"
    r = client.post(
        f"/api/demands/{first['id']}/reject", json={"version": 2, "reason": "x"}, headers=planner.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "demand_decided"


def test_accept_into_existing_project_and_reject_with_reason(client: TestClient, make_account: Any) -> None:
    park, planner = make_account(Role.VIEWER, "sd-bantian"), make_account(Role.PLANNER, "pnr")
    unit = make_account(Role.PROJECT_UNIT, "works")
    project = new_project(client, unit, owner_dept_code="transport", project_type="municipal_road")
    road = submit(client, park, source_kind="park", title="园区道路拥堵")
    r = client.post(f"/api/demands/{road['id']}/accept", json={"version": 1}, headers=planner.headers)
    assert r.status_code == 422 and r.json()["code"] == "project_required"
    r = client.post(
        f"/api/demands/{road['id']}/accept",
        json={"version": 1, "project_id": project["id"]},
        headers=planner.headers,
    )
    assert r.status_code == 200 and r.json()["project_id"] == project["id"]
    other = submit(client, park, source_kind="enterprise", title="申请建直升机场")
    r = client.post(
        f"/api/demands/{other['id']}/reject", json={"version": 1, "reason": " "}, headers=planner.headers
    )
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    r = client.post(
        f"/api/demands/{other['id']}/reject",
        json={"version": 0, "reason": "不符合规划"},
        headers=planner.headers,
    )
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.post(
        f"/api/demands/{other['id']}/reject",
        json={"version": 1, "reason": "不符合规划"},
        headers=planner.headers,
    )
    assert r.status_code == 200
    seen = client.get(f"/api/demands/{other['id']}", headers=park.headers).json()
    assert seen["status"] == "rejected" and seen["reason"] == "不符合规划"
    r = client.post("/api/demands", json={**NEED, "lon": 116.4, "lat": 39.9}, headers=park.headers)
    assert r.status_code == 422 and r.json()["code"] == "outside_district"
