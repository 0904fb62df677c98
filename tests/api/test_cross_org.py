"""Users of one organisation cannot see another's private objects by changing an id."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role


def test_other_organisations_users_are_invisible(
    client: TestClient, make_org: Any, make_account: Any
) -> None:
    _, org_a = make_org()
    _, org_b = make_org()
    alice = make_account(Role.PLANNER, org_a)
    alice_colleague = make_account(Role.VIEWER, org_a)
    bob = make_account(Role.PLANNER, org_b)

    assert client.get(f"/api/users/{alice_colleague.id}", headers=alice.headers).status_code == 200
    r = client.get(f"/api/users/{bob.id}", headers=alice.headers)
    assert r.status_code == 404  # as if it did not exist: no probing of ids
    assert r.json()["detail"] == "对象不存在。"

    listed = client.get("/api/users", headers=alice.headers).json()
    assert {u["username"] for u in listed} == {alice.username, alice_colleague.username}
    assert client.get(f"/api/users?org_id={bob.org_id}", headers=alice.headers).json() == []


def test_administrators_see_every_organisation(client: TestClient, make_org: Any, make_account: Any) -> None:
    _, org_b = make_org()
    bob = make_account(Role.PLANNER, org_b)
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    assert client.get(f"/api/users/{bob.id}", headers=admin.headers).json()["org_code"] == org_b
    names = {
        u["username"] for u in client.get(f"/api/users?org_id={bob.org_id}", headers=admin.headers).json()
    }
    assert names == {bob.username}


def test_only_administrators_change_accounts(client: TestClient, make_org: Any, make_account: Any) -> None:
    _, org_a = make_org()
    alice = make_account(Role.PLANNER, org_a)
    colleague = make_account(Role.VIEWER, org_a)
    r = client.patch(
        f"/api/users/{colleague.id}", headers=alice.headers, json={"version": 1, "role": "system_admin"}
    )
    assert r.status_code == 403
    r = client.post(f"/api/users/{colleague.id}/reset-password", headers=alice.headers)
    assert r.status_code == 403
