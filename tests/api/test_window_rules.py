"""The one window's rules: 受审分离 (who may take which step), visibility, one return, stale versions, bad
input, the old per-item moves refused for items in an application, withdrawal."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_window_flow import call, library, open_and_fill, six_item_project


def _submitted(
    client: TestClient, owner_conn: psycopg.Connection[Any], unit: Any
) -> tuple[dict[str, Any], Any]:
    p = six_item_project(client, owner_conn, unit)
    app = open_and_fill(client, owner_conn, unit, p["id"])
    r = call(client, unit, "POST", f"/api/applications/{app['id']}/submit", version=app["version"])
    assert r.status_code == 200, r.text
    return r.json(), p


def test_separation_of_intake_and_review_and_visibility(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    pnr, education = make_account(Role.REVIEWER, "pnr"), make_account(Role.REVIEWER, "education")
    app, p = _submitted(client, owner_conn, unit)
    url = f"/api/applications/{app['id']}"
    # A department cannot accept (or return, or issue) a package; the unit cannot either.
    for acct in (pnr, unit):
        r = call(client, acct, "POST", f"{url}/accept", version=app["version"])
        assert r.status_code == 403, r.text
    r = call(client, pnr, "POST", f"{url}/return", version=app["version"], points=[{"text": "x"}])
    assert r.status_code == 403
    # Another unit, and a department with no item in the application, do not see it at all.
    other = make_account(Role.PROJECT_UNIT, "sd-bantian")
    assert client.get(url, headers=other.headers).status_code == 404
    assert client.get(url, headers=education.headers).status_code == 404
    r = call(client, other, "PUT", f"{url}/materials/business_licence", material_id=1)
    assert r.status_code == 404
    assert app["id"] not in [a["id"] for a in client.get("/api/applications", headers=other.headers).json()]
    assert app["id"] in [a["id"] for a in client.get("/api/applications", headers=pnr.headers).json()]
    # The department of an item sees it (but not what else the unit's library holds).
    seen = client.get(url, headers=pnr.headers).json()
    assert seen["checklist"] and all(e["offered"] == [] for e in seen["checklist"])
    assert any(e["offered"] for e in client.get(url, headers=unit.headers).json()["checklist"])

    app = call(client, window, "POST", f"{url}/accept", version=app["version"]).json()
    item = {i["item_code"]: i for i in app["items"]}["land_planning_permit"]
    assert item["allowed_actions"] == [] and "accept" not in app["allowed_actions"]
    pnr_view = client.get(url, headers=pnr.headers).json()
    assert {i["item_code"]: i for i in pnr_view["items"]}["land_planning_permit"]["allowed_actions"] == [
        "opinion",
        "correction_request",
    ]
    # The window never decides: opinions are the department's, and the old transition is closed to it too.
    r = call(client, window, "POST", f"/api/items/{item['id']}/opinion", decision="approve")
    assert r.status_code == 403
    r = call(client, window, "POST", f"/api/items/{item['id']}/transitions", action="approve", version=1)
    assert r.status_code == 403
    # Another department may not decide pnr's item.
    water = make_account(Role.REVIEWER, "water")
    r = call(client, water, "POST", f"/api/items/{item['id']}/opinion", decision="approve")
    assert r.status_code == 403 and r.json()["code"] == "wrong_party"
    # A refusal needs reasons and a legal basis; a conditional approval its conditions.
    r = call(
        client, pnr, "POST", f"/api/items/{item['id']}/opinion", decision="refuse", reasons="超出规划范围"
    )
    assert r.status_code == 422 and r.json()["code"] == "reasons_required"
    r = call(client, pnr, "POST", f"/api/items/{item['id']}/opinion", decision="approve_conditional")
    assert r.status_code == 422 and r.json()["code"] == "conditions_required"
    # A decision document must be the department's own decision material.
    unit_doc = library(owner_conn, unit.org_id, "business_licence")
    r = call(
        client, pnr, "POST", f"/api/items/{item['id']}/opinion", decision="approve", document_id=unit_doc
    )
    assert r.status_code == 422 and r.json()["code"] == "bad_document"
    doc = library(owner_conn, pnr.org_id, "land_planning_permit_doc", purpose="decision", project_id=p["id"])
    r = call(
        client,
        pnr,
        "POST",
        f"/api/items/{item['id']}/opinion",
        decision="refuse",
        reasons="用地性质与控规不符",
        legal_basis="《城乡规划法》第三十八条",
        document_id=doc,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["opinion"]["document_id"] == doc
    r = call(client, pnr, "POST", f"/api/items/{item['id']}/opinion", decision="approve")
    assert r.status_code == 409

    # my work: the department's remaining item, with its clock.
    work = client.get("/api/my-work", headers=pnr.headers).json()
    mine = [w for w in work if w["application_id"] == app["id"]]
    assert [w["item"]["item_code"] for w in mine] == ["land_pre_review"]
    assert mine[0]["item"]["colour"] == "green" and mine[0]["item"]["started_on"] is not None
    assert client.get("/api/my-work", headers=window.headers).status_code == 403


def test_old_item_moves_are_handled_by_the_window(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, pnr = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.REVIEWER, "pnr")
    p = six_item_project(client, owner_conn, unit)
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="project_land")
    item = {i["item_code"]: i for i in r.json()["items"]}["land_pre_review"]
    r = call(
        client, unit, "POST", f"/api/items/{item['id']}/transitions", action="submit", version=item["version"]
    )
    assert r.status_code == 409 and r.json()["code"] == "handled_by_window"
    current = client.get(f"/api/applications?project_id={p['id']}", headers=unit.headers).json()[0]
    assert r.json()["application_id"] == current["id"]
    r = call(client, unit, "POST", f"/api/items/{item['id']}/transitions", action="supplement", version=1)
    assert r.status_code == 409 and r.json()["code"] == "handled_by_window"
    # The plan does not offer those moves either.
    plan = client.get(f"/api/projects/{p['id']}/plan", headers=unit.headers).json()
    actions = {i["item_code"]: i["actions"] for i in plan["items"]}
    assert actions["land_pre_review"] == [] and actions["preliminary_design"] == ["submit"]
    # Once the application is withdrawn the items are free again for the old flow.
    r = call(client, unit, "POST", f"/api/applications/{current['id']}/withdraw", version=current["version"])
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = call(
        client, unit, "POST", f"/api/items/{item['id']}/transitions", action="submit", version=item["version"]
    )
    assert r.status_code == 200, r.text
    r = call(
        client,
        pnr,
        "POST",
        f"/api/items/{item['id']}/transitions",
        action="accept",
        version=r.json()["version"],
    )
    assert r.status_code == 200
    # An item already moving one by one is not taken into a new application.
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="project_land")
    assert r.status_code == 409 and r.json()["code"] == "items_in_progress"
    assert r.json()["items"] == ["land_pre_review"]


def test_return_once_stale_versions_and_bad_input(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    app, p = _submitted(client, owner_conn, unit)
    url = f"/api/applications/{app['id']}"
    # Stale: If-Match → 412 with the current state; a stale version field → 409.
    r = client.post(
        f"{url}/accept", json={}, headers={**window.headers, "If-Match": f'"{app["version"] - 1}"'}
    )
    assert r.status_code == 412 and r.json()["current"]["status"] == "submitted"
    r = call(client, window, "POST", f"{url}/accept", version=app["version"] - 1)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = call(client, window, "POST", f"{url}/accept")
    assert r.status_code == 422 and r.json()["code"] == "version_required"
    # Bad input.
    v = app["version"]
    assert call(client, window, "POST", f"{url}/return", version=v, points=[]).status_code == 422
    r = call(
        client, window, "POST", f"{url}/return", version=v, points=[{"material_code": "nope", "text": "x"}]
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_material"
    r = call(client, window, "POST", f"{url}/return", version=v, points=[{"text": "缺\u0000页"}])
    assert r.status_code == 422
    r = call(
        client,
        window,
        "POST",
        f"{url}/accept",
        version=v,
        gaps=[{"material_code": "no_such", "supplement_due": "2099-01-01"}],
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_material"
    r = call(
        client,
        window,
        "POST",
        f"{url}/accept",
        version=v,
        gaps=[{"material_code": "geohazard_assessment", "supplement_due": "2020-01-01"}],
    )
    assert r.status_code == 422 and r.json()["code"] == "supplement_due_required"
    r = call(client, unit, "POST", "/api/applications", project_id=p["id"], stage="demolition")
    assert r.status_code == 422
    assert client.get(f"{url}/no", headers=unit.headers).status_code in (404, 405)
    # Nothing of the refused steps was written.
    assert [e["action"] for e in client.get(url, headers=unit.headers).json()["events"]][-1] == "submit"

    # One consolidated return: the items go back, their clocks never started.
    points = [
        {"material_code": "eia_report", "text": "环评报告缺少专家评审意见"},
        {"text": "授权委托书未盖章"},
    ]
    r = call(client, window, "POST", f"{url}/return", version=v, points=points)
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["status"] == "returned" and {i["status"] for i in app["items"]} == {"not_started"}
    # A refused step says what it was in words people use, in both languages (codes only beside them).
    r = call(client, window, "POST", f"{url}/issue", version=app["version"])
    assert r.status_code == 409 and r.json()["code"] == "illegal_step" and r.json()["action"] == "issue"
    assert r.json()["message_zh"] == "申报件当前为“已退件”，不能统一出件。"
    assert r.json()["message_en"] == "Cannot issue the results while the application is returned."
    # The event log names people by their display name when they have one, by their login otherwise.
    owner_conn.execute("UPDATE auth.user SET display_name = '窗口张三' WHERE id = %s", (window.id,))
    shown = client.get(url, headers=unit.headers).json()["events"][-1]
    assert (shown["actor_name"], shown["actor_display_name"]) == (window.username, "窗口张三")
    assert {i["started_on"] for i in app["items"]} == {None}
    assert app["events"][-1]["detail"]["points"] == [
        {"material_code": "eia_report", "text": "环评报告缺少专家评审意见"},
        {"material_code": None, "text": "授权委托书未盖章"},
    ]
    assert app["id"] in [
        a["id"] for a in client.get("/api/applications?queue=returned", headers=window.headers).json()
    ]
    new_eia = library(owner_conn, unit.org_id, "eia_report", project_id=p["id"])
    app = call(client, unit, "PUT", f"{url}/materials/eia_report", material_id=new_eia).json()
    app = call(client, unit, "POST", f"{url}/submit", version=app["version"]).json()
    # A second return needs the window's reason.
    r = call(client, window, "POST", f"{url}/return", version=app["version"], points=[{"text": "仍缺"}])
    assert r.status_code == 422 and r.json()["code"] == "return_reason_required"
    app = call(client, window, "POST", f"{url}/accept", version=app["version"]).json()
    assert app["status"] == "accepted"
    # The KPIs see no clock of the returned round: every item has one accept, no correction.
    events = owner_conn.execute(
        "SELECT action FROM approval.item_event WHERE item_id = %s ORDER BY at, id", (app["items"][0]["id"],)
    ).fetchall()
    assert [e[0] for e in events] == ["submit", "window_return", "submit", "accept"]

    # A second correction round needs a reason.
    eco = make_account(Role.REVIEWER, "eco-env")
    eia = {i["item_code"]: i for i in app["items"]}["environmental_impact"]
    for round_no in (1, 2):
        call(
            client,
            eco,
            "POST",
            f"/api/items/{eia['id']}/correction-requests",
            points=[{"text": f"第{round_no}轮"}],
        )
        app = client.get(url, headers=window.headers).json()
        r = call(client, window, "POST", f"{url}/correction-letter", version=app["version"])
        if round_no == 2:
            assert r.status_code == 422 and r.json()["code"] == "round_reason_required"
            r = call(
                client,
                window,
                "POST",
                f"{url}/correction-letter",
                version=app["version"],
                round_reason="补正材料引出新问题",
            )
        assert r.status_code == 200, r.text
        app = call(client, unit, "POST", f"{url}/resubmit", version=r.json()["version"]).json()
    assert [(x["round"], x["round_reason"]) for x in app["letters"]] == [(1, None), (2, "补正材料引出新问题")]
    r = call(client, window, "POST", f"{url}/correction-letter", version=app["version"])
    assert r.status_code == 409 and r.json()["code"] == "no_open_requests"


def test_system_administrator_creates_window_accounts(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    r = call(
        client, admin, "POST", "/api/users", username="window-zhang", role="window", org_code="service-center"
    )
    assert r.status_code == 201, r.text
    assert r.json()["user"]["role"] == "window" and r.json()["user"]["org_code"] == "service-center"


def test_cli_creates_window_accounts(settings: Any, monkeypatch: Any) -> None:
    """``duogui users create --role window --org service-center`` (run in-process on this database)."""
    from typer.testing import CliRunner

    from app.cli import cli

    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    name = f"window-{uuid.uuid4().hex[:8]}"
    r = CliRunner().invoke(cli, ["users", "create", name, "--role", "window", "--org", "service-center"])
    assert r.exit_code == 0, r.output
    assert f"created user {name}" in r.output and "role window, org service-center" in r.output


def test_the_application_list_is_paged_with_its_total(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    # A unit of its own (other tests' applications of the shared database are not its).
    code = f"unit-{uuid.uuid4().hex[:8]}"
    owner_conn.execute(
        "INSERT INTO auth.organisation (code, name_zh, name_en, kind)"
        " VALUES (%s, '分页测试单位', 'Paging unit', 'project_unit')",
        (code,),
    )
    unit = make_account(Role.PROJECT_UNIT, code)
    mine = [_submitted(client, owner_conn, unit)[0]["id"] for _ in range(3)]
    # The unit's own view: exactly its three applications, newest first, two to a page.
    own = client.get("/api/applications?limit=2", headers=unit.headers)
    assert own.status_code == 200 and own.headers["X-Total-Count"] == "3"
    assert [a["id"] for a in own.json()] == sorted(mine, reverse=True)[:2]
    rest = client.get("/api/applications?limit=2&offset=2", headers=unit.headers)
    assert [a["id"] for a in rest.json()] == [min(mine)] and rest.headers["X-Total-Count"] == "3"
    assert client.get("/api/applications?limit=0", headers=unit.headers).status_code == 422
    assert client.get("/api/applications?limit=100000", headers=unit.headers).status_code == 422
