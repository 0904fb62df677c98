"""Request-time authentication and the :class:`Allow` dependency that every route declares."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from psycopg import Connection
from starlette.concurrency import run_in_threadpool

from app.auth.policy import (
    ALLOWED_BEFORE_PASSWORD_CHANGE,
    PUBLIC,
    ROLE_LABELS,
    Action,
    Role,
    Scope,
    scope_for,
)
from app.db import Conn, leased_connection
from app.errors import Forbidden, Locked, NotFound, Unauthenticated
from layers.audit import Actor, record
from layers.catalog.model import LayerEntry

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


@dataclass(frozen=True, slots=True)
class ServiceScope:
    """What a service account (a machine client) may reach: named layers or every public one, and actions."""

    account_id: int
    name: str
    layers: frozenset[str] | None  # None: every layer that is not restricted
    actions: frozenset[str]

    def may_see(self, entry: LayerEntry) -> bool:
        """Whether the account's scope holds the layer."""
        return not entry.restricted if self.layers is None else entry.code in self.layers


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user (or service account) behind a request."""

    user_id: int  # 0 for a service account: it has no user account (it only reads layers)
    username: str
    role: Role
    org_id: int
    must_change_password: bool
    session_id: int | None  # None: HTTP Basic (no session)
    expires_at: datetime
    password_expired: bool = False  # older than the policy allows: only self actions until it is changed
    service: ServiceScope | None = None


@dataclass(frozen=True, slots=True)
class VerifiedPassword:
    """A person's HTTP Basic password, verified (now or within the cache's lifetime) by the edge.

    ``password_hash`` is the hash it was verified against: a request is accepted only while the account
    still has that hash, so a password change or reset refuses it at once, in every worker process.
    """

    user_id: int
    password_hash: str
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """A service account's name and the SHA-256 of the API key given as its HTTP Basic password."""

    name: str
    digest: bytes


# Key in the request state where the edge leaves the HTTP Basic credentials it found.
BASIC_CREDENTIALS = "basic_credentials"
# Keys in the request state a service account's request leaves for its usage count.
SERVICE_ACCOUNT_ID = "service_account_id"
LAYERS_READ_BY_SERVICE = "layers_read_by_service"
# Key in the request state set when a response carries data of a restricted layer (sent no-store).
RESTRICTED_LAYERS = "restricted_layers"


@dataclass(frozen=True, slots=True)
class Grant:
    """A permission granted for one request: who, what, and how far it reaches."""

    principal: Principal
    action: Action
    scope: Scope
    actor: Actor

    def org_filter(self) -> int | None:
        """The organisation id to restrict queries to, or None for every organisation."""
        return None if self.scope is Scope.ANY else self.principal.org_id

    def may_see(self, entry: LayerEntry) -> bool:
        """Whether the caller may see a catalog layer (restricted layers name their roles)."""
        service = self.principal.service
        return entry.visible_to(self.principal.role.value) if service is None else service.may_see(entry)

    def check_org(self, org_id: int | None) -> None:
        """Refuse an object of another organisation as if it did not exist (no id probing)."""
        if self.scope is Scope.ANY:
            return
        if self.scope is Scope.ORG and org_id == self.principal.org_id:
            return
        raise NotFound()


def token_digest(token: str) -> bytes:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def client_ip(request: Request) -> str | None:
    """The peer's IP address, when it is one (no proxy headers are trusted)."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


# One round trip resolves the token, reads the policy's idle timeout and password age, and marks the session
# seen — at most once a minute, and never waiting for another request of the same session that holds the row
# (SKIP LOCKED): a burst of tile requests does not queue on one session row.
_AUTHENTICATE = """
WITH found AS (
  SELECT s.id AS session_id, s.expires_at, s.expires_at <= now() AS expired,
         s.revoked_at IS NOT NULL AS revoked,
         s.last_seen_at < now() - make_interval(mins => p.idle_timeout_minutes) AS idle,
         s.last_seen_at < now() - interval '1 minute' AS stale_mark,
         u.id AS user_id, u.username, u.role, u.org_id, u.must_change_password, u.disabled,
         u.password_changed_at < now() - make_interval(days => p.password_max_age_days) AS password_expired
  FROM auth.session s
  JOIN auth.user u ON u.id = s.user_id
  CROSS JOIN auth.security_policy p
  WHERE s.token_hash = %s
), seen AS (
  UPDATE auth.session t SET last_seen_at = now()
  WHERE t.id = (
    SELECT s.id FROM auth.session s JOIN found f ON f.session_id = s.id
    WHERE f.stale_mark AND NOT (f.idle OR f.expired OR f.revoked)
    FOR UPDATE OF s SKIP LOCKED
  )
)
SELECT session_id, expires_at, expired, revoked, idle, user_id, username, role, org_id,
       must_change_password, disabled, password_expired
