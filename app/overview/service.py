"""The leaders' overview, computed from the project library, the items' event log, the one window's
applications and the demolition ledger (never from stored counters).

Every figure carries the ids of the rows behind it (``ids``) and, where the list API can filter to
them, the query string of that list (``filter``), so a page can open the list behind each figure.

Every figure also carries ``link``: the page that lists it (``#/projects?…`` the project library with
those filters, ``#/items?…`` the approval items, ``#/demolition/<id>``, ``#/gaps?…``).

A project's sub-district (街道) is where its current footprint lies on the base map's ``admin_subdistrict``
layer (:mod:`app.projects.places`: the largest overlap; no footprint → ``unassigned``, 未定位).

Facility gaps by sub-district are read from the stored gap answers (:mod:`analysis.gaps.store`), never
computed here: a facility type without one is shown as not computed, with a link to the gaps page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

from psycopg import Connection, sql
from pydantic import BaseModel

from analysis.gaps import store as gap_store
from analysis.gaps.inputs import cache_key
from analysis.gaps.network import SourceVersion
from analysis.standards.model import get_standards
from app.auth.deps import Grant
from app.demolition.models import CLEARED
from app.demolition.progress import load_facts, progress_of
from app.projects.item_figures import (
    IN_FLIGHT,
    ItemQuery,
    ItemState,
    KpiSet,
    TimedItem,
    select_items,
    timed_items,
)
from app.projects.kpis import GroupBy, KpiRow, compute_kpis
from app.projects.places import UNLOCATED, subdistricts_of
from app.projects.service import visibility

__all__ = ["IN_FLIGHT", "UNASSIGNED", "Overview", "overview"]
UNASSIGNED = UNLOCATED
Labels = dict[str, tuple[str, str]]


class Figure(BaseModel):
    """One counted group with the rows behind it."""

    key: str
    name_zh: str | None = None
    name_en: str | None = None
    count: int
    investment_wan: Decimal | None = None
    ids: list[int]
    filter: str | None = None
    link: str | None = None


class KpiFigure(KpiRow):
    """A KPI row with the items behind its rates, and the pages listing them."""

    finished_ids: list[int]
    early_ids: list[int]
    approved_ids: list[int]
    one_time_pass_ids: list[int]
    links: dict[str, str]


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
    link: str


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
    subdistrict: str
    geometry: dict[str, Any]


class GapArea(BaseModel):
    """A stored gap answer's figures for one sub-district (or the district: ``subdistrict`` null)."""

    subdistrict: str | None
    name_zh: str | None
    name_en: str | None
    population: int
    covered: int
    not_covered: int
    unreachable: int
    demand: float
    met: float
    shortfall: float
    deficit_cells: int
    link: str


class GapFigure(BaseModel):
    """One facility type's gaps by sub-district, as its stored answer has them.

    ``state``: ``current`` (the answer of today's inputs), ``stale`` (an older answer: an input layer or
    the standards changed since; shown with its date), ``not_computed`` (no stored answer)."""

    facility: str
    name_zh: str
    name_en: str
    unit_zh: str
    unit_en: str
    state: Literal["current", "stale", "not_computed"]
    computed_at: datetime | None
    standards_version: str | None
    layers: list[SourceVersion]
    network: list[SourceVersion]
    district: GapArea | None
    subdistricts: list[GapArea]
    link: str


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
    gaps: list[GapFigure]
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


class Links:
    """The list pages (and list APIs) behind figures, keeping the overview's own narrowing (unit, day)."""

    def __init__(self, unit: str | None, as_of: date) -> None:
        self.unit = unit
        self.as_of = as_of

    def _query(self, pairs: list[tuple[str, str]], day: bool = False) -> str:
        extra = [("unit", self.unit)] if self.unit else []
        extra += [("as_of", self.as_of.isoformat())] if day else []
        return urlencode(pairs + extra)

    def projects_api(self, *pairs: tuple[str, str]) -> str:
        query = self._query(list(pairs))
        return f"/api/projects?{query}" if query else "/api/projects"

    def projects(self, *pairs: tuple[str, str]) -> str:
        query = self._query(list(pairs))
        return f"#/projects?{query}" if query else "#/projects"

    def items_api(self, *pairs: tuple[str, str]) -> str:
        return f"/api/approval-items?{self._query(list(pairs), day=True)}"

    def items(self, *pairs: tuple[str, str]) -> str:
        return f"#/items?{self._query(list(pairs), day=True)}"


