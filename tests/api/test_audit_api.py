"""The audit administrator's API: search by user, action and object, audited exports, verification."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.audit.exports import HEADERS
from app.auth.policy import Role


def _changed_user(client: TestClient, make_account: Any) -> tuple[Any, Any, Any]:
    """The audit administrator, a system administrator, and a viewer whose display name the system
    administrator changed (audited)."""
    auditor = make_account(Role.AUDIT_ADMIN, "gov-data")
    changer = make_account(Role.SYSTEM_ADMIN, "gov-data")
    target = make_account(Role.VIEWER)
    version = client.get(f"/api/users/{target.id}", headers=changer.headers).json()["version"]
    r = client.patch(
        f"/api/users/{target.id}", headers=changer.headers, json={"version": version, "display_name": "李四"}
    )
    assert r.status_code == 200
    return auditor, changer, target


def _ids(owner_conn: Any, where: str, *params: Any) -> list[int]:
    rows = owner_conn.execute(f"SELECT id FROM audit.event WHERE {where} ORDER BY id DESC", params)
    return [r[0] for r in rows]


def test_search_by_user_action_prefix_and_object(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin, changer, target = _changed_user(client, make_account)
    # The user's name, any part of it, in any case.
    part = changer.username.split("-")[1].upper()
    page = client.get("/api/audit", params={"actor": part}, headers=admin.headers).json()
    assert [e["id"] for e in page["events"]] == _ids(owner_conn, "actor_username = %s", changer.username)
    assert page["events"] and all(e["actor_username"] == changer.username for e in page["events"])
    # Every user.* action on the target, and the update alone by its prefix.
    on_target = {"object_type": "user", "object_id": str(target.id)}
    every = client.get("/api/audit", params={**on_target, "action_prefix": "user."}, headers=admin.headers)
    expected = _ids(
        owner_conn, "object_type = 'user' AND object_id = %s AND action LIKE 'user.%%'", str(target.id)
    )
    assert [e["id"] for e in every.json()["events"]] == expected and len(expected) >= 2
    update = client.get("/api/audit", params={**on_target, "action_prefix": "user.up"}, headers=admin.headers)
    [event] = update.json()["events"]
    assert event["action"] == "user.update" and event["after"]["display_name"] == "李四"


def test_exports_hold_the_search_and_are_audited(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin, _, target = _changed_user(client, make_account)
    client.get("/api/audit/verify", headers=admin.headers)  # seals the rows: exports carry their hashes
    params = {"object_type": "user", "object_id": str(target.id)}
    expected = owner_conn.execute(
        "SELECT id, action, chain_seq, encode(row_hash, 'hex') FROM audit.event"
        " WHERE object_type = 'user' AND object_id = %s ORDER BY id DESC",
        (str(target.id),),
    ).fetchall()
    r = client.get("/api/audit/export.csv", params=params, headers=admin.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert [(int(x[0]), x[5], int(x[12]), x[13]) for x in rows[1:]] == expected
    assert any("李四" in x[9] for x in rows[1:])  # 变更后
    logged = owner_conn.execute(
        "SELECT after FROM audit.event WHERE action = 'audit.export' AND actor_id = %s ORDER BY id",
        (admin.id,),
    ).fetchall()
    assert logged[-1][0] == {"format": "csv", "rows": len(expected), "filters": params}

    r = client.get("/api/audit/export.xlsx", params=params, headers=admin.headers)
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content))["审计日志"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == HEADERS and [(x[0], x[5]) for x in cells[1:]] == [(e[0], e[1]) for e in expected]
    last = owner_conn.execute(
        "SELECT after->>'format' FROM audit.event WHERE action = 'audit.export' AND actor_id = %s"
        " ORDER BY id DESC LIMIT 1",
        (admin.id,),
    ).fetchone()
    assert last == ("xlsx",)


def test_verify_proves_the_chain_to_its_head(client: TestClient, make_account: Any, owner_conn: Any) -> None:
    admin, _, _ = _changed_user(client, make_account)
    r = client.get("/api/audit/verify", headers=admin.headers)
    assert r.status_code == 200
    report = r.json()
    assert report["verified"] is True and report["first_break"] is None
    head = owner_conn.execute(
        "SELECT encode(row_hash, 'hex') FROM audit.event WHERE chain_seq = %s", (report["last_seq"],)
    ).fetchone()
    assert report["head_hash"] == head[0] and report["rows_checked"] == report["last_seq"]
    logged = owner_conn.execute(
        "SELECT after FROM audit.event WHERE action = 'audit.verify' AND actor_id = %s", (admin.id,)
    ).fetchone()
    assert logged[0]["verified"] is True and logged[0]["head_hash"] == report["head_hash"]


def test_only_the_audit_administrator_exports_or_verifies(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    planner = make_account(Role.PLANNER)
    before = owner_conn.execute("SELECT count(*) FROM audit.event WHERE action LIKE 'audit.%%'").fetchone()
    for path in ("/api/audit/export.csv", "/api/audit/export.xlsx", "/api/audit/verify"):
        assert client.get(path, headers=planner.headers).status_code == 403
    after = owner_conn.execute("SELECT count(*) FROM audit.event WHERE action LIKE 'audit.%%'").fetchone()
    assert after == before


def test_exports_refuse_bad_searches(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.AUDIT_ADMIN, "gov-data")
    for path, params in [
        ("/api/audit/export.csv", {"since": "2025-06-02T00:00:00", "until": "2025-06-01T00:00:00"}),
        ("/api/audit/export.xlsx", {"action_prefix": "a" * 65}),
        ("/api/audit/export.csv", {"actor": "x" * 65}),
        ("/api/audit/export.pdf", {}),
    ]:
        r = client.get(path, params=params, headers=admin.headers)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["message_zh"] and r.json()["message_en"]
