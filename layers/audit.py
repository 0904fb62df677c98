"""Writing audit events in the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import Connection


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does a change, and from which request."""

    user_id: int | None
    username: str
    org_id: int | None = None
    request_id: str | None = None
    client_ip: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """An actor for set-up and command-line changes."""
        return cls(user_id=None, username=name)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, default=_default, ensure_ascii=False)


def record(
    conn: Connection[Any],
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one audit event; call it inside the transaction that makes the change."""
    conn.execute(
        """
        INSERT INTO audit.event
          (actor_id, actor_username, actor_org_id, action, object_type, object_id, before, after,
           request_id, client_ip)
        VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s::inet)
        """,
        (
            actor.user_id,
            actor.username,
            actor.org_id,
            action,
            object_type,
            None if object_id is None else str(object_id),
            _json(before),
            _json(after),
            actor.request_id,
            actor.client_ip,
        ),
    )
