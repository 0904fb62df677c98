"""Joint review (联合审查/会商): a lead department schedules it for an application under review, every
participating department records its opinion on its own row, and the lead has the minutes (会议纪要)
generated from those opinions and stored in the materials store with the application.

Every step is one application event (``joint_review.scheduled`` / ``.opinion`` / ``.minutes`` /
``.cancelled``) and one audit record, in the transaction of the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, StringConstraints, field_validator

from app.auth.deps import Grant
from app.edge.params import Number, RowId
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.versioning import check_version
from app.window.documents import application_items, visible_application
from layers.audit import record
from layers.district import DISTRICT

Decision = Literal["approve", "approve_conditional", "refuse"]
# An organisation's code (app/orgs/service.py): anything else is no department, and is not echoed back.
DepartmentCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
# How far ahead a joint review may be scheduled.
SCHEDULE_AHEAD = timedelta(days=5 * 366)  # (a typing error of the year, not a plan, beyond that)
# The application statuses in which its joint reviews take opinions and minutes.
UNDER_REVIEW = ("accepted", "correction")


class JointReviewCreate(BaseModel):
    """A joint review to schedule: the caller's department leads it."""

    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="议题"
    )
    scheduled_at: datetime = Field(description="会商时间（无时区时按本区时间）")
    place: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        Field(default=None, description="地点")
    )
    departments: list[DepartmentCode] = Field(default_factory=list, max_length=50, description="参会部门代码")
    item_ids: list[RowId] = Field(default_factory=list, max_length=200, description="会商的审批事项")

    @field_validator("scheduled_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        """A meeting in this century (an absurd year is a typing error, and would overflow time zones)."""
        if not 2000 <= value.year <= 2100:
            raise ValueError("会商时间应在 2000—2100 年之间 / the time must lie in 2000-2100")
        return value


class OpinionRecord(BaseModel):
    """A participating department's opinion."""

    decision: Decision = Field(description="approve 同意 / approve_conditional 有条件同意 / refuse 不同意")
    opinion: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)] = Field(
        description="意见（有条件同意时写明条件）"
    )
    version: Number | None = Field(default=None, description="读取时的会商版本（可选；亦可用 If-Match）")


class Change(BaseModel):
    """A change of a joint review's state (optionally guarded by the version read)."""

    version: Number | None = None


class Participant(BaseModel):
    """One participating department and its opinion (none yet: decision null)."""

    department_id: int
    department_code: str
    department_name_zh: str
    department_name_en: str | None
    lead: bool
    item_id: int | None
    item_name_zh: str | None
    item_name_en: str | None
    decision: Decision | None
    opinion: str | None
    recorded_by_name: str | None
    recorded_at: datetime | None


class JointReview(BaseModel):
    """A joint review with its participants; ``minutes_id`` is the stored minutes once held."""

    id: int
    application_id: int
    lead_department_id: int
    lead_department_code: str
    lead_department_name_zh: str
    topic: str
    scheduled_at: datetime
    place: str | None
    status: Literal["scheduled", "held", "cancelled"]
    minutes_id: int | None
    held_at: datetime | None
    created_at: datetime
    version: int
    participants: list[Participant]


_REVIEWS = """
SELECT r.id, r.application_id, r.lead_department_id, o.code AS lead_department_code,
       o.name_zh AS lead_department_name_zh, r.topic, r.scheduled_at, r.place, r.status, r.minutes_id,
       r.held_at, r.created_at, r.version
FROM approval.joint_review r JOIN auth.organisation o ON o.id = r.lead_department_id
"""
_PARTICIPANTS = """
SELECT jp.joint_review_id, jp.department_id, o.code AS department_code, o.name_zh AS department_name_zh,
       o.name_en AS department_name_en, jp.department_id = r.lead_department_id AS lead, jp.item_id,
       i.name_zh AS item_name_zh, i.name_en AS item_name_en, jp.decision, jp.opinion, jp.recorded_by_name,
       jp.recorded_at
FROM approval.joint_review_participant jp
JOIN approval.joint_review r ON r.id = jp.joint_review_id
JOIN auth.organisation o ON o.id = jp.department_id
LEFT JOIN approval.item i ON i.id = jp.item_id
WHERE jp.joint_review_id = ANY(%s)
ORDER BY jp.department_id = r.lead_department_id DESC, o.code
"""


def _load(conn: Connection[Any], where: str, value: int, lock: bool = False) -> list[JointReview]:
    with conn.cursor(row_factory=dict_row) as cur:
        query = sql.SQL(_REVIEWS + " WHERE r.{column} = %s ORDER BY r.scheduled_at, r.id {lock}").format(
            column=sql.Identifier(where), lock=sql.SQL("FOR UPDATE OF r" if lock else "")
        )
        rows = cur.execute(query, (value,)).fetchall()
        people = cur.execute(_PARTICIPANTS, ([r["id"] for r in rows],)).fetchall()
    return [
        JointReview(**r, participants=[Participant(**p) for p in people if p["joint_review_id"] == r["id"]])
        for r in rows
    ]


