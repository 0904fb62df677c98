"""The audit log: written with each change, append-only even for the application's own role."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.db import connection_options
from app.settings import Settings


def _audit_count(owner_conn: Any) -> int:
    return int(owner_conn.execute("SELECT count(*) FROM audit.event").fetchone()[0])


def test_app_role_cannot_update_delete_or_truncate_audit_rows(settings: Settings, owner_conn: Any) -> None:
    owner_conn.execute(
        "INSERT INTO audit.event (actor_username, action, object_type) VALUES ('t', 'test.write', 'test')"
    )
    with psycopg.connect(settings.app_dsn, options=connection_options(settings), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (settings.app_role,)
        conn.execute(
            "INSERT INTO audit.event (actor_username, action, object_type) VALUES ('a', 'x', 'test')"
        )
        for statement in (
            "UPDATE audit.event SET action = 'forged'",
            "DELETE FROM audit.event",
            "TRUNCATE audit.event",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Nor may it give itself the right: the GRANT grants nothing (a warning), UPDATE still fails.
        conn.execute(f"GRANT UPDATE ON audit.event TO {settings.app_role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit.event SET action = 'forged'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE audit.event DISABLE TRIGGER event_append_only")


def test_even_the_owner_cannot_rewrite_history(owner_conn: Any) -> None:
    owner_conn.execute(
        "INSERT INTO audit.event (actor_username, action, object_type) VALUES ('t', 'test.owner', 'test')"
    )
    for statement in (
        "UPDATE audit.event SET action = 'forged'",
        "DELETE FROM audit.event",
        "TRUNCATE audit.event",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner_conn.execute(statement)


def test_a_change_is_audited_with_before_after_and_request_id(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    target = make_account(Role.VIEWER)
    version = client.get(f"/api/users/{target.id}", headers=admin.headers).json()["version"]
    r = client.patch(
        f"/api/users/{target.id}",
        headers={**admin.headers, "X-Request-ID": "req-audit-1"},
        json={"version": version, "role": "planner", "display_name": "王工"},
    )
    assert r.status_code == 200
    auditor = make_account(Role.AUDIT_ADMIN, "gov-data")
    page = client.get(
        "/api/audit",
        params={"object_type": "user", "object_id": str(target.id), "action": "user.update"},
        headers=auditor.headers,
    ).json()
    assert len(page["events"]) == 1
    event = page["events"][0]
    assert event["actor_id"] == admin.id
    assert event["request_id"] == "req-audit-1"
    assert event["before"]["role"] == "viewer" and event["after"]["role"] == "planner"
    assert event["after"]["display_name"] == "王工"
    assert "password_hash" not in event["after"]


def test_a_refused_change_writes_nothing(client: TestClient, make_account: Any, owner_conn: Any) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    target = make_account(Role.VIEWER)
    before = _audit_count(owner_conn)
    stale = client.patch(
        f"/api/users/{target.id}", headers=admin.headers, json={"version": 99, "role": "reviewer"}
    )
    assert stale.status_code == 412
    assert stale.json()["current"]["role"] == "viewer"
    bad_org = client.patch(
        f"/api/users/{target.id}", headers=admin.headers, json={"version": 1, "org_code": "no-such-org"}
    )
    assert bad_org.status_code == 422
    assert _audit_count(owner_conn) == before
    row = owner_conn.execute("SELECT role, version FROM auth.user WHERE id = %s", (target.id,)).fetchone()
    assert row == ("viewer", 1)


def test_audit_paging_and_audit_admin_only(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.AUDIT_ADMIN, "gov-data")
    planner = make_account(Role.PLANNER)
    assert client.get("/api/audit", headers=planner.headers).status_code == 403
    # 三员分立: the system and security administrators do not read the audit log either.
    for role in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN):
        r = client.get("/api/audit", headers=make_account(role, "gov-data").headers)
        assert r.status_code == 403, (role, r.text)
        assert r.json()["code"] == "forbidden"
    first = client.get("/api/audit", params={"limit": 2}, headers=admin.headers).json()
    assert len(first["events"]) == 2 and first["next_before_id"] == first["events"][-1]["id"]
    second = client.get(
        "/api/audit", params={"limit": 2, "before_id": first["next_before_id"]}, headers=admin.headers
    ).json()
    assert all(e["id"] < first["next_before_id"] for e in second["events"])
