"""The calendar in the database: loading, listing and (audited) editing by administrators."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from psycopg import Connection
from pydantic import BaseModel, Field

from app.audit.log import Actor, record
from app.calendar.workdays import WorkCalendar, build_calendar
from app.errors import NotFound, Unprocessable

SEED_FILE = Path(__file__).parent / "data" / "cn_holidays.json"


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


class CalendarYearInput(BaseModel):
    """A replacement of one year's calendar."""

    source: str = Field(default="admin", min_length=1, max_length=200)
    holidays: list[CalendarDay]
    makeup_working_days: list[CalendarDay] = Field(default_factory=list)


def load_calendar(conn: Connection[Any]) -> WorkCalendar:
    """Every loaded year with its overrides."""
    years = [r[0] for r in conn.execute("SELECT year FROM approval.calendar_year").fetchall()]
    days = conn.execute("SELECT day, working FROM approval.calendar_day").fetchall()
    return build_calendar(years, ((d, w) for d, w in days))


def list_years(conn: Connection[Any]) -> list[int]:
    """Loaded years, ascending."""
    return [r[0] for r in conn.execute("SELECT year FROM approval.calendar_year ORDER BY year").fetchall()]


def get_year(conn: Connection[Any], year: int) -> CalendarYear:
    """One loaded year, or 404."""
    row = conn.execute("SELECT source FROM approval.calendar_year WHERE year = %s", (year,)).fetchone()
    if row is None:
        raise NotFound(f"{year} 年的工作日历尚未加载。", f"No calendar is loaded for {year}.")
    days = conn.execute(
        "SELECT day, working, name FROM approval.calendar_day WHERE year = %s ORDER BY day", (year,)
    ).fetchall()
    return CalendarYear(
        year=year,
        source=row[0],
        holidays=[CalendarDay(date=d, name=n) for d, w, n in days if not w],
        makeup_working_days=[CalendarDay(date=d, name=n) for d, w, n in days if w],
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


def replace_year(conn: Connection[Any], actor: Actor, year: int, data: CalendarYearInput) -> CalendarYear:
    """Load or replace one year's calendar, audited with the before and after states."""
    if not 2000 <= year <= 2100:
        raise Unprocessable(
            f"年份 {year} 超出范围（2000–2100）。", f"Year {year} is out of range (2000-2100)."
        )
    _check_days(year, data)
    with conn.transaction():
        before: CalendarYear | None = None
        if conn.execute("SELECT 1 FROM approval.calendar_year WHERE year = %s", (year,)).fetchone():
            before = get_year(conn, year)
        conn.execute("DELETE FROM approval.calendar_year WHERE year = %s", (year,))
        conn.execute("INSERT INTO approval.calendar_year (year, source) VALUES (%s, %s)", (year, data.source))
        rows = [(d.date, year, False, d.name) for d in data.holidays]
        rows += [(d.date, year, True, d.name) for d in data.makeup_working_days]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO approval.calendar_day (day, year, working, name) VALUES (%s, %s, %s, %s)", rows
            )
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


def delete_year(conn: Connection[Any], actor: Actor, year: int) -> None:
    """Unload a year (calculations touching it are then refused), audited."""
    with conn.transaction():
        before = get_year(conn, year)
        conn.execute("DELETE FROM approval.calendar_year WHERE year = %s", (year,))
        record(
            conn, actor, "calendar.delete_year", "calendar_year", year, before=before.model_dump(mode="json")
        )


def seed_years(conn: Connection[Any], actor: Actor, path: Path = SEED_FILE) -> list[int]:
    """Load every year of the shipped seed file that is not loaded yet; return the years added."""
    seed = json.loads(path.read_text(encoding="utf-8"))
    loaded = set(list_years(conn))
    added = []
    for year_text, days in seed["years"].items():
        year = int(year_text)
        if year in loaded:
            continue
        replace_year(conn, actor, year, CalendarYearInput(source=seed["source"], **days))
        added.append(year)
    return added
