"""Applications by stage (申报件): open, read, list, the materials checklist, attach/detach, submit, withdraw.

An application is one project's one stage (立项用地规划许可, 工程建设许可, 施工许可, 竣工验收), submitted as
one package at the one window. Its items are the stage's items that were not done when it was opened
(``approval.application_item``; the ``open`` event records them too). Inside an application the items run
in parallel (并联审批); the stage order is enforced instead: stage N may be opened only when no item of an
earlier stage is open.

Statuses: draft → submitted → (returned → submitted)* → accepted ⇄ correction → issued; withdrawn by the unit
before acceptance. Every step writes an application event and/or item events and one audit record in the
same transaction; the item event log stays the single source of clocks, warnings and KPIs.

The application number is ``YC`` + the opening day (yyyymmdd, district time) + the value of the sequence
``approval.application_serial`` zero-padded to 4 digits (``YC202602130042``; the serial is district-wide and
never reused, so it grows past 4 digits after 9999 applications rather than repeating).
"""

from __future__ import annotations

from datetime import date
from typing import Any, LiteralString

from psycopg import Connection, sql
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from app.auth.deps import Grant
from app.auth.policy import Role, Scope
from app.auth.users import ACTOR_DISPLAY_NAME, JOIN_ACTOR
from app.calendar.store import load_calendar
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.materials import service as materials_service
from app.projects import service as project_service
from app.projects.demolition import check_gate
from app.projects.plan import Item, fetch_items, item_events
from app.projects.supervision import clock_colour
from app.projects.templates import STAGES, TemplateMaterial, checklist, get_template
from app.projects.timing import RUNNING, due_date, timing
from app.versioning import check_version
from app.window.models import (
    Application,
    ApplicationCreate,
    ApplicationEvent,
    ApplicationItem,
    ApplicationSummary,
    ChecklistEntry,
    CorrectionRequest,
    Letter,
    LetterPoint,
    MaterialSummary,
    Opinion,
)
from layers.audit import record

STAGE_NAMES = {
    "project_land": ("立项用地规划许可", "Project approval and land-use planning permit"),
    "engineering": ("工程建设许可", "Construction project permit"),
    "construction": ("施工许可", "Construction permit"),
    "completion": ("竣工验收", "Completion acceptance"),
}
# An item with a decision (or taken out of the plan): the application may be issued when all are.
DECIDED = frozenset({"approved", "rejected", "cancelled", "merged"})
OPEN_STATUSES = ("draft", "submitted", "returned", "accepted", "correction")
# The unit changes its package only while it is with the unit.
EDITABLE = frozenset({"draft", "returned", "correction"})

_SUMMARY_SQL = """
SELECT a.id, a.number, a.project_id, p.code AS project_code, p.name AS project_name,
  p.unit_org_id, u.name_zh AS unit_name, a.stage, a.status, a.version, a.correction_rounds, a.submitted_at,
  a.accepted_at, a.issued_at, a.contact_name, a.contact_phone, p.project_type
FROM approval.application a JOIN project.project p ON p.id = a.project_id
JOIN auth.organisation u ON u.id = p.unit_org_id
"""
# The items of application ``a``.
APP_ITEM_IDS = "SELECT ai.item_id FROM approval.application_item ai WHERE ai.application_id = a.id"


# ---------------------------------------------------------------------------------------------------- reads


def visibility(grant: Grant) -> tuple[sql.Composable, dict[str, Any]]:
    """Units see their projects' applications, departments those with an item of theirs, the rest all."""
    if grant.scope is Scope.ANY:
        return sql.SQL("TRUE"), {}
    org = {"scope_org": grant.principal.org_id}
    if grant.principal.role is Role.REVIEWER:
        return (
            sql.SQL(
                # A semi-join from the application's items (its key) to theirs: 3 ms for the district's
                # ~800 applications, where IN over a correlated subquery took a second.
                "EXISTS (SELECT 1 FROM approval.application_item ai"
                " JOIN approval.item si ON si.id = ai.item_id"
                " WHERE ai.application_id = a.id AND si.department_id = %(scope_org)s)"
            ),
            org,
        )
    return sql.SQL("p.unit_org_id = %(scope_org)s"), org


