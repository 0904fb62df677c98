"""Who may do what on a real application, route by route and role by role (受审分离).

tests/api/test_permissions.py walks every route with id 1, which does not exist: it proves the policy's
403s only. Here one accepted application (a letter sent and answered, a joint review scheduled, a request
withdrawn) is walked by every role, and the per-object rules are checked: another unit and a department
without an item get 404; a department may act only on its own items; the window never decides nor uploads
decision documents; a department never accepts, returns, writes the letter or issues; a unit never records
opinions; the viewer reads but cannot act.

The parties that pass the rules are sent a stale version (or another harmless mistake), so the walk
changes nothing: their answer (409 stale_version, 422 …) proves they got past authorisation.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.materials.storage import LocalBlobStore
from app.settings import Settings
from tests.api.test_window_flow import add_item, call, library, open_and_fill, six_item_project
from tests.api.test_window_rules import _submitted

# The parties of the walk.
UNIT, OTHER_UNIT, WINDOW = "unit", "other_unit", "window"
# Departments with items (pnr leads the joint review, water takes part).
PNR, WATER, ECO = "pnr", "water", "eco"
EDUCATION = "education"  # a department with no item in the application
DRC = "drc"  # a department whose item of the stage was merged away before the application was opened
PLANNER, VIEWER, SYSADMIN, COORDINATOR, SECURITY, AUDIT = (
    "planner",
    "viewer",
    "sysadmin",
    "coordinator",
    "security",
    "audit",
)
ACCOUNTS = {
    UNIT: (Role.PROJECT_UNIT, "works"),
    OTHER_UNIT: (Role.PROJECT_UNIT, "sd-bantian"),
    WINDOW: (Role.WINDOW, "service-center"),
    PNR: (Role.REVIEWER, "pnr"),
    WATER: (Role.REVIEWER, "water"),
    ECO: (Role.REVIEWER, "eco-env"),
    EDUCATION: (Role.REVIEWER, "education"),
    DRC: (Role.REVIEWER, "drc"),
    PLANNER: (Role.PLANNER, "pnr"),
    VIEWER: (Role.VIEWER, "gov-data"),
    SYSADMIN: (Role.SYSTEM_ADMIN, "gov-data"),
    COORDINATOR: (Role.COORDINATOR, "land-prep"),
    SECURITY: (Role.SECURITY_ADMIN, "gov-data"),
    AUDIT: (Role.AUDIT_ADMIN, "gov-data"),
}
DEPARTMENTS = (PNR, WATER, ECO)
OUTSIDERS = {OTHER_UNIT: 404, EDUCATION: 404, DRC: 404}
# Who reads the application (everyone else: 403 by the policy).
READERS = {UNIT, WINDOW, *DEPARTMENTS, PLANNER, VIEWER, SYSADMIN}


def reads(ok: Any) -> dict[str, Any]:
    """Readers get ``ok``, outsiders 404, the rest 403."""
    return {**dict.fromkeys(READERS, ok), **OUTSIDERS}


def _world(
    client: TestClient, owner_conn: psycopg.Connection[Any], settings: Settings, accounts: dict[str, Any]
) -> dict[str, Any]:
    """The accepted application, one letter round answered, a joint review, a withdrawn request."""
    unit, window, pnr, eco = accounts[UNIT], accounts[WINDOW], accounts[PNR], accounts[ECO]
    app, p = _submitted(client, owner_conn, unit)
    url = f"/api/applications/{app['id']}"
    app = call(client, window, "POST", f"{url}/accept", version=app["version"]).json()
    items = {i["item_code"]: i for i in app["items"]}
    eia = items["environmental_impact"]
    r = call(client, eco, "POST", f"/api/items/{eia['id']}/correction-requests", points=[{"text": "补充"}])
    assert r.status_code == 201, r.text
    v = client.get(url, headers=window.headers).json()["version"]
    v = call(client, window, "POST", f"{url}/correction-letter", version=v).json()["version"]
    assert call(client, unit, "POST", f"{url}/resubmit", version=v).status_code == 200
    r = call(client, eco, "POST", f"/api/items/{eia['id']}/correction-requests", points=[{"text": "再补"}])
    withdrawn = r.json()["id"]
    assert client.delete(f"/api/correction-requests/{withdrawn}", headers=eco.headers).status_code == 200
    r = call(
        client,
        pnr,
        "POST",
        f"{url}/joint-reviews",
        topic="用地与水保联合审查",
        scheduled_at=f"{app['accepted_at'][:10]}T23:30",
        departments=["water"],
    )
    assert r.status_code == 201, r.text
    licence = {e["code"]: e for e in app["checklist"]}["business_licence"]["attached"]["material_id"]
    # The flow's helper writes library rows only: give the licence its bytes, to be downloaded.
    sha = owner_conn.execute("SELECT sha256 FROM material.material WHERE id = %s", (licence,)).fetchone()
    assert sha is not None
    settings.stored_files_dir.mkdir(parents=True, exist_ok=True)
    staged = settings.stored_files_dir / f".licence-{sha[0]}"
    staged.write_bytes(b"%PDF-1.4\n%%EOF\n")
    LocalBlobStore(settings.stored_files_dir).put(staged, sha[0])
    drc_items = owner_conn.execute(
        "SELECT status FROM approval.item i JOIN auth.organisation o ON o.id = i.department_id"
        " WHERE i.project_id = %s AND i.stage = 'project_land' AND o.code = 'drc'",
        (p["id"],),
    ).fetchall()
    assert drc_items and {s for (s,) in drc_items} <= {"merged", "cancelled"}
    return {
        "app": app["id"],
        "project": p["id"],
        "pnr_item": items["land_planning_permit"]["id"],
        "withdrawn": withdrawn,
        "review": r.json()["id"],
        "licence": licence,
        "when": f"{app['accepted_at'][:10]}T23:30",
    }


def _table(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]]:
    """(method, url, JSON body, {party: status or (status, code)}); a party not named gets 403."""
    a = f"/api/applications/{w['app']}"
    stale = (409, "stale_version")
    unit_only = {UNIT: stale, OTHER_UNIT: 404}
    window_only = {WINDOW: stale}
    item = f"/api/items/{w['pnr_item']}"
    review = f"/api/joint-reviews/{w['review']}"
    # pnr decides its own item; water and eco have items of their own (403), the others see nothing (404).
    own_item = {
        PNR: None,
        WATER: (403, "wrong_party"),
        ECO: (403, "wrong_party"),
        SYSADMIN: (403, "wrong_party"),
        EDUCATION: 404,
        DRC: 404,
    }
    lead_only = {
        PNR: None,
        WATER: (403, "not_lead"),
        ECO: (403, "not_lead"),
        EDUCATION: 404,
        DRC: 404,
    }
    material = {
        **dict.fromkeys([UNIT, WINDOW, *DEPARTMENTS, PLANNER, SYSADMIN], 200),
        OTHER_UNIT: 404,
        EDUCATION: 404,
        DRC: 404,
        COORDINATOR: 404,
    }
    return [
        ("GET", a, None, reads(200)),
        ("GET", f"{a}/receipt.html", None, reads(200)),
        ("GET", f"{a}/letters/1.html", None, reads(200)),
        ("GET", f"{a}/issuance.html", None, reads((409, "not_issued"))),
        ("GET", f"{a}/joint-reviews", None, reads(200)),
        ("GET", f"{review}/minutes.html", None, reads((404, "no_minutes"))),
        ("POST", "/api/applications", {"project_id": w["project"], "stage": "project_land"},
         {UNIT: (409, "application_exists"), OTHER_UNIT: 404}),
        ("PUT", f"{a}/materials/business_licence", {"material_id": w["licence"], "version": 0}, unit_only),
        ("POST", f"{a}/submit", {"version": 0}, unit_only),
        ("POST", f"{a}/withdraw", {"version": 0}, unit_only),
        ("POST", f"{a}/resubmit", {"version": 0}, unit_only),
        ("POST", f"{a}/accept", {"version": 0}, window_only),
        ("POST", f"{a}/return", {"version": 0, "points": [{"text": "缺页"}]}, window_only),
        ("POST", f"{a}/correction-letter", {"version": 0}, window_only),
        ("POST", f"{a}/issue", {"version": 0}, window_only),
        ("POST", f"{item}/opinion", {"decision": "approve", "version": 0}, {**own_item, PNR: stale}),
        ("POST", f"{item}/correction-requests", {"points": [{"material_code": "no_such", "text": "x"}]},
         {**own_item, PNR: (422, "unknown_material")}),
        ("DELETE", f"/api/correction-requests/{w['withdrawn']}", None,
         {**own_item, PNR: (403, "wrong_party"), ECO: (409, "request_closed")}),
        # (the system administrator's work: items of bodies with no department account, none here)
        ("GET", "/api/my-work", None, dict.fromkeys([*DEPARTMENTS, EDUCATION, DRC, SYSADMIN], 200)),
        ("POST", f"{a}/joint-reviews",
         {"topic": "会商", "scheduled_at": w["when"], "departments": ["no-such"]},
         {**dict.fromkeys(DEPARTMENTS, (422, "unknown_department")), EDUCATION: 404, DRC: 404}),
        ("PUT", f"{review}/opinion", {"decision": "approve", "opinion": "同意", "version": 0},
         {PNR: stale, WATER: stale, ECO: (403, "not_participant"), EDUCATION: 404, DRC: 404}),
        ("POST", f"{review}/cancel", {"version": 0}, {**lead_only, PNR: stale}),
        ("POST", f"{review}/minutes", None, {**lead_only, PNR: (409, "opinions_missing")}),
        ("GET", f"/api/materials/{w['licence']}", None, material),
        ("GET", f"/api/materials/{w['licence']}/versions", None, material),
        ("GET", f"/api/materials/{w['licence']}/content", None, material),
    ]  # fmt: skip


def test_every_party_on_every_route_of_a_real_application(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    accounts = {name: make_account(role, org) for name, (role, org) in ACCOUNTS.items()}
    w = _world(client, owner_conn, settings, accounts)
    before = owner_conn.execute(
        "SELECT (SELECT count(*) FROM approval.application_event WHERE application_id = %(a)s),"
        " (SELECT count(*) FROM audit.event), (SELECT version FROM approval.application WHERE id = %(a)s)",
        {"a": w["app"]},
    ).fetchone()
    wrong: list[str] = []
    for method, url, body, expected in _table(w):
        for name, acct in accounts.items():
            want = expected.get(name, 403)
            r = client.request(method, url, json=body, headers=acct.headers)
            got: Any = r.status_code
            if isinstance(want, tuple):
                got = (r.status_code, r.json().get("code") if r.status_code >= 400 else None)
            if got != want:
                wrong.append(f"{name} {method} {url}: {got}, expected {want}")
    assert wrong == []
    # The walk changed nothing.
    after = owner_conn.execute(
        "SELECT (SELECT count(*) FROM approval.application_event WHERE application_id = %(a)s),"
        " (SELECT count(*) FROM audit.event), (SELECT version FROM approval.application WHERE id = %(a)s)",
        {"a": w["app"]},
    ).fetchone()
    assert after is not None and before is not None
    assert (after[0], after[2]) == (before[0], before[2])

    # The lists: who finds the application at all.
    listed = {
        name: w["app"] in [x["id"] for x in client.get("/api/applications", headers=acct.headers).json()]
        for name, acct in accounts.items()
        if name in READERS or name in OUTSIDERS
    }
    assert listed == {name: name in READERS for name in listed}
    work = client.get("/api/my-work", headers=accounts[EDUCATION].headers).json()
    assert w["app"] not in [x["application_id"] for x in work]


def test_only_departments_upload_decision_documents(client: TestClient, make_account: Any) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    form = {"material_code": "land_planning_permit_doc", "purpose": "decision"}
    for role, org in ((Role.WINDOW, "service-center"), (Role.VIEWER, "gov-data"), (Role.PLANNER, "pnr")):
        acct = make_account(role, org)
        r = client.post(
            "/api/materials", data=form, files={"file": ("决定书.pdf", pdf)}, headers=acct.headers
        )
        assert r.status_code == 403, (role, r.text)
    unit = make_account(Role.PROJECT_UNIT, "works")
    r = client.post("/api/materials", data=form, files={"file": ("决定书.pdf", pdf)}, headers=unit.headers)
    assert r.status_code == 403 and r.json()["code"] == "purpose_not_allowed"


def test_an_outside_bodys_item_is_recorded_by_the_system_administrator(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    """An item of a body with no department account (the metro group's consent, which pre-evaluation adds)
    is recorded by the system administrator, as in the item-by-item flow; before, no one could decide it
    and the application could never be issued."""
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    p = six_item_project(client, owner_conn, unit)
    add_item(owner_conn, p["id"], "metro_safety_consent", "轨道交通保护区内作业方案审查", "ext-metro", 10)
    app = open_and_fill(client, owner_conn, unit, p["id"])
    a = f"/api/applications/{app['id']}"
    app = call(client, unit, "POST", f"{a}/submit", version=app["version"]).json()
    app = call(client, window, "POST", f"{a}/accept", version=app["version"]).json()
    metro = {i["item_code"]: i for i in app["items"]}["metro_safety_consent"]
    assert metro["department_id"] is None and metro["status"] == "accepted"
    for item in app["items"]:
        if item["id"] != metro["id"]:
            dept = make_account(Role.REVIEWER, item["department_code"])
            r = call(client, dept, "POST", f"/api/items/{item['id']}/opinion", decision="approve")
            assert r.status_code == 200, r.text
    # No department may decide it (it is none's), the window never decides.
    pnr = make_account(Role.REVIEWER, "pnr")
    r = call(client, pnr, "POST", f"/api/items/{metro['id']}/opinion", decision="approve")
    assert r.status_code == 403
    assert (
        call(client, window, "POST", f"/api/items/{metro['id']}/opinion", decision="approve").status_code
        == 403
    )
    # The administrator sees it waiting, and records the body's written consent.
    r = client.get("/api/my-work", headers=admin.headers)
    assert r.status_code == 200, r.text
    work = r.json()
    assert [w["item"]["id"] for w in work if w["application_id"] == app["id"]] == [metro["id"]]
    seen = client.get(a, headers=admin.headers).json()
    allowed = {i["item_code"]: i["allowed_actions"] for i in seen["items"]}
    assert allowed["metro_safety_consent"] == ["opinion", "correction_request"]
    assert allowed["land_pre_review"] == []
    r = call(
        client, admin, "POST", f"/api/items/{metro['id']}/opinion", decision="approve_conditional",
        conditions="施工期间委托地铁集团监测",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    # Not another department's item, though.
    other = {i["item_code"]: i for i in app["items"]}["land_pre_review"]
    r = call(client, admin, "POST", f"/api/items/{other['id']}/correction-requests", points=[{"text": "x"}])
    assert r.status_code == 403 and r.json()["code"] == "wrong_party"
    v = client.get(a, headers=window.headers).json()["version"]
    r = call(client, window, "POST", f"{a}/issue", version=v)
    assert r.status_code == 200 and r.json()["status"] == "issued"


def test_a_decision_document_of_another_project_is_refused(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    """The decision document must be the department's decision material of the item's own project: one
    picked from another project would be served to this application's unit (another unit's file)."""
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    pnr = make_account(Role.REVIEWER, "pnr")
    app, p = _submitted(client, owner_conn, unit)
    app = call(client, window, "POST", f"/api/applications/{app['id']}/accept", version=app["version"]).json()
    item = {i["item_code"]: i for i in app["items"]}["land_planning_permit"]
    elsewhere = six_item_project(client, owner_conn, make_account(Role.PROJECT_UNIT, "works"))
    foreign = library(owner_conn, pnr.org_id, "land_planning_permit_doc", purpose="decision",
                      project_id=elsewhere["id"])  # fmt: skip
    url = f"/api/items/{item['id']}/opinion"
    r = call(client, pnr, "POST", url, decision="approve", document_id=foreign)
    assert r.status_code == 422 and r.json()["code"] == "bad_document", r.text
    own = library(owner_conn, pnr.org_id, "land_planning_permit_doc", purpose="decision", project_id=p["id"])
    r = call(client, pnr, "POST", url, decision="approve", document_id=own)
    assert r.status_code == 200 and r.json()["opinion"]["document_id"] == own
