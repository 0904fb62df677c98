"""The leaders' overview, computed from the project library, the items' event log, the one window's
applications and the demolition ledger (never from stored counters).

Every figure carries the ids of the rows behind it (``ids``) and, where the list API can filter to
them, the query string of that list (``filter``), so a page can open the list behind each figure.

A project's sub-district (街道) is its project unit when that unit is a sub-district office (街道办 as
建设单位); projects built by other units are counted as ``unassigned``. (The footprint against a
sub-district boundary layer would be the fuller answer; the base map does not yet name one.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import Connection, sql
from pydantic import BaseModel

from app.auth.deps import Grant
from app.calendar.store import load_calendar
from app.demolition.models import CLEARED
from app.demolition.progress import load_facts, progress_of
from app.projects.kpis import GroupBy, ItemFact, KpiRow, compute_kpis
from app.projects.plan import item_events
from app.projects.service import visibility
from app.projects.timing import RUNNING, timing

# Items whose clock is running or stands with the unit: the approvals in flight.
IN_FLIGHT = frozenset({"submitted", *RUNNING, "correction"})
UNASSIGNED = "unassigned"


class Figure(BaseModel):
    """One counted group with the rows behind it."""

    key: str
    name_zh: str | None = None
    count: int
    investment_wan: Decimal | None = None
    ids: list[int]
    filter: str | None = None


class KpiFigure(KpiRow):
    """A KPI row with the items behind its rates."""

    finished_ids: list[int]
    early_ids: list[int]
    approved_ids: list[int]
    one_time_pass_ids: list[int]


class Approvals(BaseModel):
    """Approval items in flight, overdue (past the promised limit while running) and by stage."""

    in_flight: Figure
    overdue: Figure
    by_stage: list[Figure]


class DemolitionRow(BaseModel):
    """One project's demolition ledger."""

    project_id: int
    code: str
    name: str
    units: int
    cleared_units: int
    progress_pct: float | None


class ItemRef(BaseModel):
    """What a list of approval items shows of one item behind a figure."""

    id: int
    name_zh: str
    name_en: str | None
    department_code: str
    status: str
    project_id: int


class Place(BaseModel):
    """A project's current footprint (GeoJSON, CRS84) for the overview's map."""

    project_id: int
    status: str
    geometry: dict[str, Any]


class Overview(BaseModel):
    """The leaders' overview as of one day."""

    as_of: date
    projects: Figure
    by_status: list[Figure]
    by_tier: list[Figure]
    by_type: list[Figure]
    by_subdistrict: list[Figure]
    by_funding: list[Figure]
    investment_planned_wan: Figure
    investment_under_way_wan: Figure
    approvals: Approvals
    applications_by_status: list[Figure]
    kpi_total: list[KpiFigure]
    kpi_by_department: list[KpiFigure]
    kpi_by_month: list[KpiFigure]
    demolition: list[DemolitionRow]
    places: list[Place]
    # Every item counted by a figure (in flight, or with a started clock), for the lists behind them.
    items: list[ItemRef]


_PROJECTS = sql.SQL(
    "SELECT p.id, p.status, p.tier, p.project_type, p.funding_source, p.investment_wan, o.kind, o.code,"
    " o.name_zh, p.code, p.name FROM project.project p JOIN auth.organisation o ON o.id = p.unit_org_id"
    " WHERE {where} AND (%(unit)s::text IS NULL OR o.code = %(unit)s) ORDER BY p.id"
)
# Planned: registered but not yet building (储备、前期); under way: in construction.
PLANNED = ("reserve", "preparation")
UNDER_WAY = ("construction",)


def _group(
    rows: Iterable[tuple[Any, ...]], key_of: Any, name_of: Any = None, filter_of: Any = None
) -> list[Figure]:
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        groups.setdefault(key_of(r), []).append(r)
    return [
        Figure(
            key=k,
            name_zh=name_of(g[0]) if name_of else None,
            count=len(g),
            investment_wan=sum((r[5] for r in g), Decimal(0)),
            ids=[r[0] for r in g],
            filter=filter_of(k) if filter_of else None,
        )
        for k, g in sorted(groups.items())
    ]


def _total(rows: list[tuple[Any, ...]], key: str, filter: str | None = None) -> Figure:
    return Figure(
        key=key,
        count=len(rows),
        investment_wan=sum((r[5] for r in rows), Decimal(0)),
        ids=[r[0] for r in rows],
        filter=filter,
    )


def _kpi_figures(facts: list[tuple[int, ItemFact]], by: GroupBy, as_of: date) -> list[KpiFigure]:
    """The KPI rows of :func:`compute_kpis` with the ids behind each rate (same grouping and tests)."""
    rows = compute_kpis([f for _, f in facts], by, as_of)
    month = GroupBy.MONTH
    out = []
    for row in rows:
        group = [
            (i, f)
            for i, f in facts
            if f.timing.started is not None
            and (
                by is GroupBy.TOTAL
                or (by is GroupBy.DEPARTMENT and f.department_code == row.key)
                or (by is month and (f.timing.finished or as_of).strftime("%Y-%m") == row.key)
            )
        ]
        finished = [(i, f) for i, f in group if f.timing.finished is not None]
        approved = [(i, f) for i, f in group if f.timing.approved]
        out.append(
            KpiFigure(
                **row.model_dump(),
                finished_ids=[i for i, _ in finished],
                early_ids=[i for i, f in finished if f.timing.elapsed_days < f.promised_days],
                approved_ids=[i for i, _ in approved],
                one_time_pass_ids=[i for i, f in approved if f.timing.corrections == 0],
            )
        )
    return out


