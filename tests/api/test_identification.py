"""Identification (等保 2.0 level 3): password complexity, expiry and reuse, lock-out and idle sessions from
the security administrator's policy; every sign-in, failure and sign-out audited with the client address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.helpers import sign_in

CLIENT_IP = "203.0.113.7"  # TEST-NET-3 (RFC 5737)
POLICY_COLUMNS = (
    "password_min_length, password_min_classes, password_max_age_days, password_history,"
    " lockout_threshold, lockout_minutes, idle_timeout_minutes"
)


@pytest.fixture
def policy_restored(owner_conn: Any) -> Iterator[None]:
    """The session database's policy as it was before the test (other tests share it)."""
    before = owner_conn.execute(f"SELECT {POLICY_COLUMNS} FROM auth.security_policy").fetchone()
    yield
    owner_conn.execute(
        "UPDATE auth.security_policy SET password_min_length = %s, password_min_classes = %s,"
        " password_max_age_days = %s, password_history = %s, lockout_threshold = %s, lockout_minutes = %s,"
        " idle_timeout_minutes = %s",
        before,
    )


def _change(client: TestClient, headers: dict[str, str], current: str, new: str) -> Any:
    return client.post(
        "/api/auth/password", headers=headers, json={"current_password": current, "new_password": new}
    )


def test_an_expired_password_forces_a_change(client: TestClient, make_account: Any, owner_conn: Any) -> None:
    acct = make_account(Role.PLANNER)
    assert client.get("/api/orgs", headers=acct.headers).status_code == 200
    # 91 days ago: past the default 90-day limit. The open session is held to it at once.
    owner_conn.execute(
        "UPDATE auth.user SET password_changed_at = now() - interval '91 days' WHERE id = %s", (acct.id,)
    )
    r = client.get("/api/orgs", headers=acct.headers)
    assert r.status_code == 403 and r.json()["code"] == "password_expired"
    assert r.json()["detail"] == "密码已过期，请先修改密码。"
    token = client.post("/api/auth/token", data={"username": acct.username, "password": acct.password})
    assert token.status_code == 200 and token.json()["password_expired"] is True
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/api/layers", headers=headers).json()["code"] == "password_expired"
    assert client.get("/api/auth/me", headers=headers).status_code == 200  # self actions stay open
    assert _change(client, headers, acct.password, "Renewed-pass-2026").status_code == 200
    assert client.get("/api/orgs", headers=headers).status_code == 200
    # 89 days is still within the limit.
    owner_conn.execute(
        "UPDATE auth.user SET password_changed_at = now() - interval '89 days' WHERE id = %s", (acct.id,)
    )
    assert client.get("/api/orgs", headers=headers).status_code == 200


def test_the_last_five_passwords_cannot_be_reused(client: TestClient, make_account: Any) -> None:
    acct = make_account(Role.VIEWER)
    sequence = [acct.password] + [f"Sequence-pass-{n}x" for n in range(1, 6)]
    for current, new in zip(sequence, sequence[1:], strict=False):
        assert _change(client, acct.headers, current, new).status_code == 200
    # Now the last five are sequence[1..5]: each is refused; sequence[0] (the sixth back) is allowed.
    for old in sequence[2:5]:
        r = _change(client, acct.headers, sequence[5], old)
        assert r.status_code == 422 and r.json()["code"] == "password_reused", old
        assert "最近 5 次" in r.json()["detail"]
    assert _change(client, acct.headers, sequence[5], sequence[1]).json()["code"] == "password_reused"
    assert _change(client, acct.headers, sequence[5], sequence[0]).status_code == 200


def test_complexity_follows_the_policy(
    client: TestClient, make_account: Any, owner_conn: Any, policy_restored: None
) -> None:
    acct = make_account(Role.VIEWER)
    sysadmin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    for weak, code in (
        ("Sh0rt-pass1", "password_too_short"),  # 11 characters: the default minimum is 12
        ("only-lower-case-and-dashes", "password_too_simple"),  # 2 of 4 classes: lower, symbol
    ):
        r = _change(client, acct.headers, acct.password, weak)
        assert r.status_code == 422 and r.json()["code"] == code, weak
    owner_conn.execute("UPDATE auth.security_policy SET password_min_classes = 4, password_min_length = 14")
    r = _change(client, acct.headers, acct.password, "Threeclasses12")  # 14 characters, no symbol
    assert r.status_code == 422 and r.json()["code"] == "password_too_simple"
    assert "至少 4 类" in r.json()["detail"]
    assert _change(client, acct.headers, acct.password, "Four-classes12").status_code == 200
    # One-time passwords meet the policy in force: 20 characters now, all four classes.
    owner_conn.execute("UPDATE auth.security_policy SET password_min_length = 20")
    otp = client.post(f"/api/users/{acct.id}/reset-password", headers=sysadmin.headers).json()
    password = otp["one_time_password"]
    assert len(password) == 20
    assert any(c.islower() for c in password) and any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)


