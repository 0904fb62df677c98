"""Areas of a footprint covered by several overlaps, each square metre counted once (areas of unions).

Features of one layer may overlap each other (nested clearance surfaces, a parcel inside a plan zone),
and findings of one grade overlap more often still: adding their overlaps counts the shared part twice
(a share above 100 %). A union costs GEOS time, so it is taken only where two overlaps share area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from analysis.report import ConditionalArea

# Below this many overlaps a union is cheaper than looking for overlapping pairs first.
_UNION_DIRECTLY = 8
# Pairs sharing less than this (m²) in all are taken as touching: their union is their sum minus it.
_SHARED_TOLERANCE_M2 = 1e-6


def union_area(overlaps: Sequence[shapely.Geometry]) -> float:
    """The area of the union of ``overlaps`` (the sum when none shares area with another)."""
    if not overlaps:
        return 0.0
    if len(overlaps) == 1:
        return float(shapely.area(overlaps[0]))
    geometries = np.asarray(overlaps, dtype=object)
    if len(geometries) >= _UNION_DIRECTLY:
        # Buildings, parcels and most features of a layer tile the ground: find the pairs that meet
        # (one index query) and measure what they share; only overlapping layers pay for the union.
        left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
        pair = left < right
        shared = float(
            shapely.area(shapely.intersection(geometries[left[pair]], geometries[right[pair]])).sum()
        )
        if shared <= _SHARED_TOLERANCE_M2:
            return float(shapely.area(geometries).sum()) - shared
    return float(shapely.area(_union(geometries)))


def _union(geometries: np.ndarray) -> shapely.Geometry:
    """The union, taken in a fixed order so that the same overlaps always give the same bits."""
    ordered = sorted(geometries.tolist(), key=lambda g: (*g.bounds, g.area, g.wkb))
    return shapely.union_all(ordered)


@dataclass(frozen=True)
class SteepCells:
    """The centres of the slope cells steeper than the terrain rule's threshold, and one cell's area."""

    xy: np.ndarray
    cell_area_m2: float
    department: str


def conditional_area(
    by_department: dict[str, list[shapely.Geometry]],
    steep: SteepCells | None,
    footprint_area_m2: float,
) -> ConditionalArea:
    """The footprint's area under conditional findings, in all and by department, each counted once.

    Steep slope is measured on raster cells, not polygons: its cells outside the vector overlaps are
    added (cell by cell, as the terrain check counts them).
    """
    departments = set(by_department) | ({steep.department} if steep is not None else set())

    def area(overlaps: list[shapely.Geometry], with_steep: bool) -> float:
        covered = union_area(overlaps)
        if with_steep and steep is not None and len(steep.xy):
            covered += _cells_outside(overlaps, steep.xy) * steep.cell_area_m2
        return round(min(covered, footprint_area_m2), 3)

    everything = [g for overlaps in by_department.values() for g in overlaps]
    return ConditionalArea(
        area_m2=area(everything, True),
        by_department={
            key: area(by_department.get(key, []), steep is not None and key == steep.department)
            for key in sorted(departments)
        },
    )


def _cells_outside(overlaps: list[shapely.Geometry], xy: np.ndarray) -> int:
    """How many of the cell centres ``xy`` no overlap covers."""
    if not overlaps:
        return len(xy)
    points = shapely.points(xy)
    hit, _ = shapely.STRtree(np.asarray(overlaps, dtype=object)).query(points, predicate="intersects")
    return len(xy) - len(np.unique(hit))
