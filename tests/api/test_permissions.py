"""Every route declares a permission; undeclared, anonymous or under-privileged access is refused."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import POLICY, PUBLIC, Action, Role
from app.main import PERMISSION_KEY

PUBLIC_OPERATIONS = {("post", "/api/auth/token"), ("get", "/api/health")}
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    doc = client.get("/api/openapi.json").json()
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_operation_declares_a_known_permission(client: TestClient) -> None:
    ops = _operations(client)
    assert len(ops) >= 12
    undeclared = [f"{m.upper()} {p}" for m, p, op in ops if PERMISSION_KEY not in op]
    assert undeclared == [], f"routes without a declared permission: {undeclared}"
    known = {a.value for a in Action} | {PUBLIC}
    unknown = [
        f"{m.upper()} {p}: {op[PERMISSION_KEY]}" for m, p, op in ops if op[PERMISSION_KEY] not in known
    ]
    assert unknown == []
    public = {(m, p) for m, p, op in ops if op[PERMISSION_KEY] == PUBLIC}
    assert public == PUBLIC_OPERATIONS


def test_every_protected_operation_refuses_anonymous_callers(client: TestClient) -> None:
    for method, path, op in _operations(client):
        if op[PERMISSION_KEY] == PUBLIC:
            continue
        r = client.request(method, _concrete(path), json={})
        assert r.status_code == 401, (
            f"{method.upper()} {path} answered {r.status_code} to an anonymous caller"
        )
        assert r.headers["content-type"] == "application/problem+json"


def test_every_operation_refuses_roles_the_policy_does_not_grant(
    client: TestClient, make_account: Any
) -> None:
    accounts = {role: make_account(role) for role in Role}
    checked = 0
    for method, path, op in _operations(client):
        action = op[PERMISSION_KEY]
        if action == PUBLIC:
            continue
        for role, acct in accounts.items():
            if role in POLICY[Action(action)]:
                continue
            r = client.request(method, _concrete(path), json={}, headers=acct.headers)
            assert r.status_code == 403, f"{role} got {r.status_code} on {method.upper()} {path}"
            checked += 1
    assert checked >= 20


def test_policy_names_only_known_roles_and_covers_every_action() -> None:
    assert set(POLICY) == set(Action)
    for grants in POLICY.values():
        assert set(grants) <= set(Role)
    assert POLICY[Action.AUDIT_READ] == {Role.AUDIT_ADMIN: POLICY[Action.AUDIT_READ][Role.AUDIT_ADMIN]}