def _investment(rows: list[tuple[Any, ...]]) -> Decimal:
    return sum((r[5] for r in rows), Decimal(0))


def _group(
    rows: Iterable[tuple[Any, ...]],
    key_of: Callable[[tuple[Any, ...]], str],
    links: Links,
    param: str,
    labels: Labels | None = None,
) -> list[Figure]:
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        groups.setdefault(key_of(r), []).append(r)
    out = []
    for k, g in sorted(groups.items()):
        name = (labels or {}).get(k)
        out.append(
            Figure(
                key=k,
                name_zh=name[0] if name else None,
                name_en=name[1] if name else None,
                count=len(g),
                investment_wan=_investment(g),
                ids=[r[0] for r in g],
                filter=links.projects_api((param, k)),
                link=links.projects((param, k)),
            )
        )
    return out


def _total(rows: list[tuple[Any, ...]], key: str, links: Links, *pairs: tuple[str, str]) -> Figure:
    return Figure(
        key=key,
        count=len(rows),
        investment_wan=_investment(rows),
        ids=[r[0] for r in rows],
        filter=links.projects_api(*pairs),
        link=links.projects(*pairs),
    )


def _item_figure(items: list[TimedItem], key: str, links: Links, *pairs: tuple[str, str]) -> Figure:
    return Figure(
        key=key,
        count=len(items),
        ids=[i.id for i in items],
        filter=links.items_api(*pairs),
        link=links.items(*pairs),
    )


def _kpi_figures(items: list[TimedItem], by: GroupBy, as_of: date, links: Links) -> list[KpiFigure]:
    """The KPI rows of :func:`compute_kpis` with the ids behind each rate (the same tests)."""
    rows = compute_kpis([i.fact() for i in items], by, as_of)
    # The items of each row, grouped in one pass (the same tests as select_items with that row's query:
    # a department's items; a month's started items by their KPI month).
    grouped: dict[str, list[TimedItem]] = {}
    for i in items:
        if by is GroupBy.DEPARTMENT:
            grouped.setdefault(i.department_code, []).append(i)
        elif by is GroupBy.MONTH and i.timing.started is not None:
            grouped.setdefault(i.month(as_of), []).append(i)
    out = []
    for row in rows:
        group: list[tuple[str, str]] = []
        if by is GroupBy.DEPARTMENT:
            group = [("department", row.key)]
        elif by is GroupBy.MONTH:
            group = [("month", row.key)]
        mine = items if by is GroupBy.TOTAL else grouped.get(row.key, [])
        ids = {k: [i.id for i in mine if i.in_kpi(k)] for k in KpiSet}
        out.append(
            KpiFigure(
                **row.model_dump(),
                finished_ids=ids[KpiSet.FINISHED],
                early_ids=ids[KpiSet.EARLY],
                approved_ids=ids[KpiSet.APPROVED],
                one_time_pass_ids=ids[KpiSet.ONE_TIME_PASS],
                links={k.value: links.items(("kpi", k.value), *group) for k in KpiSet},
            )
        )
    return out


def _gap_area(row: dict[str, Any], facility: str, labels: Labels) -> GapArea:
    code = row.get("subdistrict")
    name = labels.get(code) if code else None
    query = urlencode([("facility", facility)] + ([("subdistrict", code)] if code else []))
    return GapArea(
        subdistrict=code,
        name_zh=name[0] if name else None,
        name_en=name[1] if name else None,
        population=row["population"],
        covered=row["covered"],
        not_covered=row["not_covered"],
        unreachable=row.get("unreachable", 0),
        demand=row["demand"],
        met=row["met"],
        shortfall=row["shortfall"],
        deficit_cells=row["deficit_cells"],
        link=f"#/gaps?{query}",
    )


