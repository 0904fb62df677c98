"""The calendar in the database: loading, listing and (audited) editing by administrators."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from psycopg import Connection
from pydantic import BaseModel, Field

from app.calendar.provisional import OFFICIAL, PROVISIONAL, Status, note
from app.calendar.workdays import WorkCalendar, build_calendar
from app.errors import NotFound, Unprocessable
from layers.audit import Actor, record

SEED_FILE = Path(__file__).parent / "data" / "cn_holidays.json"
PROVISIONAL_FILE = Path(__file__).parent / "data" / "cn_holidays_provisional.json"

STATUS_DESCRIPTION = (
    "official：国务院办公厅公布的放假安排（含调休）；provisional：暂定，仅含法定节假日，未含调休及补休安排"
)


class CalendarDay(BaseModel):
    """A day that differs from Monday-Friday."""

    date: date
    name: str = Field(min_length=1, max_length=100)


class CalendarYear(BaseModel):
    """One year's holidays (days off) and 调休 make-up working days."""

    year: int
    source: str
    holidays: list[CalendarDay]
    makeup_working_days: list[CalendarDay]
    status: Status = Field(default=OFFICIAL, description=STATUS_DESCRIPTION)
    note_zh: str | None = Field(default=None, description="暂定日历的说明")
    note_en: str | None = None


class YearStatus(BaseModel):
    """A loaded year: official or provisional, and where it comes from."""

    year: int
    status: Status = Field(description=STATUS_DESCRIPTION)
    source: str
    note_zh: str | None = Field(default=None, description="暂定日历的说明")
    note_en: str | None = None

    @classmethod
    def of(cls, year: int, status: Status, source: str) -> YearStatus:
        """The entry of a year, with the warning when it is provisional."""
        warning = note([year]) if status == PROVISIONAL else None
        return cls(
            year=year,
            status=status,
            source=source,
            note_zh=warning[0] if warning else None,
            note_en=warning[1] if warning else None,
        )


class CalendarYearInput(BaseModel):
    """A replacement of one year's calendar."""

    source: str = Field(default="admin", min_length=1, max_length=200)
    holidays: list[CalendarDay]
    makeup_working_days: list[CalendarDay] = Field(default_factory=list)


def load_calendar(conn: Connection[Any]) -> WorkCalendar:
    """Every loaded year with its overrides (one calendar per request: it notes the years consulted)."""
    years = conn.execute("SELECT year, status FROM approval.calendar_year").fetchall()
    days = conn.execute("SELECT day, working FROM approval.calendar_day").fetchall()
    return build_calendar(
        (y for y, _ in years), ((d, w) for d, w in days), (y for y, s in years if s == PROVISIONAL)
    )


def list_years(conn: Connection[Any]) -> list[int]:
    """Loaded years, ascending."""
    return [r[0] for r in conn.execute("SELECT year FROM approval.calendar_year ORDER BY year").fetchall()]


def list_statuses(conn: Connection[Any]) -> list[YearStatus]:
    """Loaded years with their status and source, ascending."""
    rows = conn.execute("SELECT year, status, source FROM approval.calendar_year ORDER BY year").fetchall()
    return [YearStatus.of(y, s, src) for y, s, src in rows]


def get_year(conn: Connection[Any], year: int) -> CalendarYear:
    """One loaded year, or 404."""
    row = conn.execute(
        "SELECT source, status FROM approval.calendar_year WHERE year = %s", (year,)
    ).fetchone()
    if row is None:
        raise NotFound(f"{year} 年的工作日历尚未加载。", f"No calendar is loaded for {year}.")
    days = conn.execute(
        "SELECT day, working, name FROM approval.calendar_day WHERE year = %s ORDER BY day", (year,)
    ).fetchall()
    entry = YearStatus.of(year, row[1], row[0])
    return CalendarYear(
        year=year,
        source=row[0],
        holidays=[CalendarDay(date=d, name=n) for d, w, n in days if not w],
        makeup_working_days=[CalendarDay(date=d, name=n) for d, w, n in days if w],
        status=entry.status,
        note_zh=entry.note_zh,
        note_en=entry.note_en,
    )


