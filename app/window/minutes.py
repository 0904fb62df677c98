"""The minutes (会议纪要) of a joint review: generated from the participants' opinions by the lead, rendered
without a connection, and stored in the materials store (purpose ``minutes``, owned by the lead department)
with the application.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import Connection
from pydantic import BaseModel

from app.auth.deps import Grant
from app.errors import Conflict, NotFound
from app.window.documents import DECISIONS, local_minute, pick, static_page
from app.window.joint import (
    JointReview,
    Participant,
    display_name,
    event,
    fetch_review,
    require_lead,
    require_scheduled,
)
from layers.audit import record
from layers.district import DISTRICT


def missing_opinions(review: JointReview) -> list[Participant]:
    """The participants that have not recorded an opinion yet."""
    return [p for p in review.participants if p.decision is None]


def conclusion(review: JointReview, english: bool) -> dict[str, Any]:
    """The minutes' conclusion: unanimous approval, the conditions collected, or the refusals listed."""
    refused = [p for p in review.participants if p.decision == "refuse"]
    conditional = [p for p in review.participants if p.decision == "approve_conditional"]
    kind = "refused" if refused else "conditional" if conditional else "unanimous"
    listed = refused or conditional
    return {
        "kind": kind,
        "entries": [[pick(english, p.department_name_zh, p.department_name_en), p.opinion] for p in listed],
    }


def minutes_context(review: JointReview, application: dict[str, Any], english: bool) -> dict[str, Any]:
    """Everything the minutes show, read from the review (its opinions are frozen once held)."""
    lead = next(p for p in review.participants if p.lead)
    return {
        "number": application["number"],
        "project_name": application["project_name"],
        "project_code": application["project_code"],
        "topic": review.topic,
        "when": local_minute(review.scheduled_at),
        "place": review.place or "—",
        "lead": pick(english, lead.department_name_zh, lead.department_name_en),
        "participants": [
            {
                "department": pick(english, p.department_name_zh, p.department_name_en),
                "item": pick(english, p.item_name_zh, p.item_name_en) if p.item_name_zh else "—",
                "decision": pick(english, *DECISIONS[p.decision]) if p.decision else "—",
                "kind": p.decision or "none",
                "opinion": p.opinion or "",
                "by": p.recorded_by_name or "",
                "at": local_minute(p.recorded_at) if p.recorded_at else "",
            }
            for p in review.participants
        ],
        "conclusion": conclusion(review, english),
        # Rendered for storage just before the review is marked held: that moment.
        "held": local_minute(review.held_at or datetime.now(DISTRICT.tz)),
        "m": MINUTES_WORDS["en" if english else "zh"],
    }


MINUTES_WORDS = {
    "zh": {
        "title": "联合审查会议纪要",
        "topic": "议题",
        "when": "时间",
        "place": "地点",
        "lead": "牵头部门",
        "participants": "参会部门",
        "opinions": "各部门意见",
        "recorded": "记录",
        "conclusion": "会商结论",
        "unanimous": "参会部门一致同意。",
        "conditional": "参会部门同意，附以下条件：",
        "refused": "以下部门不同意：",
        "held": "纪要生成时间",
    },
    "en": {
        "title": "Minutes of the joint review",
        "topic": "Topic",
        "when": "Time",
        "place": "Place",
        "lead": "Lead department",
        "participants": "Participating departments",
        "opinions": "Opinions of the departments",
        "recorded": "Recorded",
        "conclusion": "Conclusion",
        "unanimous": "The participating departments approve unanimously.",
        "conditional": "The participating departments approve, on these conditions:",
        "refused": "These departments refuse:",
        "held": "Minutes generated",
    },
}


def minutes_snapshot(
    conn: Connection[Any], grant: Grant, review_id: int
) -> tuple[JointReview, dict[str, Any]]:
    """What the lead's minutes are made of; 409 ``opinions_missing`` naming who has not recorded one."""
    review = fetch_review(conn, grant, review_id)
    require_lead(review, grant)
    require_scheduled(review)
    missing = missing_opinions(review)
    if missing:
        raise Conflict(
            f"以下部门尚未提出意见：{'、'.join(p.department_name_zh for p in missing)}。",
            f"No opinion yet from: {', '.join(p.department_name_en or p.department_code for p in missing)}.",
            code="opinions_missing",
            missing=[p.department_code for p in missing],
        )
    return review, _application_head(conn, review.application_id)


def render_and_write(
    review: JointReview, application: dict[str, Any], font_dir: Path, files_dir: Path
) -> StoredFile:
    """The minutes as a self-contained page (font and style inline, Chinese), written to the store.

    CPU and file work: run it in a worker thread, without a connection.
    """
    page = static_page("minutes.html", minutes_context(review, application, False), False, font_dir)
    return write_blob(files_dir, page.encode("utf-8"), "text/html")


