"""Bad input on every route of the one window: each is a clear 4xx problem (Chinese and English), never a
500, and nothing of a refused step is written (events, item events, audit records counted before and
after). Also the values that used to pass although they make no sense: the same gap twice, a blank topic
or opinion, a joint review dated years before the application, a department code of 100 000 characters,
a joint review's opinion or minutes after the application was issued."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_window_flow import call, library, open_and_fill
from tests.api.test_window_races import _accepted, _decide_all_but, _item
from tests.api.test_window_rules import _submitted

HUGE = "长" * 100_001
CONTROL = ["\u0000", "\u0007", "\u001b", "\u007f", "\ud800"]
COUNTS = (
    "SELECT (SELECT count(*) FROM approval.application_event), (SELECT count(*) FROM approval.item_event),"
    " (SELECT count(*) FROM audit.event), (SELECT count(*) FROM approval.correction_request),"
    " (SELECT count(*) FROM approval.correction_letter), (SELECT count(*) FROM approval.opinion),"
    " (SELECT count(*) FROM approval.joint_review), (SELECT count(*) FROM approval.application)"
)


def counts(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Rows of every table a window step writes (the whole database: nothing else runs meanwhile)."""
    row = conn.execute(COUNTS).fetchone()
    assert row is not None
    return tuple(row)


