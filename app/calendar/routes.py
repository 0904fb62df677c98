"""Routes: working-day arithmetic and the administrators' calendar editor."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.auth.deps import Allow, AllowBriefly, Grant
from app.auth.policy import Action
from app.calendar import store
from app.calendar.basis import CalendarBasis
from app.calendar.store import CalendarYear, CalendarYearInput, YearStatus
from app.calendar.yearfile import MAX_FILE_BYTES, parse_year_file
from app.db import Conn, leased_connection
from app.edge.middleware import too_large
from app.edge.params import Year
from app.errors import Unprocessable

router = APIRouter(prefix="/api/calendar", tags=["calendar"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.CALENDAR_READ))]
ManageGrant = Annotated[Grant, Depends(Allow(Action.CALENDAR_MANAGE))]


class WorkingDays(CalendarBasis):
    """Number of working days in an inclusive range."""

    working_days: int


class WorkingDate(CalendarBasis):
    """A date computed on the working-day calendar."""

    date: date


class Years(BaseModel):
    """Years whose calendar is loaded, with their status."""

    years: list[int]
    calendars: list[YearStatus] = Field(default_factory=list, description="每个已加载年份：正式或暂定")


@router.get("/working-days", response_model=WorkingDays, summary="区间工作日数")
def working_days(
    conn: Conn,
    _: ReadGrant,
    start: Annotated[date, Query(alias="from", description="起始日期（含）YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="截止日期（含）YYYY-MM-DD")],
) -> WorkingDays:
    """Working days from ``from`` to ``to``, both included (holidays off, 调休 make-up days on)."""
    if end < start:
        raise Unprocessable(
            f"截止日期 {end} 早于起始日期 {start}。",
            f"'to' ({end}) is before 'from' ({start}).",
            code="bad_range",
        )
    cal = store.load_calendar(conn)
    count = cal.working_days(start, end)
    return WorkingDays(working_days=count, **CalendarBasis.of(cal))


@router.get("/add-working-days", response_model=WorkingDate, summary="加减工作日")
def add_working_days(
    conn: Conn,
    _: ReadGrant,
    day: Annotated[date, Query(alias="date", description="起算日期 YYYY-MM-DD")],
    days: Annotated[
        int,
        Query(
            ge=-3660,
            le=3660,
            description="工作日数：n>0 为起算日之后第 n 个工作日（起算日本身不计）；"
            "0 为起算日（非工作日则顺延至下一工作日）；n<0 为之前第 |n| 个工作日",
        ),
    ],
) -> WorkingDate:
    """The n-th working day after ``date`` (start not counted); n=0: the date or the next working day."""
    cal = store.load_calendar(conn)
    answer = cal.add_working_days(day, days)
    return WorkingDate(date=answer, **CalendarBasis.of(cal))


@router.get("/years", response_model=Years, summary="已加载的日历年份")
def list_years(conn: Conn, _: ReadGrant) -> Years:
    """Years whose holidays and make-up days are loaded, each official or provisional (暂定: statutory
    holidays only, until the State Council's arrangement is loaded)."""
    calendars = store.list_statuses(conn)
    return Years(years=[c.year for c in calendars], calendars=calendars)


@router.get("/years/{year}", response_model=CalendarYear, summary="某年节假日与调休")
def get_year(year: Year, conn: Conn, _: ReadGrant) -> CalendarYear:
    """One year's holidays and 调休 make-up working days."""
    return store.get_year(conn, year)


@router.put("/years/{year}", response_model=CalendarYear, summary="加载或替换某年日历")
def put_year(year: Year, body: CalendarYearInput, conn: Conn, grant: ManageGrant) -> CalendarYear:
    """Load or replace a year's official calendar (administrators; audited); it replaces a provisional one."""
    return store.replace_year(conn, grant.actor, year, body)


@router.post("/years/{year}/file", response_model=CalendarYear, summary="由文件加载某年正式日历")
async def upload_year(
    request: Request,
    year: Year,
    grant: Annotated[Grant, Depends(AllowBriefly(Action.CALENDAR_MANAGE))],
    file: Annotated[
        UploadFile, File(description='JSON：{"holidays": [{"date", "name"}], "makeup_working_days": [...]}')
    ],
) -> CalendarYear:
    """Load a year's official arrangement from a file (as ``duogui calendar load``; audited). A file with
    any problem is refused whole (422 naming each line) and nothing changes. The file is read and checked
    before a connection is taken: only the write needs one."""
    store.check_year(year)
    raw = await file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise too_large(MAX_FILE_BYTES, upload=True)
    name = Path(file.filename or "").name or "upload.json"
    data = await run_in_threadpool(parse_year_file, raw, year, default_source=f"上传文件 {name}")
    async with leased_connection(request) as conn:
        return await run_in_threadpool(store.replace_year, conn, grant.actor, year, data)


@router.delete("/years/{year}", status_code=204, response_class=Response, summary="删除某年日历")
def delete_year(year: Year, conn: Conn, grant: ManageGrant) -> Response:
    """Remove a year's calendar (administrators; audited): an official year with a shipped provisional
    calendar falls back to it; any other year is unloaded and calculations touching it are refused."""
    store.delete_year(conn, grant.actor, year)
    return Response(status_code=204)
