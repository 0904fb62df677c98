"""Provisional (暂定) calendars: the statutory public holidays of a year whose official arrangement is not
published yet, and how the service says that a calculation rests on one.

The State Council's General Office publishes each year's arrangement (放假安排) late in the year before;
until then a year is computed on weekends plus the statutory days of 《全国年节及纪念日放假办法》 as revised
in 2024 (in force since 2025-01-01). The announced parts — 调休 make-up working days, bridging days, and
the substitute days off (补休) for statutory days that fall on a weekend — are not guessed. The dates that
depend on the lunar calendar and the 清明 solar term are computed at generation time
(:mod:`app.calendar.derive_provisional`) and shipped in ``data/cn_holidays_provisional.json``; this module
only applies the rule to them, so the service needs no calendar package.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final, Literal

Status = Literal["official", "provisional"]
OFFICIAL: Final = "official"
PROVISIONAL: Final = "provisional"
FIRST_YEAR = 2025  # the first year under the 2024 revision; earlier years had other statutory days

BASIS_ZH = "《全国年节及纪念日放假办法》（2024 年修订，2025 年 1 月 1 日起施行）"


def statutory_holidays(
    year: int, *, lunar_new_year: date, qingming: date, dragon_boat: date, mid_autumn: date
) -> list[tuple[date, str]]:
    """The statutory days off of ``year`` (13 days), ascending, named as in the official data.

    ``lunar_new_year`` is 正月初一, ``dragon_boat`` 五月初五, ``mid_autumn`` 八月十五 and ``qingming`` the day
    of the 清明 solar term, all in Beijing time. A day that is two festivals at once keeps both names.
    """
    if year < FIRST_YEAR:
        raise ValueError(f"the 2024 revision applies from {FIRST_YEAR}, not to {year}")
    for name, day in [
        ("lunar_new_year", lunar_new_year),
        ("qingming", qingming),
        ("dragon_boat", dragon_boat),
        ("mid_autumn", mid_autumn),
    ]:
        if day.year != year:
            raise ValueError(f"{name} {day} is not in {year}")
    eve = lunar_new_year - timedelta(days=1)  # 除夕: the last day of the twelfth lunar month
    days: list[tuple[date, str]] = [
        (date(year, 1, 1), "元旦"),
        *[(eve + timedelta(days=i), "春节") for i in range(4)],  # 除夕, 初一, 初二, 初三
        (qingming, "清明节"),
        (date(year, 5, 1), "劳动节"),
        (date(year, 5, 2), "劳动节"),
        (dragon_boat, "端午节"),
        (mid_autumn, "中秋节"),
        *[(date(year, 10, d), "国庆节") for d in (1, 2, 3)],
    ]
    names: dict[date, list[str]] = {}
    for day, name in days:
        names.setdefault(day, []).append(name)
    return [(day, "、".join(sorted(set(n), key=n.index))) for day, n in sorted(names.items())]


def note(years: Iterable[int]) -> tuple[str, str] | None:
    """The warning (Chinese, English) for a result that rests on provisional years; None when none."""
    listed = sorted(set(years))
    if not listed:
        return None
    zh = "、".join(str(y) for y in listed)
    en = ", ".join(str(y) for y in listed)
    return (
        f"{zh} 年工作日历为暂定：仅含法定节假日，未含调休及补休安排，以国务院办公厅公布的放假安排为准。",
        f"The working-day calendar of {en} is provisional: statutory public holidays only, without the"
        " make-up working days (调休) and substitute days off; the State Council's published arrangement"
        " prevails.",
    )
