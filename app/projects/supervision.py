"""E-supervision (电子监察): warnings per department and per project, and the KPI read-out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from psycopg import Connection, sql
from pydantic import BaseModel

from app.auth.deps import Grant
from app.auth.policy import Role, Scope
from app.calendar.store import load_calendar
from app.calendar.workdays import WorkCalendar
from app.projects.kpis import GroupBy, ItemFact, KpiRow, compute_kpis
from app.projects.plan import item_events
from app.projects.timing import RUNNING, Timing, due_date, timing

YELLOW_SHARE = 0.8


class SupervisionWarning(BaseModel):
    """One warning: yellow at ≥ 80 % of the promised limit, red when past it (``overdue``), past the
    statutory limit as well (``statutory_overdue``, 超法定时限) or when a 容缺 supplement is late.

    Warnings from other sources (overdue demolition blockers; the one window's packages not accepted in
    time, app/window/warnings.py) leave the item fields empty; the window's name ``application_id``.
    """

    level: str
    kind: str
    item_id: int | None
    item_code: str | None
    item_name_zh: str | None
    item_name_en: str | None = None
    department_code: str
    project_id: int
    project_code: str
    project_name: str
    status: str
    elapsed_days: int | None
    promised_days: int | None
    statutory_days: int | None = None
    used_pct: float | None
    due_on: date | None
    supplement_due: date | None
    message_zh: str
    message_en: str
    blocker_id: int | None = None
    application_id: int | None = None


# Other modules add warnings of their own (the demolition ledger: overdue blockers) through this hook.
WarningSource = Callable[[Connection[Any], Grant, date, int | None, str | None], list[SupervisionWarning]]
_warning_sources: list[WarningSource] = []


def add_warning_source(source: WarningSource) -> WarningSource:
    """Register a source of warnings (called with conn, grant, as_of, project_id, department)."""
    if source not in _warning_sources:
        _warning_sources.append(source)
    return source


def _scope(grant: Grant) -> tuple[sql.Composable, dict[str, Any]]:
    """Departments see their own items, units their own projects', everyone else all."""
    if grant.scope is Scope.ANY:
        return sql.SQL("TRUE"), {}
    if grant.principal.role is Role.REVIEWER:
        return sql.SQL("i.department_id = %(scope_org)s"), {"scope_org": grant.principal.org_id}
    return sql.SQL("p.unit_org_id = %(scope_org)s"), {"scope_org": grant.principal.org_id}


def _rows(
    conn: Connection[Any],
    grant: Grant,
    project_id: int | None,
    department: str | None,
    statuses: list[str] | None,
) -> list[tuple[Any, ...]]:
    where, params = _scope(grant)
    query = sql.SQL(
        "SELECT i.id, i.item_code, i.name_zh, i.department_code, i.promised_days, i.status,"
        " i.missing_documents,"
        " i.supplement_due, i.supplemented_at, p.id, p.code, p.name, i.name_en, i.statutory_days"
        " FROM approval.item i"
        " JOIN project.project p ON p.id = i.project_id WHERE {where}"
        " AND (%(pid)s::bigint IS NULL OR p.id = %(pid)s)"
        " AND (%(dept)s::text IS NULL OR i.department_code = %(dept)s)"
        " AND (%(statuses)s::text[] IS NULL OR i.status = ANY(%(statuses)s)) ORDER BY i.id"
    ).format(where=where)
    return conn.execute(
        query, {**params, "pid": project_id, "dept": department, "statuses": statuses}
    ).fetchall()


def clock_colour(status: str, elapsed_days: int, promised_days: int) -> str:
    """The colour of an item's clock, as its warnings give it: red past the promised limit, yellow from
    80 % of it, while the clock runs; green otherwise."""
    if status not in RUNNING or not promised_days:
        return "green"
    if elapsed_days > promised_days:
        return "red"
    return "yellow" if elapsed_days / promised_days >= YELLOW_SHARE else "green"


