"""An accepted application built the way the one window leaves it (per the 0015 schema), for the document and
joint-review tests: a project with its plan through the API, then the application row, its materials and
the items' submit/accept events written directly (the window's own flow is tested elsewhere).

lead: these inserts may be replaced by win's service calls (open → submit → accept) at merge.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from app.auth.policy import Role
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project
from tests.helpers import Account

ACCEPTED_AT = "2026-02-12 10:00:00+08"  # a Thursday, the day before the Spring Festival make-up Saturday
WINDOW_NAME = "王窗口"


@dataclass
class Accepted:
    """An application of stage project_land, accepted by the window on ``ACCEPTED_AT``."""

    id: int
    number: str
    project: dict[str, Any]
    items: dict[str, dict[str, Any]]  # the stage's open items by code
    unit: Account
    window: Account


def _blob(conn: psycopg.Connection[Any], data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    conn.execute(
        "INSERT INTO material.blob (sha256, size, media_type) VALUES (%s, %s, 'application/pdf')"
        " ON CONFLICT DO NOTHING",
        (digest, len(data)),
    )
    return digest


def attach_materials(conn: psycopg.Connection[Any], app: Accepted) -> None:
    """营业执照 (v1) and the feasibility report in its second version attached to the package."""
    unit_org, project_id = app.unit.org_id, app.project["id"]
    rows = []
    for code, name, versions in (
        ("business_licence", "营业执照.pdf", 1),
        ("feasibility_report", "可研报告.pdf", 2),
    ):
        previous = None
        for version in range(1, versions + 1):
            digest = _blob(conn, f"{app.number}-{code}-{version}".encode())
            if previous is not None:
                conn.execute("UPDATE material.material SET superseded_at = now() WHERE id = %s", (previous,))
            row = conn.execute(
                """
                INSERT INTO material.material (owner_org_id, project_id, material_code, file_name, sha256,
                  media_type, size, version, supersedes_id, superseded_at, uploaded_by_name)
                VALUES (%s, %s, %s, %s, %s, 'application/pdf', 10, %s, %s, NULL, 'unit') RETURNING id
                """,
                (unit_org, project_id, code, name, digest, version, previous),
            ).fetchone()
            assert row is not None
            previous = row[0]
        rows.append((app.id, code, previous))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO approval.application_material (application_id, material_code, material_id)"
            " VALUES (%s, %s, %s)",
            rows,
        )


def accepted_application(
    client: TestClient,
    conn: psycopg.Connection[Any],
    make_account: Any,
    *,
    name: str = "龙岗测试学校",
    status: str = "accepted",
) -> Accepted:
    """A house-building project (8 000 万元) whose project_land application the window accepted on
    2026-02-12; soil_conservation was accepted with a gap (容缺) due 2026-02-27."""
    unit = make_account(Role.PROJECT_UNIT, "works")
    window = make_account(Role.WINDOW, "service-center")
    conn.execute("UPDATE auth.user SET display_name = %s WHERE id = %s", (WINDOW_NAME, window.id))
    project = new_project(client, unit, owner_dept_code="education", investment_wan="8000", name=name)
    planned = plan_items(client, unit, project["id"])
    items = {
        code: i
        for code, i in planned.items()
        if i["stage"] == "project_land" and i["status"] not in ("merged", "cancelled")
    }
    number = f"SQ-{uuid.uuid4().hex[:10].upper()}"
    row = conn.execute(
        """
        INSERT INTO approval.application (number, project_id, stage, status, window_org_id, submitted_at,
          accepted_at, accepted_by, created_by)
        VALUES (%s, %s, 'project_land', %s, (SELECT id FROM auth.organisation WHERE code = 'service-center'),
          %s::timestamptz - interval '1 hour', %s, %s, %s) RETURNING id
        """,
        (number, project["id"], status, ACCEPTED_AT, ACCEPTED_AT, window.id, unit.id),
    ).fetchone()
    assert row is not None
    app_id = int(row[0])
    # The ``open`` event records the items the application holds, as the window's flow writes it.
    conn.execute(
        "INSERT INTO approval.application_event (application_id, action, from_status, to_status, actor_id,"
        " actor_name, actor_org_id, at, detail) VALUES (%s, 'open', 'draft', 'draft', %s, %s, %s, %s, %s)",
        (
            app_id,
            unit.id,
            unit.username,
            unit.org_id,
            ACCEPTED_AT,
            Jsonb({"item_ids": [i["id"] for i in items.values()]}),
        ),
    )
    conn.execute(
        "INSERT INTO approval.application_item (application_id, item_id) SELECT %s, unnest(%s::bigint[])",
        (app_id, [i["id"] for i in items.values()]),
    )
    for code, item in items.items():
        gap = code == "soil_conservation"
        to_status = "accepted_conditional" if gap else "accepted"
        conn.execute(
            "UPDATE approval.item SET status = %s, missing_documents = %s, supplement_due = %s WHERE id = %s",
            (
                to_status,
                Jsonb(["soil_plan_drawing"]) if gap else None,
                "2026-02-27" if gap else None,
                item["id"],
            ),
        )
        for action, before, after, actor in (
            ("submit", "not_started", "submitted", unit),
            ("accept", "submitted", to_status, window),
        ):
            conn.execute(
                "INSERT INTO approval.item_event (item_id, action, from_status, to_status, actor_id,"
                " actor_name, actor_org_id, at, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    item["id"],
                    action,
                    before,
                    after,
                    actor.id,
                    actor.username,
                    actor.org_id,
                    ACCEPTED_AT,
                    Jsonb({"application_id": app_id}),
                ),
            )
        item["status"] = to_status
    return Accepted(app_id, number, project, items, unit, window)
