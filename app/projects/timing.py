"""An item's clock, read from its event log: when it started, when it was decided, working days used.

The promised limit runs from acceptance (受理, normal or 容缺) to the decision, counting working days
after the acceptance day (:meth:`WorkCalendar.elapsed`). Time spent back with the project unit for
correction (补正) does not count — the clock stops on return and restarts on resubmission.
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


def timing(events: list[Event], cal: WorkCalendar, as_of: date) -> Timing:
    """The clock of an item from its events in order; open intervals run to ``as_of``."""
    started: date | None = None
    finished: date | None = None
    running_since: date | None = None
    elapsed = corrections = 0
    approved = False
    previous = ""
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
            running_since = None
        if entering_correction:
            corrections += 1
        if event.to_status in FINISHED:
            finished = event.on
            approved = event.to_status == "approved"
    if running_since is not None and finished is None:
        elapsed += cal.elapsed(running_since, as_of)
    return Timing(started, finished, elapsed, corrections, approved)