def list_reviews(conn: Connection[Any], grant: Grant, application_id: int) -> list[JointReview]:
    """The application's joint reviews (404 when the caller may not read the application)."""
    visible_application(conn, grant, application_id)
    return _load(conn, "application_id", application_id)


def fetch_review(conn: Connection[Any], grant: Grant, review_id: int, lock: bool = False) -> JointReview:
    """One joint review the caller may see: it may read the application, or its department takes part."""
    found = _load(conn, "id", review_id, lock)
    if not found:
        raise NotFound("联合审查不存在。", "No such joint review.")
    review = found[0]
    if not any(p.department_id == grant.principal.org_id for p in review.participants):
        try:
            visible_application(conn, grant, review.application_id)
        except NotFound:
            raise NotFound("联合审查不存在。", "No such joint review.") from None
    return review


def event(
    conn: Connection[Any], grant: Grant, application_id: int, action: str, detail: dict[str, Any]
) -> None:
    """One application event (the application's status is unchanged by a joint review)."""
    conn.execute(
        """
        INSERT INTO approval.application_event
          (application_id, action, from_status, to_status, actor_id, actor_name, actor_org_id, detail)
        SELECT id, %s, status, status, %s, %s, %s, %s FROM approval.application WHERE id = %s
        """,
        (
            action,
            grant.actor.user_id,
            grant.actor.username,
            grant.actor.org_id,
            Jsonb(detail),
            application_id,
        ),
    )


def display_name(conn: Connection[Any], grant: Grant) -> str:
    """The caller's display name (its username when none is set), as people read it."""
    row = conn.execute(
        "SELECT coalesce(nullif(display_name, ''), username) FROM auth.user WHERE id = %s",
        (grant.principal.user_id,),
    ).fetchone()
    return str(row[0]) if row else grant.actor.username


def _participants(
    conn: Connection[Any], grant: Grant, items: list[dict[str, Any]], body: JointReviewCreate
) -> dict[int, int | None]:
    """Department id → the item it reviews in the joint review (the lead first), checked."""
    by_id = {i["id"]: i for i in items}
    unknown_items = [i for i in body.item_ids if i not in by_id]
    if unknown_items:
        raise Unprocessable(
            f"事项 {unknown_items} 不属于该申报件。",
            f"Items {unknown_items} are not in this application.",
            code="unknown_item",
            items=unknown_items,
        )
    lead = grant.principal.org_id
    chosen: dict[int, int | None] = {lead: None}
    codes = list(dict.fromkeys(body.departments))
    rows = conn.execute(
        "SELECT code, id FROM auth.organisation WHERE code = ANY(%s) AND kind = 'department'", (codes,)
    ).fetchall()
    known = dict(rows)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Unprocessable(
            f"部门“{'、'.join(unknown)}”不存在。",
            f"Unknown departments: {', '.join(unknown)}.",
            code="unknown_department",
            departments=unknown,
        )
    for code in codes:
        chosen.setdefault(known[code], None)
    for item_id in body.item_ids:  # a listed item brings its department in, reviewing that item
        dept = by_id[item_id]["department_id"]
        if dept is not None and chosen.get(dept) is None:
            chosen[dept] = item_id
    for item in items:  # otherwise a department reviews its own item of the application, if it has one
        if item["department_id"] in chosen and chosen[item["department_id"]] is None:
            chosen[item["department_id"]] = item["id"]
    if len(chosen) < 2:
        raise Unprocessable(
            "联合审查至少需要两个部门参加。",
            "A joint review needs at least two departments.",
            code="too_few_participants",
        )
    return chosen


def schedule(
    conn: Connection[Any], grant: Grant, application_id: int, body: JointReviewCreate
) -> JointReview:
    """Schedule a joint review led by the caller's department, which must have an item in the application."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM approval.application WHERE id = %s FOR UPDATE", (application_id,))
        app = visible_application(conn, grant, application_id)
        items = application_items(conn, application_id)
        if not any(i["department_id"] == grant.principal.org_id for i in items):
            raise Forbidden(
                "只有在该申报件中有审批事项的部门可牵头联合审查。",
                "Only a department with an item in the application may lead a joint review.",
                code="not_a_department_of_the_application",
            )
        if app["status"] != "accepted":
            raise Conflict(
                "申报件不在审查中，不能安排联合审查。",
                "The application is not under review: no joint review can be scheduled.",
                code="not_under_review",
                current_status=app["status"],
            )
        chosen = _participants(conn, grant, items, body)
        when = (
            body.scheduled_at if body.scheduled_at.tzinfo else body.scheduled_at.replace(tzinfo=DISTRICT.tz)
        )
        _check_when(when, app["accepted_at"])
        row = conn.execute(
            "INSERT INTO approval.joint_review"
            " (application_id, lead_department_id, topic, scheduled_at, place, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (application_id, grant.principal.org_id, body.topic, when, body.place, grant.principal.user_id),
        ).fetchone()
        assert row is not None
        review_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO approval.joint_review_participant (joint_review_id, department_id, item_id)"
                " VALUES (%s, %s, %s)",
                [(review_id, dept, item) for dept, item in chosen.items()],
            )
        review = _load(conn, "id", review_id)[0]
        detail = {
            "joint_review_id": review_id,
            "departments": [p.department_code for p in review.participants],
        }
        event(conn, grant, application_id, "joint_review.scheduled", detail)
        record(
            conn, grant.actor, "joint_review.scheduled", "joint_review", review_id, after=review.model_dump()
        )
    return review


def _check_when(when: datetime, accepted_at: datetime | None) -> None:
    """422 unless the meeting lies between the application's acceptance day and five years from now."""
    earliest = (accepted_at or datetime.now(DISTRICT.tz)).astimezone(DISTRICT.tz).date()
    latest = datetime.now(DISTRICT.tz) + SCHEDULE_AHEAD
    if not earliest <= when.astimezone(DISTRICT.tz).date() <= latest.date():
        raise Unprocessable(
            f"会商时间应在申报件受理日（{earliest}）之后、五年之内（{latest.date()} 前）。",
            f"The meeting must fall between the application's acceptance ({earliest}) and {latest.date()}.",
            code="scheduled_out_of_range",
        )