def _summary(row: dict[str, Any]) -> ApplicationSummary:
    zh, en = STAGE_NAMES[row["stage"]]
    fields = {k: v for k, v in row.items() if k in ApplicationSummary.model_fields}
    return ApplicationSummary(**fields, stage_name_zh=zh, stage_name_en=en)


def load_row(
    conn: Connection[Any], grant: Grant | None, app_id: int, *, lock: bool = False
) -> dict[str, Any]:
    """The application's row (with project fields) if ``grant`` may see it (None: no check), else 404."""
    if lock:
        conn.execute("SELECT 1 FROM approval.application WHERE id = %s FOR UPDATE", (app_id,))
    where, params = visibility(grant) if grant else (sql.SQL("TRUE"), {})
    query = sql.SQL(_SUMMARY_SQL + " WHERE a.id = %(id)s AND {}").format(where)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, {"id": app_id, **params}).fetchone()
    if row is None:
        raise NotFound("申报件不存在。", "No such application.")
    return dict(row)


def app_items(conn: Connection[Any], app_id: int) -> list[Item]:
    """The application's items, in id order."""
    return fetch_items(
        conn,
        "i.id IN (SELECT ai.item_id FROM approval.application_item ai WHERE ai.application_id = %(app)s)",
        {"app": app_id},
    )


def app_checklist(row: dict[str, Any], items: list[Item]) -> list[TemplateMaterial]:
    """The application's checklist: the materials of its items."""
    return checklist(row["project_type"], [i.item_code for i in items])


def offers(
    conn: Connection[Any], org_id: int, project_id: int, codes: list[str], today: date
) -> dict[str, list[MaterialSummary]]:
    """Current library versions of the unit offered per checklist code (this project's or org-wide, not
    expired), as the materials store offers them."""
    found = materials_service.offers(conn, org_id, project_id, codes, today)
    return {
        code: [
            MaterialSummary(
                material_id=m.id,
                file_name=m.file_name,
                version=m.version,
                valid_until=m.valid_until,
                project_id=m.project_id,
                uploaded_at=m.uploaded_at,
            )
            for m in found.get(code, [])
        ]
        for code in codes
    }


def attached(conn: Connection[Any], app_id: int) -> dict[str, MaterialSummary]:
    """The package: checklist code → the attached version."""
    rows = conn.execute(
        "SELECT am.material_code, m.id, m.file_name, m.version, m.valid_until, m.project_id, m.uploaded_at"
        " FROM approval.application_material am JOIN material.material m ON m.id = am.material_id"
        " WHERE am.application_id = %s",
        (app_id,),
    ).fetchall()
    return {
        r[0]: MaterialSummary(
            material_id=r[1],
            file_name=r[2],
            version=r[3],
            valid_until=r[4],
            project_id=r[5],
            uploaded_at=r[6],
        )
        for r in rows
    }


def entry_state(entry: MaterialSummary | None, today: date) -> str:
    """attached / missing / expired."""
    if entry is None:
        return "missing"
    if entry.valid_until is not None and entry.valid_until < today:
        return "expired"
    return "attached"


def gap_names(items: list[Item]) -> set[str]:
    """Names of materials still outstanding after 容缺受理."""
    return {n for i in items if i.supplemented_at is None for n in (i.missing_documents or [])}


def _opinions(conn: Connection[Any], item_ids: list[int]) -> dict[int, Opinion]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT o.item_id, o.decision, o.conditions, o.reasons, o.legal_basis, o.document_id,"
            " o.decided_by_name, coalesce(nullif(u.display_name, ''), o.decided_by_name)"
            " AS decided_by_display_name, o.decided_at FROM approval.opinion o"
            " LEFT JOIN auth.user u ON u.id = o.decided_by WHERE o.item_id = ANY(%s)",
            (item_ids,),
        ).fetchall()
    return {r.pop("item_id"): Opinion(**r) for r in rows}


