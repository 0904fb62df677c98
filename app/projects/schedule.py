"""Back-scheduling (倒排) an approval plan from the target construction start, and the forward forecast.

Pure functions on a :class:`WorkCalendar`. Days are counted as working-day offsets from the *anchor*,
the last working day before the target start (offset 0); an item of duration d occupies d working days.

* Backward pass: an item without successors must finish on the anchor; every other item must finish the
  working day before its earliest-needed successor starts (latest start / latest finish).
* Forward pass from actual progress: finished items keep their dates; running items finish d working
  days after their clock started (later by the working days it stood still with the unit: their due
  date), or today if later; items not started start today at the earliest, after
  their prerequisites finish. The forecast construction start is the working day after the last finish.
* Float = latest start − forecast start, in working days. The critical path is the unfinished items of
  least float; the plan is infeasible when that float is negative, i.e. some first item's latest start is
  already past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.calendar.workdays import WorkCalendar
from app.projects.templates import topological_order


@dataclass(frozen=True)
class Node:
    """An item as the scheduler sees it (durations below one working day count as one)."""

    id: int
    duration: int
    after: tuple[int, ...] = ()
    started: date | None = None  # the day its clock started (受理), when running or finished
    finished: date | None = None  # the day it was decided
    # A running item's due date on its clock (moved on by correction stops); None: ``duration`` working
    # days after ``started``.
    due: date | None = None


@dataclass(frozen=True)
class NodeSchedule:
    """Dates of one item; float in working days."""

    earliest_start: date
    earliest_finish: date
    latest_start: date
    latest_finish: date
    float_days: int
    critical: bool


@dataclass(frozen=True)
class Schedule:
    """The whole plan."""

    target_start: date
    as_of: date
    items: dict[int, NodeSchedule]
    critical_path: list[int]
    float_days: int
    feasible: bool
    forecast_start: date


class _Frame:
    """Working-day offsets around the anchor."""

    def __init__(self, cal: WorkCalendar, target: date) -> None:
        self.cal = cal
        self.anchor = cal.add_working_days(target, -1)

    def offset(self, day: date) -> int:
        day = self.cal.add_working_days(day, 0)
        if day >= self.anchor:
            return self.cal.working_days(self.anchor, day) - 1
        return -(self.cal.working_days(day, self.anchor) - 1)

    def day(self, offset: int) -> date:
        return self.cal.add_working_days(self.anchor, offset)


def schedule(nodes: list[Node], cal: WorkCalendar, target_start: date, as_of: date) -> Schedule:
    """Back-schedule ``nodes`` to ``target_start`` and forecast them from ``as_of``."""
    frame = _Frame(cal, target_start)
    by_id = {n.id: n for n in nodes}
    order = topological_order({n.id: [a for a in n.after if a in by_id] for n in nodes})
    successors: dict[int, list[int]] = {n.id: [] for n in nodes}
    for n in nodes:
        for a in n.after:
            if a in by_id:
                successors[a].append(n.id)
    dur = {n.id: max(n.duration, 1) for n in nodes}

    latest_finish: dict[int, int] = {}
    latest_start: dict[int, int] = {}
    for i in reversed(order):
        latest_finish[i] = min((latest_start[s] for s in successors[i]), default=1) - 1
        latest_start[i] = latest_finish[i] - dur[i] + 1

    today = frame.offset(as_of)
    early_start: dict[int, int] = {}
    early_finish: dict[int, int] = {}
    for i in order:
        n = by_id[i]
        if n.finished is not None:
            early_finish[i] = frame.offset(n.finished)
            started = frame.offset(cal.add_working_days(n.started, 1)) if n.started else None
            early_start[i] = (
                min(started, early_finish[i]) if started is not None else early_finish[i] - dur[i] + 1
            )
        elif n.started is not None:
            early_start[i] = frame.offset(cal.add_working_days(n.started, 1))
            due = frame.offset(n.due) if n.due is not None else early_start[i] + dur[i] - 1
            early_finish[i] = max(due, today)
        else:
            ready = max((early_finish[a] + 1 for a in n.after if a in by_id), default=today)
            early_start[i] = max(today, ready)
            early_finish[i] = early_start[i] + dur[i] - 1

    open_ids = [i for i in order if by_id[i].finished is None]
    floats = {i: latest_start[i] - early_start[i] for i in order}
    slack = min((floats[i] for i in open_ids), default=0)
    critical = [i for i in open_ids if floats[i] == slack]
    items = {
        i: NodeSchedule(
            earliest_start=frame.day(early_start[i]),
            earliest_finish=frame.day(early_finish[i]),
            latest_start=frame.day(latest_start[i]),
            latest_finish=frame.day(latest_finish[i]),
            float_days=floats[i],
            critical=i in critical,
        )
        for i in order
    }
    last = max(early_finish.values(), default=today - 1)
    return Schedule(
        target_start=target_start,
        as_of=as_of,
        items=items,
        critical_path=critical,
        float_days=slack,
        feasible=slack >= 0,
        forecast_start=frame.day(max(last + 1, today)),
    )
