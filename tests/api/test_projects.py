"""Project library API: codes, who sees and changes what, versioned updates, footprint history."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.orgs.service import OrgKind
from app.projects.code import validate_code
from app.settings import Settings
from tests.concurrency import race_on_locked_row

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[114.20, 22.70], [114.201, 22.70], [114.201, 22.701], [114.20, 22.701], [114.20, 22.70]]
    ],
}


def new_project(client: TestClient, acct: Any, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "龙岗测试学校",
        "project_type": "house_building",
        "investment_wan": "8000",
        "funding_source": "区财政",
        "planned_start": "2026-03-02",
        **extra,
    }
    r = client.post("/api/projects", json=body, headers=acct.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_concurrent_registrations_get_consecutive_serials(
    client: TestClient, make_account: Any, settings: Settings
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    first = new_project(client, unit, owner_dept_code="education")
    prefix, serial = first["code"][:17], int(first["code"][18:23])  # year-region-industry-type, serial
    # Both registrations wait on the prefix's serial row, held by a third connection, then race for it.
    created = race_on_locked_row(
        settings.owner_dsn,
        "SELECT 1 FROM project.code_serial WHERE prefix = %s FOR UPDATE",
        [prefix],
        [lambda: new_project(client, unit, owner_dept_code="education")] * 2,
    )
    codes = [p["code"] for p in created]
    assert all(code.startswith(prefix) for code in codes)
    assert sorted(int(code[18:23]) for code in codes) == [serial + 1, serial + 2]
    for code in codes:
        validate_code(code)


def test_unit_registers_with_a_generated_code(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    validate_code(p["code"])
    assert p["code"].startswith("20") and "-440307-47-01-" in p["code"]
    assert (
        p["status"] == "reserve" and p["initiation"] == "unit" and p["demolition_threshold_pct"] == "100.00"
    )
    q = new_project(client, unit, owner_dept_code="education")
    assert int(q["code"][18:23]) == int(p["code"][18:23]) + 1  # next serial
    r = client.get(f"/api/project-codes/{p['code']}", headers=unit.headers)
    assert r.status_code == 200 and r.json()["region"] == "440307"
    bad = p["code"][:-1] + str((int(p["code"][-1]) + 1) % 10)
    r = client.get(f"/api/project-codes/{bad}", headers=unit.headers)
    assert r.status_code == 422 and r.json()["code"] == "bad_project_code_check"
    r = client.post(
        "/api/projects",
        json={
            "name": "x",
            "project_type": "house_building",
            "investment_wan": 1,
            "funding_source": "区财政",
            "owner_dept_code": "education",
            "code": bad,
        },
        headers=unit.headers,
    )
    assert r.status_code == 422


def test_department_creates_top_down_linked_to_a_layer_feature(client: TestClient, make_account: Any) -> None:
    dept = make_account(Role.REVIEWER, "education")
    link = {"layer": "sp_parcel", "objective": "规划学校地块未建学校"}
    p = new_project(client, dept, unit_org_code="works", plan_link=link)
    assert p["initiation"] == "top_down" and p["plan_link"] == link
    # A feature must exist in the layer's current version (this database holds no parcels).
    r = client.post(
        "/api/projects",
        json={
            "name": "x",
            "project_type": "house_building",
            "investment_wan": 1,
            "funding_source": "区财政",
            "unit_org_code": "works",
            "plan_link": {"layer": "sp_parcel", "fid": 17},
        },
        headers=dept.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_feature"
    r = client.post(
        "/api/projects",
        json={
            "name": "x",
            "project_type": "house_building",
            "investment_wan": 1,
            "funding_source": "区财政",
            "unit_org_code": "works",
            "plan_link": {"layer": "no_such_layer"},
        },
        headers=dept.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_layer"
    r = client.post(
        "/api/projects",
        json={
            "name": "x",
            "project_type": "spaceport",
            "investment_wan": 1,
            "funding_source": "区财政",
            "unit_org_code": "works",
        },
        headers=dept.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_project_type"


def test_units_see_and_change_only_their_own(client: TestClient, make_account: Any, make_org: Any) -> None:
    _, other_code = make_org(OrgKind.PROJECT_UNIT)
    mine, theirs = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.PROJECT_UNIT, other_code)
    p = new_project(client, mine, owner_dept_code="health")
    assert client.get(f"/api/projects/{p['id']}", headers=theirs.headers).status_code == 404
    assert p["id"] not in [x["id"] for x in client.get("/api/projects", headers=theirs.headers).json()]
    r = client.patch(f"/api/projects/{p['id']}", json={"version": 1, "name": "抢注"}, headers=theirs.headers)
    assert r.status_code == 404
    # The owning department sees it; an uninvolved department does not.
    health, water = make_account(Role.REVIEWER, "health"), make_account(Role.REVIEWER, "water")
    assert client.get(f"/api/projects/{p['id']}", headers=health.headers).status_code == 200
    assert client.get(f"/api/projects/{p['id']}", headers=water.headers).status_code == 404


def test_stale_updates_are_refused_with_the_current_state(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    r = client.get(f"/api/projects/{p['id']}", headers=unit.headers)
    assert r.headers["etag"] == '"1"'
    r = client.patch(
        f"/api/projects/{p['id']}",
        json={"investment_wan": "9000"},
        headers={**unit.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    r = client.patch(
        f"/api/projects/{p['id']}", json={"name": "迟到的修改"}, headers={**unit.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 412 and r.json()["current"]["version"] == 2
    assert r.json()["current"]["investment_wan"] == "9000.00"
    r = client.patch(
        f"/api/projects/{p['id']}", json={"version": 1, "name": "迟到的修改"}, headers=unit.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.patch(f"/api/projects/{p['id']}", json={"name": "无版本"}, headers=unit.headers)
    assert r.status_code == 422 and r.json()["code"] == "version_required"
    assert client.get(f"/api/projects/{p['id']}", headers=unit.headers).json()["name"] == "龙岗测试学校"
    # Lifecycle: reserve → completed is not a step.
    r = client.patch(
        f"/api/projects/{p['id']}", json={"version": 2, "status": "completed"}, headers=unit.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "illegal_status_change"
    r = client.patch(
        f"/api/projects/{p['id']}", json={"version": 2, "status": "preparation"}, headers=unit.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "preparation"


def test_footprints_keep_their_history(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    for note in ("方案一", "方案二"):
        r = client.post(
            f"/api/projects/{p['id']}/footprints",
            json={"footprint": SQUARE, "note": note},
            headers=unit.headers,
        )
        assert r.status_code == 201, r.text
        assert 10_000 < r.json()["area_m2"] < 13_000
    history = client.get(f"/api/projects/{p['id']}/footprints", headers=unit.headers).json()
    assert [f["note"] for f in history] == ["方案二", "方案一"]
    assert history[0]["superseded_at"] is None and history[1]["superseded_at"] is not None