def _requests(
    conn: Connection[Any], where: sql.Composable, params: dict[str, Any]
) -> list[CorrectionRequest]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL(
                "SELECT r.id, r.application_id, r.item_id, i.name_zh AS item_name_zh,"
                " i.name_en AS item_name_en, r.department_id, o.name_zh AS department_name, r.points,"
                " r.requested_at, r.letter_id, r.withdrawn_at FROM approval.correction_request r"
                " JOIN approval.item i ON i.id = r.item_id"
                " LEFT JOIN auth.organisation o ON o.id = r.department_id WHERE {} ORDER BY r.id"
            ).format(where),
            params,
        ).fetchall()
    return [CorrectionRequest(**r) for r in rows]


def open_requests(conn: Connection[Any], app_id: int) -> list[CorrectionRequest]:
    """Requests not yet merged into a letter nor withdrawn."""
    return _requests(
        conn,
        sql.SQL("r.application_id = %(a)s AND r.letter_id IS NULL AND r.withdrawn_at IS NULL"),
        {"a": app_id},
    )


def _letters(conn: Connection[Any], app_id: int) -> list[Letter]:
    reqs = _requests(conn, sql.SQL("r.application_id = %(a)s AND r.letter_id IS NOT NULL"), {"a": app_id})
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, round, round_reason, sent_at, resubmitted_at FROM approval.correction_letter"
            " WHERE application_id = %s ORDER BY round",
            (app_id,),
        ).fetchall()
    return [
        Letter(
            **r,
            points=[
                LetterPoint(
                    request_id=q.id,
                    item_id=q.item_id,
                    department_name=q.department_name,
                    item_name_zh=q.item_name_zh,
                    item_name_en=q.item_name_en,
                    material_code=p.get("material_code"),
                    text=p["text"],
                )
                for q in reqs
                if q.letter_id == r["id"]
                for p in q.points
            ],
        )
        for r in rows
    ]


def _is_unit(grant: Grant, row: dict[str, Any]) -> bool:
    return grant.principal.role is Role.PROJECT_UNIT and grant.principal.org_id == row["unit_org_id"]


def application_actions(
    grant: Grant, row: dict[str, Any], items: list[Item], requests: int, gaps: bool
) -> list[str]:
    """What the caller may do on the application now."""
    status, role = row["status"], grant.principal.role
    out: list[str] = []
    if _is_unit(grant, row):
        if status in ("draft", "returned"):
            out += ["attach", "submit", "withdraw"]
        elif status == "submitted":
            out += ["withdraw"]
        elif status == "correction":
            out += ["attach", "resubmit"]
        if status in ("accepted", "correction") and gaps:
            out += ["supplement"]
    elif role is Role.WINDOW:
        if status == "submitted":
            out += ["accept", "return"]
        if status == "accepted" and requests:
            out += ["send_letter"]
        if status == "accepted" and items and all(i.status in DECIDED for i in items):
            out += ["issue"]
    return out


def decides(grant: Grant, item: Item) -> bool:
    """Whether the caller reviews the item: its department's reviewers, or — for an item of a body with no
    department account (department_id NULL: the metro group, the gas company…) — the system administrator,
    who records that body's written opinion (as in the item-by-item flow). Never the window."""
    p = grant.principal
    if p.role is Role.REVIEWER:
        return p.org_id == item.department_id
    return p.role is Role.SYSTEM_ADMIN and item.department_id is None


def _item_actions(grant: Grant, row: dict[str, Any], item: Item) -> list[str]:
    if not decides(grant, item):
        return []
    if row["status"] not in ("accepted", "correction") or item.status not in RUNNING:
        return []
    return ["opinion", "correction_request"]


