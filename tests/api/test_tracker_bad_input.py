"""Bad input to every tracker route is a clear 4xx (problem+json), never a 500."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role

PREFIXES = (
    "/api/projects",
    "/api/items",
    "/api/demands",
    "/api/calendar",
    "/api/kpis",
    "/api/warnings",
    "/api/project-codes",
    "/api/approval-templates",
)
BAD_PARAMS = {"from": "2025-13-01", "to": "2025-01-01", "date": "x", "days": "y", "as_of": "z", "by": "w"}
BODIES: list[Any] = [{}, {"action": "submit"}, {"version": "x", "name": ""}, [1, 2], {"holidays": "x"}]


def test_no_tracker_route_answers_500(client: TestClient, make_account: Any) -> None:
    accounts = [
        make_account(Role.SYSTEM_ADMIN, "gov-data"),
        make_account(Role.PROJECT_UNIT, "works"),
        make_account(Role.REVIEWER, "pnr"),
        make_account(Role.PLANNER, "pnr"),
    ]
    doc = client.get("/api/openapi.json").json()
    checked = 0
    for path, ops in doc["paths"].items():
        if not path.startswith(PREFIXES):
            continue
        for method in ops:
            for value in ("1", "0", "99999999", "abc", "2025-440307-47-01-000010"):
                concrete = re.sub(r"\{[^}]+\}", value, path)
                for acct in accounts:
                    for body in BODIES if method in ("post", "put", "patch") else [None]:
                        r = client.request(
                            method,
                            concrete,
                            json=body,
                            headers=acct.headers,
                            params=BAD_PARAMS,
                        )
                        assert r.status_code < 500, (
                            f"{method.upper()} {concrete} {body}: {r.status_code} {r.text}"
                        )
                        if r.status_code >= 400:
                            assert r.headers["content-type"] == "application/problem+json"
                        checked += 1
    assert checked > 300
