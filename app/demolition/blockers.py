"""Blockers (问题): raised on a unit or a project, assigned to a department with a deadline, discussed,
escalated or resolved; overdue ones become e-supervision warnings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.auth.policy import Role, Scope
from app.auth.users import ACTOR_DISPLAY_NAME, JOIN_ACTOR
from app.demolition.disclosure import Disclosure, disclosure_of
from app.demolition.ledger import fetch_unit, visible_project
from app.demolition.personal import PERSONAL_FIELDS, mask_text
from app.edge.params import Number, RowId
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.projects.supervision import SupervisionWarning, add_warning_source
from app.versioning import check_version
from layers.audit import record


class BlockerCategory(StrEnum):
    """What stands in the way."""

    DISPUTE = "dispute"
    UNREACHABLE_OWNER = "unreachable_owner"
    TITLE = "title"
    GRAVE = "grave"
    UTILITY = "utility"
    OTHER = "other"


CATEGORY_LABELS = {
    BlockerCategory.DISPUTE: "补偿纠纷",
    BlockerCategory.UNREACHABLE_OWNER: "权利人无法联系",
    BlockerCategory.TITLE: "产权问题",
    BlockerCategory.GRAVE: "坟墓迁移",
    BlockerCategory.UTILITY: "管线迁改",
    BlockerCategory.OTHER: "其他",
}
OPEN = ("open", "escalated")


class BlockerCreate(BaseModel):
    """A new blocker on the project, or on one of its units."""

    unit_id: RowId | None = Field(default=None, description="涉及的征拆单元（缺省为整个项目）")
    category: BlockerCategory
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    department_code: str = Field(description="责任部门组织代码，如 water")
    deadline: date = Field(description="办结期限")


class BlockerAction(StrEnum):
    """What can be done to a blocker."""

    COMMENT = "comment"
    ESCALATE = "escalate"
    REASSIGN = "reassign"
    RESOLVE = "resolve"


class BlockerActionIn(BaseModel):
    """A comment, or a versioned change (escalate, reassign, resolve) with its explanation."""

    action: BlockerAction
    body: str = Field(min_length=1, max_length=5000, description="评论、升级理由或办结说明")
    version: Number | None = Field(default=None, description="升级、改派、办结时必填：读取时的版本号")
    department_code: str | None = Field(default=None, description="改派或升级后的责任部门")
    deadline: date | None = Field(default=None, description="改派或升级后的新期限")


class Blocker(BaseModel):
    """A blocker and its state."""

    id: int
    project_id: int
    unit_id: int | None
    unit_code: str | None
    category: BlockerCategory
    category_zh: str
    title: str
    description: str
    department_id: int
    department_code: str
    department_name_zh: str = Field(description="责任部门名称")
    deadline: date
    status: str
    escalation_level: int
    resolution: str | None
    raised_by: str | None
    raised_by_name: str | None = Field(description="登记人姓名（账户显示名，未设时为登录名）")
    raised_at: datetime
    resolved_at: datetime | None
    version: int


class BlockerComment(BaseModel):
    """One entry of a blocker's thread."""

    id: int
    kind: str
    body: str
    actor_name: str
    actor_display_name: str = Field(description="留言人姓名（账户显示名，未设时为登录名）")
    at: datetime


_SELECT = """
    SELECT b.id, b.project_id, b.unit_id, u.unit_code, b.category, b.title, b.description, b.department_id,
           d.code AS department_code, d.name_zh AS department_name_zh, b.deadline, b.status,
           b.escalation_level, b.resolution,
           r.username AS raised_by, coalesce(nullif(r.display_name, ''), r.username) AS raised_by_name,
           b.raised_at, b.resolved_at, b.version,
           p.code AS project_code, p.name AS project_name, p.unit_org_id,
           u.subdistrict_id AS unit_subdistrict_id, u.owner_name AS unit_owner_name,
           u.id_number AS unit_id_number, u.phone AS unit_phone, u.address AS unit_address
    FROM demolition.blocker b JOIN auth.organisation d ON d.id = b.department_id
    JOIN project.project p ON p.id = b.project_id
    LEFT JOIN demolition.unit u ON u.id = b.unit_id LEFT JOIN auth.user r ON r.id = b.raised_by_id
"""


def _blocker(row: dict[str, Any]) -> Blocker:
    fields = {k: v for k, v in row.items() if k in Blocker.model_fields}
    return Blocker(**fields, category_zh=CATEGORY_LABELS[BlockerCategory(row["category"])])


def _masker(disclosure: Disclosure, row: dict[str, Any]) -> Callable[[str], str] | None:
    """How the blocker's free text is shown to this caller: None in full (they work the unit's households),
    else masked — ID and mobile numbers anywhere, and the unit's own personal values wherever they occur."""
    if disclosure.full(row["unit_subdistrict_id"]):
        return None
    known = {kind: [row[f"unit_{field}"]] for field, kind in PERSONAL_FIELDS.items()}
    return lambda text: mask_text(text, known)


