"""Admission under load: waiting for a connection costs no worker thread, overload is a fast 503, and
sign-in holds neither a connection nor the account's row lock while Argon2 runs.

The bursts run the real application in one event loop (httpx2's ASGI transport) with AnyIO's worker
threads cut to a handful, so that more requests arrive than there are threads and connections — the
shape of the 100-user stall, reproduced without 100 users.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import httpx2 as httpx
import psycopg
import pytest

from app.auth import sessions, users
from app.auth.policy import Role
from app.calendar import routes as calendar_routes
from app.db import AdmissionGate
from app.errors import ServiceBusy
from app.main import create_app
from app.settings import Settings

Burst = Callable[[httpx.AsyncClient], Awaitable[list[httpx.Response]]]


def run_against(settings: Settings, burst: Burst, *, threads: int = 4) -> tuple[Any, list[httpx.Response]]:
    """Start the app (its lifespan too), run ``burst`` against it with ``threads`` worker threads."""
    app = create_app(settings)

    async def main() -> list[httpx.Response]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = threads
        async with app.router.lifespan_context(app):
            await asyncio.to_thread(app.state.pool.wait, 10)  # every connection open before the burst
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://duogui.test") as client:
                return await burst(client)

    return app, asyncio.run(main())


def tight(settings: Settings, **update: Any) -> Settings:
    """Three connections (two places at the gate), a short wait: easy to outnumber."""
    base = {"pool_min_size": 3, "pool_max_size": 3, "pool_timeout_s": 3.0, "pool_queue_limit": 1000}
    return settings.model_copy(update={**base, **update})


def test_more_requests_than_threads_and_connections_all_succeed(
    settings: Settings, make_account: Any
) -> None:
    """24 requests, 4 threads, 2 places at the gate: waiting in threads used to park them all in getconn while
    the connection holders waited for a thread (503 after the pool timeout); now every one is served."""
    viewer = make_account(Role.VIEWER)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(*(client.get("/api/auth/me", headers=viewer.headers) for _ in range(24)))

    app, responses = run_against(tight(settings), burst)
    assert Counter(r.status_code for r in responses) == {200: 24}
    assert {r.json()["username"] for r in responses} == {viewer.username}
    assert app.state.db_gate.stats()["admitted"] >= 24


def test_a_full_queue_is_refused_at_once_with_a_problem(settings: Settings, make_account: Any) -> None:
    """Past the queue limit a request is not made to wait: 503 database_busy with Retry-After."""
    viewer = make_account(Role.VIEWER)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        gate: AdmissionGate = client._transport.app.state.db_gate  # type: ignore[attr-defined]
        # Occupy both places, so every request must queue; a queue of 3 takes 3, the rest are refused.
        async with gate.admitted(), gate.admitted():
            tasks = [
                asyncio.ensure_future(client.get("/api/auth/me", headers=viewer.headers)) for _ in range(8)
            ]
            await asyncio.sleep(0.5)
        return [*await asyncio.gather(*tasks), await client.get("/api/health")]

    app, (*responses, health) = run_against(tight(settings, pool_queue_limit=3), burst)
    counts = Counter(r.status_code for r in responses)
    assert counts == {200: 3, 503: 5}
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert {r.json()["code"] for r in refused} == {"database_busy"}
    assert {r.headers["retry-after"] for r in refused} == {"2"}
    assert app.state.db_gate.stats()["refused"] == 5
    gates = {g["name"]: g for g in health.json()["admission"]}  # what an operator sees
    assert set(gates) == {"database", "heavy", "passwords"}
    assert (gates["database"]["capacity"], gates["database"]["refused"]) == (2, 5)


def test_gate_waits_no_longer_than_its_timeout() -> None:
    """A place that does not come free in time is a ServiceBusy, and the gate is whole afterwards."""

    async def main() -> tuple[str, int, int]:
        gate = AdmissionGate("database", 1, 0.2, 10)
        async with gate.admitted():
            with pytest.raises(ServiceBusy) as refused:
                async with gate.admitted():
                    pass
            waiting_during = gate.waiting
        async with gate.admitted():
            in_use = gate.in_use
        return refused.value.code, waiting_during, in_use

    code, waiting, in_use = asyncio.run(main())
    assert (code, waiting, in_use) == ("database_busy", 0, 1)


def test_sign_in_holds_no_connection_and_no_row_lock_while_checking(
    settings: Settings, make_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While Argon2 runs, the account's row can be locked by anyone else and no place is taken."""
    account = make_account(Role.VIEWER, sign_in_now=False)
    seen: list[tuple[int, bool]] = []
    real_check = sessions.check_password
    app_box: list[Any] = []

    def observed_check(stored: str | None, password: str) -> sessions.PasswordCheck:
        with psycopg.connect(settings.owner_dsn, autocommit=True) as other:
            try:
                other.execute(
                    "SELECT 1 FROM auth.user WHERE username = %s FOR UPDATE NOWAIT", (account.username,)
                )
                free = True
            except psycopg.errors.LockNotAvailable:
                free = False
        seen.append((app_box[0].state.db_gate.in_use, free))
        return real_check(stored, password)

    monkeypatch.setattr("app.auth.sessions.check_password", observed_check)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        app_box.append(client._transport.app)  # type: ignore[attr-defined]
        form = {"username": account.username, "password": account.password}
        return [await client.post("/api/auth/token", data=form)]

    _, responses = run_against(tight(settings), burst)
    assert responses[0].status_code == 200, responses[0].text
    assert seen == [(0, True)]


