"""Progress of a project's demolition: by status and sub-district, burndown from the event log, forecast.

Progress (the figure the 施工许可 gate reads) is the share of the ledger's floor area whose building is
down (拆除 or 移交); when no unit has a floor area it is the share of units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Connection, sql
from pydantic import BaseModel, Field

from app.demolition.models import CLEARED, PIPELINE, STATUS_LABELS, UnitStatus
from layers.district import DISTRICT

# The pace of the forecast is measured over this many most recent days.
PACE_WINDOW_DAYS = 30
MAX_SERIES_DAYS = 3 * 366


class StatusTally(BaseModel):
    """Units, floor area and households in one status."""

    status: UnitStatus
    name_zh: str
    units: int
    floor_area_m2: float
    households: int


class Breakdown(BaseModel):
    """Totals and the tally per status of a group of units."""

    key: str
    name_zh: str
    units: int
    floor_area_m2: float
    households: int
    cleared_units: int
    cleared_floor_area_m2: float
    cleared_households: int
    progress_pct: float | None
    by_status: list[StatusTally]
    agreed_compensation_yuan: float | None = Field(
        default=None, description="协议补偿合计（元，台账现值）；无单元填写时为空"
    )
    paid_compensation_yuan: float | None = Field(
        default=None, description="已付补偿合计（元，台账现值）；无单元填写时为空"
    )


class BurndownPoint(BaseModel):
    """The ledger at the end of one day."""

    day: date
    units: int
    remaining_units: int
    remaining_floor_area_m2: float
    remaining_households: int
    by_status: dict[str, int]


class Forecast(BaseModel):
    """When the last unit will be down at the current pace."""

    pace_units_per_day: float
    window_days: int
    remaining_units: int
    finish_on: date | None
    message_zh: str
    message_en: str


class Progress(BaseModel):
    """A project's demolition progress."""

    project_id: int
    as_of: date
    total: Breakdown
    by_subdistrict: list[Breakdown]
    burndown: list[BurndownPoint]
    forecast: Forecast


@dataclass(frozen=True)
class UnitFact:
    """What progress needs of a unit."""

    unit_id: int
    status: UnitStatus
    floor_area_m2: float
    households: int
    group: str
    group_zh: str
    agreed_yuan: float | None = None
    paid_yuan: float | None = None


@dataclass(frozen=True)
class StatusEvent:
    """A unit entering a status on a day (creation or transition)."""

    unit_id: int
    day: date
    to_status: UnitStatus


def pct(part: float, whole: float) -> float | None:
    """``part`` of ``whole`` in percent (2 decimals), None when there is no whole."""
    return None if whole <= 0 else round(100 * part / whole, 2)


def progress_of(units: list[UnitFact]) -> float | None:
    """Cleared floor area share (unit share when the ledger has no floor area); None without units."""
    if not units:
        return None
    area = sum(u.floor_area_m2 for u in units)
    if area > 0:
        return pct(sum(u.floor_area_m2 for u in units if u.status in CLEARED), area)
    return pct(sum(1 for u in units if u.status in CLEARED), len(units))


def money_sum(values: Iterable[float | None]) -> float | None:
    """Sum of the amounts given (2 decimals); None when none is given."""
    given = [v for v in values if v is not None]
    return round(sum(given), 2) if given else None


def breakdown(key: str, name_zh: str, units: list[UnitFact]) -> Breakdown:
    """Totals and per-status tallies of ``units``."""
    cleared = [u for u in units if u.status in CLEARED]
    tallies = []
    for status in PIPELINE:
        inside = [u for u in units if u.status is status]
        tallies.append(
            StatusTally(
                status=status,
                name_zh=STATUS_LABELS[status][0],
                units=len(inside),
                floor_area_m2=round(sum(u.floor_area_m2 for u in inside), 2),
                households=sum(u.households for u in inside),
            )
        )
    return Breakdown(
        key=key,
        name_zh=name_zh,
        units=len(units),
        floor_area_m2=round(sum(u.floor_area_m2 for u in units), 2),
        households=sum(u.households for u in units),
        cleared_units=len(cleared),
        cleared_floor_area_m2=round(sum(u.floor_area_m2 for u in cleared), 2),
        cleared_households=sum(u.households for u in cleared),
        progress_pct=progress_of(units),
        by_status=tallies,
        agreed_compensation_yuan=money_sum(u.agreed_yuan for u in units),
        paid_compensation_yuan=money_sum(u.paid_yuan for u in units),
    )