def _shown(disclosure: Disclosure, row: dict[str, Any]) -> Blocker:
    """The blocker as this caller sees it (free text masked without the need to know)."""
    blocker = _blocker(row)
    masker = _masker(disclosure, row)
    if masker is None:
        return blocker
    texts = {"title": blocker.title, "description": blocker.description, "resolution": blocker.resolution}
    return blocker.model_copy(update={k: v if v is None else masker(v) for k, v in texts.items()})


def _department(conn: Connection[Any], code: str) -> int:
    row = conn.execute(
        "SELECT id FROM auth.organisation WHERE code = %s AND kind IN ('department', 'subdistrict')", (code,)
    ).fetchone()
    if row is None:
        raise Unprocessable(f"责任部门“{code}”不存在。", f"No such department: '{code}'.", code="unknown_org")
    return int(row[0])


def _coordinating(grant: Grant) -> bool:
    return grant.principal.role in (Role.SYSTEM_ADMIN, Role.COORDINATOR)


def _scope(grant: Grant) -> tuple[sql.Composable, dict[str, Any]]:
    """Coordinators and admins: all; departments: assigned to them; project units: their projects'."""
    if grant.scope is Scope.ANY:
        return sql.SQL("TRUE"), {}
    if grant.principal.role is Role.REVIEWER:
        return sql.SQL("b.department_id = %(scope_org)s"), {"scope_org": grant.principal.org_id}
    return sql.SQL("p.unit_org_id = %(scope_org)s"), {"scope_org": grant.principal.org_id}


def fetch_blocker(conn: Connection[Any], grant: Grant, blocker_id: int) -> dict[str, Any]:
    """A blocker row the caller may work on, or 404."""
    where, params = _scope(grant)
    query = sql.SQL(_SELECT + " WHERE b.id = %(id)s AND {w}").format(w=where)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, {"id": blocker_id, **params}).fetchone()
    if row is None:
        raise NotFound("问题不存在。", "No such blocker.")
    return row


def list_blockers(
    conn: Connection[Any], grant: Grant, project_id: int | None, status: str | None, overdue_on: date | None
) -> list[Blocker]:
    """Blockers the caller may see, filtered by project, status or 'overdue on this day'."""
    where, params = _scope(grant)
    query = sql.SQL(
        _SELECT + " WHERE {w} AND (%(pid)s::bigint IS NULL OR b.project_id = %(pid)s)"
        " AND (%(status)s::text IS NULL OR b.status = %(status)s)"
        " AND (%(day)s::date IS NULL OR (b.status <> 'resolved' AND b.deadline < %(day)s))"
        " ORDER BY b.deadline, b.id"
    ).format(w=where)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            query, {**params, "pid": project_id, "status": status, "day": overdue_on}
        ).fetchall()
    disclosure = disclosure_of(conn, grant)
    return [_shown(disclosure, r) for r in rows]


def _comment(conn: Connection[Any], grant: Grant, blocker_id: int, kind: str, body: str) -> None:
    conn.execute(
        "INSERT INTO demolition.blocker_comment (blocker_id, kind, body, actor_id, actor_name, actor_org_id)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (blocker_id, kind, body, grant.principal.user_id, grant.principal.username, grant.principal.org_id),
    )


def raise_blocker(conn: Connection[Any], grant: Grant, project_id: int, data: BlockerCreate) -> Blocker:
    """Coordinators and admins raise a blocker and assign it to a department with a deadline."""
    if not _coordinating(grant):
        raise Forbidden("只有征拆协调人员可以登记问题。", "Only coordinators raise blockers.")
    with conn.transaction():
        visible_project(conn, grant, project_id)
        if data.unit_id is not None and fetch_unit(conn, data.unit_id).project_id != project_id:
            raise Unprocessable(
                "该征拆单元不属于本项目。", "The unit is not in this project.", code="unit_mismatch"
            )
        row = conn.execute(
            "INSERT INTO demolition.blocker (project_id, unit_id, category, title, description,"
            " department_id, deadline, raised_by_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                project_id,
                data.unit_id,
                data.category.value,
                data.title,
                data.description,
                _department(conn, data.department_code),
                data.deadline,
                grant.principal.user_id,
            ),
        ).fetchone()
        assert row is not None
        _comment(conn, grant, row[0], "raise", data.description or data.title)
        stored = fetch_blocker(conn, grant, row[0])
        blocker = _blocker(stored)
        record(
            conn,
            grant.actor,
            "demolition.blocker.raise",
            "blocker",
            blocker.id,
            after=blocker.model_dump(mode="json"),
        )
    return _shown(disclosure_of(conn, grant), stored)