def test_concurrent_wrong_passwords_lock_the_account_exactly(settings: Settings, make_account: Any) -> None:
    """Eight wrong guesses at once, then the right one: threshold 3 counts three failures (the third
    locks and says so), refuses the other five as locked — and the right password after the lock too."""
    with psycopg.connect(settings.owner_dsn) as conn:
        assert conn.execute("SELECT lockout_threshold FROM auth.security_policy").fetchone() == (3,)
    account = make_account(Role.VIEWER, sign_in_now=False)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        wrong = {"username": account.username, "password": "wrong-password-1"}
        guesses = await asyncio.gather(*(client.post("/api/auth/token", data=wrong) for _ in range(8)))
        right = {"username": account.username, "password": account.password}
        return [*guesses, await client.post("/api/auth/token", data=right)]

    _, responses = run_against(tight(settings, pool_timeout_s=60.0), burst)  # a busy machine: no 503s here
    *guesses, last = responses
    assert Counter(r.status_code for r in guesses) == {401: 2, 423: 6}
    assert last.status_code == 423
    with psycopg.connect(settings.owner_dsn) as conn:
        actions = Counter(
            row[0]
            for row in conn.execute(
                "SELECT action FROM audit.event WHERE object_type = 'user' AND object_id = %s::text"
                " AND action LIKE 'auth.%%'",
                (account.id,),
            )
        )
        failed = conn.execute("SELECT failed_attempts FROM auth.user WHERE id = %s", (account.id,)).fetchone()
    assert actions == {"auth.login_failed": 3, "auth.locked": 1, "auth.login_refused": 6}
    assert failed == (3,)


