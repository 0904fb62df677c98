"""The one window (综合窗口): one package per stage accepted in one step, one consolidated correction letter
across the Spring Festival, KPIs and warnings from the same event log, unified issuance."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project

# The six items of the 立项用地规划许可 stage built below, across five departments: a small
# house-building project (800 万元: 项目建议书 and 可研 merge into 初步设计, 节能 and 稳评 drop) keeps
# 用地预审 and 建设用地规划许可 (pnr), 环评 (eco-env) and 水保 (water); pre-evaluation-style items add
# 使用林地 (forestry) and 文物影响评估 (culture).
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
    """The next version of a library material (rows as the materials store writes them; no bytes needed)."""
    data = uuid.uuid4().bytes
    sha = hashlib.sha256(data).hexdigest()
    conn.execute(
        "INSERT INTO material.blob (sha256, size, media_type) VALUES (%s, 16, 'application/pdf')", (sha,)
    )
    current = conn.execute(
        "UPDATE material.material SET superseded_at = now() WHERE owner_org_id = %s AND purpose = %s"
        " AND material_code = %s AND coalesce(project_id, 0) = coalesce(%s::bigint, 0)"
        " AND superseded_at IS NULL RETURNING id, version",
        (org_id, purpose, code, project_id),
    ).fetchone()
    row = conn.execute(
        "INSERT INTO material.material (owner_org_id, project_id, purpose, material_code, file_name, sha256,"
        " media_type, size, valid_until, uploaded_by_name, version, supersedes_id) VALUES (%s, %s, %s, %s,"
        " %s, %s, 'application/pdf', 16, %s, 'tests', %s, %s) RETURNING id",
        (
            org_id,
            project_id,
            purpose,
            code,
            f"{code}.pdf",
            sha,
            valid_until,
            current[1] + 1 if current else 1,
            current[0] if current else None,
        ),
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


def at(conn: psycopg.Connection[Any], item_id: int, action: str, day: str, *, optional: bool = False) -> None:
    """Date an item's event by hand (noon, district time)."""
    n = conn.execute(
        "UPDATE approval.item_event SET at = (%s || ' 12:00')::timestamp AT TIME ZONE 'Asia/Shanghai'"
        " WHERE item_id = %s AND action = %s",
        (day, item_id, action),
    ).rowcount
    assert optional or n >= 1, (item_id, action)


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

    # 容缺 only for conditional materials, promised within the year.
    due = (date.today() + timedelta(days=30)).isoformat()
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
        gaps=[{"material_code": "geohazard_assessment", "supplement_due": due}],
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
    assert items["land_pre_review"]["supplement_due"] == due
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