def burndown(units: list[UnitFact], events: Iterable[StatusEvent], until: date) -> list[BurndownPoint]:
    """The ledger at the end of each day from its first event to ``until`` (replaying the event log)."""
    ordered = sorted(events, key=lambda e: e.day)
    if not ordered:
        return []
    facts = {u.unit_id: u for u in units}
    start = max(ordered[0].day, until - timedelta(days=MAX_SERIES_DAYS))
    state: dict[int, UnitStatus] = {}
    points: list[BurndownPoint] = []
    i = 0
    # Events before the series' first day are replayed at once: a far ``until`` costs no walk over the days
    # in between (only the last MAX_SERIES_DAYS days are points).
    while i < len(ordered) and ordered[i].day < start:
        state[ordered[i].unit_id] = ordered[i].to_status
        i += 1
    day = start
    while day <= until:
        while i < len(ordered) and ordered[i].day <= day:
            state[ordered[i].unit_id] = ordered[i].to_status
            i += 1
        points.append(_point(day, state, facts))
        day += timedelta(days=1)
    return points


def _point(day: date, state: dict[int, UnitStatus], facts: dict[int, UnitFact]) -> BurndownPoint:
    remaining = [uid for uid, s in state.items() if s not in CLEARED]
    counts = {s.value: 0 for s in PIPELINE}
    for s in state.values():
        counts[s.value] += 1
    return BurndownPoint(
        day=day,
        units=len(state),
        remaining_units=len(remaining),
        remaining_floor_area_m2=round(sum(facts[u].floor_area_m2 for u in remaining if u in facts), 2),
        remaining_households=sum(facts[u].households for u in remaining if u in facts),
        by_status=counts,
    )


def forecast(series: list[BurndownPoint], as_of: date) -> Forecast:
    """Finish date at the pace of the last ``PACE_WINDOW_DAYS`` days (units cleared per day, net)."""
    if not series:
        return Forecast(
            pace_units_per_day=0,
            window_days=0,
            remaining_units=0,
            finish_on=None,
            message_zh="台账为空，无法预测。",
            message_en="The ledger is empty; nothing to forecast.",
        )
    last = series[-1]
    cleared_now = last.units - last.remaining_units
    if last.remaining_units == 0:
        done = last.day
        for point in reversed(series):  # the first day of the final all-clear run
            if point.remaining_units:
                break
            done = point.day
        return Forecast(
            pace_units_per_day=0,
            window_days=0,
            remaining_units=0,
            finish_on=done,
            message_zh=f"已于 {done} 全部拆除。",
            message_en=f"Every unit was down on {done}.",
        )
    window = min(PACE_WINDOW_DAYS, (as_of - series[0].day).days)
    if window <= 0:
        return _first_day(last)
    base = next((p for p in series if p.day == as_of - timedelta(days=window)), series[0])
    pace = (cleared_now - (base.units - base.remaining_units)) / window
    if pace <= 0:
        return Forecast(
            pace_units_per_day=0,
            window_days=window,
            remaining_units=last.remaining_units,
            finish_on=None,
            message_zh=f"近 {window} 天没有拆除进展（尚余 {last.remaining_units} 个单元未拆除），"
            "无法预测完成日期。",
            message_en=f"No unit was cleared in the last {window} days ({last.remaining_units} still"
            " standing); no finish date can be forecast.",
        )
    finish = as_of + timedelta(days=math.ceil(last.remaining_units / pace))
    return Forecast(
        pace_units_per_day=round(pace, 4),
        window_days=window,
        remaining_units=last.remaining_units,
        finish_on=finish,
        message_zh=f"按近 {window} 天每天 {pace:.2f} 户（栋）的速度，预计 {finish} 完成。",
        message_en=f"At {pace:.2f} units a day (last {window} days) the ledger is cleared by {finish}.",
    )