def held_minutes(conn: Connection[Any], grant: Grant, review_id: int) -> tuple[JointReview, dict[str, Any]]:
    """A held review the caller may see, with its application's head (404 while it has no minutes)."""
    review = fetch_review(conn, grant, review_id)
    if review.status != "held":
        raise NotFound("该联合审查尚无会议纪要。", "This joint review has no minutes yet.", code="no_minutes")
    return review, _application_head(conn, review.application_id)


def _application_head(conn: Connection[Any], application_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT a.number, a.project_id, p.name, p.code FROM approval.application a"
        " JOIN project.project p ON p.id = a.project_id WHERE a.id = %s",
        (application_id,),
    ).fetchone()
    assert row is not None
    number, project_id, name, code = row
    return {"number": number, "project_id": project_id, "project_name": name, "project_code": code}


def minutes_code(review_id: int) -> str:
    """The library slot of a review's minutes: one per review (so reviews never supersede each other)."""
    return f"joint_review_{review_id}"


def hold(
    conn: Connection[Any], grant: Grant, snapshot: JointReview, project_id: int, stored: StoredFile
) -> JointReview:
    """Store the rendered minutes as the lead's material (purpose ``minutes``) and mark the review held.

    409 ``changed_meanwhile`` when an opinion changed (or the review ended) since the minutes were read.
    """
    with conn.transaction():
        review = fetch_review(conn, grant, snapshot.id, lock=True)
        if review.version != snapshot.version or review.status != "scheduled":
            raise Conflict(
                "生成纪要期间联合审查已变更，请重试。",
                "The joint review changed while its minutes were made; try again.",
                code="changed_meanwhile",
            )
        name = display_name(conn, grant)
        material_id = store_generated(
            conn,
            grant,
            review.lead_department_id,
            project_id,
            "minutes",
            minutes_code(review.id),
            f"会议纪要-{review.id}.html",
            stored,
            name,
        )
        conn.execute(
            "UPDATE approval.joint_review SET status = 'held', minutes_id = %s, held_at = now(),"
            " version = version + 1 WHERE id = %s",
            (material_id, review.id),
        )
        detail = {"joint_review_id": review.id, "minutes_id": material_id, "sha256": stored.sha256}
        event(conn, grant, review.application_id, "joint_review.minutes", detail)
        record(
            conn,
            grant.actor,
            "joint_review.minutes",
            "joint_review",
            review.id,
            before={"status": "scheduled"},
            after={"status": "held", **detail},
        )
        return fetch_review(conn, grant, review.id)


class StoredFile(BaseModel):
    """Bytes written to the content-addressed store: their SHA-256, size and media type."""

    sha256: str
    size: int
    media_type: str


def write_blob(files_dir: Path, data: bytes, media_type: str) -> StoredFile:
    """Write bytes under ``files_dir`` as ``sha256/ab/cd/<sha>`` (once: the same bytes are stored once).

    lead: swap for app.materials.storage (LocalBlobStore) at merge. Written before the rows (no connection
    is held for file work); a refused transaction leaves at most an unreferenced blob, never a row.
    """
    digest = hashlib.sha256(data).hexdigest()
    target = files_dir / "sha256" / digest[:2] / digest[2:4] / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)
    return StoredFile(sha256=digest, size=len(data), media_type=media_type)


def store_generated(
    conn: Connection[Any],
    grant: Grant,
    org_id: int,
    project_id: int | None,
    purpose: str,
    code: str,
    file_name: str,
    stored: StoredFile,
    uploaded_by_name: str,
) -> int:
    """A generated file as the next version of its library slot; returns the material id.

    lead: swap for app.materials.service.store_generated at merge.
    """
    conn.execute(
        "INSERT INTO material.blob (sha256, size, media_type) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (stored.sha256, stored.size, stored.media_type),
    )
    previous = conn.execute(
        "SELECT id, version FROM material.material WHERE owner_org_id = %s AND purpose = %s"
        " AND material_code = %s AND coalesce(project_id, 0) = coalesce(%s, 0) AND superseded_at IS NULL"
        " FOR UPDATE",
        (org_id, purpose, code, project_id),
    ).fetchone()
    if previous is not None:
        conn.execute("UPDATE material.material SET superseded_at = now() WHERE id = %s", (previous[0],))
    row = conn.execute(
        """
        INSERT INTO material.material (owner_org_id, project_id, purpose, material_code, file_name, sha256,
          media_type, size, version, supersedes_id, uploaded_by, uploaded_by_name)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (
            org_id,
            project_id,
            purpose,
            code,
            file_name,
            stored.sha256,
            stored.media_type,
            stored.size,
            1 if previous is None else previous[1] + 1,
            None if previous is None else previous[0],
            grant.principal.user_id,
            uploaded_by_name,
        ),
    ).fetchone()
    assert row is not None
    record(
        conn,
        grant.actor,
        "material.generated",
        "material",
        row[0],
        after={"purpose": purpose, "material_code": code, "sha256": stored.sha256, "file_name": file_name},
    )
    return int(row[0])
