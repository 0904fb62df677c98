"""Capacity against population: pure arithmetic on catchments (no database), checked by hand in the tests.

A cell reached by several facilities splits its population among them **in proportion to their
capacity** (evenly when none has a known capacity): residents spread over the places they can walk to
roughly as places exist, so a large school is not reported under-used and a small one overloaded merely
because they share a neighbourhood. Each facility's demand is its allotted population × the 千人指标; an
overloaded facility meets the same fraction (capacity / demand) of every cell's allotment. A cell's
shortfall is its demand less what its facilities meet; an uncovered cell's whole demand is shortfall.
So the district's shortfall equals the uncovered demand plus every facility's excess of demand over
capacity, and the sub-districts' shortfalls add up to it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    """A population cell: its id, label, residents, sub-district and whether any road is near enough."""

    fid: int
    label: str | None
    population: float
    subdistrict: str | None
    reachable: bool = True


@dataclass
class FacilityLoad:
    """One facility's capacity, allotted population and demand."""

    key: str
    capacity: float
    population: float = 0.0
    demand: float = 0.0

    @property
    def met_ratio(self) -> float:
        """The fraction of its demand the facility meets (1 when it has room)."""
        return 1.0 if self.demand <= self.capacity or self.demand == 0 else self.capacity / self.demand

    @property
    def shortfall(self) -> float:
        """Demand beyond capacity."""
        return max(0.0, self.demand - self.capacity)


@dataclass
class CellResult:
    """A cell's demand, what its facilities meet, and by whom it is reached."""

    cell: Cell
    facilities: list[str] = field(default_factory=list)
    demand: float = 0.0
    met: float = 0.0

    @property
    def covered(self) -> bool:
        """Whether any facility is within walking distance."""
        return bool(self.facilities)

    @property
    def shortfall(self) -> float:
        """Demand not met (0 for a cell fully served)."""
        return max(0.0, self.demand - self.met)


@dataclass
class Allocation:
    """The whole allocation: per facility and per cell."""

    facilities: dict[str, FacilityLoad]
    cells: dict[int, CellResult]


def allocate(
    cells: list[Cell],
    capacities: dict[str, float],
    reach: list[tuple[str, int]],
    per_1000: float,
) -> Allocation:
    """Allot every cell's population to the facilities that reach it and compute demand and shortfall.

    ``reach`` lists (facility key, cell fid) pairs within walking distance; ``capacities`` every facility.
    """
    by_cell: dict[int, list[str]] = defaultdict(list)
    for key, fid in reach:
        if key in capacities:
            by_cell[fid].append(key)
    loads = {key: FacilityLoad(key, cap) for key, cap in capacities.items()}
    results = {
        c.fid: CellResult(c, sorted(by_cell.get(c.fid, [])), c.population * per_1000 / 1000) for c in cells
    }
    shares: dict[int, list[tuple[str, float]]] = {}
    for fid, result in results.items():
        keys = result.facilities
        if not keys:
            continue
        total = sum(capacities[k] for k in keys)
        shares[fid] = [(k, capacities[k] / total if total > 0 else 1 / len(keys)) for k in keys]
        for key, share in shares[fid]:
            loads[key].population += share * result.cell.population
    for load in loads.values():
        load.demand = load.population * per_1000 / 1000
    for fid, pairs in shares.items():
        result = results[fid]
        result.met = sum(share * result.demand * loads[key].met_ratio for key, share in pairs)
    return Allocation(loads, results)


def newly_served(allocation: Allocation, reach: list[tuple[str, int]]) -> dict[str, tuple[float, float]]:
    """Per candidate key in ``reach``: (population of uncovered cells it reaches, shortfall it reaches)."""
    found: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, fid in reach:
        result = allocation.cells.get(fid)
        if result is None:
            continue
        if not result.covered:
            found[key][0] += result.cell.population
        found[key][1] += result.shortfall
    return {key: (v[0], v[1]) for key, v in found.items()}
