"""Routes: reading the audit log (administrators only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from psycopg.rows import dict_row
from pydantic import BaseModel

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.edge.params import RowId
from app.errors import Unprocessable
from layers.district import DISTRICT

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEvent(BaseModel):
    """One audit record."""

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


class AuditPage(BaseModel):
    """A page of events, newest first; pass ``next_before_id`` as ``before_id`` for the next page."""

    events: list[AuditEvent]
    next_before_id: int | None


@router.get("", response_model=AuditPage, summary="审计日志")
def list_events(
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.AUDIT_READ))],
    object_type: Annotated[str | None, Query(max_length=64, description="对象类型，如 user")] = None,
    object_id: Annotated[str | None, Query(max_length=128, description="对象标识")] = None,
    actor_id: Annotated[RowId | None, Query(description="操作人 ID")] = None,
    action: Annotated[str | None, Query(max_length=64, description="操作，如 user.update")] = None,
    since: Annotated[datetime | None, Query(description="起始时间（含）")] = None,
    until: Annotated[datetime | None, Query(description="截止时间（不含）")] = None,
    before_id: Annotated[RowId | None, Query(description="分页：返回 ID 小于此值的记录")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Events matching every given filter, newest first, keyset-paged."""
    if since is not None and until is not None and _comparable(since) >= _comparable(until):
        raise Unprocessable(
            "起始时间（since）须早于截止时间（until）。",
            "The start time (since) must be before the end time (until).",
        )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT id, at, actor_id, actor_username, actor_org_id, action, object_type, object_id,
                   before, after, request_id, host(client_ip) AS client_ip
            FROM audit.event
            WHERE (%(ot)s::text IS NULL OR object_type = %(ot)s)
              AND (%(oid)s::text IS NULL OR object_id = %(oid)s)
              AND (%(actor)s::bigint IS NULL OR actor_id = %(actor)s)
              AND (%(action)s::text IS NULL OR action = %(action)s)
              AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
              AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
              AND (%(before)s::bigint IS NULL OR id < %(before)s)
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {
                "ot": object_type,
                "oid": object_id,
                "actor": actor_id,
                "action": action,
                "since": since,
                "until": until,
                "before": before_id,
                "limit": limit + 1,
            },
        ).fetchall()
    more = len(rows) > limit
    events = [AuditEvent(**r) for r in rows[:limit]]
    return AuditPage(events=events, next_before_id=events[-1].id if more and events else None)


def _comparable(moment: datetime) -> datetime:
    """A time with its offset: one without is a district time, as the pooled connections read it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=DISTRICT.tz)
