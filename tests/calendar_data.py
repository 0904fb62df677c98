"""The shipped 2024-2026 calendar as a :class:`WorkCalendar`, without a database (for unit tests)."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

from app.calendar.store import SEED_FILE
from app.calendar.workdays import WorkCalendar, build_calendar


@cache
def shipped_calendar() -> WorkCalendar:
    """Holidays and make-up days of the seed file."""
    seed = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    days: list[tuple[date, bool]] = []
    for y in seed["years"].values():
        days += [(date.fromisoformat(d["date"]), False) for d in y["holidays"]]
        days += [(date.fromisoformat(d["date"]), True) for d in y["makeup_working_days"]]
    return build_calendar([int(y) for y in seed["years"]], days)
