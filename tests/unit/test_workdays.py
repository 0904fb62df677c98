"""Working-day arithmetic on the shipped 2024-2026 calendar, with hand-counted answers."""

from __future__ import annotations

from datetime import date

import pytest

from app.calendar.workdays import CalendarMissing, WorkCalendar
from tests.calendar_data import shipped_calendar


@pytest.fixture
def cal() -> WorkCalendar:
    return shipped_calendar()


def test_seed_matches_the_published_2025_arrangements(cal: WorkCalendar) -> None:
    # Spring Festival 2025: 1/28-2/4 off; Sunday 1/26 and Saturday 2/8 are working days.
    assert [cal.is_working(date(2025, 1, d)) for d in (25, 26, 27, 28)] == [False, True, True, False]
    assert not any(cal.is_working(date(2025, 2, d)) for d in range(1, 5))
    assert cal.is_working(date(2025, 2, 8)) and not cal.is_working(date(2025, 2, 9))
    # National Day 2025: 10/1-10/8 off; Sunday 9/28 and Saturday 10/11 are working days.
    assert cal.is_working(date(2025, 9, 28)) and cal.is_working(date(2025, 10, 11))
    assert not any(cal.is_working(date(2025, 10, d)) for d in range(1, 9))


def test_working_days_across_spring_festival_2025(cal: WorkCalendar) -> None:
    # 1/20-1/24: 5, Sun 1/26: 6, Mon 1/27: 7, (1/28-2/4 off), 2/5-2/7: 10, Sat 2/8: 11, 2/10-2/14: 16.
    assert cal.working_days(date(2025, 1, 20), date(2025, 2, 14)) == 16
    # Plain weekdays would have given 20: the calendar is not "weekdays only".
    assert cal.working_days(date(2025, 1, 26), date(2025, 1, 26)) == 1


def test_working_days_across_national_day_2025(cal: WorkCalendar) -> None:
    # 9/22-9/26: 5, Sun 9/28: 6, 9/29-9/30: 8, (10/1-10/8 off), 10/9-10/10: 10, Sat 10/11: 11, 10/13-17: 16.
    assert cal.working_days(date(2025, 9, 22), date(2025, 10, 17)) == 16
    assert cal.working_days(date(2025, 10, 1), date(2025, 10, 8)) == 0


def test_add_working_days_conventions(cal: WorkCalendar) -> None:
    assert cal.add_working_days(date(2025, 1, 27), 1) == date(2025, 2, 5)
    assert cal.add_working_days(date(2025, 1, 24), 1) == date(2025, 1, 26)  # make-up Sunday
    assert cal.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)  # make-up Saturday
    # days=0: the date itself when working, otherwise the next working day.
    assert cal.add_working_days(date(2025, 2, 5), 0) == date(2025, 2, 5)
    assert cal.add_working_days(date(2025, 1, 28), 0) == date(2025, 2, 5)
    # A non-working start date is not counted: holiday 2/1 + 1 = 2/5.
    assert cal.add_working_days(date(2025, 2, 1), 1) == date(2025, 2, 5)
    assert cal.add_working_days(date(2025, 2, 5), -1) == date(2025, 1, 27)
    assert cal.elapsed(date(2025, 1, 27), date(2025, 2, 8)) == 4  # 2/5, 2/6, 2/7, 2/8; not 1/27 itself
    assert cal.working_days(date(2025, 1, 28), date(2025, 2, 8)) == 4


def test_a_year_without_calendar_is_refused_naming_it(cal: WorkCalendar) -> None:
    with pytest.raises(CalendarMissing) as err:
        cal.working_days(date(2026, 12, 28), date(2027, 1, 5))
    assert err.value.year == 2027 and "2027" in err.value.message_zh
    with pytest.raises(CalendarMissing):
        cal.add_working_days(date(2026, 12, 30), 5)
