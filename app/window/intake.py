"""The window's intake (一窗受理): accept in one step (分办), accept with gaps (容缺受理), return once
(一次性告知), and unified issuance (统一出件). The window receives, checks and hands out; it never decides.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from app.auth.deps import Grant
from app.errors import Unprocessable
from app.window.applications import (
    DECIDED,
    add_event,
    app_checklist,
    app_items,
    attached,
    audit,
    check_app_version,
    entry_state,
    fetch,
    item_step,
    load_row,
    missing_required,
    need_status,
    refuse,
    set_status,
)
from app.window.models import AcceptBody, Application, ReturnBody

# 容缺受理 promises a missing material soon, not someday: a promise past a year is refused as a typing slip.
GAP_DUE_MAX_DAYS = 366


def accept(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    body: AcceptBody,
    expected: tuple[int, bool],
    today: date,
) -> Application:
    """Accept the package: every item enters review at once (the same day). A gap (a conditional material
    the unit supplies later) makes each item needing it ``accepted_conditional`` with the gap materials'
    names and the earliest promised date; required materials are never gaps."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        check_app_version(row, *expected)
        need_status(row, "accept", "submitted")
        items = app_items(conn, app_id)
        materials = app_checklist(row, items)
        by_code = {m.code: m for m in materials}
        package = attached(conn, app_id)
        gaps: dict[str, date] = {}
        for gap in body.gaps:
            if gap.material_code in gaps:  # two promised dates for one material: the window must choose
                raise Unprocessable(
                    f"材料“{gap.material_code}”在容缺清单中重复出现。",
                    f"'{gap.material_code}' is listed twice among the gaps.",
                    code="duplicate_gap",
                )
            m = by_code.get(gap.material_code)
            if m is None:
                raise Unprocessable(
                    f"材料代码“{gap.material_code}”不在本申报件的材料清单中。",
                    f"'{gap.material_code}' is not on this application's checklist.",
                    code="unknown_material",
                )
            if m.required:
                raise Unprocessable(
                    f"“{m.name_zh}”是必需材料，不能容缺受理。",
                    f"'{m.name_en}' is required; only conditional materials may be supplied later.",
                    code="gap_on_required",
                )
            if entry_state(package.get(m.code), today) == "attached":
                raise Unprocessable(
                    f"“{m.name_zh}”已提交，不是缺项。",
                    f"'{m.name_en}' is attached; it is not a gap.",
                    code="gap_attached",
                )
            if gap.supplement_due < today:
                raise Unprocessable(
                    "容缺受理须给出不早于今天的承诺补齐日期 supplement_due。",
                    "Conditional acceptance needs a supplement_due date not in the past.",
                    code="supplement_due_required",
                )
            if gap.supplement_due > today + timedelta(days=GAP_DUE_MAX_DAYS):
                raise Unprocessable(
                    f"“{m.name_zh}”的承诺补齐日期不能晚于受理后一年（{GAP_DUE_MAX_DAYS} 天）。",
                    f"The supplement date of '{m.name_en}' may be at most {GAP_DUE_MAX_DAYS} days away.",
                    code="supplement_due_too_late",
                )
            gaps[m.code] = gap.supplement_due
        lacking = missing_required(materials, package, today)
        if lacking:  # the package changed under the window (an attachment expired): return it instead
            raise refuse(
                row,
                f"材料清单尚缺必需材料：{'、'.join(m.name_zh for m in lacking)}，应退回补齐。",
                f"Required materials missing or expired: {'; '.join(m.name_en for m in lacking)}.",
                "checklist_incomplete",
                missing=[m.code for m in lacking],
            )
        for item in items:
            if item.status != "submitted":
                continue
            mine = [by_code[c] for c in gaps if item.item_code in by_code[c].items]
            detail: dict[str, Any] = {"application_id": app_id}
            if mine:
                due = min(gaps[m.code] for m in mine)
                names = [m.name_zh for m in mine]
                item_step(
                    conn,
                    grant,
                    item,
                    "accept",
                    "accepted_conditional",
                    {**detail, "missing_documents": names, "supplement_due": due.isoformat()},
                    changes={"missing_documents": Jsonb(names), "supplement_due": due},
                )
            else:
                item_step(conn, grant, item, "accept", "accepted", detail)
        set_status(
            conn,
            app_id,
            "accepted",
            "accepted_at = now(), accepted_by = %s, window_org_id = %s",
            (grant.principal.user_id or None, grant.principal.org_id),
        )
        add_event(
            conn,
            grant,
            app_id,
            "accept",
            "submitted",
            "accepted",
            note=body.note,
            detail={"gaps": [{"material_code": c, "supplement_due": d.isoformat()} for c, d in gaps.items()]},
        )
        audit(conn, grant, "accept", app_id, row)
    return fetch(conn, grant, app_id, today)