FROM found
"""


def authenticate(
    conn: Connection[Any], token: str | None, client: str | None = None, request_id: str | None = None
) -> Principal:
    """Resolve a bearer token to its principal, or raise 401 with the reason.

    Must be the first statement of the request's transaction: an idle session is ended and recorded in a
    transaction of its own (committed, although the request fails).
    """
    if not token:
        raise Unauthenticated()
    row = conn.execute(_AUTHENTICATE, (token_digest(token),)).fetchone()
    if row is None:
        raise Unauthenticated(
            "登录凭据无效，请重新登录。", "Invalid token; sign in again.", code="invalid_token"
        )
    session_id, expires_at, expired, revoked, idle, user_id, username, role, org_id = row[:9]
    must_change, disabled, password_expired = row[9:]
    if revoked:
        raise Unauthenticated(
            "已退出登录，请重新登录。", "The token was revoked; sign in again.", code="token_revoked"
        )
    if expired:
        raise Unauthenticated(
            "登录已过期，请重新登录。", "The token has expired; sign in again.", code="token_expired"
        )
    if idle:
        end_idle_session(conn, Actor(user_id, username, org_id, request_id, client), session_id)
        raise Unauthenticated(
            "长时间未操作，会话已结束，请重新登录。",
            "The session was idle too long and has ended; sign in again.",
            code="session_idle",
        )
    if disabled:
        raise _disabled()
    return Principal(
        user_id, username, Role(role), org_id, must_change, session_id, expires_at, bool(password_expired)
    )


def end_idle_session(conn: Connection[Any], actor: Actor, session_id: int) -> None:
    """Revoke a session that was idle too long and record it, committed before the 401 is answered."""
    conn.rollback()  # nothing but the token lookup ran in this transaction
    with conn.transaction():
        ended = conn.execute(
            "UPDATE auth.session SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL RETURNING id",
            (session_id,),
        ).fetchone()
        if ended is not None:
            record(conn, actor, "auth.session_idle", "session", session_id)


def _disabled() -> Unauthenticated:
    return Unauthenticated("账户已停用。", "The account is disabled.", code="account_disabled")


def locked_account(seconds: int | None) -> Locked:
    """The answer to a sign-in (or Basic request) of a locked account."""
    minutes = max(1, ((seconds or 60) + 59) // 60)
    return Locked(
        f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试或联系管理员解锁。",
        f"Too many failed sign-ins; the account is locked for {minutes} more minute(s) or until an "
        "administrator unlocks it.",
        headers={"Retry-After": str(seconds or 60)},
    )


def authenticate_password(conn: Connection[Any], verified: VerifiedPassword) -> Principal:
    """The person behind a verified HTTP Basic password, as the account stands now (one indexed read)."""
    row = conn.execute(
        """
        SELECT u.username, u.role, u.org_id, u.must_change_password, u.disabled, u.password_hash,
               coalesce(u.locked_until > now(), false), ceil(extract(epoch FROM u.locked_until - now()))::int,
               u.password_changed_at < now() - make_interval(days => p.password_max_age_days)
        FROM auth.user u CROSS JOIN auth.security_policy p WHERE u.id = %s
        """,
        (verified.user_id,),
    ).fetchone()
    if row is None or row[5] != verified.password_hash:
        raise Unauthenticated(
            "密码已更改，请使用新密码。",
            "The password has changed; use the new one.",
            code="credentials_changed",
        )
    username, role, org_id, must_change, disabled, _, locked, locked_seconds, expired = row
    if disabled:
        raise _disabled()
    if locked:
        raise locked_account(locked_seconds)
    return Principal(
        verified.user_id, username, Role(role), org_id, must_change, None, verified.valid_until, bool(expired)
    )


def authenticate_key(conn: Connection[Any], key: PresentedKey) -> Principal:
    """The service account behind an API key (SHA-256 lookup), refused at once when expired or revoked."""
    row = conn.execute(
        """
        SELECT id, name, org_id, layers, actions, expires_at, expires_at <= now(), revoked_at IS NOT NULL
        FROM auth.service_account WHERE key_hash = %s
        """,
        (key.digest,),
    ).fetchone()
    if row is None or row[1] != key.name:
        raise Unauthenticated("服务账户或密钥错误。", "Wrong service account or key.", code="invalid_key")
    account_id, name, org_id, layers, actions, expires_at, expired, revoked = row
    if revoked:
        raise Unauthenticated("密钥已被吊销。", "The key was revoked.", code="key_revoked")
    if expired:
        raise Unauthenticated("密钥已过期。", "The key has expired.", code="key_expired")
    scope = ServiceScope(account_id, name, None if layers is None else frozenset(layers), frozenset(actions))
    return Principal(0, name, Role.VIEWER, org_id, False, None, expires_at, service=scope)


def _principal(request: Request, conn: Connection[Any], token: str | None) -> Principal:
    """The caller: a bearer token, else the HTTP Basic credentials the edge found, else 401."""
    if token:
        return authenticate(conn, token, client_ip(request), getattr(request.state, "request_id", None))
    presented = getattr(request.state, BASIC_CREDENTIALS, None)
    if isinstance(presented, PresentedKey):
        principal = authenticate_key(conn, presented)
        assert principal.service is not None
        setattr(request.state, SERVICE_ACCOUNT_ID, principal.service.account_id)
        return principal
    if isinstance(presented, VerifiedPassword):
        return authenticate_password(conn, presented)
    return authenticate(conn, None)


class Allow:
    """Dependency declaring the action a route performs; yields the caller's :class:`Grant`."""

    def __init__(self, action: Action) -> None:
        self.action = action

    def __call__(self, request: Request, conn: Conn, token: BearerToken) -> Grant:
        """Authenticate, then authorise against the policy."""
        return self.check(request, conn, token)

    def check(self, request: Request, conn: Connection[Any], token: str | None) -> Grant:
        """The check itself, for callers that hold their own connection."""
        principal = _principal(request, conn, token)
        if principal.service is not None:
            return self._service_grant(request, principal, principal.service)
        if self.action not in ALLOWED_BEFORE_PASSWORD_CHANGE:
            if principal.must_change_password:
                raise Forbidden(
                    "请先修改初始密码。",
                    "Change your one-time password first.",
                    code="password_change_required",
                )
            if principal.password_expired:
                raise Forbidden(
                    "密码已过期，请先修改密码。",
                    "Your password has expired; change it first.",
                    code="password_expired",
                )
        scope = scope_for(principal.role, self.action)
        if scope is None:
            name_zh, name_en = ROLE_LABELS[principal.role]
            raise Forbidden(
                f"{name_zh}无权执行此操作（{self.action.value}）。",
                f"A {name_en.lower()} may not do this ({self.action.value}).",
            )
        actor = Actor(
            user_id=principal.user_id,
            username=principal.username,
            org_id=principal.org_id,
            request_id=getattr(request.state, "request_id", None),
            client_ip=client_ip(request),
        )
        return Grant(principal, self.action, scope, actor)

    def _service_grant(self, request: Request, principal: Principal, service: ServiceScope) -> Grant:
        """A service account may do only the actions it was given, on every organisation's shared data."""
        if self.action.value not in service.actions:
            raise Forbidden(
                f"服务账户“{service.name}”无权执行“{self.action.value}”。",
                f"Service account '{service.name}' may not perform '{self.action.value}'.",
            )
        actor = Actor(
            user_id=None,
            username=f"service:{service.name}",
            org_id=principal.org_id,
            request_id=getattr(request.state, "request_id", None),
            client_ip=client_ip(request),
        )
        return Grant(principal, self.action, Scope.ANY, actor)