def gap_figures(conn: Connection[Any], labels: Labels) -> list[GapFigure]:
    """Each facility type's stored answer (that of the current inputs, else the newest), read only."""
    standards = get_standards()
    keys = {f.code: cache_key(conn, standards, f) for f in standards.facilities}
    stored = gap_store.summaries(conn, keys)
    out = []
    for f in standards.facilities:
        answer = stored.get(f.code)
        common = {
            "facility": f.code,
            "name_zh": f.name_zh,
            "name_en": f.name_en,
            "unit_zh": f.provision.unit_zh,
            "unit_en": f.provision.unit_en,
            "link": f"#/gaps?{urlencode({'facility': f.code})}",
        }
        if answer is None:
            out.append(GapFigure(**common, state="not_computed", computed_at=None, standards_version=None,
                                 layers=[], network=[], district=None, subdistricts=[]))  # fmt: skip
            continue
        out.append(
            GapFigure(
                **common,
                state="current" if answer["current"] else "stale",
                computed_at=answer["computed_at"],
                standards_version=answer["standards_version"],
                layers=answer["layers"] or [],
                network=answer["network"] or [],
                district=_gap_area(answer["district"], f.code, labels),
                subdistricts=[_gap_area(r, f.code, labels) for r in answer["subdistricts"] or []],
            )
        )
    return out


def overview(
    conn: Connection[Any], grant: Grant, as_of: date, unit: str | None = None, labels: Labels | None = None
) -> Overview:
    """The overview of the projects ``grant`` may see (optionally of one project unit's); ``labels``
    names the sub-districts (code → Chinese, English)."""
    labels = labels or {}
    links = Links(unit, as_of)
    where, params = visibility(grant)
    projects = conn.execute(_PROJECTS.format(where=where), {**params, "unit": unit}).fetchall()
    ids = [r[0] for r in projects]
    places_of = subdistricts_of(conn, ids)

    items = timed_items(conn, ids, as_of)
    in_flight = select_items(items, ItemQuery(state=ItemState.IN_FLIGHT), as_of)
    overdue = select_items(items, ItemQuery(state=ItemState.OVERDUE), as_of)
    stages = sorted({i.stage for i in in_flight})
    refs = [
        ItemRef(
            id=i.id,
            name_zh=i.name_zh,
            name_en=i.name_en,
            department_code=i.department_code,
            status=i.status,
            project_id=i.project_id,
        )  # fmt: skip
        for i in items
        if i.in_flight or i.timing.started is not None
    ]

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
                link=f"#/demolition/{pid}",
            )
        )

    places = [
        Place(project_id=r[0], status=r[1], subdistrict=places_of[r[0]], geometry=r[2])
        for r in conn.execute(
            "SELECT p.id, p.status, ST_AsGeoJSON(ST_Transform(f.geom, 4326), 7)::json"
            " FROM project.footprint f JOIN project.project p ON p.id = f.project_id"
            " WHERE f.project_id = ANY(%s) AND f.superseded_at IS NULL ORDER BY p.id",
            (ids,),
        ).fetchall()
    ]
    planned = [r for r in projects if r[1] in PLANNED]
    under_way = [r for r in projects if r[1] in UNDER_WAY]
    return Overview(
        as_of=as_of,
        projects=_total(projects, "total", links),
        by_status=_group(projects, lambda r: r[1], links, "status"),
        by_tier=_group(projects, lambda r: r[2], links, "tier"),
        by_type=_group(projects, lambda r: r[3], links, "project_type"),
        by_subdistrict=_group(projects, lambda r: places_of[r[0]], links, "subdistrict", labels),
        by_funding=_group(projects, lambda r: r[4], links, "funding_source"),
        investment_planned_wan=_total(planned, "planned", links, *[("status", s) for s in PLANNED]),
        investment_under_way_wan=_total(under_way, "under_way", links, *[("status", s) for s in UNDER_WAY]),
        approvals=Approvals(
            in_flight=_item_figure(in_flight, "in_flight", links, ("state", "in_flight")),
            overdue=_item_figure(overdue, "overdue", links, ("state", "overdue")),
            by_stage=[
                _item_figure(
                    [i for i in in_flight if i.stage == stage],
                    stage,
                    links,
                    ("state", "in_flight"),
                    ("stage", stage),
                )  # fmt: skip
                for stage in stages
            ],
        ),
        # Applications are listed on the one window's page, which the overview's readers do not all have
        # (and whose list has no unit filter): these figures carry their ids, and no link that could lead
        # nowhere (the page does not chart them; the export lists them).
        applications_by_status=[Figure(key=s, count=len(a), ids=list(a)) for s, a in applications],
        kpi_total=_kpi_figures(items, GroupBy.TOTAL, as_of, links),
        kpi_by_department=_kpi_figures(items, GroupBy.DEPARTMENT, as_of, links),
        kpi_by_month=_kpi_figures(items, GroupBy.MONTH, as_of, links),
        demolition=demolition,
        gaps=gap_figures(conn, labels),
        places=places,
        items=refs,
    )
