"""The approval item state machine: who may take which transition, and the event log it writes.

not_started → submitted → accepted | accepted_conditional (容缺受理: missing documents + promised
supplement date) → under_review → approved | rejected; under review an item may go back for correction
(补正) and is resubmitted; cancelled / merged end an item early. Only the project unit submits,
resubmits and supplements; only the item's own department accepts, reviews, returns, approves, rejects;
the department or an administrator cancels or merges. Every transition is one event row and one audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.auth.policy import Role, Scope
from app.auth.users import ACTOR_DISPLAY_NAME, JOIN_ACTOR
from app.edge.params import Number, RowId
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.projects import service
from app.projects.demolition import check_gate
from app.projects.plan import ITEM_COLUMNS, Item, fetch_items
from app.versioning import check_version
from layers.audit import record

DONE = frozenset({"approved", "cancelled", "merged"})
# Moves of an item in an open application (综合窗口) taken only through the application flow (a 容缺
# supplement there is the attached material itself).
WINDOW_HANDLED = frozenset(
    {"submit", "accept", "return_for_correction", "resubmit", "approve", "reject", "supplement"}
)


class Who(StrEnum):
    """Which party may take a transition."""

    UNIT = "unit"
    DEPARTMENT = "department"
    DEPARTMENT_OR_ADMIN = "department_or_admin"


@dataclass(frozen=True)
class Transition:
    """One allowed move."""

    who: Who
    sources: frozenset[str]
    target: str | None  # None: the status does not change


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(Who.UNIT, frozenset({"not_started"}), "submitted"),
    "accept": Transition(Who.DEPARTMENT, frozenset({"submitted"}), "accepted"),
    "start_review": Transition(
        Who.DEPARTMENT, frozenset({"accepted", "accepted_conditional"}), "under_review"
    ),
    "return_for_correction": Transition(
        Who.DEPARTMENT, frozenset({"accepted", "accepted_conditional", "under_review"}), "correction"
    ),
    "resubmit": Transition(Who.UNIT, frozenset({"correction"}), "under_review"),
    "supplement": Transition(
        Who.UNIT, frozenset({"accepted_conditional", "under_review", "correction"}), None
    ),
    "approve": Transition(Who.DEPARTMENT, frozenset({"under_review"}), "approved"),
    "reject": Transition(
        Who.DEPARTMENT,
        frozenset({"submitted", "accepted", "accepted_conditional", "under_review"}),
        "rejected",
    ),
    "cancel": Transition(
        Who.DEPARTMENT_OR_ADMIN, frozenset({"not_started", "submitted", "correction"}), "cancelled"
    ),
    "merge": Transition(Who.DEPARTMENT_OR_ADMIN, frozenset({"not_started", "submitted"}), "merged"),
}


class TransitionRequest(BaseModel):
    """A move of an item, carrying the version the caller read."""

    action: str = Field(
        description="submit, accept, start_review, return_for_correction, resubmit, supplement, "
        "approve, reject, cancel, merge"
    )
    version: Number | None = Field(default=None, description="读取时的版本号（或使用 If-Match）")
    note: str | None = Field(default=None, max_length=2000, description="说明")
    missing_documents: list[str] | None = Field(
        default=None, max_length=50, description="容缺受理：缺少的次要材料"
    )
    supplement_due: date | None = Field(default=None, description="容缺受理：承诺补齐日期")
    merge_into_id: RowId | None = Field(default=None, description="合并到的事项")


class ItemEvent(BaseModel):
    """One row of an item's event log."""

    id: int
    action: str
    from_status: str
    to_status: str
    actor_id: int | None
    actor_name: str
    actor_display_name: str = Field(description="办理人姓名（账户显示名，未设时为登录名）")
    actor_org_id: int | None
    at: Any
    note: str | None
    detail: dict[str, Any] | None