def view_items(
    conn: Connection[Any], grant: Grant, row: dict[str, Any], items: list[Item], today: date
) -> list[ApplicationItem]:
    """The items with their clocks (started, due, working days used, colour as e-supervision gives them)."""
    if not items:
        return []
    ids = [i.id for i in items]
    cal = load_calendar(conn)
    events = item_events(conn, ids)
    opinions = _opinions(conn, ids)
    names = dict(
        conn.execute(
            "SELECT id, name_zh FROM auth.organisation WHERE id = ANY(%s)",
            ([i.department_id for i in items if i.department_id],),
        ).fetchall()
    )
    counts = dict(
        conn.execute(
            "SELECT item_id, count(*) FROM approval.correction_request WHERE item_id = ANY(%s)"
            " AND letter_id IS NULL AND withdrawn_at IS NULL GROUP BY item_id",
            (ids,),
        ).fetchall()
    )
    joint = {i.code for i in get_template(row["project_type"]).items if i.joint_review}
    out = []
    for item in items:
        t = timing(events[item.id], cal, today)
        due = due_date(t, cal, item.promised_days)
        out.append(
            ApplicationItem(
                id=item.id,
                item_code=item.item_code,
                name_zh=item.name_zh,
                name_en=item.name_en,
                department_id=item.department_id,
                department_code=item.department_code,
                department_name=names.get(item.department_id),
                status=item.status,
                version=item.version,
                promised_days=item.promised_days,
                statutory_days=item.statutory_days,
                started_on=t.started,
                due=due,
                elapsed_days=t.elapsed_days,
                colour=clock_colour(item.status, t.elapsed_days, item.promised_days),
                missing_documents=item.missing_documents,
                supplement_due=item.supplement_due,
                supplemented_at=item.supplemented_at,
                opinion=opinions.get(item.id),
                open_requests=int(counts.get(item.id, 0)),
                joint_review=item.item_code in joint,
                allowed_actions=_item_actions(grant, row, item),
            )
        )
    return out


def _events(conn: Connection[Any], app_id: int) -> list[ApplicationEvent]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT e.id, e.action, e.from_status, e.to_status, e.actor_name, " + ACTOR_DISPLAY_NAME + ","
            " e.actor_org_id, e.at, e.note, e.detail FROM approval.application_event e "
            + JOIN_ACTOR
            + " WHERE e.application_id = %s ORDER BY e.at, e.id",
            (app_id,),
        ).fetchall()
    return [ApplicationEvent(**r) for r in rows]


def fetch(conn: Connection[Any], grant: Grant, app_id: int, today: date) -> Application:
    """The full application as the caller may see it, or 404."""
    row = load_row(conn, grant, app_id)
    items = app_items(conn, app_id)
    package = attached(conn, app_id)
    materials = app_checklist(row, items)
    # The library is the unit's own: only the unit is shown what it could attach.
    codes = [m.code for m in materials]
    offered = (
        offers(conn, row["unit_org_id"], row["project_id"], codes, today) if _is_unit(grant, row) else {}
    )
    outstanding = gap_names(items)
    entries = [
        ChecklistEntry(
            code=m.code,
            name_zh=m.name_zh,
            name_en=m.name_en,
            required=m.required,
            condition_zh=m.condition_zh,
            condition_en=m.condition_en,
            types=list(m.types),
            item_codes=m.items,
            expires=m.expires,
            attached=package.get(m.code),
            offered=offered.get(m.code, []),
            state=entry_state(package.get(m.code), today),
            gap=m.name_zh in outstanding and m.code not in package,
        )
        for m in materials
    ]
    requests = open_requests(conn, app_id)
    return Application(
        **_summary(row).model_dump(),
        items=view_items(conn, grant, row, items, today),
        checklist=entries,
        letters=_letters(conn, app_id),
        open_requests=requests,
        allowed_actions=application_actions(grant, row, items, len(requests), any(e.gap for e in entries)),
        events=_events(conn, app_id),
    )


QUEUES = {
    "new": sql.SQL("a.status = 'submitted'"),
    "returned": sql.SQL("a.status = 'returned'"),
    "issuing": sql.SQL(
        "a.status = 'accepted' AND NOT EXISTS (SELECT 1 FROM approval.item qi WHERE qi.id IN ("
        + APP_ITEM_IDS
        + ") AND qi.status NOT IN ('approved', 'rejected', 'cancelled', 'merged'))"
    ),
}


