"""Parallel review (并联审批) of an application's items by their departments: opinions, correction requests to
the window, the window's one consolidated letter (一次性告知补正), the unit's resubmission, and my work.

A department decides only its own items. It never writes to the unit: its correction requests go to the
window, which merges every open one into one letter; the clocks of the items asked about stop on the
letter's day (``return_for_correction``) and restart on the unit's one resubmission (``resubmit``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from app.auth.deps import Grant
from app.auth.policy import Role
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.projects.items import get_item
from app.projects.plan import Item, fetch_items
from app.projects.timing import RUNNING
from app.versioning import check_version
from app.window.applications import (
    add_event,
    app_checklist,
    app_items,
    audit,
    check_app_version,
    decides,
    fetch,
    in_open_application,
    item_step,
    load_row,
    need_status,
    need_unit,
    open_requests,
    refuse,
    set_status,
    view_items,
)
from app.window.models import (
    Application,
    ApplicationItem,
    CorrectionRequest,
    CorrectionRequestBody,
    LetterBody,
    OpinionBody,
    WorkItem,
)
from layers.audit import record

EVENT_OF = {"approve": "approve", "approve_conditional": "approve", "refuse": "reject"}

# What people read for an item's status in a refusal (the same words as the pages').
ITEM_STATUS_LABELS = {
    "not_started": ("未申报", "not submitted"),
    "submitted": ("已申报", "submitted"),
    "accepted": ("已受理", "accepted"),
    "accepted_conditional": ("容缺受理", "accepted with gaps"),
    "under_review": ("审查中", "under review"),
    "correction": ("补正中", "awaiting correction"),
    "approved": ("已批准", "approved"),
    "rejected": ("不予批准", "refused"),
    "cancelled": ("已取消", "cancelled"),
    "merged": ("已合并", "merged"),
}


def _department_item(conn: Connection[Any], grant: Grant, item_id: int) -> tuple[Item, dict[str, Any]]:
    """The caller's department's item in an open application (404 when invisible, 403 another's), with the
    application's row; both locked, the application FIRST.

    Every window and unit step (accept, letter, resubmission, supplement, withdrawal) locks the application
    and then moves its items and requests; locking the item first here crossed them, and PostgreSQL aborted
    one of the two as a deadlock.
    """
    get_item(conn, grant, item_id)  # 404 before anything is locked for a caller who may not see it
    app_id = in_open_application(conn, item_id)
    if app_id is None:
        raise NotFound("该事项不在办理中的申报件里。", "The item is not in an open application.")
    row = load_row(conn, grant, app_id, lock=True)
    item = get_item(conn, grant, item_id, lock=True)  # read again under the locks
    if not decides(grant, item):
        raise Forbidden(
            "只能办理本部门的审批事项。", "A department handles only its own items.", code="wrong_party"
        )
    return item, row


def _view(
    conn: Connection[Any], grant: Grant, row: dict[str, Any], item_id: int, today: date
) -> ApplicationItem:
    items = [i for i in app_items(conn, row["id"]) if i.id == item_id]
    return view_items(conn, grant, row, items, today)[0]


def opinion(
    conn: Connection[Any],
    grant: Grant,
    item_id: int,
    body: OpinionBody,
    expected: tuple[int, bool] | None,
    today: date,
) -> ApplicationItem:
    """Record the department's decision (同意 / 有条件同意 / 不同意) and move the item to approved or
    rejected; an item still ``accepted`` takes ``start_review`` first."""
    if body.decision == "approve_conditional" and not body.conditions:
        raise Unprocessable(
            "有条件同意须写明条件（conditions）。",
            "A conditional approval states its conditions.",
            code="conditions_required",
        )
    if body.decision == "refuse" and not (body.reasons and body.legal_basis):
        raise Unprocessable(
            "不同意须写明理由（reasons）和法律依据（legal_basis）。",
            "A refusal states its reasons and legal basis.",
            code="reasons_required",
        )
    with conn.transaction():
        item, row = _department_item(conn, grant, item_id)
        if expected is not None:
            check_version(item.version, *expected, item.model_dump(mode="json"))
        need_status(row, "opinion", "accepted", "correction")
        if item.status not in RUNNING:
            raise Conflict(
                f"事项当前为“{ITEM_STATUS_LABELS[item.status][0]}”，不能作出决定。",
                f"No decision is possible while the item is {ITEM_STATUS_LABELS[item.status][1]}.",
                code="illegal_transition",
                current=item.model_dump(mode="json"),
            )
        if body.decision != "refuse" and item.missing_documents and item.supplemented_at is None:
            raise Conflict(
                "容缺材料尚未补齐，不能办结。",
                "Missing documents must be supplied before approval.",
                code="supplement_outstanding",
                current=item.model_dump(mode="json"),
            )
        pending = conn.execute(
            "SELECT count(*) FROM approval.correction_request WHERE item_id = %s AND letter_id IS NULL"
            " AND withdrawn_at IS NULL",
            (item_id,),
        ).fetchone()
        if pending and pending[0]:
            raise Conflict(
                "本事项有尚未发出的补正请求，请先撤回再作决定。",
                "The item has a correction request not yet sent; withdraw it before deciding.",
                code="open_request",
            )
        if body.document_id is not None:
            doc = conn.execute(
                "SELECT owner_org_id, purpose, project_id FROM material.material WHERE id = %s",
                (body.document_id,),
            ).fetchone()
            # The unit of this application will read it: another project's decision is not this one's.
            if doc is None or doc[:3] != (grant.principal.org_id, "decision", item.project_id):
                raise Unprocessable(
                    "决定文书须为本部门为本项目上传的决定类材料（purpose=decision）。",
                    "The decision document must be a decision material of your department for this project.",
                    code="bad_document",
                )
        detail = {"application_id": row["id"], "decision": body.decision}
        if item.status != "under_review":
            item_step(conn, grant, item, "start_review", "under_review", {"application_id": row["id"]})
            item = fetch_items(conn, "i.id = %(id)s", {"id": item_id})[0]
        target = "rejected" if body.decision == "refuse" else "approved"
        item_step(conn, grant, item, EVENT_OF[body.decision], target, detail)
        conn.execute(
            "INSERT INTO approval.opinion (item_id, decision, conditions, reasons, legal_basis, document_id,"
            " department_id, decided_by, decided_by_name) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                item_id,
                body.decision,
                body.conditions,
                body.reasons,
                body.legal_basis,
                body.document_id,
                item.department_id,  # the deciding department (NULL: an outside body, see decides)
                grant.principal.user_id or None,
                grant.principal.username,
            ),
        )
        conn.execute(
            "UPDATE approval.application SET version = version + 1, updated_at = now() WHERE id = %s",
            (row["id"],),
        )
        record(
            conn,
            grant.actor,
            "item.opinion",
            "approval_item",
            item_id,
            before={"status": item.status},
            after={"status": target, **body.model_dump(mode="json", exclude={"version"})},
        )
        return _view(conn, grant, row, item_id, today)


def request_correction(
    conn: Connection[Any], grant: Grant, item_id: int, body: CorrectionRequestBody
) -> CorrectionRequest:
    """A department asks the window for more on its item; the item stays under review and its clock runs
    until the window's letter."""
    with conn.transaction():
        item, row = _department_item(conn, grant, item_id)
        need_status(row, "correction_request", "accepted", "correction")
        if item.status not in RUNNING:
            raise Conflict(
                f"事项当前为“{ITEM_STATUS_LABELS[item.status][0]}”，不能请求补正。",
                f"No correction request is possible while the item is {ITEM_STATUS_LABELS[item.status][1]}.",
                code="illegal_transition",
                current=item.model_dump(mode="json"),
            )
        codes = {m.code for m in app_checklist(row, app_items(conn, row["id"]))}
        unknown = [p.material_code for p in body.points if p.material_code and p.material_code not in codes]
        if unknown:
            raise Unprocessable(
                f"材料代码“{'、'.join(unknown)}”不在本申报件的材料清单中。",
                f"Not on this application's checklist: {', '.join(unknown)}.",
                code="unknown_material",
            )
        points = [p.model_dump(mode="json") for p in body.points]
        got = conn.execute(
            "INSERT INTO approval.correction_request (application_id, item_id, department_id, points,"
            " requested_by) VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (row["id"], item_id, item.department_id, Jsonb(points), grant.principal.user_id or None),
        ).fetchone()
        assert got is not None
        request_id = int(got[0])
        add_event(
            conn,
            grant,
            row["id"],
            "correction_request",
            row["status"],
            row["status"],
            detail={"request_id": request_id, "item_id": item_id, "points": points},
        )
        conn.execute(
            "UPDATE approval.application SET version = version + 1, updated_at = now() WHERE id = %s",
            (row["id"],),
        )
        audit(conn, grant, "correction_request", row["id"], row)
        return [r for r in open_requests(conn, row["id"]) if r.id == request_id][0]


def withdraw_request(conn: Connection[Any], grant: Grant, request_id: int) -> CorrectionRequest:
    """The department withdraws its request while it is not yet in a letter."""
    with conn.transaction():
        found = conn.execute(
            "SELECT item_id FROM approval.correction_request WHERE id = %s", (request_id,)
        ).fetchone()
        if found is None:
            raise NotFound("补正请求不存在。", "No such correction request.")
        item, row = _department_item(conn, grant, int(found[0]))  # the application locked first
        got = conn.execute(
            "SELECT item_id, letter_id, withdrawn_at FROM approval.correction_request"
            " WHERE id = %s FOR UPDATE",
            (request_id,),
        ).fetchone()
        assert got is not None
        if got[1] is not None or got[2] is not None:
            raise Conflict(
                "该补正请求已发出或已撤回。",
                "The request is already in a letter or withdrawn.",
                code="request_closed",
            )
        conn.execute(
            "UPDATE approval.correction_request SET withdrawn_at = now() WHERE id = %s", (request_id,)
        )
        add_event(
            conn,
            grant,
            row["id"],
            "correction_request_withdrawn",
            row["status"],
            row["status"],
            detail={"request_id": request_id, "item_id": item.id},
        )
        conn.execute(
            "UPDATE approval.application SET version = version + 1, updated_at = now() WHERE id = %s",
            (row["id"],),
        )
        audit(conn, grant, "correction_request_withdrawn", row["id"], row)
        with conn.cursor(row_factory=dict_row) as cur:
            r = cur.execute(
                "SELECT r.id, r.application_id, r.item_id, i.name_zh AS item_name_zh,"
                " i.name_en AS item_name_en, r.department_id, o.name_zh AS department_name, r.points,"
                " r.requested_at, r.letter_id,"
                " r.withdrawn_at FROM approval.correction_request r JOIN approval.item i ON i.id = r.item_id"
                " LEFT JOIN auth.organisation o ON o.id = r.department_id WHERE r.id = %s",
                (request_id,),
            ).fetchone()
        assert r is not None
        return CorrectionRequest(**r)


def send_letter(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    body: LetterBody,
    expected: tuple[int, bool],
    today: date,
) -> Application:
    """The window merges EVERY open request into one letter; the items asked about go to correction on the
    letter's day (their clocks stop). Round 1 is the rule; a later round needs the window's reason."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        check_app_version(row, *expected)
        need_status(row, "send_letter", "accepted")
        requests = open_requests(conn, app_id)
        if not requests:
            raise refuse(
                row, "没有待发出的补正请求。", "No open correction request to send.", "no_open_requests"
            )
        round_no = int(row["correction_rounds"]) + 1
        if round_no > 1 and not body.round_reason:
            raise Unprocessable(
                f"一次性告知：第 {round_no} 轮补正须写明理由（round_reason）。",
                f"One consolidated correction per application: round {round_no} needs a round_reason.",
                code="round_reason_required",
            )
        got = conn.execute(
            "INSERT INTO approval.correction_letter (application_id, round, round_reason, sent_by)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (app_id, round_no, body.round_reason, grant.principal.user_id or None),
        ).fetchone()
        assert got is not None
        letter_id = int(got[0])
        conn.execute(
            "UPDATE approval.correction_request SET letter_id = %s WHERE id = ANY(%s)",
            (letter_id, [r.id for r in requests]),
        )
        asked = {r.item_id for r in requests}
        for item in app_items(conn, app_id):
            if item.id in asked and item.status in RUNNING:
                item_step(
                    conn,
                    grant,
                    item,
                    "return_for_correction",
                    "correction",
                    {"application_id": app_id, "letter_id": letter_id},
                )
        set_status(conn, app_id, "correction", "correction_rounds = %s", (round_no,))
        add_event(
            conn,
            grant,
            app_id,
            "send_letter",
            "accepted",
            "correction",
            note=body.note,
            detail={
                "letter_id": letter_id,
                "round": round_no,
                "requests": [r.id for r in requests],
                "item_ids": sorted(asked),
            },
        )
        audit(conn, grant, "send_letter", app_id, row)
    return fetch(conn, grant, app_id, today)


def resubmit(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    expected: tuple[int, bool],
    note: str | None,
    today: date,
) -> Application:
    """The unit answers the letter once for all of it: the items in correction resubmit (their clocks
    restart) and the application is back under review."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        need_unit(grant, row, "resubmit")
        check_app_version(row, *expected)
        need_status(row, "resubmit", "correction")
        letter = conn.execute(
            "SELECT id FROM approval.correction_letter WHERE application_id = %s AND resubmitted_at IS NULL"
            " ORDER BY round DESC LIMIT 1",
            (app_id,),
        ).fetchone()
        assert letter is not None
        letter_id = int(letter[0])
        for item in app_items(conn, app_id):
            if item.status == "correction":
                item_step(
                    conn,
                    grant,
                    item,
                    "resubmit",
                    "under_review",
                    {"application_id": app_id, "letter_id": letter_id},
                )
        conn.execute(
            "UPDATE approval.correction_letter SET resubmitted_at = now(), resubmitted_by = %s WHERE id = %s",
            (grant.principal.user_id or None, letter_id),
        )
        set_status(conn, app_id, "accepted")
        add_event(
            conn,
            grant,
            app_id,
            "resubmit",
            "correction",
            "accepted",
            note=note,
            detail={"letter_id": letter_id},
        )
        audit(conn, grant, "resubmit", app_id, row)
    return fetch(conn, grant, app_id, today)


def my_work(conn: Connection[Any], grant: Grant, today: date) -> list[WorkItem]:
    """Every item of an open application waiting on the caller's department, with its clock and colour,
    open requests and the joint reviews the department takes part in."""
    org = grant.principal.org_id
    # The system administrator's work: the items of bodies with no department account (see ``decides``).
    outside = grant.principal.role is Role.SYSTEM_ADMIN
    rows = conn.execute(
        "SELECT a.id, i.id FROM approval.application a"
        " JOIN approval.application_item ai ON ai.application_id = a.id"
        " JOIN approval.item i ON i.id = ai.item_id"
        " WHERE a.status IN ('accepted', 'correction')"
        " AND (CASE WHEN %(outside)s THEN i.department_id IS NULL ELSE i.department_id = %(org)s END)"
        " AND i.status IN ('accepted', 'accepted_conditional', 'under_review', 'correction')"
        " ORDER BY a.accepted_at, i.id",
        {"outside": outside, "org": org},
    ).fetchall()
    with conn.cursor(row_factory=dict_row) as cur:
        joint = cur.execute(
            "SELECT j.application_id, j.id, j.topic, j.scheduled_at, j.status, p.item_id,"
            " p.decision IS NOT NULL AS opinion_recorded FROM approval.joint_review j"
            " JOIN approval.joint_review_participant p ON p.joint_review_id = j.id AND p.department_id = %s"
            " WHERE j.status = 'scheduled' ORDER BY j.scheduled_at",
            (org,),
        ).fetchall()
    # One read of each application and one view of its waiting items (the clocks read the calendar once per
    # application, not once per item).
    wanted: dict[int, set[int]] = {}
    for app_id, item_id in rows:
        wanted.setdefault(app_id, set()).add(item_id)
    heads: dict[int, dict[str, Any]] = {}
    views: dict[int, Any] = {}
    for app_id, ids in wanted.items():
        heads[app_id] = load_row(conn, None, app_id)
        mine = [i for i in app_items(conn, app_id) if i.id in ids]
        views.update((v.id, v) for v in view_items(conn, grant, heads[app_id], mine, today))
    out: list[WorkItem] = []
    for app_id, item_id in rows:
        row, view = heads[app_id], views[item_id]
        out.append(
            WorkItem(
                application_id=app_id,
                application_number=row["number"],
                application_status=row["status"],
                project_id=row["project_id"],
                project_code=row["project_code"],
                project_name=row["project_name"],
                stage=row["stage"],
                item=view,
                joint_reviews=[
                    {k: v for k, v in j.items() if k != "application_id"}
                    for j in joint
                    if j["application_id"] == app_id
                ],
            )
        )
    return out
