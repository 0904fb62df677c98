"""Provisional (暂定) calendars: the shipped statutory days against hand-listed and official answers, and
working-day arithmetic across the end of the official data."""

from __future__ import annotations

from datetime import date

import pytest

from app.calendar.provisional import FIRST_YEAR, PROVISIONAL, note, statutory_holidays
from app.calendar.store import PROVISIONAL_FILE
from app.calendar.workdays import CalendarMissing
from tests.calendar_data import calendar_with_provisional, seed

# The statutory days of 2027, listed by hand. The lunar dates were read from three packages at
# generation time and agree: lunardate 0.3.0 (Hong Kong Observatory tables), lunar_python 1.4.8 and
# sxtwl 2.0.7 (寿星天文历) all give 正月初一 = 2027-02-06 (so 除夕, the last day of 腊月, is 02-05),
# 五月初五 = 2027-06-09 and 八月十五 = 2027-09-15. 清明 (the Sun's apparent longitude reaching 15°)
# falls on 2027-04-05 at 08:17 Beijing time by sxtwl and by ephem 4.2.1 (VSOP87, 00:17 UTC), and on
# 2027-04-05 by lunar_python too — eight hours from either midnight. Weekdays: 1-1 Fri; 2-5 Fri,
# 2-6 Sat, 2-7 Sun, 2-8 Mon; 4-5 Mon; 5-1 Sat, 5-2 Sun; 6-9 Wed; 9-15 Wed; 10-1 Fri, 10-2 Sat, 10-3 Sun.
STATUTORY_2027 = [
    ("2027-01-01", "元旦"),
    ("2027-02-05", "春节"),  # 除夕
    ("2027-02-06", "春节"),  # 正月初一
    ("2027-02-07", "春节"),  # 初二
    ("2027-02-08", "春节"),  # 初三
    ("2027-04-05", "清明节"),
    ("2027-05-01", "劳动节"),
    ("2027-05-02", "劳动节"),
    ("2027-06-09", "端午节"),
    ("2027-09-15", "中秋节"),
    ("2027-10-01", "国庆节"),
    ("2027-10-02", "国庆节"),
    ("2027-10-03", "国庆节"),
]


def provisional_year(year: int) -> dict[str, list[dict[str, str]]]:
    return dict(seed(PROVISIONAL_FILE)["years"][str(year)])


def test_the_shipped_2027_is_the_hand_listed_statutory_days() -> None:
    year = provisional_year(2027)
    assert [(d["date"], d["name"]) for d in year["holidays"]] == STATUTORY_2027
    assert year["makeup_working_days"] == []  # no 调休 is guessed


def test_the_file_covers_the_years_ahead_and_follows_the_rule() -> None:
    data = seed(PROVISIONAL_FILE)
    assert data["status"] == PROVISIONAL and "暂定" in data["source"]
    years = sorted(int(y) for y in data["years"])
    assert years[0] == FIRST_YEAR and years[-1] >= 2035 and years == list(range(years[0], years[-1] + 1))
    for year in years:
        entry = data["years"][str(year)]
        computed = {
            k: date.fromisoformat(v) for k, v in entry["computed"].items() if k != "qingming_beijing_time"
        }
        expected = statutory_holidays(year, **computed)
        assert [(d["date"], d["name"]) for d in entry["holidays"]] == [
            (d.isoformat(), n) for d, n in expected
        ]
        # 13 days, or 12 when 中秋 falls on 10-1..10-3 (2028, 2031, 2039: one day, both names).
        assert len(expected) == 13 or any(n == "中秋节、国庆节" for _, n in expected), year
        assert entry["makeup_working_days"] == []


@pytest.mark.parametrize("year", [2025, 2026])
def test_provisional_days_are_official_holidays_where_the_arrangement_is_known(year: int) -> None:
    official = {d["date"]: d["name"] for d in seed()["years"][str(year)]["holidays"]}
    provisional = {d["date"]: d["name"] for d in provisional_year(year)["holidays"]}
    assert len(provisional) == 13
    missing = {d: n for d, n in provisional.items() if official.get(d) != n}
    assert not missing, f"provisional days of {year} not official holidays of the same name: {missing}"


def test_the_rule_refuses_what_it_does_not_cover() -> None:
    days = {
        "lunar_new_year": date(2027, 2, 6),
        "qingming": date(2027, 4, 5),
        "dragon_boat": date(2027, 6, 9),
        "mid_autumn": date(2027, 9, 15),
    }
    with pytest.raises(ValueError, match="2024"):
        statutory_holidays(2024, **days)  # the old law: other days
    with pytest.raises(ValueError, match="2028"):
        statutory_holidays(2028, **days)


def test_working_days_across_the_new_year_into_provisional_2027() -> None:
    cal = calendar_with_provisional()
    # Mon 12-28 .. Thu 12-31 (official 2026, no 调休 in December): 4; Fri 1-1 元旦 off; 1-2/1-3 weekend;
    # Mon 1-4 .. Fri 1-8: 5. Total 9.
    assert cal.working_days(date(2026, 12, 28), date(2027, 1, 8)) == 9
    assert cal.provisional_years_used() == [2027]
    official_only = calendar_with_provisional()
    assert official_only.working_days(date(2026, 12, 28), date(2026, 12, 31)) == 4
    assert official_only.provisional_years_used() == []


def test_add_working_days_across_spring_festival_2027() -> None:
    cal = calendar_with_provisional()
    # Thu 2-4, then 除夕 Fri 2-5, 初一 Sat 2-6, 初二 Sun 2-7, 初三 Mon 2-8 off: the next working day is
    # Tue 2-9 (the official arrangement will likely add 补休 days here: why the answer is flagged).
    assert cal.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 9)
    assert cal.add_working_days(date(2027, 2, 4), 3) == date(2027, 2, 11)
    assert cal.add_working_days(date(2027, 2, 9), -1) == date(2027, 2, 4)
    assert cal.add_working_days(date(2027, 2, 5), 0) == date(2027, 2, 9)
    assert cal.provisional_years_used() == [2027]


def test_a_year_past_the_generated_range_is_still_refused() -> None:
    cal = calendar_with_provisional()
    last = max(cal.years)
    with pytest.raises(CalendarMissing) as err:
        cal.working_days(date(last, 12, 28), date(last + 1, 1, 5))
    assert err.value.year == last + 1
    assert err.value.message_zh.startswith(f"{last + 1} 年的工作日历（节假日及调休）尚未加载")


def test_the_warning_names_the_years() -> None:
    assert note([]) is None
    zh, en = note([2028, 2027, 2027]) or ("", "")
    assert zh == (
        "2027、2028 年工作日历为暂定：仅含法定节假日，未含调休及补休安排，以国务院办公厅公布的放假安排为准。"
    )
    assert en.startswith("The working-day calendar of 2027, 2028 is provisional")
