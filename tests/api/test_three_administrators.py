"""三员分立: the system, security and audit administrators each reach only their own part, and no account
holds two administrator roles."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import POLICY, Role
from app.main import PERMISSION_KEY
from tests.helpers import sign_in, unique

METHODS = ("get", "post", "put", "patch", "delete")
# What each administrator may do, written out here (not read from the policy table under test).
AUDIT_ADMIN_MAY = re.compile(r"^(self|audit):")
SECURITY_ADMIN_MAY = re.compile(
    r"^(self:|users:read$|orgs:read$|security:|accounts:unlock$|roles:grant$|service_accounts:manage$)"
)


def _operations(client: TestClient) -> list[tuple[str, str, str]]:
    doc = client.get("/api/openapi.json").json()
    return [
        (method, re.sub(r"\{[^}]+\}", "1", path), op[PERMISSION_KEY])
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS and op[PERMISSION_KEY] != "public"
    ]


def _refused_everywhere_but(client: TestClient, headers: dict[str, str], may: re.Pattern[str]) -> int:
    """Call every operation the pattern does not allow; each must answer 403. Returns how many."""
    checked = 0
    for method, path, action in _operations(client):
        if may.match(action):
            continue
        r = client.request(method, path, json={}, headers=headers)
        assert r.status_code == 403, f"{method.upper()} {path} ({action}) answered {r.status_code}"
        checked += 1
    return checked


def test_the_system_administrator_cannot_read_the_audit_log(client: TestClient, make_account: Any) -> None:
    sysadmin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    for query in ("", "?object_type=user", "?limit=1"):
        r = client.get(f"/api/audit{query}", headers=sysadmin.headers)
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert "audit:read" not in client.get("/api/auth/me", headers=sysadmin.headers).json()["permissions"]


def test_the_audit_administrator_gets_403_on_everything_but_the_audit_log(
    client: TestClient, make_account: Any
) -> None:
    auditor = make_account(Role.AUDIT_ADMIN, "gov-data")
    assert _refused_everywhere_but(client, auditor.headers, AUDIT_ADMIN_MAY) >= 60
    assert client.get("/api/audit?limit=1", headers=auditor.headers).status_code == 200
    assert client.get("/api/auth/me", headers=auditor.headers).status_code == 200
    mine = client.get("/api/auth/me", headers=auditor.headers).json()["permissions"]
    assert all(AUDIT_ADMIN_MAY.match(action) for action in mine) and "audit:read" in mine


def test_the_security_administrator_gets_403_on_business_data(client: TestClient, make_account: Any) -> None:
    security = make_account(Role.SECURITY_ADMIN, "gov-data")
    assert _refused_everywhere_but(client, security.headers, SECURITY_ADMIN_MAY) >= 60
    # Named examples of business writes, with well-formed bodies: refused before anything is looked at.
    writes = [
        ("post", "/api/projects", {"name": "学校", "project_type": "house_building"}),
        ("post", "/api/users", {"username": unique("x"), "role": "planner", "org_code": "pnr"}),
        ("post", "/api/orgs", {"code": unique("o"), "name_zh": "某局", "kind": "department"}),
        ("post", "/api/layers/cur_road/versions", None),
    ]
    for method, path, body in writes:
        r = client.request(method, path, json=body, headers=security.headers)
        assert r.status_code == 403, (path, r.status_code, r.text)


def test_the_system_administrator_keeps_business_powers_but_not_security(
    client: TestClient, make_account: Any
) -> None:
    sysadmin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    created = client.post(
        "/api/users",
        headers=sysadmin.headers,
        json={"username": unique("pl"), "role": "planner", "org_code": "pnr"},
    )
    assert created.status_code == 201, created.text
    for method, path in (
        ("get", "/api/security/policy"),
        ("put", "/api/security/policy"),
        ("get", "/api/security/locked"),
        ("get", "/api/security/roles"),
        ("post", "/api/security/administrators"),
        ("post", f"/api/users/{created.json()['user']['id']}/unlock"),
    ):
        assert client.request(method, path, json={}, headers=sysadmin.headers).status_code == 403, path
    for role in ("system_admin", "security_admin", "audit_admin"):
        r = client.post(
            "/api/users",
            headers=sysadmin.headers,
            json={"username": unique("adm"), "role": role, "org_code": "gov-data"},
        )
        assert r.status_code == 403 and r.json()["code"] == "administrator_role_reserved", r.text


def _audit_count(owner_conn: Any) -> int:
    return int(owner_conn.execute("SELECT count(*) FROM audit.event").fetchone()[0])


def test_two_administrator_roles_on_one_account_are_refused(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    security = make_account(Role.SECURITY_ADMIN, "gov-data")
    sysadmin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    name = unique("two")
    before = _audit_count(owner_conn)
    for path, headers in (
        ("/api/security/administrators", security.headers),
        ("/api/users", sysadmin.headers),
    ):
        r = client.post(
            path,
            headers=headers,
            json={
                "username": name,
                "role": "system_admin",
                "roles": ["system_admin", "audit_admin"],
                "org_code": "gov-data",
            },
        )
        assert r.status_code in (403, 422), r.text
        if path.startswith("/api/security"):
            assert r.status_code == 422 and r.json()["code"] == "one_role_per_account"
            assert "一个账户只能有一个角色" in r.json()["detail"]
    assert owner_conn.execute("SELECT count(*) FROM auth.user WHERE username = %s", (name,)).fetchone() == (
        0,
    )
    assert _audit_count(owner_conn) == before

    # An administrator keeps its role for life: no change to another administrator role, nor to a business
    # role, nor a business account into an administrator (409, said in both languages).
    auditor = make_account(Role.AUDIT_ADMIN, "gov-data")
    planner = make_account(Role.PLANNER)
    for target, role in (
        (auditor, "system_admin"),
        (auditor, "security_admin"),
        (auditor, "viewer"),
        (planner, "audit_admin"),
    ):
        version = owner_conn.execute("SELECT version FROM auth.user WHERE id = %s", (target.id,)).fetchone()[
            0
        ]
        r = client.patch(
            f"/api/users/{target.id}", headers=sysadmin.headers, json={"version": version, "role": role}
        )
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "administrator_role_fixed"
        english = client.patch(
            f"/api/users/{target.id}",
            headers={**sysadmin.headers, "Accept-Language": "en"},
            json={"version": version, "role": role},
        )
        assert "kept for life" in english.json()["detail"]
    r = client.patch(
        f"/api/users/{planner.id}",
        headers=sysadmin.headers,
        json={"version": 1, "roles": ["planner", "reviewer"]},
    )
    assert r.status_code == 422 and r.json()["code"] == "one_role_per_account"
    roles = dict(
        owner_conn.execute(
            "SELECT id, role FROM auth.user WHERE id IN (%s, %s)", (auditor.id, planner.id)
        ).fetchall()
    )
    assert roles == {auditor.id: "audit_admin", planner.id: "planner"}


def test_only_the_security_administrator_gives_and_takes_administrator_roles(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    security = make_account(Role.SECURITY_ADMIN, "gov-data")
    name = unique("aud")
    created = client.post(
        "/api/security/administrators",
        headers=security.headers,
        json={"username": name, "role": "audit_admin", "org_code": "gov-data", "display_name": "审计员乙"},
    )
    assert created.status_code == 201, created.text
    otp = created.json()["one_time_password"]
    assert len(otp) >= 16 and created.json()["user"]["must_change_password"] is True
    token = sign_in(client, name, otp)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/audit", headers=headers).json()["code"] == "password_change_required"
    changed = client.post(
        "/api/auth/password",
        headers=headers,
        json={"current_password": otp, "new_password": "Audit-pass-2026!"},
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/audit?limit=1", headers=headers).status_code == 200

    # A business role is the system administrator's to give, not here.
    r = client.post(
        "/api/security/administrators",
        headers=security.headers,
        json={"username": unique("pl"), "role": "planner", "org_code": "pnr"},
    )
    assert r.status_code == 422 and r.json()["code"] == "not_an_administrator_role"

    # The system administrator can neither disable nor reset an administrator account.
    sysadmin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    user_id = created.json()["user"]["id"]
    version = created.json()["user"]["version"] + 1  # the password change
    r = client.patch(
        f"/api/users/{user_id}", headers=sysadmin.headers, json={"version": version, "disabled": True}
    )
    assert r.status_code == 403 and r.json()["code"] == "administrator_account_reserved"
    r = client.post(f"/api/users/{user_id}/reset-password", headers=sysadmin.headers)
    assert r.status_code == 403 and r.json()["code"] == "administrator_account_reserved"

    # Taking the role back disables the account at once; its sessions end. Not one's own, not a planner's.
    assert (
        client.post(
            f"/api/security/administrators/{security.id}/revoke", headers=security.headers
        ).status_code
        == 403
    )
    planner = make_account(Role.PLANNER)
    assert (
        client.post(f"/api/security/administrators/{planner.id}/revoke", headers=security.headers).status_code
        == 404
    )
    revoked = client.post(f"/api/security/administrators/{user_id}/revoke", headers=security.headers)
    assert revoked.status_code == 200 and revoked.json()["disabled"] is True
    assert revoked.json()["role"] == "audit_admin"
    assert client.get("/api/audit?limit=1", headers=headers).status_code == 401
    event = owner_conn.execute(
        "SELECT actor_id, before, after FROM audit.event"
        " WHERE action = 'user.role_revoked' AND object_id = %s",
        (str(user_id),),
    ).fetchone()
    assert event == (
        security.id,
        {"role": "audit_admin", "disabled": False},
        {"role": "audit_admin", "disabled": True},
    )


def test_the_role_matrix_is_the_enforced_policy_read_only(client: TestClient, make_account: Any) -> None:
    security = make_account(Role.SECURITY_ADMIN, "gov-data")
    matrix = client.get("/api/security/roles", headers=security.headers).json()
    assert matrix["grants"] == {a.value: {r.value: s.value for r, s in g.items()} for a, g in POLICY.items()}
    labels = {r["role"]: (r["label_zh"], r["administrator"]) for r in matrix["roles"]}
    assert labels["system_admin"] == ("系统管理员", True)
    assert labels["security_admin"] == ("安全管理员", True)
    assert labels["audit_admin"] == ("安全审计员", True)
    assert labels["planner"] == ("规划人员", False)
    assert client.put("/api/security/roles", json=matrix, headers=security.headers).status_code == 405