def return_package(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    body: ReturnBody,
    expected: tuple[int, bool],
    today: date,
) -> Application:
    """Return the package once with one consolidated list of points (一次性告知); the items go back to
    not started (``window_return``: the clock never ran). A second return needs a recorded reason."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        check_app_version(row, *expected)
        need_status(row, "return", "submitted")
        items = app_items(conn, app_id)
        codes = {m.code for m in app_checklist(row, items)}
        unknown = [p.material_code for p in body.points if p.material_code and p.material_code not in codes]
        if unknown:
            raise Unprocessable(
                f"材料代码“{'、'.join(unknown)}”不在本申报件的材料清单中。",
                f"Not on this application's checklist: {', '.join(unknown)}.",
                code="unknown_material",
            )
        returns = conn.execute(
            "SELECT count(*) FROM approval.application_event WHERE application_id = %s AND action = 'return'",
            (app_id,),
        ).fetchone()
        if returns and returns[0] >= 1 and not body.reason:
            raise Unprocessable(
                "一次性告知：再次退回须写明理由（reason），例如补交材料带来的新问题。",
                "The package was returned once already: a second return needs a reason.",
                code="return_reason_required",
            )
        for item in items:
            if item.status == "submitted":
                item_step(conn, grant, item, "window_return", "not_started", {"application_id": app_id})
        set_status(conn, app_id, "returned")
        points = [p.model_dump(mode="json") for p in body.points]
        add_event(
            conn,
            grant,
            app_id,
            "return",
            "submitted",
            "returned",
            note=body.note,
            detail={"points": points, "reason": body.reason, "round": int(returns[0]) + 1 if returns else 1},
        )
        audit(conn, grant, "return", app_id, row)
    return fetch(conn, grant, app_id, today)


def issue(
    conn: Connection[Any],
    grant: Grant,
    app_id: int,
    expected: tuple[int, bool],
    note: str | None,
    today: date,
) -> Application:
    """Unified issuance (统一出件): every item decided; the application closes and the next stage opens."""
    with conn.transaction():
        row = load_row(conn, grant, app_id, lock=True)
        check_app_version(row, *expected)
        need_status(row, "issue", "accepted")
        items = app_items(conn, app_id)
        undecided = [i for i in items if i.status not in DECIDED]
        if undecided:
            raise refuse(
                row,
                f"尚有事项未作出决定：{'、'.join(i.name_zh for i in undecided)}。",
                f"Items still without a decision: {'; '.join(i.name_en for i in undecided)}.",
                "items_undecided",
                items=[i.item_code for i in undecided],
            )
        set_status(
            conn, app_id, "issued", "issued_at = now(), issued_by = %s", (grant.principal.user_id or None,)
        )
        add_event(
            conn,
            grant,
            app_id,
            "issue",
            "accepted",
            "issued",
            note=note,
            detail={"decisions": {i.item_code: i.status for i in items}},
        )
        audit(conn, grant, "issue", app_id, row)
    return fetch(conn, grant, app_id, today)