def require_under_review(conn: Connection[Any], application_id: int) -> None:
    """409 ``application_closed`` once the application is issued or withdrawn: its joint reviews take no
    more opinions nor minutes. The row is share-locked, so an issuance under way is waited for."""
    row = conn.execute(
        "SELECT status FROM approval.application WHERE id = %s FOR SHARE", (application_id,)
    ).fetchone()
    if row is None or row[0] not in UNDER_REVIEW:
        raise Conflict(
            "申报件已办结（已出件或撤回），联合审查不再接收意见或纪要。",
            "The application is closed (issued or withdrawn): its joint review takes no opinion or minutes.",
            code="application_closed",
            current_status=row[0] if row else None,
        )


def _own_row(review: JointReview, grant: Grant) -> Participant:
    mine = next((p for p in review.participants if p.department_id == grant.principal.org_id), None)
    if mine is None:
        raise Forbidden(
            "你的部门未参加该联合审查。",
            "Your department does not take part in this joint review.",
            code="not_participant",
        )
    return mine


def require_scheduled(review: JointReview) -> None:
    """409 unless the review is still scheduled."""
    if review.status != "scheduled":
        raise Conflict(
            "联合审查已举行或已取消。",
            "The joint review was already held or cancelled.",
            code="not_scheduled",
            current_status=review.status,
        )


def _check(review: JointReview, expected: tuple[int | None, bool]) -> None:
    version, from_header = expected
    if version is not None:
        check_version(review.version, version, from_header, review.model_dump(mode="json"))


def record_opinion(
    conn: Connection[Any],
    grant: Grant,
    review_id: int,
    body: OpinionRecord,
    expected: tuple[int | None, bool],
) -> JointReview:
    """Record (or replace, while scheduled) the caller's department's opinion on its own row."""
    with conn.transaction():
        review = fetch_review(conn, grant, review_id, lock=True)
        mine = _own_row(review, grant)
        require_scheduled(review)
        require_under_review(conn, review.application_id)
        _check(review, expected)
        name = display_name(conn, grant)
        conn.execute(
            "UPDATE approval.joint_review_participant SET decision = %s, opinion = %s, recorded_by = %s,"
            " recorded_by_name = %s, recorded_at = now() WHERE joint_review_id = %s AND department_id = %s",
            (body.decision, body.opinion, grant.principal.user_id, name, review_id, mine.department_id),
        )
        conn.execute("UPDATE approval.joint_review SET version = version + 1 WHERE id = %s", (review_id,))
        after = fetch_review(conn, grant, review_id)
        detail = {"joint_review_id": review_id, "department": mine.department_code, "decision": body.decision}
        event(conn, grant, review.application_id, "joint_review.opinion", detail)
        record(
            conn,
            grant.actor,
            "joint_review.opinion",
            "joint_review",
            review_id,
            before=mine.model_dump(),
            after={"department": mine.department_code, **body.model_dump()},
        )
    return after


def cancel(
    conn: Connection[Any], grant: Grant, review_id: int, expected: tuple[int | None, bool]
) -> JointReview:
    """The lead cancels a scheduled joint review."""
    with conn.transaction():
        review = fetch_review(conn, grant, review_id, lock=True)
        require_lead(review, grant)
        require_scheduled(review)
        _check(review, expected)
        conn.execute(
            "UPDATE approval.joint_review SET status = 'cancelled', version = version + 1 WHERE id = %s",
            (review_id,),
        )
        event(conn, grant, review.application_id, "joint_review.cancelled", {"joint_review_id": review_id})
        record(
            conn,
            grant.actor,
            "joint_review.cancelled",
            "joint_review",
            review_id,
            before={"status": "scheduled"},
            after={"status": "cancelled"},
        )
        return fetch_review(conn, grant, review_id)


def require_lead(review: JointReview, grant: Grant) -> None:
    """403 unless the caller's department leads the review."""
    if review.lead_department_id != grant.principal.org_id:
        raise Forbidden(
            "只有牵头部门可以执行此操作。", "Only the lead department may do this.", code="not_lead"
        )