def item_warnings(
    row: tuple[Any, ...], t: Timing, cal: WorkCalendar, as_of: date
) -> list[SupervisionWarning]:
    """Warnings of one item row (pure apart from the calendar)."""
    (
        item_id,
        code,
        name,
        dept,
        promised,
        status,
        missing,
        supplement_due,
        supplemented_at,
        pid,
        pcode,
        pname,
        name_en,
        statutory,
    ) = row
    used = t.elapsed_days / promised if promised else 0.0
    due = due_date(t, cal, promised)
    base = {
        "item_id": item_id,
        "item_code": code,
        "item_name_zh": name,
        "item_name_en": name_en,
        "department_code": dept,
        "project_id": pid,
        "project_code": pcode,
        "project_name": pname,
        "status": status,
        "elapsed_days": t.elapsed_days,
        "promised_days": promised,
        "statutory_days": statutory,
        "used_pct": round(100 * used, 1),
        "due_on": due,
        "supplement_due": supplement_due,
    }
    out = []
    if status in RUNNING and t.elapsed_days > promised:
        out.append(
            SupervisionWarning(
                level="red",
                kind="overdue",
                **base,
                message_zh=f"{name}已超过承诺时限（已用 {t.elapsed_days}/{promised} 个工作日）。",
                message_en=f"{name_en} is overdue ({t.elapsed_days}/{promised} working days).",
            )
        )
    elif status in RUNNING and used >= YELLOW_SHARE:
        out.append(
            SupervisionWarning(
                level="yellow",
                kind="near_limit",
                **base,
                message_zh=f"{name}已用承诺时限的 {100 * used:.0f}%"
                f"（{t.elapsed_days}/{promised} 个工作日）。",
                message_en=f"{name_en} has used {100 * used:.0f}% of its promised limit"
                f" ({t.elapsed_days}/{promised} working days).",
            )
        )
    if status in RUNNING and statutory is not None and t.elapsed_days > statutory:
        # Past the legal limit (法定时限), not only the district's promise: the graver breach.
        out.append(
            SupervisionWarning(
                level="red",
                kind="statutory_overdue",
                **base,
                message_zh=f"{name}已超过法定办理时限（已用 {t.elapsed_days}/{statutory} 个工作日）。",
                message_en=f"{name_en} is past its statutory time limit"
                f" ({t.elapsed_days}/{statutory} working days).",
            )
        )
    if missing and supplemented_at is None and supplement_due is not None and supplement_due < as_of:
        out.append(
            SupervisionWarning(
                level="red",
                kind="supplement_overdue",
                **base,
                message_zh=f"{name}的容缺材料应于 {supplement_due} 前补齐，已逾期。",
                message_en=f"{name_en}: the missing documents were due on {supplement_due}.",
            )
        )
    return out


def warnings(
    conn: Connection[Any], grant: Grant, as_of: date, project_id: int | None, department: str | None
) -> list[SupervisionWarning]:
    """Warnings of the items the caller supervises, red first."""
    rows = _rows(conn, grant, project_id, department, [*RUNNING, "correction"])
    out: list[SupervisionWarning] = []
    if rows:
        cal = load_calendar(conn)
        events = item_events(conn, [r[0] for r in rows])
        out = [w for r in rows for w in item_warnings(r, timing(events[r[0]], cal, as_of), cal, as_of)]
    out += [w for source in _warning_sources for w in source(conn, grant, as_of, project_id, department)]
    return sorted(out, key=lambda w: (w.level != "red", w.department_code, w.item_id or 0, w.blocker_id or 0))


def kpis(
    conn: Connection[Any],
    grant: Grant,
    by: GroupBy,
    as_of: date,
    project_id: int | None,
    department: str | None,
) -> list[KpiRow]:
    """KPIs of the items the caller supervises, from their event log."""
    rows = _rows(conn, grant, project_id, department, None)
    if not rows:
        return []
    cal = load_calendar(conn)
    events = item_events(conn, [r[0] for r in rows])
    facts = [ItemFact(r[3], r[1], r[4], timing(events[r[0]], cal, as_of), r[2], r[12]) for r in rows]
    return compute_kpis(facts, by, as_of)
