"""Regenerate ``data/cn_holidays.json`` from the ``chinesecalendar`` package (generation time only).

Run ``pip install chinesecalendar`` in a scratch environment, then
``python -m app.calendar.derive 2024 2025 2026 > app/calendar/data/cn_holidays.json``.
The service never imports the package: the calendar lives in the database, seeded from the file.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}


def derive(years: list[int]) -> dict[str, Any]:
    """Holidays and make-up working days of ``years`` as the seed file's structure."""
    cc = importlib.import_module("chinese_calendar")
    out: dict[str, Any] = {"source": "chinesecalendar 1.11.0 (国务院办公厅放假安排)", "years": {}}
    for year in years:
        holidays = sorted((d, n) for d, n in cc.holidays.items() if d.year == year)
        workdays = sorted((d, n) for d, n in cc.workdays.items() if d.year == year and d.weekday() >= 5)
        out["years"][str(year)] = {
            "holidays": [{"date": d.isoformat(), "name": NAMES_ZH.get(str(n), str(n))} for d, n in holidays],
            "makeup_working_days": [
                {"date": d.isoformat(), "name": NAMES_ZH.get(str(n), str(n)) + "调休上班"}
                for d, n in workdays
            ],
        }
    return out


if __name__ == "__main__":
    json.dump(derive([int(y) for y in sys.argv[1:]]), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
