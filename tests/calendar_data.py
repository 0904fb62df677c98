"""The shipped calendars as :class:`WorkCalendar` objects, without a database (for unit tests)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from app.calendar.store import PROVISIONAL_FILE, SEED_FILE
from app.calendar.workdays import WorkCalendar, build_calendar


def seed(path: Any = SEED_FILE) -> dict[str, Any]:
    """A shipped data file as read."""
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _days(years: dict[str, Any]) -> list[tuple[date, bool]]:
    days: list[tuple[date, bool]] = []
    for y in years.values():
        days += [(date.fromisoformat(d["date"]), False) for d in y["holidays"]]
        days += [(date.fromisoformat(d["date"]), True) for d in y["makeup_working_days"]]
    return days


def shipped_calendar() -> WorkCalendar:
    """Holidays and make-up days of the official seed file (2024-2026) only; a new calendar each call, as
    the service loads one per request (it notes the years consulted)."""
    official = seed()["years"]
    return build_calendar([int(y) for y in official], _days(official))


def calendar_with_provisional() -> WorkCalendar:
    """What a new database holds: the official years, then the provisional years that have none."""
    official = seed()["years"]
    provisional = {y: v for y, v in seed(PROVISIONAL_FILE)["years"].items() if y not in official}
    years = [int(y) for y in [*official, *provisional]]
    return build_calendar(years, _days(official) + _days(provisional), [int(y) for y in provisional])
