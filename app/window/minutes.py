"""The minutes (会议纪要) of a joint review: generated from the participants' opinions by the lead, rendered
without a connection, and stored in the materials store (purpose ``minutes``, owned by the lead department)
with the application.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import Connection

from app.auth.deps import Grant
from app.errors import Conflict, NotFound
from app.materials.guards import Staged, stage_bytes
from app.materials.service import store_staged, upload_ahead
from app.materials.storage import BlobStore
from app.window.documents import DECISIONS, local_minute, pick, static_page
from app.window.joint import (
    JointReview,
    Participant,
    event,
    fetch_review,
    require_lead,
    require_scheduled,
    require_under_review,
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
    require_under_review(conn, review.application_id)
    missing = missing_opinions(review)
    if missing:
        raise Conflict(
            f"以下部门尚未提出意见：{'、'.join(p.department_name_zh for p in missing)}。",
            f"No opinion yet from: {', '.join(p.department_name_en or p.department_code for p in missing)}.",
            code="opinions_missing",
            missing=[p.department_code for p in missing],
        )
    return review, _application_head(conn, review.application_id)


def render_and_stage(
    review: JointReview, application: dict[str, Any], font_dir: Path, store: BlobStore
) -> Staged:
    """The minutes as a self-contained page (font and style inline, Chinese), staged in the materials store.

    CPU, file and (for an object store) upload work: run it in a worker thread, without a connection.
    """
    page = static_page("minutes.html", minutes_context(review, application, False), False, font_dir)
    staged = stage_bytes(store, page.encode("utf-8"), f"会议纪要-{review.id}.html", "text/html")
    try:
        upload_ahead(store, staged)  # an object store: sent now, before a connection is taken
    except BaseException:
        staged.discard()
        raise
    return staged


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
    conn: Connection[Any],
    grant: Grant,
    snapshot: JointReview,
    project_id: int,
    store: BlobStore,
    staged: Staged,
) -> JointReview:
    """Store the rendered minutes as the lead's material (purpose ``minutes``) and mark the review held.

    409 ``changed_meanwhile`` when an opinion changed (or the review ended) since the minutes were read.
    """
    try:
        return _hold(conn, grant, snapshot, project_id, store, staged)
    finally:
        staged.discard()


def _hold(
    conn: Connection[Any],
    grant: Grant,
    snapshot: JointReview,
    project_id: int,
    store: BlobStore,
    staged: Staged,
) -> JointReview:
    with conn.transaction():
        review = fetch_review(conn, grant, snapshot.id, lock=True)
        if review.version != snapshot.version or review.status != "scheduled":
            raise Conflict(
                "生成纪要期间联合审查已变更，请重试。",
                "The joint review changed while its minutes were made; try again.",
                code="changed_meanwhile",
            )
        require_under_review(conn, review.application_id)  # not issued while they were rendered
        material = store_staged(
            conn,
            store,
            grant.actor,
            review.lead_department_id,
            staged,
            purpose="minutes",
            code=minutes_code(review.id),
            project_id=project_id,
        )
        material_id = material.id
        conn.execute(
            "UPDATE approval.joint_review SET status = 'held', minutes_id = %s, held_at = now(),"
            " version = version + 1 WHERE id = %s",
            (material_id, review.id),
        )
        detail = {"joint_review_id": review.id, "minutes_id": material_id, "sha256": material.sha256}
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
