"""A write is committed before its answer leaves the server.

The request's connection commits when its dependency exits. If that ran after the response was sent
(FastAPI's default for dependencies with yield), a client told 201 could read the old state from another
connection, and a commit that failed would already have been reported as a success. Here the application is
wrapped so that, at the moment the response starts, another connection looks at the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.settings import Settings
from tests.helpers import unique

Seen = list[Any]


def _watching(app: Any, look: Callable[[], Any], seen: Seen) -> Any:
    """An ASGI app that runs `look` (on its own connection) when a response starts, noting the result."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen.append((message["status"], look()))
            await send(message)

        await app(scope, receive, watch)

    return wrapped


def test_a_new_project_is_visible_to_others_when_its_201_starts(
    app: Any, client: TestClient, settings: Settings, make_account: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    name = unique("提交即可见的学校")

    def count() -> int:
        with psycopg.connect(settings.owner_dsn) as conn:
            row = conn.execute("SELECT count(*) FROM project.project WHERE name = %s", (name,)).fetchone()
            return int(row[0]) if row else -1

    seen: Seen = []
    watched = TestClient(_watching(app, count, seen))
    body = {
        "name": name,
        "project_type": "house_building",
        "investment_wan": "8000",
        "funding_source": "区财政",
        "owner_dept_code": "education",
    }
    r = watched.post("/api/projects", json=body, headers=unit.headers)
    assert r.status_code == 201, r.text
    assert seen == [(201, 1)]