def get_item(conn: Connection[Any], grant: Grant, item_id: int, *, lock: bool = False) -> Item:
    """An item of a project the caller may see, or 404."""
    if lock:
        conn.execute("SELECT 1 FROM approval.item WHERE id = %s FOR UPDATE", (item_id,))
    items = fetch_items(conn, "i.id = %(id)s", {"id": item_id})
    if not items:
        raise NotFound("审批事项不存在。", "No such approval item.")
    service.fetch_project(conn, items[0].project_id, grant)
    return items[0]


def _party_may(grant: Grant, who: Who, item: Item, unit_org_id: int) -> bool:
    """Whether the caller is the party ``who`` of this item (the project unit, its department, an admin)."""
    p = grant.principal
    unit_ok = p.role is Role.PROJECT_UNIT and p.org_id == unit_org_id
    dept_ok = p.role is Role.REVIEWER and p.org_id == item.department_id
    # Items of outside bodies (e.g. the metro operator) have no department account: admins record them.
    dept_ok = dept_ok or (p.role is Role.SYSTEM_ADMIN and item.department_id is None)
    return {
        Who.UNIT: unit_ok,
        Who.DEPARTMENT: dept_ok,
        Who.DEPARTMENT_OR_ADMIN: dept_ok or p.role is Role.SYSTEM_ADMIN,
    }[who]


def allowed_actions(grant: Grant, item: Item, unit_org_id: int) -> list[str]:
    """The transitions the caller may take on the item from its current status (business rules such as
    prerequisites are checked when the move is taken)."""
    return [
        name
        for name, move in TRANSITIONS.items()
        if item.status in move.sources and _party_may(grant, move.who, item, unit_org_id)
    ]


def _check_actor(grant: Grant, who: Who, item: Item, unit_org_id: int, action: str) -> None:
    if not _party_may(grant, who, item, unit_org_id):
        whom = {
            Who.UNIT: "项目单位",
            Who.DEPARTMENT: "事项所属审批部门",
            Who.DEPARTMENT_OR_ADMIN: "审批部门或管理员",
        }
        raise Forbidden(
            f"“{action}”只能由{whom[who]}办理。",
            f"'{action}' may only be taken by the {who.value.replace('_', ' ')} of this item.",
            code="wrong_party",
        )


def _pending_prerequisites(conn: Connection[Any], item: Item) -> list[tuple[str, str, str]]:
    """(code, name zh, name en) of prerequisites not yet done (merged/cancelled ones pass theirs on)."""
    rows = conn.execute(
        """
        WITH RECURSIVE pre(id) AS (
          SELECT prerequisite_id FROM approval.item_prerequisite WHERE item_id = %s
          UNION
          SELECT ip.prerequisite_id FROM pre JOIN approval.item i ON i.id = pre.id
            JOIN approval.item_prerequisite ip ON ip.item_id = i.id WHERE i.status IN ('cancelled', 'merged')
        )
        SELECT i.item_code, i.name_zh, i.name_en FROM pre JOIN approval.item i ON i.id = pre.id
        WHERE i.status NOT IN ('approved', 'cancelled', 'merged') ORDER BY i.item_code
        """,
        (item.id,),
    ).fetchall()
    return [(str(code), str(zh), str(en or zh)) for code, zh, en in rows]


def _refuse(item: Item, action: str, zh: str, en: str, code: str, **extra: Any) -> Conflict:
    return Conflict(zh, en, code=code, current=item.model_dump(mode="json"), action=action, **extra)


