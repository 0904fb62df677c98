"""Approval plans in the database: instantiating a template for a project, reading items with their
clocks, and the back-schedule of what remains."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, LiteralString

from psycopg import Connection, sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.calendar.basis import CalendarBasis
from app.calendar.store import load_calendar
from app.calendar.workdays import WorkCalendar
from app.errors import Conflict, Unprocessable
from app.projects import service
from app.projects.schedule import Node, schedule
from app.projects.templates import get_template, instantiate
from app.projects.timing import Event, Timing, due_date, timing
from layers.audit import record
from layers.district import DISTRICT

ITEM_COLUMNS = (
    "id, project_id, item_code, name_zh, name_en, stage, department_code, department_id, statutory_days,"
    " promised_days, parallel_group, source, reason, reason_en, status, merged_into_id, missing_documents,"
    " supplement_due, supplemented_at, version,"
    " ARRAY(SELECT prerequisite_id FROM approval.item_prerequisite ip WHERE ip.item_id = i.id"
    " ORDER BY prerequisite_id) AS prerequisites"
)
OUT_OF_PLAN = frozenset({"cancelled", "merged"})


class Item(BaseModel):
    """One approval item of a project's plan."""

    id: int
    project_id: int
    item_code: str
    name_zh: str
    name_en: str
    stage: str
    department_code: str
    department_id: int | None
    statutory_days: int
    promised_days: int
    parallel_group: str | None
    source: str
    reason: str | None = Field(description="增补原因：预评价发现的冲突")
    reason_en: str | None = Field(description="增补原因（英文）；此前增补的事项为空")
    status: str
    merged_into_id: int | None
    missing_documents: list[str] | None
    supplement_due: date | None
    supplemented_at: datetime | None
    version: int
    prerequisites: list[int]


class ItemSchedule(BaseModel):
    """Back-scheduled dates of an item (working-day float)."""

    earliest_start: date
    earliest_finish: date
    latest_start: date
    latest_finish: date
    float_days: int
    critical: bool


class ItemView(Item):
    """An item with its clock and schedule."""

    started_on: date | None
    finished_on: date | None
    due_on: date | None
    elapsed_days: int
    corrections: int
    schedule: ItemSchedule | None
    actions: list[str] = Field(default_factory=list, description="当前用户现在可办理的操作")


class PlanView(CalendarBasis):
    """A project's approval plan, back-scheduled from the target construction start; ``provisional_years``
    names the years whose calendar is provisional (暂定) among those its dates rest on."""

    project_id: int
    target_start: date
    as_of: date
    feasible: bool
    float_days: int
    forecast_start: date
    critical_path: list[int]
    critical_path_codes: list[str]
    items: list[ItemView]


def fetch_items(conn: Connection[Any], where: LiteralString, params: dict[str, Any]) -> list[Item]:
    """Items matching a fixed WHERE clause on ``approval.item i`` (callers pass constant SQL only)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL("SELECT {} FROM approval.item i WHERE {} ORDER BY i.id").format(
                sql.SQL(ITEM_COLUMNS),
                sql.SQL(where),
            ),
            params,
        ).fetchall()
    return [Item(**r) for r in rows]


def item_events(conn: Connection[Any], item_ids: list[int]) -> dict[int, list[Event]]:
    """Each item's events in order, dated in the district's time zone."""
    out: dict[int, list[Event]] = {i: [] for i in item_ids}
    rows = conn.execute(
        "SELECT item_id, to_status, (at AT TIME ZONE %s::text)::date, action FROM approval.item_event"
        " WHERE item_id = ANY(%s) ORDER BY at, id",
        (DISTRICT.time_zone, item_ids),
    ).fetchall()
    for item_id, to_status, on, action in rows:
        out[item_id].append(Event(to_status, on, action))
    return out


def create_plan(conn: Connection[Any], grant: Grant, project_id: int) -> list[Item]:
    """Instantiate the project type's template for the project's investment."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM project.project WHERE id = %s FOR UPDATE", (project_id,))
        project = service.fetch_project(conn, project_id, grant)
        service.check_may_change(grant, project)
        if conn.execute("SELECT 1 FROM approval.item WHERE project_id = %s", (project_id,)).fetchone():
            raise Conflict(
                "该项目已有审批计划。", "The project already has an approval plan.", code="plan_exists"
            )
        planned = instantiate(get_template(project.project_type), project.investment_wan)
        ids: dict[str, int] = {}
        for p in planned:
            row = conn.execute(
                """
                INSERT INTO approval.item (project_id, item_code, name_zh, name_en, stage, department_code,
                  department_id, statutory_days, promised_days, parallel_group, source, status)
                VALUES (%s, %s, %s, %s, %s, %s, (SELECT id FROM auth.organisation WHERE code = %s), %s, %s,
                  %s, 'template', %s) RETURNING id
                """,
                (
                    project_id,
                    p.item.code,
                    p.item.name_zh,
                    p.item.name_en,
                    p.item.stage,
                    p.item.department,
                    p.item.department,
                    p.item.statutory_days,
                    p.item.promised_days,
                    p.item.parallel_group,
                    "merged" if p.merged_into else "not_started",
                ),
            ).fetchone()
            assert row is not None
            ids[p.item.code] = int(row[0])
        for p in planned:
            if p.merged_into:
                conn.execute(
                    "UPDATE approval.item SET merged_into_id = %s WHERE id = %s",
                    (ids[p.merged_into], ids[p.item.code]),
                )
            for pre in p.after:
                conn.execute(
                    "INSERT INTO approval.item_prerequisite (item_id, prerequisite_id) VALUES (%s, %s)",
                    (ids[p.item.code], ids[pre]),
                )
        items = fetch_items(conn, "i.project_id = %(p)s", {"p": project_id})
        record(
            conn,
            grant.actor,
            "plan.create",
            "project",
            project_id,
            after={
                "items": [i.item_code for i in items],
                "merged": [i.item_code for i in items if i.merged_into_id],
            },
        )
    return items


