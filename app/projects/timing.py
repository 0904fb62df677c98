"""An item's clock, read from its event log: when it started, when it was decided, working days used.

The promised limit runs from acceptance (受理, normal or 容缺) to the decision, counting working days
after the acceptance day (:meth:`WorkCalendar.elapsed`). Time spent back with the project unit for
correction (补正) does not count — the clock stops on return and restarts on resubmission.

The due date (:func:`due_date`) follows the same clock: the day the promised number of working days runs
out, counted from acceptance and moved on by every working day the clock stood still. Every view that
shows a due date (the application, 我的待办, the plan, e-supervision's warnings) takes it from here, so
it always agrees with the working days used and the colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.calendar.workdays import WorkCalendar

RUNNING = frozenset({"accepted", "accepted_conditional", "under_review"})
FINISHED = frozenset({"approved", "rejected"})


@dataclass(frozen=True)
class Event:
    """One transition, reduced to what the clock needs."""

    to_status: str
    on: date
    action: str = ""


@dataclass(frozen=True)
class Timing:
    """Clock facts of one item."""

    started: date | None
    finished: date | None
    elapsed_days: int
    corrections: int
    approved: bool
    # The clock's running intervals in order: (start, end), end None while it still runs.
    intervals: tuple[tuple[date, date | None], ...] = ()


def timing(events: list[Event], cal: WorkCalendar, as_of: date) -> Timing:
    """The clock of an item from its events in order; open intervals run to ``as_of``."""
    started: date | None = None
    finished: date | None = None
    running_since: date | None = None
    elapsed = corrections = 0
    approved = False
    previous = ""
    intervals: list[tuple[date, date | None]] = []
    for event in events:
        entering_correction = event.to_status == "correction" and previous != "correction"
        previous = event.to_status
        if event.to_status in RUNNING:
            if started is None:
                started = event.on
            if running_since is None:
                running_since = event.on
            continue
        if running_since is not None:
            elapsed += cal.elapsed(running_since, event.on)
            intervals.append((running_since, event.on))
            running_since = None
        if entering_correction:
            corrections += 1
        if event.to_status in FINISHED:
            finished = event.on
            approved = event.to_status == "approved"
    if running_since is not None and finished is None:
        elapsed += cal.elapsed(running_since, as_of)
        intervals.append((running_since, None))
    return Timing(started, finished, elapsed, corrections, approved, tuple(intervals))


def due_date(t: Timing, cal: WorkCalendar, promised_days: int) -> date | None:
    """The last day within the promised limit on the item's clock: ``promised_days`` working days of
    running clock after acceptance, so each working day spent with the unit (补正) moves it one on.

    Without a stop this is ``promised_days`` working days after the acceptance day. None before
    acceptance and while the clock stands with the unit (the date is known again on resubmission). For a
    finished item: the date as it stood when the item was decided.
    """
    remaining = promised_days
    for n, (start, end) in enumerate(t.intervals):
        last = n == len(t.intervals) - 1
        if end is None or (last and t.finished is not None):
            return cal.add_working_days(start, remaining)
        used = cal.elapsed(start, end)
        if used >= remaining:
            return cal.add_working_days(start, remaining)
        remaining -= used
    return None
