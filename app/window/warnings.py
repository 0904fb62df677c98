"""E-supervision of the one window: packages not accepted within the window's promise, and departments'
correction requests the window has not merged into a letter in time. The items' own clocks (overdue,
near the limit, late 容缺 supplements) come from their event log as for every item (app/projects)."""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import Connection

from app.auth.deps import Grant
from app.auth.policy import Role, Scope
from app.calendar.store import load_calendar
from app.projects.supervision import SupervisionWarning, add_warning_source
from layers.district import DISTRICT

# The window's promise: a submitted package is accepted or returned within this many working days.
WINDOW_INTAKE_DAYS = 1
# A department's correction request is merged into the window's letter within this many working days.
LETTER_MERGE_DAYS = 1
WINDOW_ORG_CODE = "service-center"


@add_warning_source
def window_warnings(
    conn: Connection[Any], grant: Grant, as_of: date, project_id: int | None, department: str | None
) -> list[SupervisionWarning]:
    """``intake_overdue`` (red) and ``letter_overdue`` (yellow) warnings the caller supervises."""
    role, org = grant.principal.role, grant.principal.org_id
    everyone = grant.scope is Scope.ANY
    out: list[SupervisionWarning] = []
    cal = None
    if (everyone or role is Role.PROJECT_UNIT) and department in (None, WINDOW_ORG_CODE):
        rows = conn.execute(
            "SELECT a.id, a.number, (a.submitted_at AT TIME ZONE %s::text)::date, p.id, p.code, p.name"
            " FROM approval.application a JOIN project.project p ON p.id = a.project_id"
            " WHERE a.status = 'submitted' AND (%s OR p.unit_org_id = %s)"
            " AND (%s::bigint IS NULL OR p.id = %s) ORDER BY a.id",
            (DISTRICT.time_zone, everyone, org, project_id, project_id),
        ).fetchall()
        cal = load_calendar(conn) if rows else None
        for app_id, number, on, pid, pcode, pname in rows:
            assert cal is not None
            used = cal.elapsed(on, as_of)
            if used <= WINDOW_INTAKE_DAYS:
                continue
            out.append(
                SupervisionWarning(
                    level="red",
                    kind="intake_overdue",
                    item_id=None,
                    item_code=None,
                    item_name_zh=None,
                    department_code=WINDOW_ORG_CODE,
                    project_id=pid,
                    project_code=pcode,
                    project_name=pname,
                    status="submitted",
                    elapsed_days=used,
                    promised_days=WINDOW_INTAKE_DAYS,
                    used_pct=round(100 * used / WINDOW_INTAKE_DAYS, 1),
                    due_on=cal.add_working_days(on, WINDOW_INTAKE_DAYS),
                    supplement_due=None,
                    application_id=app_id,
                    message_zh=f"申报件 {number} 已提交 {used} 个工作日仍未受理"
                    f"（窗口承诺 {WINDOW_INTAKE_DAYS} 个工作日）。",
                    message_en=f"Application {number} has waited {used} working days for intake"
                    f" (the window promises {WINDOW_INTAKE_DAYS}).",
                )
            )
    if everyone or role is Role.REVIEWER:
        rows = conn.execute(
            "SELECT r.application_id, a.number, (r.requested_at AT TIME ZONE %s::text)::date, i.id,"
            " i.item_code, i.name_zh, i.name_en, i.department_code, i.status, p.id, p.code, p.name"
            " FROM approval.correction_request r JOIN approval.application a ON a.id = r.application_id"
            " JOIN approval.item i ON i.id = r.item_id JOIN project.project p ON p.id = a.project_id"
            " WHERE r.letter_id IS NULL AND r.withdrawn_at IS NULL AND (%s OR i.department_id = %s)"
            " AND (%s::bigint IS NULL OR p.id = %s) AND (%s::text IS NULL OR i.department_code = %s)"
            " ORDER BY r.id",
            (DISTRICT.time_zone, everyone, org, project_id, project_id, department, department),
        ).fetchall()
        cal = cal or (load_calendar(conn) if rows else None)
        for app_id, number, on, iid, icode, zh, en, dept, status, pid, pcode, pname in rows:
            assert cal is not None
            used = cal.elapsed(on, as_of)
            if used <= LETTER_MERGE_DAYS:
                continue
            out.append(
                SupervisionWarning(
                    level="yellow",
                    kind="letter_overdue",
                    item_id=iid,
                    item_code=icode,
                    item_name_zh=zh,
                    item_name_en=en,
                    department_code=dept,
                    project_id=pid,
                    project_code=pcode,
                    project_name=pname,
                    status=status,
                    elapsed_days=used,
                    promised_days=LETTER_MERGE_DAYS,
                    used_pct=round(100 * used / LETTER_MERGE_DAYS, 1),
                    due_on=cal.add_working_days(on, LETTER_MERGE_DAYS),
                    supplement_due=None,
                    application_id=app_id,
                    message_zh=f"{zh}的补正请求已 {used} 个工作日未由窗口合并发出（申报件 {number}）。",
                    message_en=f"{en}: the correction request has waited {used} working days for the"
                    f" window's letter (application {number}).",
                )
            )
    return out