def _nodes(items: list[Item], timings: dict[int, Timing], cal: WorkCalendar, as_of: date) -> list[Node]:
    """Scheduler nodes: cancelled/merged items leave the DAG (their successors inherit their
    prerequisites); completion-stage items come after the construction start and are not scheduled.
    A started item's due date is its clock's (moved on by correction stops); while the clock stands with
    the unit, the earliest it can be: the days left counted from ``as_of`` (resubmitted today)."""
    by_id = {i.id: i for i in items}

    def live_prereqs(item_id: int, seen: frozenset[int] = frozenset()) -> list[int]:
        out: list[int] = []
        for pre in by_id[item_id].prerequisites:
            if pre in seen or pre not in by_id:
                continue
            if by_id[pre].status in OUT_OF_PLAN:
                out += live_prereqs(pre, seen | {pre})
            else:
                out.append(pre)
        return out

    nodes = []
    for item in items:
        if item.status in OUT_OF_PLAN or item.stage == "completion":
            continue
        t = timings[item.id]
        due = due_date(t, cal, item.promised_days)
        if due is None and t.started is not None and t.finished is None:
            due = cal.add_working_days(as_of, max(item.promised_days - t.elapsed_days, 0))
        nodes.append(
            Node(item.id, item.promised_days, tuple(live_prereqs(item.id)), t.started, t.finished, due)
        )
    return nodes


def plan_view(
    conn: Connection[Any], grant: Grant, project_id: int, target_start: date | None, as_of: date
) -> PlanView:
    """The plan with clocks, back-schedule, critical path and forecast."""
    project = service.fetch_project(conn, project_id, grant)
    target = target_start or project.planned_start
    if target is None:
        raise Unprocessable(
            "请提供目标开工日期 target_start（项目未设计划开工日期）。",
            "Give target_start: the project has no planned start.",
            code="target_start_required",
        )
    items = fetch_items(conn, "i.project_id = %(p)s", {"p": project_id})
    if not items:
        raise Unprocessable("该项目尚无审批计划。", "The project has no approval plan yet.", code="no_plan")
    cal = load_calendar(conn)
    timings = {i: timing(ev, cal, as_of) for i, ev in item_events(conn, [i.id for i in items]).items()}
    plan = schedule(_nodes(items, timings, cal, as_of), cal, target, as_of)
    codes = {i.id: i.item_code for i in items}
    views = [_view(i, timings[i.id], plan.items.get(i.id), cal) for i in items]
    return PlanView(
        project_id=project_id,
        target_start=target,
        as_of=as_of,
        feasible=plan.feasible,
        float_days=plan.float_days,
        forecast_start=plan.forecast_start,
        critical_path=plan.critical_path,
        critical_path_codes=[codes[i] for i in plan.critical_path],
        items=views,
        **CalendarBasis.of(cal),
    )


def _view(item: Item, t: Timing, sched: Any, cal: WorkCalendar) -> ItemView:
    return ItemView(
        **item.model_dump(),
        started_on=t.started,
        finished_on=t.finished,
        due_on=due_date(t, cal, item.promised_days),
        elapsed_days=t.elapsed_days,
        corrections=t.corrections,
        schedule=ItemSchedule(**sched.__dict__) if sched is not None else None,
    )
