"""Approval items with their clocks, and the sets the overview counts: in flight, overdue, by stage, and the
KPIs' finished / early / approved / one-time-pass items by department and month.

The overview's figures and the item list behind each of them (``GET /api/approval-items``) are both
selected here, so a figure and its list are the same set by construction; the tests count them
independently from the event log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from psycopg import Connection, sql
from pydantic import BaseModel

from app.auth.deps import Grant
from app.calendar.store import load_calendar
from app.projects.kpis import ItemFact
from app.projects.plan import item_events
from app.projects.service import visibility
from app.projects.timing import RUNNING, Timing, timing

# Items whose clock is running or stands with the unit: the approvals in flight.
IN_FLIGHT = frozenset({"submitted", *RUNNING, "correction"})


class ItemState(StrEnum):
    """Where an item stands, as the overview counts it."""

    IN_FLIGHT = "in_flight"
    OVERDUE = "overdue"


class KpiSet(StrEnum):
    """The items behind a KPI: those with a started clock, and the parts of the two rates."""

    STARTED = "started"
    FINISHED = "finished"
    EARLY = "early"
    APPROVED = "approved"
    ONE_TIME_PASS = "one_time_pass"


@dataclass(frozen=True)
class TimedItem:
    """One approval item with its clock as of a day."""

    id: int
    department_code: str
    item_code: str
    promised_days: int
    status: str
    stage: str
    name_zh: str
    name_en: str | None
    project_id: int
    timing: Timing

    @property
    def in_flight(self) -> bool:
        """Submitted, with its clock running, or returned for correction."""
        return self.status in IN_FLIGHT

    @property
    def overdue(self) -> bool:
        """As e-supervision's red "overdue" warning: running past the promised limit."""
        return self.status in RUNNING and self.timing.elapsed_days > self.promised_days

    def month(self, as_of: date) -> str:
        """The KPI month: the month it finished, else the reporting date's."""
        return (self.timing.finished or as_of).strftime("%Y-%m")

    def fact(self) -> ItemFact:
        """What the KPIs need of the item."""
        return ItemFact(
            self.department_code, self.item_code, self.promised_days, self.timing, self.name_zh,
            self.name_en or "",
        )  # fmt: skip

    def in_kpi(self, kind: KpiSet) -> bool:
        """Whether the item counts in ``kind`` (the same tests as :func:`app.projects.kpis.compute_kpis`)."""
        t = self.timing
        if t.started is None:
            return False
        if kind is KpiSet.STARTED:
            return True
        if kind is KpiSet.FINISHED:
            return t.finished is not None
        if kind is KpiSet.EARLY:
            return t.finished is not None and t.elapsed_days < self.promised_days
        if kind is KpiSet.APPROVED:
            return t.approved
        return t.approved and t.corrections == 0


def timed_items(conn: Connection[Any], project_ids: list[int], as_of: date) -> list[TimedItem]:
    """The items of ``project_ids`` with their clocks as of ``as_of``, by id."""
    rows = conn.execute(
        "SELECT i.id, i.department_code, i.item_code, i.promised_days, i.status, i.stage, i.name_zh,"
        " i.name_en, i.project_id FROM approval.item i WHERE i.project_id = ANY(%s) ORDER BY i.id",
        (project_ids,),
    ).fetchall()
    if not rows:
        return []
    cal = load_calendar(conn)
    events = item_events(conn, [r[0] for r in rows])
    return [TimedItem(*r, timing=timing(events[r[0]], cal, as_of)) for r in rows]  # type: ignore[misc]


@dataclass(frozen=True)
class ItemQuery:
    """A set of items the overview counts (every part optional, all given parts must hold)."""

    state: ItemState | None = None
    stage: str | None = None
    department: str | None = None
    month: str | None = None
    kpi: KpiSet | None = None


def select_items(items: Iterable[TimedItem], q: ItemQuery, as_of: date) -> list[TimedItem]:
    """The items of ``q``."""
    out = []
    for i in items:
        if q.state is ItemState.IN_FLIGHT and not i.in_flight:
            continue
        if q.state is ItemState.OVERDUE and not (i.in_flight and i.overdue):
            continue
        if q.stage is not None and i.stage != q.stage:
            continue
        if q.department is not None and i.department_code != q.department:
            continue
        if q.kpi is not None and not i.in_kpi(q.kpi):
            continue
        if q.month is not None and (i.timing.started is None or i.month(as_of) != q.month):
            continue
        out.append(i)
    return out


class ItemRow(BaseModel):
    """One approval item of a list behind a figure, with its project and clock."""

    id: int
    item_code: str
    name_zh: str
    name_en: str | None
    department_code: str
    status: str
    stage: str
    promised_days: int
    elapsed_days: int
    started: date | None
    finished: date | None
    project_id: int
    project_code: str
    project_name: str


def list_items(
    conn: Connection[Any], grant: Grant, q: ItemQuery, as_of: date, unit: str | None = None
) -> list[ItemRow]:
    """The items of ``q`` among the projects ``grant`` may see (optionally of one project unit)."""
    where, params = visibility(grant)
    projects = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            sql.SQL(
                "SELECT p.id, p.code, p.name FROM project.project p JOIN auth.organisation o"
                " ON o.id = p.unit_org_id WHERE {where} AND (%(unit)s::text IS NULL OR o.code = %(unit)s)"
            ).format(where=where),
            {**params, "unit": unit},
        ).fetchall()
    }
    chosen = select_items(timed_items(conn, list(projects), as_of), q, as_of)
    return [
        ItemRow(
            id=i.id,
            item_code=i.item_code,
            name_zh=i.name_zh,
            name_en=i.name_en,
            department_code=i.department_code,
            status=i.status,
            stage=i.stage,
            promised_days=i.promised_days,
            elapsed_days=i.timing.elapsed_days,
            started=i.timing.started,
            finished=i.timing.finished,
            project_id=i.project_id,
            project_code=projects[i.project_id][0],
            project_name=projects[i.project_id][1],
        )
        for i in chosen
    ]
