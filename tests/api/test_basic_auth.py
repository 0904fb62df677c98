"""HTTP Basic for people (QGIS and GDAL send it; they cannot send a bearer token): their own password,
with lock-out and audit as at sign-in, remembered briefly but refused at once when the account changes."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.helpers import sign_in

BASIC_CHALLENGE = 'Basic realm="Duogui", charset="UTF-8"'


def basic(username: str, password: str) -> dict[str, str]:
    """An Authorization header for HTTP Basic (RFC 7617, UTF-8)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _audit(owner_conn: Any, user_id: int) -> list[tuple[str, Any]]:
    return [
        (row[0], row[1])
        for row in owner_conn.execute(
            "SELECT action, after FROM audit.event WHERE object_type = 'user' AND object_id = %s ORDER BY id",
            (str(user_id),),
        )
    ]


def test_a_persons_password_opens_ogc_api_and_tiles(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    acct = make_account(Role.PLANNER, sign_in_now=False)
    headers = basic(acct.username.upper(), acct.password)  # usernames are case-insensitive, as at sign-in
    r = client.get("/ogc/collections", headers=headers)
    assert r.status_code == 200, r.text
    assert client.get("/api/auth/me", headers=headers).json()["username"] == acct.username
    assert client.get("/tiles/sp_parcel/14/13388/7152.mvt", headers=headers).status_code in (200, 204)
    # One verification, audited as a sign-in; the later requests used the remembered one.
    assert _audit(owner_conn, acct.id)[-1:] == [("auth.login", {"method": "basic"})]
    assert [a for a, _ in _audit(owner_conn, acct.id)].count("auth.login") == 1


def test_a_wrong_password_is_401_counted_and_audited_then_the_account_locks(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    acct = make_account(Role.VIEWER, sign_in_now=False)
    wrong = [
        client.get("/ogc/collections", headers=basic(acct.username, f"Wrong-pass-{n}")) for n in range(3)
    ]
    assert [r.status_code for r in wrong] == [401, 401, 423]  # the test threshold is 3, as at sign-in
    assert wrong[0].headers.get_list("www-authenticate") == ["Bearer", BASIC_CHALLENGE]
    assert wrong[0].json()["code"] == "invalid_credentials"
    # Locked: the right password is refused too, by Basic and by the sign-in form alike.
    assert client.get("/ogc/collections", headers=basic(acct.username, acct.password)).status_code == 423
    form = {"username": acct.username, "password": acct.password}
    assert client.post("/api/auth/token", data=form).status_code == 423
    assert _audit(owner_conn, acct.id)[-6:] == [
        ("auth.login_failed", {"reason": "bad_password", "failed_attempts": 1, "method": "basic"}),
        ("auth.login_failed", {"reason": "bad_password", "failed_attempts": 2, "method": "basic"}),
        ("auth.login_failed", {"reason": "bad_password", "failed_attempts": 3, "method": "basic"}),
        ("auth.locked", {"minutes": 15}),
        ("auth.login_refused", {"reason": "locked", "method": "basic"}),
        ("auth.login_refused", {"reason": "locked"}),
    ]
    row = owner_conn.execute("SELECT failed_attempts FROM auth.user WHERE id = %s", (acct.id,)).fetchone()
    assert row == (3,)


def test_an_unknown_user_and_malformed_credentials_get_401(client: TestClient, owner_conn: Any) -> None:
    before = owner_conn.execute("SELECT count(*) FROM audit.event").fetchone()[0]
    r = client.get("/ogc/collections", headers=basic("nobody-here", "Some-pass-1"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    after = owner_conn.execute("SELECT action, after FROM audit.event ORDER BY id DESC LIMIT 1").fetchone()
    assert after == ("auth.login_failed", {"reason": "unknown_user", "method": "basic"})
    assert owner_conn.execute("SELECT count(*) FROM audit.event").fetchone()[0] == before + 1
    for bad in (
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff:x").decode(),
        "Basic " + base64.b64encode(b"a\x00b:Some-pass-1").decode(),  # was a 500 (NUL in a query)
        "Basic " + base64.b64encode(b"a\nb:Some-pass-1").decode(),
    ):
        r = client.get("/api/layers", headers={"Authorization": bad})
        assert r.status_code == 401 and r.json()["code"] == "invalid_credentials", bad
        assert BASIC_CHALLENGE in r.headers.get_list("www-authenticate")


def test_remembered_credentials_are_refused_at_once_on_password_change_disable_and_lock(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    acct = make_account(Role.VIEWER)
    old = basic(acct.username, acct.password)
    assert client.get("/ogc/collections", headers=old).status_code == 200  # now remembered
    body = {"current_password": acct.password, "new_password": "Brand-new-pass-7"}
    assert client.post("/api/auth/password", json=body, headers=acct.headers).status_code == 200
    r = client.get("/ogc/collections", headers=old)
    assert r.status_code == 401 and r.json()["code"] == "credentials_changed"
    new = basic(acct.username, "Brand-new-pass-7")
    assert client.get("/ogc/collections", headers=new).status_code == 200

    owner_conn.execute(
        "UPDATE auth.user SET locked_until = now() + interval '5 minutes' WHERE id = %s", (acct.id,)
    )
    assert client.get("/ogc/collections", headers=new).status_code == 423
    owner_conn.execute("UPDATE auth.user SET locked_until = NULL WHERE id = %s", (acct.id,))
    assert client.get("/ogc/collections", headers=new).status_code == 200

    version = client.get(f"/api/users/{acct.id}", headers=admin.headers).json()["version"]
    r = client.patch(
        f"/api/users/{acct.id}", json={"version": version, "disabled": True}, headers=admin.headers
    )
    assert r.status_code == 200
    r = client.get("/ogc/collections", headers=new)
    assert r.status_code == 401 and r.json()["code"] == "account_disabled"


def test_a_person_who_must_change_the_password_gets_only_self_actions(
    client: TestClient, make_account: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    acct = make_account(Role.PLANNER, sign_in_now=False)
    otp = client.post(f"/api/users/{acct.id}/reset-password", headers=admin.headers).json()[
        "one_time_password"
    ]
    headers = basic(acct.username, otp)
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    r = client.get("/ogc/collections", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "password_change_required"
    body = {"current_password": otp, "new_password": "Chosen-pass-2027"}
    assert client.post("/api/auth/password", json=body, headers=headers).status_code == 200
    assert client.get("/ogc/collections", headers=basic(acct.username, "Chosen-pass-2027")).status_code == 200
    assert sign_in(client, acct.username, "Chosen-pass-2027")


def test_basic_is_advertised_only_where_it_helps(client: TestClient, make_account: Any) -> None:
    """QGIS, GDAL and a person opening /ogc get the Basic challenge; the browser app's own requests (with
    a bearer token, or scripted: Sec-Fetch-Mode cors) never do, so no browser password dialog pops up."""
    acct = make_account(Role.VIEWER)
    for path in ("/ogc", "/ogc/collections", "/tiles/sp_parcel/14/13388/7152.mvt"):
        r = client.get(path)
        assert r.status_code == 401 and r.headers.get_list("www-authenticate") == ["Bearer", BASIC_CHALLENGE]
        r = client.get(path, headers={"Sec-Fetch-Mode": "navigate"})
        assert BASIC_CHALLENGE in r.headers.get_list("www-authenticate")
        r = client.get(path, headers={"Sec-Fetch-Mode": "cors"})
        assert r.status_code == 401 and r.headers.get_list("www-authenticate") == ["Bearer"]
        r = client.get(path, headers={"Authorization": "Bearer expired-or-garbage"})
        assert r.status_code == 401 and r.headers.get_list("www-authenticate") == ["Bearer"]
    for path in ("/api/auth/me", "/api/layers"):
        r = client.get(path)
        assert r.status_code == 401 and r.headers.get_list("www-authenticate") == ["Bearer"]
    assert client.get("/api/auth/me", headers=acct.headers).status_code == 200