def _validate(conn: Connection[Any], item: Item, req: TransitionRequest, today: date) -> dict[str, Any]:
    """Business rules of the move; returns the column changes beyond the status."""
    changes: dict[str, Any] = {}
    outstanding = bool(item.missing_documents) and item.supplemented_at is None
    if req.action == "submit":
        pending = _pending_prerequisites(conn, item)
        if pending:
            raise _refuse(
                item,
                req.action,
                f"前置事项尚未办结：{'、'.join(zh for _, zh, _ in pending)}。",
                f"Prerequisites not done: {'; '.join(en for _, _, en in pending)}.",
                "prerequisites_pending",
                # People read the names; clients get the codes.
                pending=[code for code, _, _ in pending],
            )
        check_gate(conn, item.project_id, item.item_code)
    elif req.action == "accept" and req.missing_documents:
        if req.supplement_due is None or req.supplement_due < today:
            raise Unprocessable(
                "容缺受理须给出不早于今天的承诺补齐日期 supplement_due。",
                "Conditional acceptance needs a supplement_due date not in the past.",
                code="supplement_due_required",
            )
        changes = {"missing_documents": Jsonb(req.missing_documents), "supplement_due": req.supplement_due}
    elif req.action == "supplement" and not outstanding:
        raise _refuse(
            item,
            req.action,
            "该事项没有待补齐的容缺材料。",
            "Nothing is missing for this item.",
            "nothing_to_supplement",
        )
    elif req.action == "supplement":
        changes = {"supplemented_at": "now"}
    elif req.action == "approve" and outstanding:
        raise _refuse(
            item,
            req.action,
            "容缺材料尚未补齐，不能办结。",
            "Missing documents must be supplied before approval.",
            "supplement_outstanding",
        )
    elif req.action == "merge":
        into = fetch_items(conn, "i.id = %(id)s", {"id": req.merge_into_id or 0})
        if not into or into[0].project_id != item.project_id or into[0].id == item.id:
            raise Unprocessable(
                "merge_into_id 须为同一项目的另一事项。",
                "merge_into_id must be another item of the same project.",
                code="bad_merge_target",
            )
        changes = {"merged_into_id": into[0].id}
    return changes


def _refuse_window_items(conn: Connection[Any], item: Item, action: str) -> None:
    """409 ``handled_by_window`` when the item belongs to an open application (app/window)."""
    got = conn.execute(
        "SELECT a.id, a.number FROM approval.application a JOIN approval.application_item ai"
        " ON ai.application_id = a.id WHERE a.status NOT IN ('issued', 'withdrawn') AND ai.item_id = %s",
        (item.id,),
    ).fetchone()
    if got:
        raise _refuse(
            item,
            action,
            f"该事项属于申报件 {got[1]}，须通过综合窗口办理（受理、补正、审查意见）。",
            f"The item belongs to application {got[1]}: it is handled through the one window.",
            "handled_by_window",
            application_id=got[0],
        )


def window_item_ids(conn: Connection[Any], project_id: int) -> set[int]:
    """Ids of the project's items held by an open application (their WINDOW_HANDLED moves are closed)."""
    rows = conn.execute(
        "SELECT ai.item_id FROM approval.application a JOIN approval.application_item ai"
        " ON ai.application_id = a.id WHERE a.project_id = %s AND a.status NOT IN ('issued', 'withdrawn')",
        (project_id,),
    ).fetchall()
    return {int(r[0]) for r in rows}