def overview(conn: Connection[Any], grant: Grant, as_of: date, unit: str | None = None) -> Overview:
    """The overview of the projects ``grant`` may see (optionally of one project unit's)."""
    where, params = visibility(grant)
    projects = conn.execute(_PROJECTS.format(where=where), {**params, "unit": unit}).fetchall()
    ids = [r[0] for r in projects]
    status_filter = "/api/projects?status={}".format
    tier_filter = "/api/projects?tier={}".format

    items = conn.execute(
        "SELECT i.id, i.department_code, i.item_code, i.promised_days, i.status, i.stage, i.name_zh,"
        " i.name_en, i.project_id FROM approval.item i WHERE i.project_id = ANY(%s) ORDER BY i.id",
        (ids,),
    ).fetchall()
    facts: list[tuple[int, ItemFact]] = []
    in_flight: list[int] = []
    overdue: list[int] = []
    stages: dict[str, list[int]] = {}
    refs: list[ItemRef] = []
    if items:
        cal = load_calendar(conn)
        events = item_events(conn, [r[0] for r in items])
        for item_id, dept, code, promised, status, stage, name_zh, name_en, project_id in items:
            t = timing(events[item_id], cal, as_of)
            if status in IN_FLIGHT or t.started is not None:
                refs.append(ItemRef(id=item_id, name_zh=name_zh, name_en=name_en, department_code=dept,
                                    status=status, project_id=project_id))  # fmt: skip
            facts.append((item_id, ItemFact(dept, code, promised, t, name_zh, name_en)))
            if status in IN_FLIGHT:
                in_flight.append(item_id)
                stages.setdefault(stage, []).append(item_id)
                # As e-supervision's red "overdue" warning: running past the promised limit.
                if status in RUNNING and t.elapsed_days > promised:
                    overdue.append(item_id)

    applications = conn.execute(
        "SELECT status, array_agg(id ORDER BY id) FROM approval.application WHERE project_id = ANY(%s)"
        " GROUP BY status ORDER BY status",
        (ids,),
    ).fetchall()

    demolition = []
    for pid, code, name in conn.execute(
        "SELECT p.id, p.code, p.name FROM project.project p WHERE p.id = ANY(%s)"
        " AND EXISTS (SELECT 1 FROM demolition.unit u WHERE u.project_id = p.id) ORDER BY p.code",
        (ids,),
    ).fetchall():
        units = load_facts(conn, pid)
        demolition.append(
            DemolitionRow(
                project_id=pid,
                code=code,
                name=name,
                units=len(units),
                cleared_units=sum(1 for u in units if u.status in CLEARED),
                progress_pct=progress_of(units),
            )
        )

    places = [
        Place(project_id=r[0], status=r[1], geometry=r[2])
        for r in conn.execute(
            "SELECT p.id, p.status, ST_AsGeoJSON(ST_Transform(f.geom, 4326), 7)::json"
            " FROM project.footprint f JOIN project.project p ON p.id = f.project_id"
            " WHERE f.project_id = ANY(%s) AND f.superseded_at IS NULL ORDER BY p.id",
            (ids,),
        ).fetchall()
    ]
    return Overview(
        as_of=as_of,
        projects=_total(projects, "total", "/api/projects"),
        by_status=_group(projects, lambda r: r[1], filter_of=status_filter),
        by_tier=_group(projects, lambda r: r[2], filter_of=tier_filter),
        by_type=_group(projects, lambda r: r[3]),
        by_subdistrict=_group(
            projects,
            lambda r: r[7] if r[6] == "subdistrict" else UNASSIGNED,
            lambda r: r[8] if r[6] == "subdistrict" else "未定位",
        ),
        by_funding=_group(projects, lambda r: r[4]),
        investment_planned_wan=_total([r for r in projects if r[1] in PLANNED], "planned"),
        investment_under_way_wan=_total(
            [r for r in projects if r[1] in UNDER_WAY], "under_way", status_filter("construction")
        ),
        approvals=Approvals(
            in_flight=Figure(key="in_flight", count=len(in_flight), ids=in_flight),
            overdue=Figure(key="overdue", count=len(overdue), ids=overdue),
            by_stage=[Figure(key=k, count=len(v), ids=v) for k, v in sorted(stages.items())],
        ),
        applications_by_status=[Figure(key=s, count=len(a), ids=list(a)) for s, a in applications],
        kpi_total=_kpi_figures(facts, GroupBy.TOTAL, as_of),
        kpi_by_department=_kpi_figures(facts, GroupBy.DEPARTMENT, as_of),
        kpi_by_month=_kpi_figures(facts, GroupBy.MONTH, as_of),
        demolition=demolition,
        places=places,
        items=refs,
    )
