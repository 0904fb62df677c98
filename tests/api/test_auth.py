"""Sign-in, lock-out, expiry, revocation and the one-time password flow, against real PostGIS."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.helpers import sign_in


def test_sign_in_returns_a_working_bearer_token(client: TestClient, make_account: Any) -> None:
    acct = make_account(Role.PLANNER, sign_in_now=False)
    r = client.post("/api/auth/token", data={"username": acct.username, "password": acct.password})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 480 * 60
    assert body["must_change_password"] is False
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == acct.username
    assert me.json()["role"] == "planner"
    assert "password_hash" not in me.json()


def test_username_is_case_insensitive(client: TestClient, make_account: Any) -> None:
    acct = make_account(Role.VIEWER, sign_in_now=False)
    assert sign_in(client, acct.username.upper(), acct.password)


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient, make_account: Any) -> None:
    acct = make_account(Role.VIEWER, sign_in_now=False)
    wrong = client.post("/api/auth/token", data={"username": acct.username, "password": "nope-nope-1"})
    unknown = client.post("/api/auth/token", data={"username": "nobody-here", "password": "nope-nope-1"})
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "用户名或密码错误。"
        assert r.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_english_messages_on_request(client: TestClient) -> None:
    r = client.post(
        "/api/auth/token",
        data={"username": "nobody-here", "password": "x"},
        headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"},
    )
    assert r.json()["detail"] == "Wrong username or password."


def test_lock_out_after_repeated_failures_then_security_admin_unlock(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    acct = make_account(Role.PLANNER, sign_in_now=False)
    codes = [
        client.post("/api/auth/token", data={"username": acct.username, "password": "bad-pass-1"}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 423]
    # Locked: even the right password is refused, with a Retry-After.
    r = client.post("/api/auth/token", data={"username": acct.username, "password": acct.password})
    assert r.status_code == 423
    assert int(r.headers["retry-after"]) > 14 * 60
    assert "锁定" in r.json()["detail"]
    actions = [
        row[0]
        for row in owner_conn.execute(
            "SELECT action FROM audit.event WHERE object_type = 'user' AND object_id = %s ORDER BY id",
            (str(acct.id),),
        )
    ]
    assert actions[-5:] == [
        "auth.login_failed",
        "auth.login_failed",
        "auth.login_failed",
        "auth.locked",
        "auth.login_refused",
    ]

    # Unlocking is the security administrator's, no longer the system administrator's.
    assert (
        client.post(
            f"/api/users/{acct.id}/unlock", headers=make_account(Role.SYSTEM_ADMIN).headers
        ).status_code
        == 403
    )
    admin = make_account(Role.SECURITY_ADMIN, "gov-data")
    assert client.post(f"/api/users/{acct.id}/unlock", headers=admin.headers).status_code == 200
    assert sign_in(client, acct.username, acct.password)

    def unlocks() -> int:
        row = owner_conn.execute(
            "SELECT count(*) FROM audit.event WHERE action = 'user.unlock' AND object_id = %s",
            (str(acct.id),),
        ).fetchone()
        return int(row[0])

    # Unlocking an account that is not locked changes nothing, so it leaves no audit row claiming a change.
    assert unlocks() == 1
    r = client.post(f"/api/users/{acct.id}/unlock", headers=admin.headers)
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert unlocks() == 1


def test_lock_expires_by_itself(client: TestClient, make_account: Any, owner_conn: Any) -> None:
    acct = make_account(Role.VIEWER, sign_in_now=False)
    for _ in range(3):
        client.post("/api/auth/token", data={"username": acct.username, "password": "bad-pass-1"})
    owner_conn.execute(
        "UPDATE auth.user SET locked_until = now() - interval '1 second' WHERE id = %s", (acct.id,)
    )
    assert sign_in(client, acct.username, acct.password)
    row = owner_conn.execute("SELECT failed_attempts, locked_until FROM auth.user WHERE id = %s", (acct.id,))
    assert row.fetchone() == (0, None)


def test_expired_token_is_refused(client: TestClient, make_account: Any, owner_conn: Any) -> None:
    acct = make_account(Role.VIEWER)
    assert client.get("/api/auth/me", headers=acct.headers).status_code == 200
    owner_conn.execute(
        "UPDATE auth.session SET expires_at = now() - interval '1 second' WHERE user_id = %s", (acct.id,)
    )
    r = client.get("/api/auth/me", headers=acct.headers)
    assert r.status_code == 401
    assert r.json()["code"] == "token_expired"
    assert r.json()["detail"] == "登录已过期，请重新登录。"
    assert r.headers["www-authenticate"] == "Bearer"


def test_logout_revokes_the_token(client: TestClient, make_account: Any) -> None:
    acct = make_account(Role.VIEWER)
    assert client.post("/api/auth/logout", headers=acct.headers).status_code == 204
    r = client.get("/api/auth/me", headers=acct.headers)
    assert r.status_code == 401
    assert r.json()["code"] == "token_revoked"


def test_garbage_token_is_refused(client: TestClient) -> None:
    r = client.get("/api/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"


def test_one_time_password_must_be_changed_first(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    created = client.post(
        "/api/users",
        headers=admin.headers,
        json={"username": "newcomer-otp", "role": "planner", "org_code": "pnr", "display_name": "新同事"},
    )
    assert created.status_code == 201, created.text
    otp = created.json()["one_time_password"]
    assert len(otp) == 16
    token = sign_in(client, "newcomer-otp", otp)
    headers = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/orgs", headers=headers)
    assert r.status_code == 403
    assert r.json()["code"] == "password_change_required"
    weak = client.post(
        "/api/auth/password", headers=headers, json={"current_password": otp, "new_password": "short"}
    )
    assert weak.status_code == 422
    ok = client.post(
        "/api/auth/password",
        headers=headers,
        json={"current_password": otp, "new_password": "Longer-pass-2026"},
    )
    assert ok.status_code == 200
    assert ok.json()["must_change_password"] is False
    assert client.get("/api/orgs", headers=headers).status_code == 200  # same session keeps working
    assert sign_in(client, "newcomer-otp", "Longer-pass-2026")


def test_password_change_needs_the_current_password(client: TestClient, make_account: Any) -> None:
    acct = make_account(Role.VIEWER)
    r = client.post(
        "/api/auth/password",
        headers=acct.headers,
        json={"current_password": "wrong-one-1", "new_password": "Another-pass-1"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "wrong_password"


def test_disabling_a_user_ends_its_sessions(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    acct = make_account(Role.VIEWER)
    version = client.get(f"/api/users/{acct.id}", headers=admin.headers).json()["version"]
    r = client.patch(
        f"/api/users/{acct.id}", headers=admin.headers, json={"version": version, "disabled": True}
    )
    assert r.status_code == 200
    assert client.get("/api/auth/me", headers=acct.headers).status_code == 401
    again = client.post("/api/auth/token", data={"username": acct.username, "password": acct.password})
    assert again.status_code == 401
    assert again.json()["code"] == "account_disabled"


def test_me_lists_the_roles_permissions_from_the_policy_table(client: TestClient, make_account: Any) -> None:
    from app.auth.policy import POLICY

    for role in (Role.PROJECT_UNIT, Role.VIEWER, Role.SYSTEM_ADMIN):
        acct = make_account(role)
        permissions = client.get("/api/auth/me", headers=acct.headers).json()["permissions"]
        assert permissions == {a.value: s[role].value for a, s in POLICY.items() if role in s}
    unit = make_account(Role.PROJECT_UNIT)
    viewer = make_account(Role.VIEWER)
    assert "preeval:run" in client.get("/api/auth/me", headers=unit.headers).json()["permissions"]
    mine = client.get("/api/auth/me", headers=viewer.headers).json()["permissions"]
    assert "preeval:run" not in mine and "layers:import" not in mine and mine["layers:read"]