def list_applications(
    conn: Connection[Any],
    grant: Grant,
    status: str | None,
    stage: str | None,
    project_id: int | None,
    queue: str | None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[ApplicationSummary]]:
    """One page of the applications the caller may see, newest first, and how many match in all; ``queue``
    picks the window's work queues."""
    where, params = visibility(grant)
    queue_sql = QUEUES[queue] if queue else sql.SQL("TRUE")
    query = sql.SQL(
        _SUMMARY_SQL + " WHERE {} AND {} AND (%(status)s::text IS NULL OR a.status = %(status)s)"
        " AND (%(stage)s::text IS NULL OR a.stage = %(stage)s)"
        " AND (%(pid)s::bigint IS NULL OR a.project_id = %(pid)s)"
        " ORDER BY coalesce(a.submitted_at, a.created_at) DESC, a.id DESC LIMIT %(limit)s OFFSET %(offset)s"
    ).format(where, queue_sql)
    count = sql.SQL(
        "SELECT count(*) FROM approval.application a JOIN project.project p ON p.id = a.project_id"
        " WHERE {} AND {} AND (%(status)s::text IS NULL OR a.status = %(status)s)"
        " AND (%(stage)s::text IS NULL OR a.stage = %(stage)s)"
        " AND (%(pid)s::bigint IS NULL OR a.project_id = %(pid)s)"
    ).format(where, queue_sql)
    bound = {**params, "status": status, "stage": stage, "pid": project_id, "limit": limit, "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, bound).fetchall()
    total = conn.execute(count, bound).fetchone()
    return (int(total[0]) if total else 0), [_summary(dict(r)) for r in rows]


# ------------------------------------------------------------------------------------------------- writing


def add_event(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    action: str,
    from_status: str,
    to_status: str,
    *,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One row of the application's event log."""
    p = grant.principal
    conn.execute(
        "INSERT INTO approval.application_event (application_id, action, from_status, to_status, actor_id,"
        " actor_name, actor_org_id, note, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            app_id,
            action,
            from_status,
            to_status,
            p.user_id or None,
            p.username,
            p.org_id,
            note,
            Jsonb(detail) if detail is not None else None,
        ),
    )


def set_status(
    conn: Connection[Any], app_id: int, status: str, extra: LiteralString = "", params: tuple[Any, ...] = ()
) -> None:
    """Move the application (``extra``: constant SQL assignments such as ``accepted_at = now()``, with
    ``params`` for its placeholders)."""
    conn.execute(
        "UPDATE approval.application SET status = %s, version = version + 1, updated_at = now()"
        + (", " + extra if extra else "")
        + " WHERE id = %s",
        (status, *params, app_id),
    )


def item_step(
    conn: Connection[Any],
    grant: Grant,
    item: Item,
    action: str,
    target: str,
    detail: dict[str, Any],
    *,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Move one item and write its event (the item log is what clocks, warnings and KPIs read)."""
    sets: list[sql.Composable] = [sql.SQL("status = %(status)s, version = version + 1, updated_at = now()")]
    for column in changes or {}:
        sets.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))
    conn.execute(
        sql.SQL("UPDATE approval.item SET {} WHERE id = %(id)s").format(sql.SQL(", ").join(sets)),
        {**(changes or {}), "status": target, "id": item.id},
    )
    p = grant.principal
    conn.execute(
        "INSERT INTO approval.item_event (item_id, action, from_status, to_status, actor_id, actor_name,"
        " actor_org_id, note, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (item.id, action, item.status, target, p.user_id or None, p.username, p.org_id, note, Jsonb(detail)),
    )


def audit(
    conn: Connection[Any], grant: Grant, action: str, app_id: int, before: dict[str, Any] | None
) -> None:
    """The step's one audit record: the application before and after."""
    after = load_row(conn, None, app_id)
    record(
        conn,
        grant.actor,
        f"application.{action}",
        "application",
        app_id,
        before=_summary(before).model_dump(mode="json") if before else None,
        after=_summary(after).model_dump(mode="json"),
    )


def check_app_version(row: dict[str, Any], expected: int, from_header: bool) -> None:
    """412 (If-Match) / 409 (version field) when the caller read an older application."""
    check_version(row["version"], expected, from_header, _summary(row).model_dump(mode="json"))


def refuse(row: dict[str, Any], zh: str, en: str, code: str, **extra: Any) -> Conflict:
    """A 409 carrying the application's current state."""
    return Conflict(zh, en, code=code, current=_summary(row).model_dump(mode="json"), **extra)


# What people read for a status and a step in a refusal (clients get the codes beside it).
STATUS_LABELS = {
    "draft": ("草稿", "draft"),
    "submitted": ("已申报", "submitted"),
    "returned": ("已退件", "returned"),
    "accepted": ("审查中", "under review"),
    "correction": ("补正中", "awaiting correction"),
    "issued": ("已出件", "issued"),
    "withdrawn": ("已撤回", "withdrawn"),
}
STEP_LABELS = {
    "attach": ("添加材料", "attach a material"),
    "submit": ("申报", "submit"),
    "withdraw": ("撤回", "withdraw"),
    "resubmit": ("补正后重新提交", "resubmit after correction"),
    "accept": ("受理", "accept"),
    "return": ("退件", "return"),
    "send_letter": ("发出补正告知", "send the correction letter"),
    "issue": ("统一出件", "issue the results"),
    "opinion": ("审查意见", "record an opinion"),
    "correction_request": ("补正请求", "request a correction"),
}


def step_label(action: str) -> tuple[str, str]:
    """Chinese and English names of a step (its code when it has none)."""
    return STEP_LABELS.get(action, (action, action))


def need_status(row: dict[str, Any], action: str, *allowed: str) -> None:
    """409 ``illegal_step`` unless the application is in one of ``allowed``."""
    if row["status"] not in allowed:
        zh, en = step_label(action)
        status_zh, status_en = STATUS_LABELS.get(row["status"], (row["status"], row["status"]))
        raise refuse(
            row,
            f"申报件当前为“{status_zh}”，不能{zh}。",
            f"Cannot {en} while the application is {status_en}.",
            "illegal_step",
            action=action,
        )


def need_unit(grant: Grant, row: dict[str, Any], action: str) -> None:
    """Only the project's own unit takes this step."""
    if not _is_unit(grant, row):
        zh, en = step_label(action)
        raise Forbidden(f"“{zh}”只能由项目单位办理。", f"Only the project unit may {en}.", code="wrong_party")


def open_application(
    conn: Connection[Any], grant: Grant, body: ApplicationCreate, today: date
) -> Application:
    """Open an application for one stage of the caller's project (one open per project and stage)."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM project.project WHERE id = %s FOR UPDATE", (body.project_id,))
        project = project_service.fetch_project(conn, body.project_id, grant)
        if grant.principal.org_id != project.unit_org_id:
            raise Forbidden(
                "只有项目单位可以申报本项目。",
                "Only the project's unit may apply for it.",
                code="wrong_party",
            )
        existing = conn.execute(
            "SELECT id, number FROM approval.application WHERE project_id = %s AND stage = %s"
            " AND status = ANY(%s)",
            (project.id, body.stage, list(OPEN_STATUSES)),
        ).fetchone()
        if existing:
            raise Conflict(
                f"本阶段已有未办结的申报件 {existing[1]}。",
                f"This stage already has an open application ({existing[1]}).",
                code="application_exists",
                application_id=existing[0],
            )
        # The stage's items are read under their row locks (project, then items in id order, as every step
        # takes them), so an item moved one by one meanwhile is either seen moving, or waits and then finds
        # itself in this application (its own move refused as handled by the window).
        conn.execute(
            "SELECT 1 FROM approval.item WHERE project_id = %s AND stage = %s ORDER BY id FOR UPDATE",
            (project.id, body.stage),
        )
        items = fetch_items(conn, "i.project_id = %(p)s", {"p": project.id})
        earlier = STAGES[: STAGES.index(body.stage)]
        pending = [i for i in items if i.stage in earlier and i.status not in DECIDED]
        if pending:
            raise Conflict(
                f"前序阶段尚有未办结事项：{'、'.join(i.name_zh for i in pending)}。",
                f"Earlier stages still have open items: {'; '.join(i.name_en for i in pending)}.",
                code="earlier_stage_open",
                pending=[i.item_code for i in pending],
            )
        mine = [i for i in items if i.stage == body.stage and i.status not in DECIDED]
        if not mine:
            raise Conflict(
                "本阶段没有待办理的审批事项（或尚未生成审批计划）。",
                "The stage has no item left to apply for (or the project has no plan yet).",
                code="nothing_to_apply",
            )
        busy = [i for i in mine if i.status != "not_started"]
        if busy:
            raise Conflict(
                f"以下事项已在逐项办理中，不能再纳入申报件：{'、'.join(i.name_zh for i in busy)}。",
                f"These items are already being handled one by one: {'; '.join(i.name_en for i in busy)}.",
                code="items_in_progress",
                items=[i.item_code for i in busy],
            )
        serial = conn.execute("SELECT nextval('approval.application_serial')").fetchone()
        assert serial is not None
        number = f"YC{today:%Y%m%d}{int(serial[0]):04d}"
        try:
            row = conn.execute(
                "INSERT INTO approval.application (number, project_id, stage, contact_name, contact_phone,"
                " created_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    number,
                    project.id,
                    body.stage,
                    body.contact_name,
                    body.contact_phone,
                    grant.principal.user_id or None,
                ),
            ).fetchone()
        except UniqueViolation as exc:  # a concurrent opening of the same stage won
            raise Conflict(
                "本阶段已有未办结的申报件。",
                "This stage already has an open application.",
                code="application_exists",
            ) from exc
        assert row is not None
        app_id = int(row[0])
        conn.execute(
            "INSERT INTO approval.application_item (application_id, item_id) SELECT %s, unnest(%s::bigint[])",
            (app_id, [i.id for i in mine]),
        )
        add_event(
            conn,
            grant,
            app_id,
            "open",
            "draft",
            "draft",
            detail={"item_ids": [i.id for i in mine], "item_codes": [i.item_code for i in mine]},
        )
        audit(conn, grant, "open", app_id, None)
    return fetch(conn, grant, app_id, today)


def _material_for(
    conn: Connection[Any], row: dict[str, Any], code: str, material_id: int, today: date
) -> None:
    """The material version may answer this entry: the unit's own, same code, for this project or
    org-wide, not expired (another organisation's material is not revealed: 404)."""
    m = conn.execute(
        "SELECT owner_org_id, material_code, purpose, project_id, valid_until FROM material.material"
        " WHERE id = %s",
        (material_id,),
    ).fetchone()
    if m is None or m[0] != row["unit_org_id"]:
        raise NotFound("材料不存在。", "No such material.")
    owner, mcode, purpose, pid, valid_until = m
    if mcode != code or purpose != "application" or pid not in (None, row["project_id"]):
        raise Unprocessable(
            f"该材料不是本申报件“{code}”所需的材料。",
            f"This material does not answer the checklist entry '{code}'.",
            code="material_mismatch",
        )
    if valid_until is not None and valid_until < today:
        raise Unprocessable(
            f"该材料已于 {valid_until} 过期，请上传有效版本。",
            f"This material expired on {valid_until}; upload a valid version.",
            code="material_expired",
        )


def _entry(materials: list[TemplateMaterial], code: str) -> TemplateMaterial:
    for m in materials:
        if m.code == code:
            return m
    raise Unprocessable(
        f"材料代码“{code}”不在本申报件的材料清单中。",
        f"'{code}' is not on this application's checklist.",
        code="unknown_material",
    )


def attach(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    code: str,
    material_id: int | None,
    expected: tuple[int, bool] | None,
    today: date,
) -> Application:
    """Attach (``material_id``) or detach (None) a material version. While the package is with the unit
    (draft, returned, correction) any entry; after a 容缺 acceptance only the outstanding gaps, which
    records the items' ``supplement`` once all their gaps are attached."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        need_unit(grant, row, "attach")
        if expected is not None:
            check_app_version(row, *expected)
        items = app_items(conn, app_id)
        materials = app_checklist(row, items)
        entry = _entry(materials, code)
        outstanding = gap_names(items)
        supplementing = row["status"] in ("accepted", "correction") and entry.name_zh in outstanding
        if row["status"] not in EDITABLE and not supplementing:
            raise refuse(
                row,
                "申报件已受理，材料不能再更换（补正时或补齐容缺材料时除外）。",
                "The package is locked once accepted (except for corrections and 容缺 supplements).",
                "package_locked",
            )
        before = dict(row)
        detail: dict[str, Any]
        if material_id is None:
            if supplementing:
                raise refuse(
                    row, "容缺材料只能补交，不能撤下。", "A supplement cannot be detached.", "package_locked"
                )
            conn.execute(
                "DELETE FROM approval.application_material WHERE application_id = %s AND material_code = %s",
                (app_id, code),
            )
            action, detail = "detach", {"material_code": code}
        else:
            _material_for(conn, row, code, material_id, today)
            conn.execute(
                "INSERT INTO approval.application_material (application_id, material_code, material_id,"
                " attached_by) VALUES (%s, %s, %s, %s) ON CONFLICT (application_id, material_code) DO UPDATE"
                " SET material_id = EXCLUDED.material_id, attached_by = EXCLUDED.attached_by,"
                " attached_at = now()",
                (app_id, code, material_id, grant.principal.user_id or None),
            )
            action, detail = "attach", {"material_code": code, "material_id": material_id}
        if supplementing:
            action = "supplement"
            package = attached(conn, app_id)
            names = {m.name_zh: m.code for m in materials}
            for item in items:
                gaps = item.missing_documents or []
                if (
                    item.supplemented_at is None
                    and entry.name_zh in gaps
                    and all(names.get(n) in package for n in gaps)
                ):
                    item_step(
                        conn,
                        grant,
                        item,
                        "supplement",
                        item.status,
                        {"application_id": app_id, "material_code": code},
                        changes={"supplemented_at": _now(conn)},
                    )
        add_event(conn, grant, app_id, action, row["status"], row["status"], detail=detail)
        conn.execute(
            "UPDATE approval.application SET version = version + 1, updated_at = now() WHERE id = %s",
            (app_id,),
        )
        audit(conn, grant, action, app_id, before)
    return fetch(conn, grant, app_id, today)


def _now(conn: Connection[Any]) -> Any:
    got = conn.execute("SELECT now()").fetchone()
    assert got is not None
    return got[0]


def missing_required(
    materials: list[TemplateMaterial], package: dict[str, MaterialSummary], today: date
) -> list[TemplateMaterial]:
    """Required entries not answered by a valid attachment."""
    return [m for m in materials if m.required and entry_state(package.get(m.code), today) != "attached"]


def submit(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    expected: tuple[int, bool],
    note: str | None,
    today: date,
) -> Application:
    """Submit the package to the window: every required entry attached; the items go to ``submitted``."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        need_unit(grant, row, "submit")
        check_app_version(row, *expected)
        need_status(row, "submit", "draft", "returned")
        items = app_items(conn, app_id)
        lacking = missing_required(app_checklist(row, items), attached(conn, app_id), today)
        if lacking:
            raise refuse(
                row,
                f"材料清单尚缺必需材料：{'、'.join(m.name_zh for m in lacking)}。",
                f"Required materials missing or expired: {'; '.join(m.name_en for m in lacking)}.",
                "checklist_incomplete",
                missing=[m.code for m in lacking],
            )
        for item in items:
            if item.status == "not_started":
                check_gate(conn, item.project_id, item.item_code)
                item_step(conn, grant, item, "submit", "submitted", {"application_id": app_id})
        set_status(conn, app_id, "submitted", "submitted_at = now()")
        add_event(conn, grant, app_id, "submit", row["status"], "submitted", note=note)
        audit(conn, grant, "submit", app_id, row)
    return fetch(conn, grant, app_id, today)


def withdraw(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    expected: tuple[int, bool],
    note: str | None,
    today: date,
) -> Application:
    """The unit withdraws its application before acceptance; submitted items go back to not started."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        need_unit(grant, row, "withdraw")
        check_app_version(row, *expected)
        need_status(row, "withdraw", "draft", "submitted", "returned")
        for item in app_items(conn, app_id):
            if item.status == "submitted":
                item_step(conn, grant, item, "withdraw", "not_started", {"application_id": app_id})
        set_status(conn, app_id, "withdrawn")
        add_event(conn, grant, app_id, "withdraw", row["status"], "withdrawn", note=note)
        audit(conn, grant, "withdraw", app_id, row)
    return fetch(conn, grant, app_id, today)


def in_open_application(conn: Connection[Any], item_id: int) -> int | None:
    """The id of the open application holding the item, if any."""
    got = conn.execute(
        "SELECT a.id FROM approval.application a"
        " JOIN approval.application_item ai ON ai.application_id = a.id"
        " WHERE a.status = ANY(%s) AND ai.item_id = %s",
        (list(OPEN_STATUSES), item_id),
    ).fetchone()
    return int(got[0]) if got else None
