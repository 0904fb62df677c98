"""The one window under concurrent requests: exactly one of two competing steps wins, the other is told
(409/412), and the event logs and item statuses stay consistent. Each race is made real by
:func:`tests.concurrency.race_on_locked_row` (both requests wait on a row held by a third connection).

A department's step on its item (opinion, correction request, withdrawing a request) used to lock the item
first and the application second, while every window or unit step locks the application first and then
moves its items: crossing, the two deadlocked and PostgreSQL aborted one of them (a 503 "database
unavailable" for a window that sent a letter). They now lock in one order, the application first.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.settings import Settings
from tests.api.test_window_flow import call, six_item_project
from tests.api.test_window_rules import _submitted
from tests.concurrency import race_on_locked_row

APP_ROW = "SELECT 1 FROM approval.application WHERE id = %s FOR UPDATE"


def _accepted(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any
) -> tuple[dict[str, Any], Any, Any, Any]:
    """An accepted application (six items, five departments); the unit, the window and 生态环境局."""
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    app, _ = _submitted(client, owner_conn, unit)
    r = call(client, window, "POST", f"/api/applications/{app['id']}/accept", version=app["version"])
    assert r.status_code == 200, r.text
    return r.json(), unit, window, make_account(Role.REVIEWER, "eco-env")


def _item(app: dict[str, Any], code: str) -> dict[str, Any]:
    return {i["item_code"]: i for i in app["items"]}[code]


def _actions(conn: psycopg.Connection[Any], item_id: int) -> list[str]:
    rows = conn.execute(
        "SELECT action FROM approval.item_event WHERE item_id = %s ORDER BY id", (item_id,)
    ).fetchall()
    return [r[0] for r in rows]


def _app_actions(conn: psycopg.Connection[Any], app_id: int) -> list[str]:
    rows = conn.execute(
        "SELECT action FROM approval.application_event WHERE application_id = %s ORDER BY id", (app_id,)
    ).fetchall()
    return [r[0] for r in rows]


def _ask(client: TestClient, dept: Any, item: dict[str, Any], text: str) -> Any:
    """The department's correction request on its item."""
    r = call(client, dept, "POST", f"/api/items/{item['id']}/correction-requests", points=[{"text": text}])
    assert r.status_code == 201, r.text
    return r


def _decide_all_but(client: TestClient, make_account: Any, app: dict[str, Any], last: dict[str, Any]) -> None:
    """Every other item approved by its department (through the API, as they would)."""
    for item in app["items"]:
        if item["id"] != last["id"]:
            dept = make_account(Role.REVIEWER, item["department_code"])
            r = call(client, dept, "POST", f"/api/items/{item['id']}/opinion", decision="approve")
            assert r.status_code == 200, r.text


def _code(r: Any) -> tuple[int, str | None]:
    body = r.json()
    return r.status_code, body.get("code") if r.status_code >= 400 else None


def test_two_windows_accept_the_same_package_once(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    windows = [make_account(Role.WINDOW, "service-center") for _ in range(2)]
    app, _ = _submitted(client, owner_conn, unit)
    url = f"/api/applications/{app['id']}/accept"
    v = app["version"]
    by_field = lambda: call(client, windows[0], "POST", url, version=v)  # noqa: E731
    by_header = lambda: client.post(  # noqa: E731
        url, json={}, headers={**windows[1].headers, "If-Match": f'"{v}"'}
    )
    first, second = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [by_field, by_header])
    assert first.status_code == 200, first.text
    assert second.status_code == 412 and second.json()["current"]["status"] == "accepted"
    assert _app_actions(owner_conn, app["id"]).count("accept") == 1
    for item in app["items"]:
        assert _actions(owner_conn, item["id"]) == ["submit", "accept"]


def test_two_letters_at_once_make_one_round(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, _, window, eco = _accepted(client, owner_conn, make_account)
    eia = _item(app, "environmental_impact")
    _ask(client, eco, eia, "补充监测")
    v = client.get(f"/api/applications/{app['id']}", headers=window.headers).json()["version"]
    url = f"/api/applications/{app['id']}/correction-letter"
    send = lambda: call(client, window, "POST", url, version=v)  # noqa: E731
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [send, send])
    assert [_code(r) for r in results] == [(200, None), (409, "stale_version")]
    letters = owner_conn.execute(
        "SELECT count(*) FROM approval.correction_letter WHERE application_id = %s", (app["id"],)
    ).fetchone()
    assert letters == (1,)
    assert _actions(owner_conn, eia["id"]) == ["submit", "accept", "return_for_correction"]