def transition(
    conn: Connection[Any],
    grant: Grant,
    item_id: int,
    req: TransitionRequest,
    expected: int,
    from_header: bool,
    today: date,
) -> Item:
    """Take one transition, writing the event row and the audit row in the same transaction."""
    move = TRANSITIONS.get(req.action)
    if move is None:
        raise Unprocessable(
            f"未知操作“{req.action}”，可选：{'、'.join(TRANSITIONS)}。",
            f"Unknown action '{req.action}'.",
            code="unknown_action",
        )
    with conn.transaction():
        item = get_item(conn, grant, item_id, lock=True)
        project = service.fetch_project(conn, item.project_id)
        _check_actor(grant, move.who, item, project.unit_org_id, req.action)
        if req.action in WINDOW_HANDLED:
            _refuse_window_items(conn, item, req.action)
        check_version(item.version, expected, from_header, item.model_dump(mode="json"))
        if item.status not in move.sources:
            raise _refuse(
                item,
                req.action,
                f"事项当前状态“{item.status}”不能执行“{req.action}”。",
                f"'{req.action}' is not possible from status '{item.status}'.",
                "illegal_transition",
            )
        changes = _validate(conn, item, req, today)
        target = move.target or item.status
        if req.action == "accept" and req.missing_documents:
            target = "accepted_conditional"
        sets: list[sql.Composable] = [
            sql.SQL("status = %(status)s, version = version + 1, updated_at = now()")
        ]
        for column, value in changes.items():
            bound = sql.SQL("now()") if value == "now" else sql.Placeholder(column)
            sets.append(sql.SQL("{} = {}").format(sql.Identifier(column), bound))
        conn.execute(
            sql.SQL("UPDATE approval.item SET {} WHERE id = %(id)s").format(sql.SQL(", ").join(sets)),
            {**{k: v for k, v in changes.items() if v != "now"}, "status": target, "id": item_id},
        )
        detail = {
            k: v
            for k, v in req.model_dump(mode="json").items()
            if k in ("missing_documents", "supplement_due", "merge_into_id") and v is not None
        }
        p = grant.principal
        conn.execute(
            "INSERT INTO approval.item_event (item_id, action, from_status, to_status, actor_id, actor_name,"
            " actor_org_id, note, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                item_id,
                req.action,
                item.status,
                target,
                p.user_id,
                p.username,
                p.org_id,
                req.note,
                Jsonb(detail) if detail else None,
            ),
        )
        after = fetch_items(conn, "i.id = %(id)s", {"id": item_id})[0]
        record(
            conn,
            grant.actor,
            f"item.{req.action}",
            "approval_item",
            item_id,
            before=item.model_dump(mode="json"),
            after=after.model_dump(mode="json"),
        )
    return after


def list_events(conn: Connection[Any], grant: Grant, item_id: int) -> list[ItemEvent]:
    """An item's event log, oldest first."""
    get_item(conn, grant, item_id)
    rows = conn.execute(
        "SELECT e.id, e.action, e.from_status, e.to_status, e.actor_id, e.actor_name,"
        " " + ACTOR_DISPLAY_NAME + ", e.actor_org_id, e.at, e.note, e.detail"
        " FROM approval.item_event e " + JOIN_ACTOR + " WHERE e.item_id = %s ORDER BY e.at, e.id",
        (item_id,),
    ).fetchall()
    keys = (
        "id",
        "action",
        "from_status",
        "to_status",
        "actor_id",
        "actor_name",
        "actor_display_name",
        "actor_org_id",
        "at",
        "note",
        "detail",
    )
    return [ItemEvent(**dict(zip(keys, r, strict=True))) for r in rows]


def list_items(
    conn: Connection[Any], grant: Grant, status: str | None, project_id: int | None, department: str | None
) -> list[Item]:
    """Work queues: a department's own items, a unit's projects' items, everything for the others."""
    if grant.scope is Scope.ANY:
        scope: sql.Composable = sql.SQL("TRUE")
    elif grant.principal.role is Role.REVIEWER:
        scope = sql.SQL("i.department_id = %(org)s")
    else:
        scope = sql.SQL("i.project_id IN (SELECT id FROM project.project WHERE unit_org_id = %(org)s)")
    query = sql.SQL(
        "SELECT {cols} FROM approval.item i WHERE {scope}"
        " AND (%(status)s::text IS NULL OR i.status = %(status)s)"
        " AND (%(pid)s::bigint IS NULL OR i.project_id = %(pid)s)"
        " AND (%(dept)s::text IS NULL OR i.department_code = %(dept)s) ORDER BY i.id"
    ).format(cols=sql.SQL(ITEM_COLUMNS), scope=scope)
    params = {"org": grant.principal.org_id, "status": status, "pid": project_id, "dept": department}
    with conn.cursor(row_factory=dict_row) as cur:
        return [Item(**r) for r in cur.execute(query, params).fetchall()]