class AllowInEndpoint(Allow):
    """Declares the action like :class:`Allow`, but the endpoint runs the check with its own connection.

    For hot routes (map tiles): authentication, the connection and the work then share one worker-thread
    hop instead of one per dependency. The route must call :meth:`Deferred.grant` before anything else.
    """

    async def __call__(self, token: BearerToken) -> Deferred:  # type: ignore[override]
        """Only take the token here (no thread hop, no connection)."""
        return Deferred(self, token)


class AllowBriefly(Allow):
    """Declares and checks the action like :class:`Allow`, on a connection given back right after.

    For routes that need a connection only for parts of their work and must not hold one in between
    (a password change: not while Argon2 runs); the route leases its own for each part.
    """

    async def __call__(self, request: Request, token: BearerToken) -> Grant:  # type: ignore[override]
        """Authenticate and authorise; the connection goes back to the pool before the route runs."""
        async with leased_connection(request) as conn:
            return await run_in_threadpool(self.check, request, conn, token)


class Deferred:
    """An authorisation to be checked inside the endpoint (see :class:`AllowInEndpoint`)."""

    def __init__(self, allow: Allow, token: str | None) -> None:
        self.allow, self.token = allow, token

    def grant(self, request: Request, conn: Connection[Any]) -> Grant:
        """Authenticate and authorise, exactly as :class:`Allow` does."""
        return self.allow.check(request, conn, self.token)


class Public:
    """Dependency declaring a route open to anonymous callers."""

    action = PUBLIC

    def __call__(self) -> None:
        """Nothing to check."""
        return None


def public() -> Public:
    """Marker instance for public routes."""
    return Public()