def refused(r: Any, status: int | None = None) -> dict[str, Any]:
    """A 4xx problem document in both languages."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert status is None or r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["message_zh"] and body["message_en"] and body["message_zh"] != body["message_en"]
    assert len(r.content) < 20_000  # a huge value is named, not echoed
    return body


def _texts(base: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """``base`` with ``field`` (a dotted path) set to each control character and to a huge string."""
    out = []
    for value in [*(f"x{c}y" for c in CONTROL), HUGE]:
        body = json.loads(json.dumps(base))
        node = body
        *path, last = field.split(".")
        for key in path:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
        out.append(body)
    return out


RAW = [
    b"{",
    b"null",
    b"[]",
    b'"x"',
    b"\x00",
    b'{"version": "abc"}',
    b'{"version": 1.5}',
    b'{"version": true}',
    b'{"version": -1}',
    b'{"version": 99999999999999999999999}',
    b'{"version": 1e308}',
    b"\xff\xfe{}",
    b'{"a":' * 5000,
]
JSON = {"Content-Type": "application/json"}
GEO = "geohazard_assessment"
GAPS = [
    [{"material_code": GEO, "supplement_due": "2099-01-01"}] * 51,
    [{"material_code": GEO, "supplement_due": "10000-01-01"}],
    [{"material_code": GEO, "supplement_due": "2026-02-30"}],
    [{"material_code": GEO, "supplement_due": "0001-01-01"}],
]
IF_MATCH = ["*", '"abc"', "W/", '"1", "2"', "", '"1e3"']


def test_bad_input_on_every_route_is_refused_and_writes_nothing(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    app, unit, window, eco = _accepted(client, owner_conn, make_account)
    pnr = make_account(Role.REVIEWER, "pnr")
    a = f"/api/applications/{app['id']}"
    eia = _item(app, "environmental_impact")
    plan = _item(app, "land_planning_permit")
    r = call(client, eco, "POST", f"/api/items/{eia['id']}/correction-requests", points=[{"text": "补充"}])
    request_id = r.json()["id"]
    when = f"{app['accepted_at'][:10]}T23:30"  # the day of acceptance (district time)
    r = call(client, pnr, "POST", f"{a}/joint-reviews", topic="会商", scheduled_at=when,
             departments=["eco-env"])  # fmt: skip
    assert r.status_code == 201, r.text
    review = r.json()
    v = client.get(a, headers=window.headers).json()["version"]
    before = counts(owner_conn)

    # (who, method, url, a valid body whose text fields are then spoiled one by one, those fields)
    routes: list[tuple[Any, str, str, dict[str, Any], list[str]]] = [
        (unit, "POST", "/api/applications",
         {"project_id": app["project_id"], "stage": "engineering", "contact_name": "张工",
          "contact_phone": "0755"}, ["contact_name", "contact_phone"]),
        (unit, "POST", f"{a}/resubmit", {"version": v, "note": "n"}, ["note"]),
        (window, "POST", f"{a}/return",
         {"version": v, "points": [{"text": "缺页"}], "reason": "r", "note": "n"},
         ["points.0.text", "reason", "note"]),
        (window, "POST", f"{a}/correction-letter", {"version": v, "round_reason": "r"}, ["round_reason"]),
        (window, "POST", f"{a}/accept", {"version": v, "note": "n"}, ["note"]),
        (window, "POST", f"{a}/issue", {"version": v, "note": "n"}, ["note"]),
        (pnr, "POST", f"/api/items/{plan['id']}/opinion",
         {"decision": "approve_conditional", "conditions": "c", "reasons": "r", "legal_basis": "l"},
         ["conditions", "reasons", "legal_basis"]),
        (eco, "POST", f"/api/items/{eia['id']}/correction-requests", {"points": [{"text": "t"}]},
         ["points.0.text"]),
        (pnr, "POST", f"{a}/joint-reviews",
         {"topic": "t", "scheduled_at": when, "place": "p", "departments": ["water"]},
         ["topic", "place", "departments.0"]),
        (eco, "PUT", f"/api/joint-reviews/{review['id']}/opinion", {"decision": "approve", "opinion": "o"},
         ["opinion"]),
    ]  # fmt: skip
    for who, method, url, body, fields in routes:
        for field in fields:
            for bad in _texts(body, field):  # sent escaped (a lone surrogate has no UTF-8)
                r = client.request(method, url, content=json.dumps(bad), headers={**who.headers, **JSON})
                refused(r, 422)
        for raw in RAW:
            refused(client.request(method, url, content=raw, headers={**who.headers, **JSON}))
        if url.endswith(("/api/applications", "/correction-requests", "/joint-reviews")):
            continue  # creations: no version to match
        for tag in IF_MATCH:
            r = client.request(method, url, json=body, headers={**who.headers, "If-Match": tag})
            assert refused(r, 422)["code"] == "bad_if_match", (url, tag)
    # Wrong types, unknown enum values, numbers and dates out of range, empty and too long lists.
    cases: list[tuple[Any, str, str, dict[str, Any]]] = [
        (unit, "POST", "/api/applications", {"project_id": app["project_id"], "stage": "demolition"}),
        (unit, "POST", "/api/applications", {"project_id": 2**63, "stage": "engineering"}),
        (unit, "POST", "/api/applications", {"project_id": -1, "stage": "engineering"}),
        (unit, "POST", "/api/applications", {"project_id": "1", "stage": ["engineering"]}),
        (unit, "PUT", f"{a}/materials/business_licence", {"material_id": 2**63}),
        (unit, "PUT", f"{a}/materials/business_licence", {"material_id": 0}),
        (unit, "PUT", f"{a}/materials/Business_Licence", {"material_id": 1}),
        (unit, "PUT", f"{a}/materials/{'x' * 65}", {"material_id": 1}),
        (window, "POST", f"{a}/return", {"version": v, "points": []}),
        (window, "POST", f"{a}/return", {"version": v, "points": [{"text": "x"}] * 101}),
        (window, "POST", f"{a}/return", {"version": v, "points": [{"text": "   "}]}),
        (window, "POST", f"{a}/return", {"version": v, "points": [None]}),
        (window, "POST", f"{a}/return", {"version": v, "points": [{"text": "x", "material_code": 5}]}),
        (window, "POST", f"{a}/accept", {"version": v, "gaps": {"material_code": "x"}}),
        (window, "POST", f"{a}/issue", {"version": 2**31}),
        (window, "POST", f"{a}/issue", {"version": "1"}),
        (pnr, "POST", f"/api/items/{plan['id']}/opinion", {"decision": "maybe"}),
        (pnr, "POST", f"/api/items/{plan['id']}/opinion", {"decision": None}),
        (pnr, "POST", f"/api/items/{plan['id']}/opinion", {"decision": "approve", "document_id": 2**63}),
        (pnr, "POST", f"/api/items/{plan['id']}/opinion", {"decision": "approve", "version": "x"}),
        (pnr, "POST", f"/api/items/{plan['id']}/opinion", {"decision": "refuse", "reasons": "r"}),
        (eco, "POST", f"/api/items/{eia['id']}/correction-requests", {"points": []}),
        (eco, "POST", f"/api/items/{eia['id']}/correction-requests", {"points": [{"text": "x"}] * 101}),
        (pnr, "POST", f"{a}/joint-reviews", {"topic": "t", "scheduled_at": "0001-01-01T00:00"}),
        (pnr, "POST", f"{a}/joint-reviews", {"topic": "t", "scheduled_at": "9999-12-31T23:59:59-12:00"}),
        (pnr, "POST", f"{a}/joint-reviews", {"topic": "t", "scheduled_at": when,
                                             "departments": ["water"] * 51}),
        (pnr, "POST", f"{a}/joint-reviews", {"topic": "t", "scheduled_at": when,
                                             "item_ids": [2**63]}),
        (eco, "PUT", f"/api/joint-reviews/{review['id']}/opinion", {"decision": "veto", "opinion": "o"}),
    ]  # fmt: skip
    cases += [(window, "POST", f"{a}/accept", {"version": v, "gaps": g}) for g in GAPS]
    for who, method, url, body in cases:
        refused(client.request(method, url, json=body, headers=who.headers))
    for path in ("0", "-1", str(2**63), "abc", "1.5"):
        for method, url in (
            ("GET", f"/api/applications/{path}"),
            ("POST", f"/api/applications/{path}/accept"),
            ("POST", f"/api/items/{path}/opinion"),
            ("DELETE", f"/api/correction-requests/{path}"),
            ("GET", f"/api/applications/{app['id']}/letters/{path}.html"),
            ("PUT", f"/api/joint-reviews/{path}/opinion"),
            ("GET", f"/api/materials/{path}/content"),
        ):
            refused(client.request(method, url, json={"version": 1}, headers=window.headers))
    for query in (
        "status=nope",
        "stage=x",
        "queue=zzz",
        "project_id=abc",
        "status=%00",
        f"project_id={2**63}",
    ):
        refused(client.get(f"/api/applications?{query}", headers=window.headers), 422)
    assert counts(owner_conn) == before
    # The request is still open and the application unchanged.
    assert client.get(a, headers=window.headers).json()["version"] == v
    assert [q["id"] for q in client.get(a, headers=window.headers).json()["open_requests"]] == [request_id]


def test_values_that_make_no_sense_are_refused(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    app, _ = _submitted(client, owner_conn, unit)
    a = f"/api/applications/{app['id']}"
    before = counts(owner_conn)
    # The same gap twice (with two promised dates: which one?) is refused, not silently merged.
    soon, later = (date.today() + timedelta(days=d) for d in (30, 60))
    gaps = [
        {"material_code": "geohazard_assessment", "supplement_due": soon.isoformat()},
        {"material_code": "geohazard_assessment", "supplement_due": later.isoformat()},
    ]
    body = refused(call(client, window, "POST", f"{a}/accept", version=app["version"], gaps=gaps), 422)
    assert body["code"] == "duplicate_gap"
    # A promise more than a year away is a slip, not a plan.
    far = [{"material_code": "geohazard_assessment", "supplement_due": "2099-01-01"}]
    body = refused(call(client, window, "POST", f"{a}/accept", version=app["version"], gaps=far), 422)
    assert body["code"] == "supplement_due_too_late"
    assert counts(owner_conn) == before
    app = call(client, window, "POST", f"{a}/accept", version=app["version"], gaps=gaps[:1]).json()
    assert app["status"] == "accepted"

    pnr, water = make_account(Role.REVIEWER, "pnr"), make_account(Role.REVIEWER, "water")
    accepted_on = app["accepted_at"][:10]
    review = {"topic": "用地会商", "scheduled_at": f"{accepted_on}T15:00", "departments": ["water"]}
    before = counts(owner_conn)
    for bad, code in (
        ({"topic": "   "}, "invalid_input"),  # blank
        ({"place": " \t "}, "invalid_input"),
        ({"departments": ["x" * 100_000]}, "invalid_input"),  # not an organisation code: not echoed back
        ({"scheduled_at": "2001-01-01T09:00"}, "scheduled_out_of_range"),  # before the application
        ({"scheduled_at": "2099-01-01T09:00"}, "scheduled_out_of_range"),  # decades ahead
    ):
        body = refused(call(client, pnr, "POST", f"{a}/joint-reviews", **{**review, **bad}), 422)
        assert body["code"] == code, (bad, body)
    assert counts(owner_conn) == before
    r = call(client, pnr, "POST", f"{a}/joint-reviews", **review)
    assert r.status_code == 201, r.text
    review_id = r.json()["id"]
    body = refused(
        call(
            client, water, "PUT", f"/api/joint-reviews/{review_id}/opinion", decision="approve", opinion=" "
        ),
        422,
    )
    assert body["code"] == "invalid_input"


def test_a_joint_review_of_an_issued_application_takes_no_opinion_nor_minutes(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    app, _, window, eco = _accepted(client, owner_conn, make_account)
    a = f"/api/applications/{app['id']}"
    pnr = make_account(Role.REVIEWER, "pnr")
    r = call(client, pnr, "POST", f"{a}/joint-reviews", topic="会商", scheduled_at=app["accepted_at"],
             departments=["eco-env"])  # fmt: skip
    assert r.status_code == 201, r.text
    review_id = r.json()["id"]
    eia = _item(app, "environmental_impact")
    _decide_all_but(client, make_account, app, eia)
    assert call(client, eco, "POST", f"/api/items/{eia['id']}/opinion", decision="approve").status_code == 200
    v = client.get(a, headers=window.headers).json()["version"]
    assert call(client, window, "POST", f"{a}/issue", version=v).status_code == 200
    before = counts(owner_conn)
    for who in (pnr, eco):
        r = call(
            client, who, "PUT", f"/api/joint-reviews/{review_id}/opinion", decision="approve", opinion="同意"
        )
        assert refused(r, 409)["code"] == "application_closed"
    assert refused(call(client, pnr, "POST", f"/api/joint-reviews/{review_id}/minutes"), 409)["code"] == (
        "application_closed"
    )
    assert counts(owner_conn) == before
    # The lead may still cancel the session that never took place.
    r = call(client, pnr, "POST", f"/api/joint-reviews/{review_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_a_refusal_in_the_middle_of_a_submission_writes_nothing(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    """The construction stage: the drawing review moves first, then the permit's demolition gate refuses
    the whole submission; the drawing review's move is rolled back with it."""
    unit = make_account(Role.PROJECT_UNIT, "works")
    app, p = _submitted(client, owner_conn, unit)
    # The earlier stages are done (as their issuance would leave them), demolition is at 0 % of 80 %.
    owner_conn.execute(
        "UPDATE approval.item SET status = 'approved' WHERE project_id = %s"
        " AND stage IN ('project_land', 'engineering') AND status NOT IN ('merged', 'cancelled')",
        (p["id"],),
    )
    owner_conn.execute("UPDATE approval.application SET status = 'issued' WHERE id = %s", (app["id"],))
    owner_conn.execute("UPDATE project.project SET demolition_threshold_pct = 80 WHERE id = %s", (p["id"],))
    construction = open_and_fill(client, owner_conn, unit, p["id"], stage="construction")
    codes = [i["item_code"] for i in construction["items"]]
    assert codes.index("construction_permit") > 0, codes  # another item is moved before the gate refuses
    before = counts(owner_conn)
    r = call(
        client,
        unit,
        "POST",
        f"/api/applications/{construction['id']}/submit",
        version=construction["version"],
    )
    assert refused(r, 409)["code"] == "demolition_gate"
    assert counts(owner_conn) == before
    statuses = owner_conn.execute(
        "SELECT DISTINCT status FROM approval.item WHERE project_id = %s AND stage = 'construction'",
        (p["id"],),
    ).fetchall()
    assert statuses == [("not_started",)]
    assert library  # (the flow's helper attached the materials)
