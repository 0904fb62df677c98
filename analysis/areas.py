"""Areas of a footprint covered by several overlaps, each square metre counted once (areas of unions).

Features of one layer may overlap each other (nested clearance surfaces, a parcel inside a plan zone),
and findings of one grade overlap more often still: adding their overlaps counts the shared part twice
(a share above 100 %). A union costs GEOS time, so it is taken only where two overlaps share area.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from analysis.report import ConditionalArea

# Below this many overlaps a union is cheaper than looking for overlapping pairs first.
_UNION_DIRECTLY = 8
# An overlap this close to the limit (relative) is the whole footprint, bar the last bits of rounding.
_COVERS_ALL = 1e-10
# Pairs sharing less than this (m²) in all only touch: their union is their sum less what they share.
_SHARED_TOLERANCE_M2 = 1e-6


def union_area(overlaps: Sequence[shapely.Geometry], limit: float = math.inf, *, pairs: bool = True) -> float:
    """The area of the union of ``overlaps``, at most ``limit``.

    Buildings, parcels and most features of a layer tile the ground: one index query finds the pairs
    that meet and what they share is measured (``pairs``, measured 5–15× cheaper than the union on
    the district demo); only when some pair shares area is the union taken. Overlaps of different
    layers overlap too often for that test to pay: they go to the union directly (``pairs=False``).
    """
    # One feature met by several rules is one geometry: count it once.
    unique = list({id(g): g for g in overlaps}.values())
    if not unique:
        return 0.0
    geometries = np.asarray(unique, dtype=object)
    areas = shapely.area(geometries)
    if len(geometries) == 1:
        return min(float(areas[0]), limit)
    if is_all(float(areas.max()), limit):  # one of them is all there is (the footprint)
        return limit
    if pairs and len(geometries) >= _UNION_DIRECTLY:
        left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
        pair = left < right
        shared_parts = shapely.intersection(geometries[left[pair]], geometries[right[pair]])
        shared = float(shapely.area(shared_parts).sum())
        if shared <= _SHARED_TOLERANCE_M2:  # they only touch: the union is the sum (less the rounding)
            return min(float(areas.sum()) - shared, limit)
    return min(float(shapely.area(_union(geometries))), limit)


def is_all(area: float, limit: float) -> bool:
    """Whether ``area`` is all of ``limit`` (the footprint's), bar the last bits of rounding."""
    return area >= limit * (1 - _COVERS_ALL)


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
        covered = union_area(overlaps, footprint_area_m2, pairs=False)
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