@cache
def provisional_years() -> dict[int, CalendarYearInput]:
    """The shipped provisional calendars (statutory holidays only), by year."""
    seed = json.loads(PROVISIONAL_FILE.read_text(encoding="utf-8"))
    return {
        int(year): CalendarYearInput(
            source=seed["source"], holidays=days["holidays"], makeup_working_days=days["makeup_working_days"]
        )
        for year, days in seed["years"].items()
    }


def check_year(year: int) -> None:
    """Refuse a year outside the range a calendar may be loaded for."""
    if not 2000 <= year <= 2100:
        raise Unprocessable(
            f"年份 {year} 超出范围（2000–2100）。", f"Year {year} is out of range (2000-2100)."
        )


def _check_days(year: int, data: CalendarYearInput) -> None:
    off = {d.date for d in data.holidays}
    on = {d.date for d in data.makeup_working_days}
    wrong_year = sorted(d for d in off | on if d.year != year)
    if wrong_year:
        raise Unprocessable(
            f"日期 {wrong_year[0]} 不属于 {year} 年。", f"Date {wrong_year[0]} is not in {year}."
        )
    both = sorted(off & on)
    if both:
        raise Unprocessable(
            f"{both[0]} 不能同时是节假日和调休上班日。",
            f"{both[0]} cannot be both a holiday and a working day.",
        )
    if len(off) != len(data.holidays) or len(on) != len(data.makeup_working_days):
        raise Unprocessable("日期重复。", "A date is listed twice.")


def _write_year(conn: Connection[Any], year: int, data: CalendarYearInput, status: Status) -> None:
    conn.execute("DELETE FROM approval.calendar_year WHERE year = %s", (year,))
    conn.execute(
        "INSERT INTO approval.calendar_year (year, source, status) VALUES (%s, %s, %s)",
        (year, data.source, status),
    )
    rows = [(d.date, year, False, d.name) for d in data.holidays]
    rows += [(d.date, year, True, d.name) for d in data.makeup_working_days]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO approval.calendar_day (day, year, working, name) VALUES (%s, %s, %s, %s)", rows
        )


def replace_year(
    conn: Connection[Any], actor: Actor, year: int, data: CalendarYearInput, status: Status = OFFICIAL
) -> CalendarYear:
    """Load or replace one year's calendar (an official one replaces a provisional one), audited with
    the before and after states."""
    check_year(year)
    _check_days(year, data)
    with conn.transaction():
        before: CalendarYear | None = None
        if conn.execute("SELECT 1 FROM approval.calendar_year WHERE year = %s", (year,)).fetchone():
            before = get_year(conn, year)
        _write_year(conn, year, data, status)
        after = get_year(conn, year)
        record(
            conn,
            actor,
            "calendar.replace_year",
            "calendar_year",
            year,
            before=before.model_dump(mode="json") if before else None,
            after=after.model_dump(mode="json"),
        )
    return after


def delete_year(conn: Connection[Any], actor: Actor, year: int) -> CalendarYear | None:
    """Remove a year's calendar, audited. An official year with a shipped provisional calendar falls back
    to it (calculations go on, marked provisional); any other year is unloaded (calculations touching it
    are then refused). Returns the calendar in force afterwards, if any."""
    with conn.transaction():
        before = get_year(conn, year)
        fallback = provisional_years().get(year) if before.status == OFFICIAL else None
        after: CalendarYear | None = None
        if fallback is not None:
            _write_year(conn, year, fallback, PROVISIONAL)
            after = get_year(conn, year)
        else:
            conn.execute("DELETE FROM approval.calendar_year WHERE year = %s", (year,))
        record(
            conn,
            actor,
            "calendar.delete_year",
            "calendar_year",
            year,
            before=before.model_dump(mode="json"),
            after=after.model_dump(mode="json") if after else None,
        )
    return after


def seed_years(conn: Connection[Any], actor: Actor, path: Path = SEED_FILE) -> list[int]:
    """Load every year of the shipped official seed file, then every shipped provisional year, that has
    no calendar loaded yet; return the years added."""
    seed = json.loads(path.read_text(encoding="utf-8"))
    loaded = set(list_years(conn))
    added = []
    for year_text, days in seed["years"].items():
        year = int(year_text)
        if year in loaded:
            continue
        replace_year(conn, actor, year, CalendarYearInput(source=seed["source"], **days))
        added.append(year)
    for year, data in provisional_years().items():
        if year not in loaded and year not in added:
            replace_year(conn, actor, year, data, PROVISIONAL)
            added.append(year)
    return sorted(added)
