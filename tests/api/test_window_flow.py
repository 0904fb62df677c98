"""The one window (综合窗口): one package per stage accepted in one step, one consolidated correction letter
across the Spring Festival, KPIs and warnings from the same event log, unified issuance."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project

# The six items of the 立项用地规划许可 stage built below, across five departments: a small house-building
# project (800 万元: 项目建议书 and 可研 merge into 初步设计, 节能 and 稳评 drop) keeps 用地预审 and 建设用地规划许可
# (pnr), 环评 (eco-env) and 水保 (water); pre-evaluation-style items add 使用林地 (forestry) and 文物影响评估
# (culture).
STAGE_ITEMS = {
    "land_pre_review": "pnr",
    "environmental_impact": "eco-env",
    "soil_conservation": "water",
    "land_planning_permit": "pnr",
    "forest_use_permit": "forestry",
    "heritage_impact": "culture",
}
# The checklist of those six items, from the template's and triggered_items.yaml's materials (by hand):
# code → required.
CHECKLIST = {
    "business_licence": True,
    "legal_rep_authorisation": True,
    "project_proposal_doc": True,
    "feasibility_report": True,  # 水保 needs the 可研报告
    "site_red_line": True,
    "geohazard_assessment": False,
    "eia_report": True,
    "soil_plan": True,
    "land_supply_docs": True,
    "forest_use_application": True,
    "heritage_report": True,
}


def library(
    conn: psycopg.Connection[Any],
    org_id: int,
    code: str,
    *,
    valid_until: str | None = None,
    project_id: int | None = None,
    purpose: str = "application",
) -> int:
    """One version of a library material (rows as the materials store writes them; bytes not needed)."""
    data = uuid.uuid4().bytes
    sha = hashlib.sha256(data).hexdigest()
    conn.execute(
        "INSERT INTO material.blob (sha256, size, media_type) VALUES (%s, 16, 'application/pdf')", (sha,)
    )
    row = conn.execute(
        "INSERT INTO material.material (owner_org_id, project_id, purpose, material_code, file_name, sha256,"
        " media_type, size, valid_until, uploaded_by_name) VALUES (%s, %s, %s, %s, %s, %s, 'application/pdf',"
        " 16, %s, 'tests') RETURNING id",
        (org_id, project_id, purpose, code, f"{code}.pdf", sha, valid_until),
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_item(
    conn: psycopg.Connection[Any], project_id: int, code: str, name: str, dept: str, days: int
) -> None:
    """An item a pre-evaluation would have added (same stage, its department)."""
    conn.execute(
        "INSERT INTO approval.item (project_id, item_code, name_zh, name_en, stage, department_code,"
        " department_id, statutory_days, promised_days, source, status) VALUES (%s, %s, %s, %s,"
        " 'project_land', %s, (SELECT id FROM auth.organisation WHERE code = %s), %s, %s, 'manual',"
        " 'not_started')",
        (project_id, code, name, code.replace("_", " "), dept, dept, days, days),
    )


def six_item_project(client: TestClient, owner_conn: psycopg.Connection[Any], unit: Any) -> dict[str, Any]:
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    plan_items(client, unit, p["id"])
    add_item(owner_conn, p["id"], "forest_use_permit", "使用林地审核同意书", "forestry", 15)
    add_item(owner_conn, p["id"], "heritage_impact", "文物影响评估审批", "culture", 15)
    return p


def call(client: TestClient, acct: Any, method: str, url: str, **body: Any) -> Any:
    return client.request(method, url, json=body, headers=acct.headers)


def open_and_fill(
    client: TestClient,
    owner_conn: psycopg.Connection[Any],
    unit: Any,
    project_id: int,
    stage: str = "project_land",
) -> dict[str, Any]:
    """Open the stage's application and attach a valid library version to every required entry."""
    r = call(
        client, unit, "POST", "/api/applications", project_id=project_id, stage=stage, contact_name="张工"
    )
    assert r.status_code == 201, r.text
    app = r.json()
    for entry in app["checklist"]:
        if entry["required"]:
            mid = library(owner_conn, unit.org_id, entry["code"], project_id=project_id)
            r = call(
                client,
                unit,
                "PUT",
                f"/api/applications/{app['id']}/materials/{entry['code']}",
                material_id=mid,
            )
            assert r.status_code == 200, r.text
            app = r.json()
    return app


