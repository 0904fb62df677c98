"""Working-day arithmetic on a loaded calendar; pure functions, no database.

Conventions (documented for the API too):

* ``working_days(a, b)`` counts the working days in ``[a, b]``, both ends included.
* ``add_working_days(d, n)`` for ``n > 0`` is the n-th working day strictly after ``d`` — the start day
  itself never counts, whether or not it is a working day ("受理之日起 n 个工作日" ends on it).
  ``n = 0`` is ``d`` when ``d`` is a working day, otherwise the next working day.
  ``n < 0`` is the |n|-th working day strictly before ``d``.
* Every day touched must lie in a loaded year; otherwise :class:`CalendarMissing` names the year —
  the calculation is never silently "weekdays only".
* A loaded year is official or provisional (statutory holidays only, see :mod:`app.calendar.provisional`).
  The calendar notes every year it consults, so an answer can name the provisional years it rests on
  (:meth:`WorkCalendar.provisional_years_used`): load one calendar per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.errors import Unprocessable

ONE_DAY = timedelta(days=1)


class CalendarMissing(Unprocessable):
    """A calculation needs a year whose calendar is not loaded."""

    code = "calendar_year_missing"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"{year} 年的工作日历（节假日及调休）尚未加载，无法计算工作日。",
            f"No working-day calendar is loaded for {year}; load its holidays first.",
            year=year,
        )
        self.year = year


@dataclass(frozen=True)
class WorkCalendar:
    """Loaded years, the days that differ from Monday-Friday (True = working), the provisional years."""

    years: frozenset[int]
    overrides: dict[date, bool] = field(default_factory=dict)
    provisional: frozenset[int] = frozenset()
    consulted: set[int] = field(default_factory=set, compare=False, repr=False)

    def check_year(self, year: int) -> None:
        """Refuse a year without a loaded calendar; note the year as consulted."""
        if year not in self.years:
            raise CalendarMissing(year)
        self.consulted.add(year)

    def provisional_years_used(self) -> list[int]:
        """The provisional years consulted so far, ascending."""
        return sorted(self.consulted & self.provisional)

    def is_working(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        self.check_year(day.year)
        override = self.overrides.get(day)
        if override is not None:
            return override
        return day.weekday() < 5

    def days(self, start: date, end: date) -> Iterator[date]:
        """The working days in ``[start, end]``."""
        for year in range(start.year, end.year + 1):
            self.check_year(year)
        day = start
        while day <= end:
            if self.is_working(day):
                yield day
            day += ONE_DAY

    def working_days(self, start: date, end: date) -> int:
        """Number of working days in ``[start, end]`` (0 when ``end < start``)."""
        return sum(1 for _ in self.days(start, end))

    def add_working_days(self, start: date, n: int) -> date:
        """The working day ``n`` working days after ``start`` (see the module conventions)."""
        if n == 0:
            day = start
            while not self.is_working(day):
                day += ONE_DAY
            return day
        step = ONE_DAY if n > 0 else -ONE_DAY
        remaining, day = abs(n), start
        while remaining:
            day += step
            if self.is_working(day):
                remaining -= 1
        return day

    def elapsed(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``: the clock of an item accepted on ``start``."""
        return self.working_days(start + ONE_DAY, end) if end > start else 0


def build_calendar(
    years: Iterable[int], days: Iterable[tuple[date, bool]], provisional: Iterable[int] = ()
) -> WorkCalendar:
    """A calendar from loaded years, override rows and the loaded years that are provisional."""
    return WorkCalendar(frozenset(years), dict(days), frozenset(provisional))