def act(conn: Connection[Any], grant: Grant, blocker_id: int, data: BlockerActionIn) -> Blocker:
    """Comment (anyone involved), resolve (coordinators or the assigned department), escalate or reassign."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM demolition.blocker WHERE id = %s FOR UPDATE", (blocker_id,))
        row = fetch_blocker(conn, grant, blocker_id)
        before = _blocker(row)
        disclosure = disclosure_of(conn, grant)
        if data.action is BlockerAction.COMMENT:
            _comment(conn, grant, blocker_id, "comment", data.body)
            record(
                conn,
                grant.actor,
                "demolition.blocker.comment",
                "blocker",
                blocker_id,
                after={"body": data.body},
            )
            return _shown(disclosure, row)
        assigned = grant.principal.role is Role.REVIEWER and before.department_id == grant.principal.org_id
        if not (_coordinating(grant) or (data.action is BlockerAction.RESOLVE and assigned)):
            raise Forbidden("无权执行此操作。", f"You may not {data.action.value} this blocker.")
        if data.version is None:
            raise Unprocessable("请提供版本号 version。", "A version is required.", code="version_required")
        check_version(before.version, data.version, False, _shown(disclosure, row).model_dump(mode="json"))
        if before.status == "resolved":
            raise Conflict("问题已办结。", "The blocker is already resolved.", code="blocker_resolved")
        _change(conn, blocker_id, data)
        _comment(conn, grant, blocker_id, data.action.value, data.body)
        stored = fetch_blocker(conn, grant, blocker_id)
        after = _blocker(stored)
        record(
            conn,
            grant.actor,
            f"demolition.blocker.{data.action.value}",
            "blocker",
            blocker_id,
            before.model_dump(mode="json"),
            after.model_dump(mode="json"),
        )
    return _shown(disclosure, stored)


def _change(conn: Connection[Any], blocker_id: int, data: BlockerActionIn) -> None:
    department = _department(conn, data.department_code) if data.department_code else None
    if data.action is BlockerAction.RESOLVE:
        conn.execute(
            "UPDATE demolition.blocker SET status = 'resolved', resolution = %s, resolved_at = now(),"
            " version = version + 1, updated_at = now() WHERE id = %s",
            (data.body, blocker_id),
        )
        return
    if data.action is BlockerAction.REASSIGN and department is None and data.deadline is None:
        raise Unprocessable(
            "改派须指定新部门或新期限。", "Give a new department or deadline.", code="nothing_to_change"
        )
    escalate = data.action is BlockerAction.ESCALATE
    conn.execute(
        "UPDATE demolition.blocker SET department_id = coalesce(%s, department_id),"
        " deadline = coalesce(%s, deadline), status = CASE WHEN %s THEN 'escalated' ELSE status END,"
        " escalation_level = escalation_level + CASE WHEN %s THEN 1 ELSE 0 END,"
        " version = version + 1, updated_at = now() WHERE id = %s",
        (department, data.deadline, escalate, escalate, blocker_id),
    )


def comments(conn: Connection[Any], grant: Grant, blocker_id: int) -> list[BlockerComment]:
    """The blocker's thread, oldest first."""
    masker = _masker(disclosure_of(conn, grant), fetch_blocker(conn, grant, blocker_id))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT e.id, e.kind, e.body, e.actor_name, " + ACTOR_DISPLAY_NAME + ", e.at"
            " FROM demolition.blocker_comment e " + JOIN_ACTOR + " WHERE e.blocker_id = %s ORDER BY e.id",
            (blocker_id,),
        ).fetchall()
    thread = [BlockerComment(**r) for r in rows]
    if masker is None:
        return thread
    return [c.model_copy(update={"body": masker(c.body)}) for c in thread]


@add_warning_source
def overdue_warnings(
    conn: Connection[Any], grant: Grant, as_of: date, project_id: int | None, department: str | None
) -> list[SupervisionWarning]:
    """Red e-supervision warnings for blockers past their deadline and not resolved."""
    where, params = _scope(grant)
    query = sql.SQL(
        _SELECT + " WHERE {w} AND b.status <> 'resolved' AND b.deadline < %(day)s"
        " AND (%(pid)s::bigint IS NULL OR b.project_id = %(pid)s)"
        " AND (%(dept)s::text IS NULL OR d.code = %(dept)s) ORDER BY b.deadline, b.id"
    ).format(w=where)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, {**params, "day": as_of, "pid": project_id, "dept": department}).fetchall()
    disclosure = disclosure_of(conn, grant)
    return [_warning(r, as_of, _masker(disclosure, r)) for r in rows]


def _warning(row: dict[str, Any], as_of: date, masker: Callable[[str], str] | None) -> SupervisionWarning:
    late = (as_of - row["deadline"]).days
    title = row["title"] if masker is None else masker(row["title"])
    where = f"（{row['unit_code']}）" if row["unit_code"] else ""
    return SupervisionWarning(
        level="red",
        kind="blocker_overdue",
        item_id=None,
        item_code=None,
        item_name_zh=None,
        department_code=row["department_code"],
        project_id=row["project_id"],
        project_code=row["project_code"],
        project_name=row["project_name"],
        status=row["status"],
        elapsed_days=None,
        promised_days=None,
        used_pct=None,
        due_on=row["deadline"],
        supplement_due=None,
        blocker_id=row["id"],
        message_zh=f"征拆问题“{title}”{where}应于 {row['deadline']} 前办结，已逾期 {late} 天。",
        message_en=f"Demolition blocker '{title}' was due on {row['deadline']}; {late} day(s) late.",
    )