def test_unit_resubmits_while_the_window_sends_a_second_letter(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, unit, window, eco = _accepted(client, owner_conn, make_account)
    url = f"/api/applications/{app['id']}"
    eia = _item(app, "environmental_impact")
    _ask(client, eco, eia, "第一轮")
    v = client.get(url, headers=window.headers).json()["version"]
    v = call(client, window, "POST", f"{url}/correction-letter", version=v).json()["version"]
    resubmit = lambda: call(client, unit, "POST", f"{url}/resubmit", version=v)  # noqa: E731
    letter = lambda: call(  # noqa: E731
        client, window, "POST", f"{url}/correction-letter", version=v, round_reason="补正后仍缺"
    )
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [resubmit, letter])
    assert [_code(r) for r in results] == [(200, None), (409, "stale_version")]
    assert _app_actions(owner_conn, app["id"])[-2:] == ["send_letter", "resubmit"]
    assert _actions(owner_conn, eia["id"])[-2:] == ["return_for_correction", "resubmit"]


def test_a_second_request_while_the_letter_is_sent_does_not_deadlock(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, _, window, eco = _accepted(client, owner_conn, make_account)
    eia = _item(app, "environmental_impact")
    r = _ask(client, eco, eia, "补充监测")
    request_id = r.json()["id"]
    v = client.get(f"/api/applications/{app['id']}", headers=window.headers).json()["version"]
    send = lambda: call(  # noqa: E731
        client, window, "POST", f"/api/applications/{app['id']}/correction-letter", version=v
    )
    more = lambda: call(  # noqa: E731
        client, eco, "POST", f"/api/items/{eia['id']}/correction-requests", points=[{"text": "再补一点"}]
    )
    # The letter takes the application and then waits on the request's row; the department's second
    # request arrives meanwhile. Released, the letter moves the item: it must not find it locked by a
    # request that in turn waits for the application.
    results = race_on_locked_row(
        settings.owner_dsn,
        "SELECT 1 FROM approval.correction_request WHERE id = %s FOR UPDATE",
        [request_id],
        [send, more],
    )
    assert [_code(r) for r in results] == [(200, None), (409, "illegal_transition")]
    assert _actions(owner_conn, eia["id"])[-1] == "return_for_correction"
    open_left = owner_conn.execute(
        "SELECT count(*) FROM approval.correction_request WHERE application_id = %s AND letter_id IS NULL",
        (app["id"],),
    ).fetchone()
    assert open_left == (0,)


def test_withdrawing_a_request_while_the_letter_is_sent_does_not_deadlock(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, _, window, eco = _accepted(client, owner_conn, make_account)
    eia = _item(app, "environmental_impact")
    r = _ask(client, eco, eia, "补充监测")
    request_id = r.json()["id"]
    v = client.get(f"/api/applications/{app['id']}", headers=window.headers).json()["version"]
    send = lambda: call(  # noqa: E731
        client, window, "POST", f"/api/applications/{app['id']}/correction-letter", version=v
    )
    withdraw = lambda: client.delete(  # noqa: E731
        f"/api/correction-requests/{request_id}", headers=eco.headers
    )
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [send, withdraw])
    assert [_code(r) for r in results] == [(200, None), (409, "request_closed")]
    # The letter holds the request; the item waits on the unit, with its letter.
    row = owner_conn.execute(
        "SELECT letter_id IS NOT NULL, withdrawn_at IS NULL FROM approval.correction_request WHERE id = %s",
        (request_id,),
    ).fetchone()
    assert row == (True, True)
    status = owner_conn.execute("SELECT status FROM approval.item WHERE id = %s", (eia["id"],)).fetchone()
    assert status == ("correction",)


def test_an_opinion_while_the_unit_resubmits_does_not_deadlock(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, unit, window, eco = _accepted(client, owner_conn, make_account)
    url = f"/api/applications/{app['id']}"
    eia = _item(app, "environmental_impact")
    _ask(client, eco, eia, "补充监测")
    v = client.get(url, headers=window.headers).json()["version"]
    v = call(client, window, "POST", f"{url}/correction-letter", version=v).json()["version"]
    resubmit = lambda: call(client, unit, "POST", f"{url}/resubmit", version=v)  # noqa: E731
    decide = lambda: call(  # noqa: E731
        client, eco, "POST", f"/api/items/{eia['id']}/opinion", decision="approve"
    )
    # The unit's resubmission takes the application first; the department decides the item once it is
    # back under review.
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [resubmit, decide])
    assert [_code(r) for r in results] == [(200, None), (200, None)]
    assert _actions(owner_conn, eia["id"])[-3:] == ["return_for_correction", "resubmit", "approve"]


def test_two_opinions_on_one_item(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, _, _, eco = _accepted(client, owner_conn, make_account)
    other = make_account(Role.REVIEWER, "eco-env")
    eia = _item(app, "environmental_impact")
    url = f"/api/items/{eia['id']}/opinion"
    approve = lambda: call(client, eco, "POST", url, decision="approve")  # noqa: E731
    refuse = lambda: call(  # noqa: E731
        client, other, "POST", url, decision="refuse", reasons="噪声超标", legal_basis="《环境影响评价法》"
    )
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [approve, refuse])
    assert [_code(r) for r in results] == [(200, None), (409, "illegal_transition")]
    assert _actions(owner_conn, eia["id"]) == ["submit", "accept", "start_review", "approve"]
    opinions = owner_conn.execute(
        "SELECT decision FROM approval.opinion WHERE item_id = %s", (eia["id"],)
    ).fetchall()
    assert opinions == [("approve",)]


def test_opening_one_stage_twice_at_once(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = six_item_project(client, owner_conn, unit)
    open_ = lambda: call(  # noqa: E731
        client, unit, "POST", "/api/applications", project_id=p["id"], stage="project_land"
    )
    project_row = "SELECT 1 FROM project.project WHERE id = %s FOR UPDATE"
    results = race_on_locked_row(settings.owner_dsn, project_row, [p["id"]], [open_, open_])
    assert [_code(r) for r in results] == [(201, None), (409, "application_exists")]
    assert results[1].json()["application_id"] == results[0].json()["id"]
    rows = owner_conn.execute(
        "SELECT count(*) FROM approval.application WHERE project_id = %s", (p["id"],)
    ).fetchone()
    assert rows == (1,)
    assert _app_actions(owner_conn, results[0].json()["id"]) == ["open"]


def test_issuing_while_the_last_opinion_is_recorded(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    app, _, window, eco = _accepted(client, owner_conn, make_account)
    url = f"/api/applications/{app['id']}"
    eia = _item(app, "environmental_impact")
    _decide_all_but(client, make_account, app, eia)
    v = client.get(url, headers=window.headers).json()["version"]
    issue = lambda: call(client, window, "POST", f"{url}/issue", version=v)  # noqa: E731
    decide = lambda: call(client, eco, "POST", f"/api/items/{eia['id']}/opinion", decision="approve")  # noqa: E731
    # The window first: the last item is still open, so nothing is issued; the opinion then goes in.
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app["id"]], [issue, decide])
    assert [_code(r) for r in results] == [(409, "items_undecided"), (200, None)]
    # The department first: its opinion moves the application on, so the window's read is stale.
    app2, _, window2, eco2 = _accepted(client, owner_conn, make_account)
    eia2 = _item(app2, "environmental_impact")
    _decide_all_but(client, make_account, app2, eia2)
    url2 = f"/api/applications/{app2['id']}"
    v2 = client.get(url2, headers=window2.headers).json()["version"]
    issue2 = lambda: call(client, window2, "POST", f"{url2}/issue", version=v2)  # noqa: E731
    decide2 = lambda: call(  # noqa: E731
        client, eco2, "POST", f"/api/items/{eia2['id']}/opinion", decision="approve"
    )
    results = race_on_locked_row(settings.owner_dsn, APP_ROW, [app2["id"]], [decide2, issue2])
    assert [_code(r) for r in results] == [(200, None), (409, "stale_version")]
    for app_id in (app["id"], app2["id"]):
        assert "issue" not in _app_actions(owner_conn, app_id)


def test_opening_an_application_while_an_item_is_submitted_one_by_one(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    """The stage's items are taken into the application under their row locks: an item the unit submits
    one by one at the same moment ends either in the application (its own move then refused) or moving on
    its own (the application then refused), never both."""
    unit = make_account(Role.PROJECT_UNIT, "works")
    item_row = "SELECT 1 FROM approval.item WHERE id = %s FOR UPDATE"
    for first in ("open", "submit"):
        p = six_item_project(client, owner_conn, unit)
        plan = client.get(f"/api/projects/{p['id']}/plan", headers=unit.headers).json()
        item = {i["item_code"]: i for i in plan["items"]}["land_pre_review"]
        open_ = lambda p=p: call(  # noqa: E731
            client, unit, "POST", "/api/applications", project_id=p["id"], stage="project_land"
        )
        submit = lambda item=item: call(  # noqa: E731
            client,
            unit,
            "POST",
            f"/api/items/{item['id']}/transitions",
            action="submit",
            version=item["version"],
        )
        calls = [open_, submit] if first == "open" else [submit, open_]
        results = [_code(r) for r in race_on_locked_row(settings.owner_dsn, item_row, [item["id"]], calls)]
        if first == "open":
            assert results == [(201, None), (409, "handled_by_window")]
            assert _actions(owner_conn, item["id"]) == []
        else:
            assert results == [(200, None), (409, "items_in_progress")]
            assert _actions(owner_conn, item["id"]) == ["submit"]
            assert owner_conn.execute(
                "SELECT count(*) FROM approval.application WHERE project_id = %s", (p["id"],)
            ).fetchone() == (0,)