def at(conn: psycopg.Connection[Any], item_id: int, action: str, day: str) -> None:
    """Date an item's event by hand (noon, district time)."""
    n = conn.execute(
        "UPDATE approval.item_event SET at = (%s || ' 12:00')::timestamp AT TIME ZONE 'Asia/Shanghai'"
        " WHERE item_id = %s AND action = %s",
        (day, item_id, action),
    ).rowcount
    assert n >= 1, (item_id, action)


def test_six_items_of_five_departments_accepted_in_one_step(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    p = six_item_project(client, owner_conn, unit)
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="project_land")
    assert r.status_code == 201, r.text
    app = r.json()
    assert re.fullmatch(r"YC\d{8}\d{4,}", app["number"]) and app["status"] == "draft"
    assert app["stage_name_zh"] == "立项用地规划许可" and app["unit_name"] == "龙岗区建筑工务署"
    assert {i["item_code"]: i["department_code"] for i in app["items"]} == STAGE_ITEMS
    assert {e["code"]: e["required"] for e in app["checklist"]} == CHECKLIST
    by_code = {e["code"]: e for e in app["checklist"]}
    # 营业执照 is listed once for all six items; 用地红线图 for the four that need the site.
    assert sorted(by_code["business_licence"]["item_codes"]) == sorted(STAGE_ITEMS)
    assert sorted(by_code["site_red_line"]["item_codes"]) == sorted(
        ["land_pre_review", "land_planning_permit", "forest_use_permit", "heritage_impact"]
    )
    assert all(e["state"] == "missing" for e in app["checklist"])
    # A second application for the same stage is refused while this one is open.
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="project_land")
    assert r.status_code == 409 and r.json()["code"] == "application_exists"
    # A later stage waits for this one.
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="engineering")
    assert r.status_code == 409 and r.json()["code"] == "earlier_stage_open"

    # The library offers the unit's own valid licence (org-wide), not an expired one nor another unit's.
    licence = library(owner_conn, unit.org_id, "business_licence", valid_until="2099-12-31")
    expired = library(
        owner_conn, unit.org_id, "business_licence", valid_until="2020-01-01", project_id=p["id"]
    )
    other_unit = make_account(Role.PROJECT_UNIT, "sd-pinghu")
    foreign = library(owner_conn, other_unit.org_id, "business_licence")
    app = client.get(f"/api/applications/{app['id']}", headers=unit.headers).json()
    offered = {
        o["material_id"] for o in {e["code"]: e for e in app["checklist"]}["business_licence"]["offered"]
    }
    assert licence in offered and expired not in offered and foreign not in offered
    url = f"/api/applications/{app['id']}/materials/business_licence"
    r = call(client, unit, "PUT", url, material_id=expired)
    assert r.status_code == 422 and r.json()["code"] == "material_expired"
    r = call(client, unit, "PUT", url, material_id=foreign)
    assert r.status_code == 404
    r = call(client, unit, "PUT", f"/api/applications/{app['id']}/materials/eia_report", material_id=licence)
    assert r.status_code == 422 and r.json()["code"] == "material_mismatch"
    r = call(
        client, unit, "PUT", f"/api/applications/{app['id']}/materials/no_such_thing", material_id=licence
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_material"
    r = call(client, unit, "POST", f"/api/applications/{app['id']}/submit", version=app["version"])
    assert r.status_code == 409 and r.json()["code"] == "checklist_incomplete"
    assert sorted(r.json()["missing"]) == sorted(c for c, req in CHECKLIST.items() if req)

    for code, required in CHECKLIST.items():
        if required:
            mid = (
                licence
                if code == "business_licence"
                else library(owner_conn, unit.org_id, code, project_id=p["id"])
            )
            r = call(client, unit, "PUT", f"/api/applications/{app['id']}/materials/{code}", material_id=mid)
            assert r.status_code == 200, r.text
    app = r.json()
    assert {e["code"]: e["state"] for e in app["checklist"]} == {
        c: "attached" if req else "missing" for c, req in CHECKLIST.items()
    }
    r = call(client, unit, "POST", f"/api/applications/{app['id']}/submit", version=app["version"])
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["status"] == "submitted" and {i["status"] for i in app["items"]} == {"submitted"}
    assert (
        "accept"
        in client.get(f"/api/applications/{app['id']}", headers=window.headers).json()["allowed_actions"]
    )
    queue = client.get("/api/applications?queue=new", headers=window.headers).json()
    assert app["id"] in [a["id"] for a in queue]

    # 容缺 only for conditional materials.
    r = call(
        client,
        window,
        "POST",
        f"/api/applications/{app['id']}/accept",
        version=app["version"],
        gaps=[{"material_code": "eia_report", "supplement_due": "2099-01-01"}],
    )
    assert r.status_code == 422 and r.json()["code"] == "gap_on_required"
    r = call(
        client,
        window,
        "POST",
        f"/api/applications/{app['id']}/accept",
        version=app["version"],
        gaps=[{"material_code": "geohazard_assessment", "supplement_due": "2099-01-31"}],
    )
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["status"] == "accepted"
    items = {i["item_code"]: i for i in app["items"]}
    # All six clocks start on the same day; only 用地预审 (the item needing the 地灾评估) is 容缺受理.
    assert len({i["started_on"] for i in app["items"]}) == 1 and items["land_pre_review"]["started_on"]
    assert len({i["department_code"] for i in app["items"]}) == 5
    assert {c: i["status"] for c, i in items.items()} == {
        c: "accepted_conditional" if c == "land_pre_review" else "accepted" for c in STAGE_ITEMS
    }
    assert items["land_pre_review"]["missing_documents"] == ["地质灾害危险性评估报告"]
    assert items["land_pre_review"]["supplement_due"] == "2099-01-31"
    days = owner_conn.execute(
        "SELECT count(DISTINCT (at AT TIME ZONE 'Asia/Shanghai')::date), count(*) FROM approval.item_event"
        " WHERE action = 'accept' AND item_id = ANY(%s) AND (detail->>'application_id')::bigint = %s",
        ([i["id"] for i in app["items"]], app["id"]),
    ).fetchone()
    assert days == (1, 6)
    assert [e["action"] for e in app["events"]][-2:] == ["submit", "accept"]
    audit = owner_conn.execute(
        "SELECT action FROM audit.event WHERE object_type = 'application' AND object_id = %s ORDER BY id",
        (str(app["id"]),),
    ).fetchall()
    assert [a[0] for a in audit][-2:] == ["application.submit", "application.accept"]

    # The department's approval waits for the 容缺 supplement; attaching the material records it.
    pnr = make_account(Role.REVIEWER, "pnr")
    r = call(client, pnr, "POST", f"/api/items/{items['land_pre_review']['id']}/opinion", decision="approve")
    assert r.status_code == 409 and r.json()["code"] == "supplement_outstanding"
    geo = library(owner_conn, unit.org_id, "geohazard_assessment", project_id=p["id"])
    r = call(
        client, unit, "PUT", f"/api/applications/{app['id']}/materials/geohazard_assessment", material_id=geo
    )
    assert r.status_code == 200, r.text
    pre = {i["item_code"]: i for i in r.json()["items"]}["land_pre_review"]
    assert pre["supplemented_at"] is not None
    # The package is otherwise locked once accepted.
    r = call(client, unit, "PUT", f"/api/applications/{app['id']}/materials/eia_report", material_id=geo)
    assert r.status_code == 409 and r.json()["code"] == "package_locked"
    r = call(client, pnr, "POST", f"/api/items/{pre['id']}/opinion", decision="approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"
    events = client.get(f"/api/items/{pre['id']}/events", headers=unit.headers).json()
    assert [e["action"] for e in events] == ["submit", "accept", "supplement", "start_review", "approve"]