def test_one_letter_stops_two_clocks_across_the_spring_festival(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    depts = {d: make_account(Role.REVIEWER, d) for d in set(STAGE_ITEMS.values())}
    p = six_item_project(client, owner_conn, unit)
    app = open_and_fill(client, owner_conn, unit, p["id"])
    app = call(client, unit, "POST", f"/api/applications/{app['id']}/submit", version=app["version"]).json()
    app = call(client, window, "POST", f"/api/applications/{app['id']}/accept", version=app["version"]).json()
    items = {i["item_code"]: i for i in app["items"]}
    eia, soil = items["environmental_impact"], items["soil_conservation"]

    # Two departments ask the window for more; nothing reaches the unit yet and both clocks keep running.
    r = call(
        client,
        depts["eco-env"],
        "POST",
        f"/api/items/{eia['id']}/correction-requests",
        points=[{"material_code": "eia_report", "text": "补充噪声影响预测"}],
    )
    assert r.status_code == 201, r.text
    r = call(
        client,
        depts["water"],
        "POST",
        f"/api/items/{soil['id']}/correction-requests",
        points=[
            {"material_code": "soil_plan", "text": "补充弃土场防护措施"},
            {"text": "补充水土流失监测方案"},
        ],
    )
    assert r.status_code == 201
    # A department cannot ask about (or decide) another department's item.
    r = call(
        client, depts["water"], "POST", f"/api/items/{eia['id']}/correction-requests", points=[{"text": "x"}]
    )
    assert r.status_code == 403
    # A third request, withdrawn before the letter, does not appear in it.
    r = call(
        client,
        depts["forestry"],
        "POST",
        f"/api/items/{items['forest_use_permit']['id']}/correction-requests",
        points=[{"text": "补充林地现状照片"}],
    )
    withdrawn = r.json()["id"]
    assert (
        client.delete(f"/api/correction-requests/{withdrawn}", headers=depts["forestry"].headers).status_code
        == 200
    )
    app = client.get(f"/api/applications/{app['id']}", headers=window.headers).json()
    assert len(app["open_requests"]) == 2 and {i["status"] for i in app["items"]} == {"accepted"}
    assert "send_letter" in app["allowed_actions"]

    r = call(
        client, window, "POST", f"/api/applications/{app['id']}/correction-letter", version=app["version"]
    )
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["status"] == "correction" and app["correction_rounds"] == 1 and app["open_requests"] == []
    (letter,) = app["letters"]
    assert letter["round"] == 1 and len(letter["points"]) == 3
    assert {pt["department_name"] for pt in letter["points"]} == {
        "深圳市生态环境局龙岗管理局",
        "龙岗区水务局",
    }
    states = {i["item_code"]: i["status"] for i in app["items"]}
    assert states["environmental_impact"] == states["soil_conservation"] == "correction"
    assert states["forest_use_permit"] == "accepted"
    # The unit answers once for the whole letter (a new version of the report first).
    new_eia = library(owner_conn, unit.org_id, "eia_report", project_id=p["id"])
    r = call(client, unit, "PUT", f"/api/applications/{app['id']}/materials/eia_report", material_id=new_eia)
    assert r.status_code == 200
    r = call(client, unit, "POST", f"/api/applications/{app['id']}/resubmit", version=r.json()["version"])
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["status"] == "accepted" and app["letters"][0]["resubmitted_at"] is not None
    assert {i["item_code"]: i["status"] for i in app["items"]}["soil_conservation"] == "under_review"
    # The issuance waits for every decision.
    r = call(client, window, "POST", f"/api/applications/{app['id']}/issue", version=app["version"])
    assert r.status_code == 409 and r.json()["code"] == "items_undecided"

    # Every department decides its own item (the window may not).
    for code, dept in STAGE_ITEMS.items():
        body: dict[str, Any] = {"decision": "approve"}
        if code == "land_planning_permit":
            body = {"decision": "approve_conditional", "conditions": "建筑退线不少于 6 米"}
        r = call(client, depts[dept], "POST", f"/api/items/{items[code]['id']}/opinion", **body)
        assert r.status_code == 200, (code, r.text)

    # The dates, by hand (the shipped calendar, app/calendar/data/cn_holidays.json: 2026 Spring Festival
    # holidays Sun 2/15 – Mon 2/23, 调休 working Saturdays 2/14 and 2/28). Accepted Mon 2/09; the letter
    # on Fri 2/13; resubmitted Tue 2/24.
    for item in app["items"]:
        at(owner_conn, item["id"], "submit", "2026-02-06")
        at(owner_conn, item["id"], "accept", "2026-02-09")
        at(owner_conn, item["id"], "start_review", "2026-02-09", optional=True)
    for item in (eia, soil):
        at(owner_conn, item["id"], "return_for_correction", "2026-02-13")
        at(owner_conn, item["id"], "resubmit", "2026-02-24")
    for code in ("land_pre_review", "land_planning_permit", "forest_use_permit"):
        at(owner_conn, items[code]["id"], "approve", "2026-02-12")
    at(owner_conn, items["heritage_impact"]["id"], "approve", "2026-03-09")
    at(owner_conn, eia["id"], "approve", "2026-02-27")
    at(owner_conn, soil["id"], "approve", "2026-03-02")
    app = client.get(f"/api/applications/{app['id']}", headers=unit.headers).json()
    clocks = {i["item_code"]: (i["elapsed_days"], i["due"], i["colour"]) for i in app["items"]}
    # 环评 (20 days): 2/10, 2/11, 2/12, 2/13 = 4 before the letter; stopped 2/14 (调休 Saturday, with the
    # unit: not counted) to 2/24; then 2/25, 2/26, 2/27 = 3 → 7. Due: the 20th working day of the clock:
    # 4 before the letter, 16 after the resubmission day 2/24: 2/25-2/28 (4), 3/02-3/06 (9), 3/09-3/13
    # (14), 3/16, 3/17 (16) → 3/17 (without the stop it would be 3/13: the stop moves it on).
    assert clocks["environmental_impact"] == (7, "2026-03-17", "green")
    # 水保 (15 days): 4 + (2/25, 2/26, 2/27, 2/28 调休, 3/02) = 9; due: 11 left after 2/24 → 2/25-2/28 (4),
    # 3/02-3/06 (9), 3/09, 3/10 (11) → 3/10.
    assert clocks["soil_conservation"] == (9, "2026-03-10", "green")
    # 用地预审 approved Thu 2/12: 2/10, 2/11, 2/12 = 3.
    assert clocks["land_pre_review"][0] == 3
    # 文物 (15 days) approved 3/09 without a stop: 2/10-2/14 (5), 2/24-2/28 (10), 3/02-3/06 (15), 3/09 → 16.
    assert clocks["heritage_impact"][0] == 16

    # KPIs read the same events: 6 finished; early = fewer days than promised (文物 16 > 15 is not) → 5;
    # one-time pass: 环评 and 水保 went through a correction → 4 of 6; mean (3+3+3+16+7+9)/6 = 41/6.
    kpi = client.get(f"/api/kpis?project_id={p['id']}&as_of=2026-03-31", headers=window.headers).json()
    assert kpi == [
        {
            "key": "total",
            "name_zh": None,
            "name_en": None,
            "items": 6,
            "finished": 6,
            "early": 5,
            "early_completion_rate": 5 / 6,
            "approved": 6,
            "one_time_pass": 4,
            "one_time_pass_rate": 4 / 6,
            "mean_working_days": 41 / 6,
            "overdue": 1,
        }
    ]
    by_dept = client.get(
        f"/api/kpis?project_id={p['id']}&as_of=2026-03-31&by=department", headers=window.headers
    ).json()
    assert {k["key"]: (k["items"], k["one_time_pass"], k["mean_working_days"]) for k in by_dept} == {
        "culture": (1, 1, 16.0),
        "eco-env": (1, 0, 7.0),
        "forestry": (1, 1, 3.0),
        "pnr": (2, 2, 3.0),
        "water": (1, 0, 9.0),
    }

    # Unified issuance, then the next stage may be opened.
    app = client.get(f"/api/applications/{app['id']}", headers=window.headers).json()
    assert "issue" in app["allowed_actions"]
    assert app["id"] in [
        a["id"] for a in client.get("/api/applications?queue=issuing", headers=window.headers).json()
    ]
    r = call(client, window, "POST", f"/api/applications/{app['id']}/issue", version=app["version"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "issued" and r.json()["issued_at"] is not None
    opinion = {i["item_code"]: i["opinion"] for i in r.json()["items"]}["land_planning_permit"]
    assert opinion["decision"] == "approve_conditional" and opinion["conditions"] == "建筑退线不少于 6 米"
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="engineering")
    assert r.status_code == 201, r.text
    assert [i["item_code"] for i in r.json()["items"]] == [
        "preliminary_design",
        "engineering_planning_permit",
    ]
    assert {i["item_code"]: i["joint_review"] for i in r.json()["items"]}[
        "engineering_planning_permit"
    ] is True


def test_window_warnings_for_late_intake_and_unmerged_requests(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    p = six_item_project(client, owner_conn, unit)
    app = open_and_fill(client, owner_conn, unit, p["id"])
    app = call(client, unit, "POST", f"/api/applications/{app['id']}/submit", version=app["version"]).json()
    # Submitted Thu 2026-02-12 at 10:00: the window promises intake within 1 working day.
    owner_conn.execute(
        "UPDATE approval.application SET submitted_at = '2026-02-12 10:00+08' WHERE id = %s", (app["id"],)
    )

    def warnings(acct: Any, day: str) -> list[dict[str, Any]]:
        r = client.get(f"/api/warnings?project_id={p['id']}&as_of={day}", headers=acct.headers)
        assert r.status_code == 200, r.text
        return [w for w in r.json() if w["kind"] in ("intake_overdue", "letter_overdue")]

    assert warnings(window, "2026-02-13") == []  # Fri 2/13: 1 working day used, within the promise
    # Tue 2/24: 2/13, 2/14 (调休 Saturday), 2/24 = 3 working days (the Spring Festival 2/15-2/23 not counted).
    (late,) = warnings(window, "2026-02-24")
    assert (late["kind"], late["level"], late["elapsed_days"], late["due_on"]) == (
        "intake_overdue",
        "red",
        3,
        "2026-02-13",
    )
    assert late["application_id"] == app["id"] and late["department_code"] == "service-center"
    assert [w["kind"] for w in warnings(unit, "2026-02-24")] == ["intake_overdue"]
    eco = make_account(Role.REVIEWER, "eco-env")
    assert warnings(eco, "2026-02-24") == []  # not the department's business

    app = call(client, window, "POST", f"/api/applications/{app['id']}/accept", version=app["version"]).json()
    eia = {i["item_code"]: i for i in app["items"]}["environmental_impact"]
    r = call(
        client, eco, "POST", f"/api/items/{eia['id']}/correction-requests", points=[{"text": "补充监测数据"}]
    )
    owner_conn.execute(
        "UPDATE approval.correction_request SET requested_at = '2026-02-13 09:00+08' WHERE id = %s",
        (r.json()["id"],),
    )
    assert warnings(window, "2026-02-14") == []  # 1 working day (the 调休 Saturday)
    (unmerged,) = warnings(eco, "2026-02-24")  # 2/14 and 2/24: 2 working days, not yet in a letter
    assert (unmerged["kind"], unmerged["level"], unmerged["elapsed_days"], unmerged["item_id"]) == (
        "letter_overdue",
        "yellow",
        2,
        eia["id"],
    )
    water = make_account(Role.REVIEWER, "water")
    assert warnings(water, "2026-02-24") == []
    # The existing overdue warnings cover window-accepted items: 环评 (20 days) accepted 2/09 is red on 3/16
    # (2/10-2/14, 2/24-2/28, 3/02-3/06, 3/09-3/13 = 20, 3/16 = 21 > 20).
    at(owner_conn, eia["id"], "submit", "2026-02-06")
    at(owner_conn, eia["id"], "accept", "2026-02-09")
    red = [
        w
        for w in client.get(
            f"/api/warnings?project_id={p['id']}&as_of=2026-03-16", headers=eco.headers
        ).json()
        if w["kind"] == "overdue"
    ]
    assert [(w["item_id"], w["elapsed_days"]) for w in red] == [(eia["id"], 21)]
