"""Regenerate ``data/cn_holidays_provisional.json``: provisional calendars (generation time only).

For every year the statutory days of the 2024 revision are computed (see :mod:`app.calendar.provisional`).
The lunar dates and the 清明 solar term come from independent packages, and generation stops on any
disagreement:

* 正月初一, 五月初五 and 八月十五: ``lunardate`` (GPL-3.0, tables from the Hong Kong Observatory),
  ``lunar_python`` (MIT, 6tail's tables and algorithms) and ``sxtwl`` (BSD, the 寿星天文历 astronomical
  computation) must give the same Gregorian date;
* 清明 (the Sun's apparent longitude reaching 15°), in Beijing time (UTC+8): ``sxtwl``, ``lunar_python``
  and ``ephem`` (MIT, VSOP87 — solved here by bisection) must give the same day; sxtwl's and ephem's
  instants must agree within five minutes and lie at least ten minutes from midnight, so that no rounding
  or ΔT uncertainty decides the day.

Run in a scratch environment (the service never imports these packages)::

    python3 -m venv /tmp/cal-venv
    /tmp/cal-venv/bin/pip install lunardate lunar-python sxtwl ephem
    /tmp/cal-venv/bin/python -m app.calendar.derive_provisional 2025 2040 \
        > app/calendar/data/cn_holidays_provisional.json
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import math
import sys
from datetime import date, datetime, timedelta
from typing import Any

from app.calendar.provisional import BASIS_ZH, PROVISIONAL, statutory_holidays

PACKAGES = ("lunardate", "lunar_python", "sxtwl", "ephem")
BEIJING = timedelta(hours=8)


def _lunar_sources() -> dict[str, Any]:
    """Each package's lunar → Gregorian conversion of a non-leap month."""
    lunardate = importlib.import_module("lunardate").LunarDate
    lunar_python = importlib.import_module("lunar_python").Lunar
    sxtwl = importlib.import_module("sxtwl")

    def from_lunardate(y: int, m: int, d: int) -> date:
        return lunardate(y, m, d, False).to_solar_date()

    def from_lunar_python(y: int, m: int, d: int) -> date:
        s = lunar_python.fromYmd(y, m, d).getSolar()  # a positive month is the regular (non-leap) one
        return date(s.getYear(), s.getMonth(), s.getDay())

    def from_sxtwl(y: int, m: int, d: int) -> date:
        day = sxtwl.fromLunar(y, m, d, False)
        return date(day.getSolarYear(), day.getSolarMonth(), day.getSolarDay())

    return {"lunardate": from_lunardate, "lunar_python": from_lunar_python, "sxtwl": from_sxtwl}


def _qingming_sxtwl(year: int) -> datetime:
    """The instant of 清明 (Beijing time) by the 寿星天文历."""
    sxtwl = importlib.import_module("sxtwl")
    for term in sxtwl.getJieQiByYear(year):
        if term.jqIndex == 7:  # 清明
            t = sxtwl.JD2DD(term.jd)  # Beijing time
            start = datetime(int(t.Y), int(t.M), int(t.D))
            return start + timedelta(hours=float(t.h), minutes=float(t.m), seconds=float(t.s))
    raise LookupError(f"sxtwl has no 清明 in {year}")


def _qingming_lunar_python(year: int) -> date:
    lunar = importlib.import_module("lunar_python").Lunar
    s = lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]  # the lunar year's table, Beijing time
    return date(s.getYear(), s.getMonth(), s.getDay())


def _qingming_ephem(year: int) -> datetime:
    """The instant (Beijing time) the Sun's apparent geocentric longitude of date reaches 15°."""
    ephem = importlib.import_module("ephem")

    def past_15(t: float) -> bool:
        sun = ephem.Sun(t)
        lon = ephem.Ecliptic(ephem.Equatorial(sun.g_ra, sun.g_dec, epoch=t), epoch=t).lon
        return (math.degrees(lon) - 15.0) % 360.0 < 180.0

    lo, hi = float(ephem.Date(datetime(year, 3, 25))), float(ephem.Date(datetime(year, 4, 15)))
    for _ in range(50):  # 21 days / 2**50: far below a second
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if past_15(mid) else (mid, hi)
    return ephem.Date(hi).datetime() + BEIJING


def anchors(year: int) -> dict[str, str]:
    """The four computed dates of ``year``, checked across the packages (ValueError on disagreement)."""
    sources = _lunar_sources()
    out: dict[str, str] = {}
    for key, (m, d) in {"lunar_new_year": (1, 1), "dragon_boat": (5, 5), "mid_autumn": (8, 15)}.items():
        answers = {name: convert(year, m, d) for name, convert in sources.items()}
        if len(set(answers.values())) != 1:
            raise ValueError(f"{year} lunar {m}/{d}: the packages disagree: {answers}")
        out[key] = next(iter(answers.values())).isoformat()
    instant, other = _qingming_ephem(year), _qingming_sxtwl(year)
    answers = {"ephem": instant.date(), "sxtwl": other.date(), "lunar_python": _qingming_lunar_python(year)}
    if len(set(answers.values())) != 1 or abs(instant - other) > timedelta(minutes=5):
        raise ValueError(f"{year} 清明: the packages disagree: {answers}, {instant} / {other}")
    midnight = datetime.combine(instant.date(), datetime.min.time())
    if min(instant - midnight, midnight + timedelta(days=1) - instant) < timedelta(minutes=10):
        raise ValueError(f"{year} 清明 at {instant} (Beijing) is too close to midnight to trust the day")
    out["qingming"] = answers["ephem"].isoformat()
    out["qingming_beijing_time"] = instant.strftime("%Y-%m-%d %H:%M")
    return out


def derive(first: int, last: int) -> dict[str, Any]:
    """Provisional years ``first``..``last`` as the seed file's structure, with the computed dates."""
    versions = {p: importlib.metadata.version(p.replace("_", "-")) for p in PACKAGES}
    out: dict[str, Any] = {
        "status": PROVISIONAL,
        "source": f"暂定：{BASIS_ZH}法定节假日"
        "（农历与清明经 lunardate、lunar_python、sxtwl、ephem 交叉核对）",
        "basis": BASIS_ZH,
        "note_zh": "仅含法定节假日，未含调休及补休安排，以国务院办公厅公布的放假安排为准。",
        "generated_with": versions,
        "years": {},
    }
    for year in range(first, last + 1):
        a = anchors(year)
        days = statutory_holidays(
            year,
            lunar_new_year=date.fromisoformat(a["lunar_new_year"]),
            qingming=date.fromisoformat(a["qingming"]),
            dragon_boat=date.fromisoformat(a["dragon_boat"]),
            mid_autumn=date.fromisoformat(a["mid_autumn"]),
        )
        out["years"][str(year)] = {
            "computed": a,
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in days],
            "makeup_working_days": [],
        }
    return out


if __name__ == "__main__":
    first_year, last_year = (int(y) for y in sys.argv[1:3])
    json.dump(derive(first_year, last_year), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
