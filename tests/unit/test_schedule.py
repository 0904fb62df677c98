"""Back-scheduling a small DAG across Spring Festival 2025, computed by hand."""

from __future__ import annotations

from datetime import date

import pytest

from app.calendar.workdays import WorkCalendar
from app.projects.schedule import Node, schedule
from tests.calendar_data import shipped_calendar

# A(3) → B(5) → D(4) and A → C(2) → D. Target start Mon 2025-02-17, so the anchor (offset 0) is Fri 2/14.
# Working days back from it: 2/14 0, 2/13 -1, 2/12 -2, 2/11 -3, 2/10 -4, Sat 2/8 -5 (调休), 2/7 -6, 2/6 -7,
# 2/5 -8, (1/28-2/4 off) 1/27 -9, Sun 1/26 -10 (调休), 1/24 -11, 1/23 -12, 1/22 -13, 1/21 -14, 1/20 -15.
# Backward: D LF 0 LS -3; B LF -4 LS -8; C LF -4 LS -5; A LF min(-8,-5)-1 = -9, LS -11.
DAG = [Node(1, 3), Node(2, 5, (1,)), Node(3, 2, (1,)), Node(4, 4, (2, 3))]
TARGET = date(2025, 2, 17)


@pytest.fixture
def cal() -> WorkCalendar:
    return shipped_calendar()


def test_back_schedule_by_hand(cal: WorkCalendar) -> None:
    s = schedule(DAG, cal, TARGET, as_of=date(2025, 1, 20))
    a, b, c, d = (s.items[i] for i in (1, 2, 3, 4))
    assert (d.latest_start, d.latest_finish) == (date(2025, 2, 11), date(2025, 2, 14))
    assert (b.latest_start, b.latest_finish) == (date(2025, 2, 5), date(2025, 2, 10))
    assert (c.latest_start, c.latest_finish) == (date(2025, 2, 8), date(2025, 2, 10))
    assert (a.latest_start, a.latest_finish) == (date(2025, 1, 24), date(2025, 1, 27))
    # Forward from Mon 1/20 (-15): A -15..-13, B -12..-8, C -12..-11, D -7..-4.
    assert (a.earliest_start, a.earliest_finish) == (date(2025, 1, 20), date(2025, 1, 22))
    assert (b.earliest_start, b.earliest_finish) == (date(2025, 1, 23), date(2025, 2, 5))
    assert (d.earliest_start, d.earliest_finish) == (date(2025, 2, 6), date(2025, 2, 10))
    assert [x.float_days for x in (a, b, c, d)] == [4, 4, 7, 4]
    assert s.critical_path == [1, 2, 4] and s.float_days == 4 and s.feasible
    assert s.forecast_start == date(2025, 2, 11)


def test_plan_is_infeasible_when_a_first_item_latest_start_is_past(cal: WorkCalendar) -> None:
    s = schedule(DAG, cal, TARGET, as_of=date(2025, 1, 27))  # offset -9, A's latest start was -11 (1/24)
    assert not s.feasible and s.float_days == -2 and s.critical_path == [1, 2, 4]
    # A -9..-7, B -6..-2, D -1..2: D finishes 2/18, construction can start Wed 2/19 at the earliest.
    assert s.items[4].earliest_finish == date(2025, 2, 18)
    assert s.forecast_start == date(2025, 2, 19)


def test_forecast_from_actual_progress(cal: WorkCalendar) -> None:
    progress = [
        Node(1, 3, (), started=date(2025, 1, 16), finished=date(2025, 1, 22)),
        Node(2, 5, (1,), started=date(2025, 1, 22)),  # clock from Thu 1/23 (-12): due 2/5 (-8)
        Node(3, 2, (1,)),
        Node(4, 4, (2, 3)),
    ]
    s = schedule(progress, cal, TARGET, as_of=date(2025, 1, 27))
    assert s.items[2].earliest_finish == date(2025, 2, 5)
    assert (s.items[3].earliest_start, s.items[3].earliest_finish) == (date(2025, 1, 27), date(2025, 2, 5))
    assert s.items[4].earliest_start == date(2025, 2, 6)
    assert s.forecast_start == date(2025, 2, 11) and s.feasible
    assert s.critical_path == [2, 3, 4]  # every unfinished item has float 4; A is done


def test_target_in_an_unloaded_year_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(Exception, match="2027"):
        schedule(DAG, cal, date(2027, 3, 1), as_of=date(2026, 11, 2))
