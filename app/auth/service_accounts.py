"""Service accounts (机器客户端): creation, listing, revocation and usage; changes are audited.

A service account signs in with HTTP Basic: its name as the username, its API key as the password. The
key is 32 random bytes (256 bits) from :mod:`secrets`, shown once at creation and stored as its SHA-256.
A slow hash (Argon2) exists to make guessing a *low-entropy* password from a stolen hash costly; a
256-bit random key cannot be guessed however fast the hash, so SHA-256 loses nothing. Being unsalted and
deterministic, it also lets the key be found by an index on each request, with no CPU work to speak of
(the key is checked on every request, so a revoked or expired key fails at once).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.users import USERNAME_PATTERN
from app.errors import Conflict, NotFound, Unprocessable
from layers.audit import Actor, record
from layers.catalog.model import LAYER_CODE_PATTERN, Catalog

KEY_PREFIX = "dgk_"
MAX_LIFETIME_DAYS = 366
ServiceAction = Literal["layers:read"]  # what app.auth.policy.SERVICE_ACTIONS allows

_COLUMNS = """
    s.id, s.name, s.description, s.org_id, o.code AS org_code, s.layers, s.all_public, s.actions,
    s.key_hint, s.expires_at, s.created_at, s.revoked_at,
    s.revoked_at IS NULL AND s.expires_at > now() AS active
"""


class ServiceAccountCreate(BaseModel):
    """A new machine client: name, owning organisation, scope and expiry (required)."""

    name: str = Field(pattern=USERNAME_PATTERN, description="HTTP Basic 用户名：小写字母、数字、. _ -")
    description: str = Field(default="", max_length=200)
    org_code: str = Field(max_length=64, description="所属组织代码")
    layers: (
        Annotated[
            list[Annotated[str, Field(pattern=LAYER_CODE_PATTERN)]], Field(min_length=1, max_length=200)
        ]
        | None
    ) = Field(default=None, description="可读的图层代码；缺省为全部非受限图层")
    actions: Annotated[list[ServiceAction], Field(min_length=1)] = Field(
        default_factory=lambda: list[ServiceAction](["layers:read"]),
        description="允许的操作（目前仅 layers:read）",
    )
    expires_on: date = Field(description=f"到期日（必填，最长 {MAX_LIFETIME_DAYS} 天）")


class ServiceAccount(BaseModel):
    """A service account as the API shows it (never the key or its hash)."""

    id: int
    name: str
    description: str
    org_id: int
    org_code: str
    layers: list[str] | None
    all_public: bool
    actions: list[str]
    key_hint: str = Field(description="密钥开头几位，用于辨认")
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class ListedServiceAccount(ServiceAccount):
    """A service account in the list, with when it was last used and its recent requests."""

    valid_through: date = Field(description="有效期的最后一天（辖区时间；到期于次日零时）")
    last_used_on: date | None = Field(description="最近一次使用的日期（辖区时间）")
    requests_30d: int = Field(description="最近 30 天的请求数")


class UsageDay(BaseModel):
    """One day of a service account's usage."""

    day: date
    requests: int
    bytes: int
    layers: dict[str, int] = Field(description="读取各图层的请求数")


class Usage(BaseModel):
    """A service account's usage per day, newest first, with totals."""

    account_id: int
    name: str
    requests: int
    bytes: int
    days: list[UsageDay]


def new_key() -> tuple[str, bytes]:
    """A random API key and its stored SHA-256."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hashlib.sha256(key.encode("ascii")).digest()


def get_account(conn: Connection[Any], account_id: int) -> ServiceAccount:
    """One service account, or 404."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM auth.service_account s JOIN auth.organisation o ON o.id = s.org_id"
            " WHERE s.id = %s",
            (account_id,),
        ).fetchone()
    if row is None:
        raise NotFound("服务账户不存在。", "No such service account.")
    return ServiceAccount(**row)


