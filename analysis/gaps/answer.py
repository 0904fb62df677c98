"""A gap analysis answer: per sub-district and district totals, facilities, deficit cells, ranked candidates.

Figures are rounded once, where they are shown (population to whole residents, capacity and shortfall to
0.1); the district row is the sum of the sub-district rows as shown, so the figures a reader adds up agree.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field

from analysis.gaps.allocate import Allocation, allocate, newly_served
from analysis.gaps.inputs import GapInputs, Site
from analysis.gaps.network import SourceVersion
from analysis.standards.model import FacilityStandard, Figure, Provision

ALLOCATION_RULE = "capacity_share"


class StandardUsed(BaseModel):
    """The standard an answer applied, and the standards file it came from."""

    code: str
    name_zh: str
    name_en: str
    radius_m: Figure
    provision: Provision
    min_site_m2: Figure
    standards_version: str
    standards_fingerprint: str


class NetworkUsed(BaseModel):
    """The walking network an answer ran on."""

    id: int
    source_key: str
    sources: list[SourceVersion]
    edge_count: int
    node_count: int
    length_km: float
    build_ms: int


class Figures(BaseModel):
    """Population covered and not, demand, capacity met and shortfall for one area."""

    subdistrict: str | None = Field(description="街道代码；null 为全区或未落入任何街道")
    population: int
    covered: int
    not_covered: int
    unreachable: int = Field(description="距道路过远、无法接入路网的人口")
    demand: float
    met: float
    shortfall: float
    deficit_cells: int


class FacilityFigures(BaseModel):
    """One existing facility: capacity, population allotted, demand, shortfall."""

    fid: int
    name: str | None
    subdistrict: str | None
    capacity: float
    capacity_estimated: bool
    population_served: int
    demand: float
    shortfall: float
    cells: int


class DeficitCell(BaseModel):
    """A population cell whose demand is not fully met."""

    fid: int
    label: str | None
    subdistrict: str | None
    population: int
    covered: bool
    facilities: int
    demand: float
    shortfall: float


class Candidate(BaseModel):
    """A planned, unbuilt site of the statutory plan and what it would add."""

    rank: int
    layer: str
    fid: int
    subdistrict: str | None
    parcel_fid: int | None
    parcel_code: str | None
    land_use: str | None
    site_m2: float | None
    meets_min_site: bool | None
    capacity: float
    newly_served: int = Field(description="其步行范围内目前无任何设施服务的人口")
    shortfall_reached: float = Field(description="其步行范围内现有缺口（学位/床位/面积）")
    cells: int


class GapAnswer(BaseModel):
    """The whole district's answer for one facility type (filtered per request by sub-district)."""

    facility: str
    standard: StandardUsed
    layers: list[SourceVersion]
    network: NetworkUsed
    allocation_rule: str = ALLOCATION_RULE
    district: Figures
    subdistricts: list[Figures]
    facilities: list[FacilityFigures]
    deficit_cells: list[DeficitCell]
    candidates: list[Candidate]
    cache_key: str
    compute_ms: int = 0


def _r1(value: float) -> float:
    return round(value + 0.0, 1)


def _area_figures(allocation: Allocation, subdistrict: str | None) -> Figures:
    rows = [r for r in allocation.cells.values() if r.cell.subdistrict == subdistrict]
    pop = round(sum(r.cell.population for r in rows))
    covered = round(sum(r.cell.population for r in rows if r.covered))
    return Figures(
        subdistrict=subdistrict,
        population=pop,
        covered=covered,
        not_covered=pop - covered,
        unreachable=round(sum(r.cell.population for r in rows if not r.cell.reachable)),
        demand=_r1(sum(r.demand for r in rows)),
        met=_r1(sum(r.met for r in rows)),
        shortfall=_r1(sum(r.shortfall for r in rows)),
        deficit_cells=sum(1 for r in rows if r.shortfall > 1e-9),
    )


def _district(rows: list[Figures]) -> Figures:
    return Figures(
        subdistrict=None,
        population=sum(r.population for r in rows),
        covered=sum(r.covered for r in rows),
        not_covered=sum(r.not_covered for r in rows),
        unreachable=sum(r.unreachable for r in rows),
        demand=_r1(sum(r.demand for r in rows)),
        met=_r1(sum(r.met for r in rows)),
        shortfall=_r1(sum(r.shortfall for r in rows)),
        deficit_cells=sum(r.deficit_cells for r in rows),
    )


