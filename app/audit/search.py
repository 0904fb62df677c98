"""Searching the audit log: the filters every audit route shares (parsed once) and the query behind them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel

from app.db import contains_pattern
from app.edge.params import RowId
from app.errors import Unprocessable
from layers.district import DISTRICT


class AuditEvent(BaseModel):
    """One audit record, with its place in the hash chain once sealed."""

    id: int
    at: datetime
    actor_id: int | None
    actor_username: str | None
    actor_org_id: int | None
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_ip: str | None
    chain_seq: int | None = None
    row_hash: str | None = None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Every given filter must hold; None leaves a field unfiltered."""

    object_type: str | None = None
    object_id: str | None = None
    actor_id: int | None = None
    actor: str | None = None
    action: str | None = None
    action_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def described(self) -> dict[str, Any]:
        """The filters given, for the audit record of an export."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items() if v}


def audit_filter(
    object_type: Annotated[str | None, Query(max_length=64, description="对象类型，如 user")] = None,
    object_id: Annotated[str | None, Query(max_length=128, description="对象标识")] = None,
    actor_id: Annotated[RowId | None, Query(description="操作人 ID")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="操作人用户名（包含此文字）")] = None,
    action: Annotated[str | None, Query(max_length=64, description="操作，如 user.update")] = None,
    action_prefix: Annotated[
        str | None, Query(max_length=64, description="操作前缀，如 user. 查找全部用户操作")
    ] = None,
    since: Annotated[datetime | None, Query(description="起始时间（含）")] = None,
    until: Annotated[datetime | None, Query(description="截止时间（不含）")] = None,
) -> AuditFilter:
    """The search filters of a request; a window that ends before it starts is refused."""
    if since is not None and until is not None and _comparable(since) >= _comparable(until):
        raise Unprocessable(
            "起始时间（since）须早于截止时间（until）。",
            "The start time (since) must be before the end time (until).",
        )
    return AuditFilter(object_type, object_id, actor_id, actor, action, action_prefix, since, until)


def _comparable(moment: datetime) -> datetime:
    """A time with its offset: one without is a district time, as the pooled connections read it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=DISTRICT.tz)


_SEARCH = """
    SELECT id, at, actor_id, actor_username, actor_org_id, action, object_type, object_id,
           before, after, request_id, host(client_ip) AS client_ip,
           chain_seq, encode(row_hash, 'hex') AS row_hash
    FROM audit.event
    WHERE (%(ot)s::text IS NULL OR object_type = %(ot)s)
      AND (%(oid)s::text IS NULL OR object_id = %(oid)s)
      AND (%(actor_id)s::bigint IS NULL OR actor_id = %(actor_id)s)
      AND (%(actor)s::text IS NULL OR actor_username ILIKE %(actor)s)
      AND (%(action)s::text IS NULL OR action = %(action)s)
      AND (%(prefix)s::text IS NULL OR starts_with(action, %(prefix)s))
      AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
      AND (%(before)s::bigint IS NULL OR id < %(before)s)
    ORDER BY id DESC LIMIT %(limit)s
"""


def search(conn: Connection[Any], where: AuditFilter, before_id: int | None, limit: int) -> list[AuditEvent]:
    """Events matching the filter, newest first, at most ``limit``, below ``before_id`` when given."""
    params = {
        "ot": where.object_type,
        "oid": where.object_id,
        "actor_id": where.actor_id,
        "actor": None if where.actor is None else contains_pattern(where.actor),
        "action": where.action,
        "prefix": where.action_prefix,
        "since": where.since,
        "until": where.until,
        "before": before_id,
        "limit": limit,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        return [AuditEvent(**r) for r in cur.execute(_SEARCH, params).fetchall()]
