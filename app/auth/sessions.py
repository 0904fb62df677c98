"""Signing in and out: credential checks, lock-out, opaque bearer tokens."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from psycopg import Connection
from starlette.concurrency import run_in_threadpool

from app.auth.deps import Principal, locked_account, token_digest
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.db import leased_connection
from app.errors import Conflict, DuoguiError, Unauthenticated
from app.settings import Settings
from layers.audit import Actor, record

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued bearer token (shown to the client once)."""

    token: str
    expires_at: datetime
    must_change_password: bool
    password_expired: bool = False


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """What the password check found, made without a connection or a lock (Argon2 is CPU work)."""

    checked_hash: str | None  # the stored hash the password was checked against (None: no such user)
    matches: bool
    new_hash: str | None  # a rehash with current parameters, when the stored one is outdated


def stored_password_hash(conn: Connection[Any], username: str) -> str | None:
    """The account's password hash as it stands now, read without locking (None: unknown user)."""
    row = conn.execute("SELECT password_hash FROM auth.user WHERE username = %s", (username,)).fetchone()
    return None if row is None else str(row[0])


def check_password(stored_hash: str | None, password: str) -> PasswordCheck:
    """Verify ``password`` (the same work for unknown users) and prepare a rehash if one is due."""
    matches = verify_password(stored_hash, password)
    new_hash = hash_password(password) if matches and stored_hash and needs_rehash(stored_hash) else None
    return PasswordCheck(stored_hash, matches, new_hash)


class StaleCheck(Exception):
    """The password changed between the check and the settlement: check again against the new hash."""


def settle_sign_in(
    conn: Connection[Any],
    settings: Settings,
    username: str,
    check: PasswordCheck,
    *,
    client_ip: str | None,
    user_agent: str | None,
    request_id: str | None,
) -> IssuedToken:
    """Apply a finished password check of a sign-in: lock-out and audit (see :func:`_settle`), a token."""

    def issue(actor: Actor, must_change: bool, password_expired: bool) -> IssuedToken:
        return _issue(conn, settings, actor, must_change, user_agent, password_expired)

    return _settle(conn, settings, username, check, Actor(None, "", None, request_id, client_ip), None, issue)


def settle_basic(
    conn: Connection[Any],
    settings: Settings,
    username: str,
    check: PasswordCheck,
    *,
    client_ip: str | None,
    request_id: str | None,
) -> tuple[int, str]:
    """Apply a finished check of an HTTP Basic password exactly as a sign-in's, without a session.

    Returns the account id and the hash the password now matches (a rehash replaces the checked one).
    """

    def accept(actor: Actor, must_change: bool, password_expired: bool) -> tuple[int, str]:
        assert actor.user_id is not None
        _reset_failures(conn, actor.user_id)
        record(conn, actor, "auth.login", "user", actor.user_id, after={"method": "basic"})
        return actor.user_id, check.new_hash or str(check.checked_hash)

    caller = Actor(None, "", None, request_id, client_ip)
    return _settle(conn, settings, username, check, caller, "basic", accept)


def _settle(
    conn: Connection[Any],
    settings: Settings,
    username: str,
    check: PasswordCheck,
    request: Actor,
    method: str | None,
    success: Callable[[Actor, bool, bool], T],
) -> T:
    """Apply a finished password check under the account's row lock: lock-out, audit, then ``success``.

    The lock is held for a few short statements only. Lock-out stays exact under concurrent attempts:
    the lock state and the failure count are read and written under the lock, so an attempt that finds
    the account locked is refused whatever its password was. Failures are committed, then raised.
    ``method`` is noted in the audit rows of refusals when it is not the sign-in form (``basic``).
    """
    username = username.strip().lower()
    noted = {} if method is None else {"method": method}
    failure: DuoguiError | None = None
    with conn.transaction():
        row = conn.execute(
            """
            SELECT u.id, u.password_hash, u.org_id, u.disabled, u.must_change_password,
                   coalesce(u.locked_until > now(), false),
                   ceil(extract(epoch FROM u.locked_until - now()))::int,
                   u.password_changed_at < now() - make_interval(days => p.password_max_age_days),
                   p.lockout_threshold, p.lockout_minutes
            FROM auth.user u CROSS JOIN auth.security_policy p WHERE u.username = %s FOR UPDATE OF u
            """,
            (username,),
        ).fetchone()
        if row is None:
            actor = Actor(None, username, None, request.request_id, request.client_ip)
            record(conn, actor, "auth.login_failed", "user", None, after={"reason": "unknown_user", **noted})
            failure = _bad_credentials()
        else:
            user_id, password_hash, org_id, disabled, must_change, locked, locked_seconds = row[:7]
            password_expired, lockout = bool(row[7]), Lockout(row[8], row[9])
            if password_hash != check.checked_hash:
                raise StaleCheck()
            actor = Actor(user_id, username, org_id, request.request_id, request.client_ip)
            if locked:
                _refused(conn, actor, "locked", noted)
                failure = locked_account(locked_seconds)
            elif not check.matches:
                failure = _count_failure(conn, lockout, actor, user_id, noted)
            elif disabled:
                _refused(conn, actor, "disabled", noted)
                failure = Unauthenticated("账户已停用。", "The account is disabled.", code="account_disabled")
            else:
                if check.new_hash is not None:
                    conn.execute(
                        "UPDATE auth.user SET password_hash = %s WHERE id = %s", (check.new_hash, user_id)
                    )
                return success(actor, must_change, password_expired)
    assert failure is not None
    raise failure