def _first_day(last: BurndownPoint) -> Forecast:
    """The ledger's first day: what stands and what is down, and no pace yet (one day is not a trend)."""
    cleared = last.units - last.remaining_units
    return Forecast(
        pace_units_per_day=0,
        window_days=0,
        remaining_units=last.remaining_units,
        finish_on=None,
        message_zh=f"台账自 {last.day} 起记录：共 {last.units} 个单元，已拆除 {cleared} 个，尚余"
        f" {last.remaining_units} 个；记录满一天后按拆除速度预测完成日期。",
        message_en=f"The ledger starts on {last.day}: {last.units} units, {cleared} cleared,"
        f" {last.remaining_units} standing; a finish date is forecast once a day of progress is recorded.",
    )


_FACTS = sql.SQL(
    "SELECT u.id, u.status, u.floor_area_m2, u.households, coalesce(o.code, ''),"
    " coalesce(o.name_zh, '未指定'), u.agreed_compensation_yuan, u.paid_compensation_yuan"
    " FROM demolition.unit u LEFT JOIN auth.organisation o ON o.id = u.subdistrict_id"
    " JOIN project.project p ON p.id = u.project_id WHERE {where} ORDER BY u.id"
)


def load_facts(
    conn: Connection[Any], project_id: int | None, where: sql.Composable | None = None, **params: Any
) -> list[UnitFact]:
    """Units (of one project, or every unit ``where`` admits) with their current status and sub-district."""
    clause = where if where is not None else sql.SQL("u.project_id = %(project_id)s")
    rows = conn.execute(_FACTS.format(where=clause), {"project_id": project_id, **params}).fetchall()
    return [
        UnitFact(r[0], UnitStatus(r[1]), float(r[2]), int(r[3]), r[4], r[5], _float(r[6]), _float(r[7]))
        for r in rows
    ]


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def subdistrict_progress(
    conn: Connection[Any], where: sql.Composable, params: dict[str, Any]
) -> list[Breakdown]:
    """Every visible project's units, by responsible sub-district (``where`` filters projects ``p``)."""
    groups: dict[str, list[UnitFact]] = {}
    for u in load_facts(conn, None, where, **params):
        groups.setdefault(u.group, []).append(u)
    return [breakdown(k, g[0].group_zh, g) for k, g in sorted(groups.items())]


def load_events(conn: Connection[Any], project_id: int, until: date) -> list[StatusEvent]:
    """Status-changing events of the project up to ``until`` (district days)."""
    rows = conn.execute(
        "SELECT unit_id, (at AT TIME ZONE %(tz)s::text)::date, to_status FROM demolition.unit_event"
        " WHERE project_id = %(project)s AND kind IN ('create', 'transition')"
        " AND (at AT TIME ZONE %(tz)s::text)::date <= %(until)s ORDER BY at, id",
        {"tz": DISTRICT.time_zone, "project": project_id, "until": until},
    ).fetchall()
    return [StatusEvent(r[0], r[1], UnitStatus(r[2])) for r in rows]


def project_progress(conn: Connection[Any], project_id: int, as_of: date) -> Progress:
    """Totals, sub-district breakdown, burndown and forecast of one project (visibility checked by caller)."""
    events = load_events(conn, project_id, as_of)
    # The tallies are the ledger as of that day: the event log replayed (it holds every creation and move).
    state = {e.unit_id: e.to_status for e in sorted(events, key=lambda e: e.day)}
    units = [replace(u, status=state[u.unit_id]) for u in load_facts(conn, project_id) if u.unit_id in state]
    groups: dict[str, list[UnitFact]] = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    series = burndown(units, events, as_of)
    return Progress(
        project_id=project_id,
        as_of=as_of,
        total=breakdown("total", "合计", units),
        by_subdistrict=[breakdown(k, g[0].group_zh, g) for k, g in sorted(groups.items())],
        burndown=series,
        forecast=forecast(series, as_of),
    )


def ledger_progress_pct(conn: Connection[Any], project_id: int) -> Decimal | None:
    """The gate's figure: cleared share of the ledger in percent, None when the project has no units."""
    value = progress_of(load_facts(conn, project_id))
    return None if value is None else Decimal(str(value))
