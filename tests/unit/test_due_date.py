"""The due date on an item's clock: moved on by the working days spent with the unit (补正), by hand."""

from __future__ import annotations

from datetime import date

from app.projects.schedule import Node, schedule
from app.projects.timing import Event, due_date, timing
from tests.calendar_data import shipped_calendar

# The shipped calendar, 2026 (app/calendar/data/cn_holidays.json): holidays 2/15–2/23, working Saturdays
# 2/14 and 2/28. Working days after Mon 2/09: 2/10 (1) … 2/13 (4), 2/14 (5), 2/24 (6) … 2/28 (10),
# 3/02 (11) … 3/06 (15), 3/09 (16) … 3/13 (20), 3/16 (21), 3/17 (22).
ACCEPT = Event("accepted", date(2026, 2, 9), "accept")
RETURN = Event("correction", date(2026, 2, 13), "return_for_correction")
RESUBMIT = Event("under_review", date(2026, 2, 24), "resubmit")


def test_without_a_stop_the_due_date_counts_from_acceptance() -> None:
    cal = shipped_calendar()
    t = timing([ACCEPT], cal, date(2026, 3, 5))
    assert [due_date(t, cal, n) for n in (10, 15, 20)] == [
        date(2026, 2, 28),
        date(2026, 3, 6),
        date(2026, 3, 13),
    ]
    assert due_date(timing([], cal, date(2026, 3, 5)), cal, 10) is None  # not accepted


def test_a_correction_moves_the_due_date_on() -> None:
    cal = shipped_calendar()
    # 4 days used (2/10–2/13) before the letter; stopped with the unit: no due date until it comes back.
    stopped = timing([ACCEPT, RETURN], cal, date(2026, 2, 20))
    assert stopped.elapsed_days == 4 and due_date(stopped, cal, 20) is None
    # Resubmitted 2/24: 16 left after 2/24 → 2/25 … 2/28 (4), 3/02 … 3/06 (9), 3/09 … 3/13 (14), 3/16,
    # 3/17 (16) → 3/17; the same once decided (3/11: 4 + 12 = 16 days used).
    running = timing([ACCEPT, RETURN, RESUBMIT], cal, date(2026, 3, 5))
    assert due_date(running, cal, 20) == date(2026, 3, 17)
    done = timing(
        [ACCEPT, RETURN, RESUBMIT, Event("approved", date(2026, 3, 11), "approve")], cal, date(2026, 4, 1)
    )
    assert (done.elapsed_days, due_date(done, cal, 20)) == (16, date(2026, 3, 17))


def test_a_limit_run_out_before_the_stop_stays_where_it_ran_out() -> None:
    cal = shipped_calendar()
    # Promised 3 days: run out on Thu 2/12 (the 3rd working day), before the letter of 2/13; neither the
    # stop nor the resubmission moves a limit that had already passed.
    for events in ([ACCEPT, RETURN], [ACCEPT, RETURN, RESUBMIT]):
        assert due_date(timing(events, cal, date(2026, 3, 5)), cal, 3) == date(2026, 2, 12)


def test_the_forecast_finish_of_a_running_item_is_its_due_date() -> None:
    cal = shipped_calendar()
    target = date(2026, 6, 1)
    # Resubmitted, due 3/17 (above): forecast to finish then, not on 3/13 (20 days after 2/09).
    plain = schedule([Node(1, 20, (), date(2026, 2, 9))], cal, target, date(2026, 3, 5))
    moved = schedule(
        [Node(1, 20, (), date(2026, 2, 9), None, date(2026, 3, 17))], cal, target, date(2026, 3, 5)
    )
    assert plain.items[1].earliest_finish == date(2026, 3, 13)
    assert moved.items[1].earliest_finish == date(2026, 3, 17)
    assert moved.forecast_start == date(2026, 3, 18)