def list_accounts(conn: Connection[Any]) -> list[ListedServiceAccount]:
    """Every service account, by name, with its last day of use and its requests in the last 30 days."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"""
            SELECT {_COLUMNS}, (s.expires_at - interval '1 day')::date AS valid_through,
                   u.last_used_on, coalesce(u.requests_30d, 0) AS requests_30d
            FROM auth.service_account s JOIN auth.organisation o ON o.id = s.org_id
            LEFT JOIN (
              SELECT service_account_id, max(day) AS last_used_on,
                     sum(requests) FILTER (WHERE day > current_date - 30) AS requests_30d
              FROM auth.service_account_usage WHERE layer_code = '' GROUP BY service_account_id
            ) u ON u.service_account_id = s.id
            ORDER BY s.name
            """
        ).fetchall()
    return [ListedServiceAccount(**r) for r in rows]


def _checked(data: ServiceAccountCreate, catalog: Catalog, today: date) -> list[str] | None:
    """The layers to store (None: every public layer) after checking them and the expiry; 422 if wrong."""
    if not today < data.expires_on <= today + timedelta(days=MAX_LIFETIME_DAYS):
        raise Unprocessable(
            f"到期日须在今天之后、{MAX_LIFETIME_DAYS} 天之内。",
            f"The expiry date must be after today and within {MAX_LIFETIME_DAYS} days.",
            code="bad_expiry",
        )
    if data.layers is None:
        return None
    unknown = sorted({code for code in data.layers if code not in catalog.layers})
    if unknown:
        raise Unprocessable(
            f"图层不存在：{', '.join(unknown)}",
            f"Unknown layers: {', '.join(unknown)}",
            code="unknown_layers",
        )
    return list(dict.fromkeys(data.layers))


def create_account(
    conn: Connection[Any], actor: Actor, data: ServiceAccountCreate, catalog: Catalog, today: date
) -> tuple[ServiceAccount, str]:
    """Create a service account; return it with its API key (shown only this once)."""
    layers = _checked(data, catalog, today)
    key, digest = new_key()
    with conn.transaction():
        org = conn.execute("SELECT id FROM auth.organisation WHERE code = %s", (data.org_code,)).fetchone()
        if org is None:
            raise Unprocessable(
                f"组织“{data.org_code}”不存在。", f"Organisation '{data.org_code}' does not exist."
            )
        if conn.execute("SELECT 1 FROM auth.user WHERE username = %s", (data.name,)).fetchone():
            raise _name_taken(data.name)
        try:
            row = conn.execute(
                """
                INSERT INTO auth.service_account
                  (name, description, org_id, layers, all_public, actions, key_hash, key_hint, expires_at,
                   created_by)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, (%s::date + 1)::timestamptz, %s)
                RETURNING id
                """,
                (
                    data.name,
                    data.description,
                    org[0],
                    layers,
                    layers is None,
                    list(dict.fromkeys(data.actions)),
                    digest,
                    key[: len(KEY_PREFIX) + 4],
                    data.expires_on,
                    actor.user_id,
                ),
            ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise _name_taken(data.name) from exc
        assert row is not None
        account = get_account(conn, row[0])
        record(
            conn, actor, "service_account.create", "service_account", account.id, after=_audit_view(account)
        )
    return account, key


def _name_taken(name: str) -> Conflict:
    return Conflict(f"名称“{name}”已被使用。", f"The name '{name}' is taken.", code="name_taken")


def _audit_view(account: ServiceAccount) -> dict[str, Any]:
    return account.model_dump(exclude={"active"})


def revoke_account(conn: Connection[Any], actor: Actor, account_id: int) -> ServiceAccount:
    """Revoke the account's key at once (its next request fails); revoking twice changes nothing."""
    with conn.transaction():
        before = get_account(conn, account_id)
        if before.revoked_at is not None:
            return before
        conn.execute(
            "UPDATE auth.service_account SET revoked_at = now(), revoked_by = %s WHERE id = %s",
            (actor.user_id, account_id),
        )
        after = get_account(conn, account_id)
        record(
            conn,
            actor,
            "service_account.revoke",
            "service_account",
            account_id,
            before={"revoked_at": None},
            after={"revoked_at": after.revoked_at},
        )
    return after


def usage(conn: Connection[Any], account: ServiceAccount, days: int) -> Usage:
    """The account's usage over the last ``days`` days (district time), newest first."""
    rows = conn.execute(
        """
        SELECT day, layer_code, requests, bytes FROM auth.service_account_usage
        WHERE service_account_id = %s AND day > current_date - %s
        ORDER BY day DESC, layer_code
        """,
        (account.id, days),
    ).fetchall()
    by_day: dict[date, UsageDay] = {}
    for day, layer_code, requests, nbytes in rows:
        entry = by_day.setdefault(day, UsageDay(day=day, requests=0, bytes=0, layers={}))
        if layer_code == "":
            entry.requests, entry.bytes = int(requests), int(nbytes)
        else:
            entry.layers[layer_code] = int(requests)
    listed = list(by_day.values())
    return Usage(
        account_id=account.id,
        name=account.name,
        requests=sum(d.requests for d in listed),
        bytes=sum(d.bytes for d in listed),
        days=listed,
    )