def _candidates(
    standard: FacilityStandard, sites: list[Site], allocation: Allocation, reach: list[tuple[str, int]]
) -> list[Candidate]:
    gains = newly_served(allocation, reach)
    cells: dict[str, int] = defaultdict(int)
    for key, _ in reach:
        cells[key] += 1
    minimum = standard.min_site_m2.value
    rows = [(round(gains.get(s.key, (0.0, 0.0))[0]), _r1(gains.get(s.key, (0.0, 0.0))[1]), s) for s in sites]
    rows.sort(key=lambda r: (-r[0], -r[1], r[2].fid))
    return [
        Candidate(
            rank=i + 1,
            layer=standard.candidates.layer,
            fid=s.fid,
            subdistrict=s.subdistrict,
            parcel_fid=s.parcel_fid,
            parcel_code=s.parcel_code,
            land_use=s.land_use,
            site_m2=None if s.site_m2 is None else _r1(s.site_m2),
            meets_min_site=None if s.site_m2 is None else s.site_m2 >= minimum,
            capacity=_r1(s.capacity),
            newly_served=new,
            shortfall_reached=short,
            cells=cells.get(s.key, 0),
        )
        for i, (new, short, s) in enumerate(rows)
    ]


def build_answer(inputs: GapInputs) -> GapAnswer:
    """Allocate and summarise (CPU only: no connection is needed here)."""
    standard = inputs.standard
    existing = {f.key for f in inputs.facilities}
    reach = [(k, fid) for k, fid, _ in inputs.reach]
    allocation = allocate(
        inputs.cells,
        {f.key: f.capacity for f in inputs.facilities},
        [(k, fid) for k, fid in reach if k in existing],
        standard.provision.per_1000,
    )
    subdistricts = sorted({c.subdistrict for c in inputs.cells}, key=lambda s: (s is None, s or ""))
    rows = [_area_figures(allocation, sd) for sd in subdistricts]
    cell_count: dict[str, int] = defaultdict(int)
    for key, _ in reach:
        cell_count[key] += 1
    facilities = []
    for f in inputs.facilities:
        load = allocation.facilities[f.key]
        facilities.append(
            FacilityFigures(
                fid=f.fid,
                name=f.name,
                subdistrict=f.subdistrict,
                capacity=_r1(f.capacity),
                capacity_estimated=f.capacity_estimated,
                population_served=round(load.population),
                demand=_r1(load.demand),
                shortfall=_r1(load.shortfall),
                cells=cell_count.get(f.key, 0),
            )
        )
    deficit = [
        DeficitCell(
            fid=r.cell.fid,
            label=r.cell.label,
            subdistrict=r.cell.subdistrict,
            population=round(r.cell.population),
            covered=r.covered,
            facilities=len(r.facilities),
            demand=_r1(r.demand),
            shortfall=_r1(r.shortfall),
        )
        for r in allocation.cells.values()
        if r.shortfall > 1e-9
    ]
    deficit.sort(key=lambda d: (-d.shortfall, d.fid))
    candidate_keys = {c.key for c in inputs.candidates}
    net = inputs.network
    return GapAnswer(
        facility=standard.code,
        standard=StandardUsed(
            code=standard.code,
            name_zh=standard.name_zh,
            name_en=standard.name_en,
            radius_m=standard.radius_m,
            provision=standard.provision,
            min_site_m2=standard.min_site_m2,
            standards_version=inputs.standards.version,
            standards_fingerprint=inputs.standards.fingerprint,
        ),
        layers=inputs.layers,
        network=NetworkUsed(
            id=net.id,
            source_key=net.source_key,
            sources=net.sources,
            edge_count=net.edge_count,
            node_count=net.node_count,
            length_km=round(net.length_m / 1000, 3),
            build_ms=net.build_ms,
        ),
        district=_district(rows),
        subdistricts=rows,
        facilities=facilities,
        deficit_cells=deficit,
        candidates=_candidates(
            standard, inputs.candidates, allocation, [(k, fid) for k, fid in reach if k in candidate_keys]
        ),
        cache_key=inputs.cache_key,
    )