async def checked_and_settled(
    request: Request, username: str, password: str, settle: Callable[[Connection[Any], PasswordCheck], T]
) -> T:
    """Check a password and ``settle`` it, never holding a pooled connection while Argon2 runs.

    Argon2 takes about 27 ms of CPU, so it runs with no connection and no lock held: read the stored
    hash, check the password (at most a few at once), then settle under the row lock in a few short
    statements. A password changed in between is checked again against the new hash.
    """
    name = username.strip().lower()
    for _ in range(3):
        async with leased_connection(request) as conn:
            stored = await run_in_threadpool(stored_password_hash, conn, name)
        async with request.app.state.password_gate.admitted():
            check = await run_in_threadpool(check_password, stored, password)
        try:
            async with leased_connection(request) as conn:
                return await run_in_threadpool(settle, conn, check)
        except StaleCheck:
            continue
    raise Conflict(
        "密码正在被修改，请稍后重试。", "The password is being changed; try again.", code="password_changing"
    )


@dataclass(frozen=True, slots=True)
class Lockout:
    """The lock-out part of the identification policy."""

    threshold: int
    minutes: int


def _count_failure(
    conn: Connection[Any], lockout: Lockout, actor: Actor, user_id: int, noted: dict[str, str]
) -> DuoguiError:
    """Count a wrong password; lock the account once the threshold is reached."""
    attempts, locked_now = conn.execute(
        """
        WITH next AS (
          SELECT CASE WHEN locked_until IS NOT NULL AND locked_until <= now() THEN 1
                      ELSE failed_attempts + 1 END AS attempts
          FROM auth.user WHERE id = %(id)s
        )
        UPDATE auth.user u SET
          failed_attempts = next.attempts,
          locked_until = CASE WHEN next.attempts >= %(threshold)s
                              THEN now() + make_interval(mins => %(minutes)s) END
        FROM next WHERE u.id = %(id)s
        RETURNING u.failed_attempts, u.locked_until IS NOT NULL
        """,
        {"id": user_id, "threshold": lockout.threshold, "minutes": lockout.minutes},
    ).fetchone() or (0, False)
    record(
        conn,
        actor,
        "auth.login_failed",
        "user",
        user_id,
        after={"reason": "bad_password", "failed_attempts": attempts, **noted},
    )
    if locked_now:
        record(conn, actor, "auth.locked", "user", user_id, after={"minutes": lockout.minutes})
        return locked_account(lockout.minutes * 60)
    return _bad_credentials()


def _issue(
    conn: Connection[Any],
    settings: Settings,
    actor: Actor,
    must_change: bool,
    user_agent: str | None,
    password_expired: bool,
) -> IssuedToken:
    """Reset the failure count and store a new session (an expired password is said, and must change)."""
    token, digest = new_token()
    assert actor.user_id is not None
    _reset_failures(conn, actor.user_id)
    row = conn.execute(
        """
        INSERT INTO auth.session (token_hash, user_id, expires_at, client_ip, user_agent)
        VALUES (%s, %s, now() + make_interval(mins => %s), %s::inet, %s)
        RETURNING id, expires_at
        """,
        (digest, actor.user_id, settings.token_ttl_minutes, actor.client_ip, (user_agent or "")[:300]),
    ).fetchone()
    assert row is not None
    after = {"expires_at": row[1]} | ({"password_expired": True} if password_expired else {})
    record(conn, actor, "auth.login", "session", row[0], after=after)
    return IssuedToken(token, row[1], must_change, password_expired)


def _bad_credentials() -> Unauthenticated:
    return Unauthenticated("用户名或密码错误。", "Wrong username or password.", code="invalid_credentials")


def _refused(conn: Connection[Any], actor: Actor, reason: str, noted: dict[str, str]) -> None:
    record(conn, actor, "auth.login_refused", "user", actor.user_id, after={"reason": reason, **noted})


def _reset_failures(conn: Connection[Any], user_id: int) -> None:
    conn.execute(
        "UPDATE auth.user SET failed_attempts = 0, locked_until = NULL, last_login_at = now() WHERE id = %s",
        (user_id,),
    )


def sign_out(conn: Connection[Any], principal: Principal, actor: Actor) -> None:
    """Revoke the caller's current token."""
    with conn.transaction():
        conn.execute(
            "UPDATE auth.session SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
            (principal.session_id,),
        )
        record(conn, actor, "auth.logout", "session", principal.session_id)


def new_token() -> tuple[str, bytes]:
    """A random bearer token and its stored digest."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)