def test_password_change_checks_argon2_with_no_connection_held(
    settings: Settings, make_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The current password is verified and the new one hashed while no place of the gate is taken and
    the account's row is free; two changes racing from the same current password: exactly one wins."""
    account = make_account(Role.VIEWER)
    seen: list[int] = []
    real_hash = users.new_password_hash
    app_box: list[Any] = []

    def observed_hash(state: users.PasswordState, current: str, new: str) -> str:
        seen.append(app_box[0].state.db_gate.in_use)
        return real_hash(state, current, new)

    monkeypatch.setattr(users, "new_password_hash", observed_hash)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        app_box.append(client._transport.app)  # type: ignore[attr-defined]
        first = {"current_password": account.password, "new_password": "Fresh-pass-0-2026x"}
        alone = await client.post("/api/auth/password", json=first, headers=account.headers)
        bodies = [
            {"current_password": "Fresh-pass-0-2026x", "new_password": f"Fresh-pass-{n}-2026x"}
            for n in (1, 2)
        ]
        race = await asyncio.gather(
            *(client.post("/api/auth/password", json=b, headers=account.headers) for b in bodies)
        )
        return [alone, *race]

    _, (alone, *race) = run_against(tight(settings, pool_timeout_s=60.0), burst)
    assert alone.status_code == 200, alone.text
    assert seen[0] == 0  # the lone change hashed with no place of the gate taken
    assert sorted(r.status_code for r in race) in ([200, 409], [200, 422]), [r.text for r in race]
    with psycopg.connect(settings.owner_dsn) as conn:
        changes = conn.execute(
            "SELECT count(*) FROM audit.event WHERE action = 'user.change_password' AND object_type = 'user'"
            " AND object_id = %s::text",
            (account.id,),
        ).fetchone()
    assert changes == (2,)


def test_sign_in_upgrades_a_hash_made_with_old_parameters(
    client: Any, make_account: Any, owner_conn: Any
) -> None:
    """The new hash is computed off the lock (in the password check) and stored while settling."""
    from argon2 import PasswordHasher

    account = make_account(Role.VIEWER, sign_in_now=False)
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(account.password)
    owner_conn.execute("UPDATE auth.user SET password_hash = %s WHERE id = %s", (old, account.id))
    r = client.post("/api/auth/token", data={"username": account.username, "password": account.password})
    assert r.status_code == 200, r.text
    (stored,) = owner_conn.execute(
        "SELECT password_hash FROM auth.user WHERE id = %s", (account.id,)
    ).fetchone()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    again = client.post("/api/auth/token", data={"username": account.username, "password": account.password})
    assert again.status_code == 200


def _basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_basic_password_is_checked_with_no_connection_held_and_once_for_a_burst(
    settings: Settings, make_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP Basic (QGIS) verifies a person's password as sign-in does: no place of the gate taken and the
    row free while Argon2 runs; twelve identical requests at once (a map's first tiles) share one check:
    one Argon2, one audit row, and later requests are answered from the remembered verification."""
    account = make_account(Role.VIEWER, sign_in_now=False)
    seen: list[tuple[int, bool]] = []
    real_check = sessions.check_password
    app_box: list[Any] = []

    def observed_check(stored: str | None, password: str) -> sessions.PasswordCheck:
        with psycopg.connect(settings.owner_dsn, autocommit=True) as other:
            try:
                other.execute(
                    "SELECT 1 FROM auth.user WHERE username = %s FOR UPDATE NOWAIT", (account.username,)
                )
                free = True
            except psycopg.errors.LockNotAvailable:
                free = False
        seen.append((app_box[0].state.db_gate.in_use, free))
        return real_check(stored, password)

    monkeypatch.setattr("app.auth.sessions.check_password", observed_check)
    headers = _basic(account.username, account.password)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        app_box.append(client._transport.app)  # type: ignore[attr-defined]
        first = await asyncio.gather(*(client.get("/ogc/collections", headers=headers) for _ in range(12)))
        return [*first, await client.get("/api/auth/me", headers=headers)]

    _, responses = run_against(tight(settings, pool_timeout_s=60.0), burst)
    assert [r.status_code for r in responses] == [200] * 13, responses[-1].text
    assert seen == [(0, True)]
    with psycopg.connect(settings.owner_dsn) as conn:
        logins = conn.execute(
            "SELECT after FROM audit.event WHERE action = 'auth.login' AND object_type = 'user'"
            " AND object_id = %s::text",
            (account.id,),
        ).fetchall()
    assert logins == [({"method": "basic"},)]


def test_a_calendar_file_is_checked_with_no_connection_held(
    settings: Settings, make_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and checking an uploaded year file needs no connection: none is held meanwhile (a refused
    file, so the shared calendar stays as it is)."""
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    seen: list[int] = []
    real_parse = calendar_routes.parse_year_file
    app_box: list[Any] = []

    def observed_parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(app_box[0].state.db_gate.in_use)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(calendar_routes, "parse_year_file", observed_parse)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        app_box.append(client._transport.app)  # type: ignore[attr-defined]
        files = {"file": ("2037.json", b'{"holidays": []}')}
        return [await client.post("/api/calendar/years/2037/file", files=files, headers=admin.headers)]

    _, (refused,) = run_against(settings, burst)
    assert refused.status_code == 422, refused.text
    assert seen == [0]