def test_an_idle_session_ends_and_is_recorded(client: TestClient, make_account: Any, owner_conn: Any) -> None:
    acct = make_account(Role.VIEWER)
    # 29 minutes unused: still alive, and marked seen now.
    owner_conn.execute(
        "UPDATE auth.session SET last_seen_at = now() - interval '29 minutes' WHERE user_id = %s", (acct.id,)
    )
    assert client.get("/api/auth/me", headers=acct.headers).status_code == 200
    recent = owner_conn.execute(
        "SELECT last_seen_at > now() - interval '1 minute' FROM auth.session WHERE user_id = %s", (acct.id,)
    ).fetchone()
    assert recent == (True,)
    # 31 minutes unused: past the 30-minute idle timeout although the token lives for 8 hours.
    owner_conn.execute(
        "UPDATE auth.session SET last_seen_at = now() - interval '31 minutes' WHERE user_id = %s", (acct.id,)
    )
    r = client.get("/api/auth/me", headers=acct.headers)
    assert r.status_code == 401 and r.json()["code"] == "session_idle"
    assert r.json()["detail"] == "长时间未操作，会话已结束，请重新登录。"
    assert client.get("/api/auth/me", headers=acct.headers).json()["code"] == "token_revoked"
    rows = owner_conn.execute(
        "SELECT actor_id FROM audit.event WHERE action = 'auth.session_idle' AND actor_id = %s", (acct.id,)
    ).fetchall()
    assert rows == [(acct.id,)]
    assert sign_in(client, acct.username, acct.password)


def test_every_sign_in_outcome_and_sign_out_is_audited_with_the_client_address(
    app: Any, client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    remote = TestClient(app, client=(CLIENT_IP, 40000))  # the session's lifespan (pool) serves it
    acct = make_account(Role.VIEWER, sign_in_now=False)
    start = int(owner_conn.execute("SELECT coalesce(max(id), 0) FROM audit.event").fetchone()[0])
    form = {"username": acct.username}
    assert remote.post("/api/auth/token", data={**form, "password": "wrong-pass-1"}).status_code == 401
    assert remote.post("/api/auth/token", data={"username": "nobody-x", "password": "x"}).status_code == 401
    token = remote.post("/api/auth/token", data={**form, "password": acct.password}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert remote.post("/api/auth/logout", headers=headers).status_code == 204
    token = remote.post("/api/auth/token", data={**form, "password": acct.password}).json()["access_token"]
    owner_conn.execute(
        "UPDATE auth.session SET last_seen_at = now() - interval '1 hour' WHERE user_id = %s", (acct.id,)
    )
    assert remote.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    events = owner_conn.execute(
        "SELECT action, host(client_ip) FROM audit.event WHERE id > %s AND action LIKE 'auth.%%' ORDER BY id",
        (start,),
    ).fetchall()
    assert [a for a, _ in events] == [
        "auth.login_failed",
        "auth.login_failed",
        "auth.login",
        "auth.logout",
        "auth.login",
        "auth.session_idle",
    ]
    assert {ip for _, ip in events} == {CLIENT_IP}


def test_the_security_administrator_edits_the_policy_audited(
    client: TestClient, make_account: Any, owner_conn: Any, policy_restored: None
) -> None:
    security = make_account(Role.SECURITY_ADMIN, "gov-data")
    policy = client.get("/api/security/policy", headers=security.headers).json()
    assert {k: policy[k] for k in POLICY_COLUMNS.replace(" ", "").split(",")} == {
        "password_min_length": 12,
        "password_min_classes": 3,
        "password_max_age_days": 90,
        "password_history": 5,
        "lockout_threshold": 3,  # the test session's (tests/conftest.py); the shipped default is 5
        "lockout_minutes": 15,
        "idle_timeout_minutes": 30,
    }
    body = {k: v for k, v in policy.items() if k != "updated_at"}
    audits = int(owner_conn.execute("SELECT count(*) FROM audit.event").fetchone()[0])
    for field, value in (
        ("password_min_length", 7),
        ("password_min_classes", 5),
        ("idle_timeout_minutes", 0),
    ):
        r = client.put("/api/security/policy", headers=security.headers, json={**body, field: value})
        assert r.status_code == 422, (field, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field]
    stale = client.put("/api/security/policy", headers=security.headers, json={**body, "version": 0})
    assert stale.status_code == 412
    assert int(owner_conn.execute("SELECT count(*) FROM audit.event").fetchone()[0]) == audits
    r = client.put(
        "/api/security/policy",
        headers=security.headers,
        json={**body, "lockout_threshold": 2, "idle_timeout_minutes": 10},
    )
    assert r.status_code == 200 and r.json()["version"] == policy["version"] + 1
    event = owner_conn.execute(
        "SELECT actor_id, before->>'lockout_threshold', after->>'lockout_threshold',"
        " after->>'idle_timeout_minutes' FROM audit.event WHERE action = 'security.policy_update'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert event == (security.id, "3", "2", "10")
    # The new threshold applies at once: the second failure locks.
    acct = make_account(Role.VIEWER, sign_in_now=False)
    codes = [
        client.post("/api/auth/token", data={"username": acct.username, "password": "bad-pass-1"}).status_code
        for _ in range(2)
    ]
    assert codes == [401, 423]
    locked = client.get("/api/security/locked", headers=security.headers).json()
    assert acct.username in {u["username"] for u in locked} and all(u["locked"] for u in locked)
    assert client.post(f"/api/users/{acct.id}/unlock", headers=security.headers).status_code == 200
    assert acct.username not in {
        u["username"] for u in client.get("/api/security/locked", headers=security.headers).json()
    }
