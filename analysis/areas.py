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
# Pairs sharing less than this (m²) only touch: their union is their sum less what they share.
_SHARED_TOLERANCE_M2 = 1e-6


def union_area(overlaps: Sequence[shapely.Geometry], limit: float = math.inf) -> float:
    """The area of the union of ``overlaps``, at most ``limit``.

    Buildings, parcels and most features of a layer tile the ground: one index query finds the pairs
    that meet and what they share is measured (measured 5–15× cheaper than the union on
    the district demo); only the groups of overlaps that share area are united, the others are added.
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
    if len(geometries) >= _UNION_DIRECTLY:
        return min(_grouped_area(geometries, areas), limit)
    return min(float(shapely.area(_union(geometries))), limit)


def _grouped_area(geometries: np.ndarray, areas: np.ndarray) -> float:
    """The union's area as the sum over groups of overlaps that share area (a lone one: its area)."""
    left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    shared = shapely.area(shapely.intersection(geometries[left], geometries[right]))
    overlapping = shared > _SHARED_TOLERANCE_M2
    # Pairs that only touch share nothing but the last bits of rounding, which are taken off.
    total = float(areas.sum()) - float(shared[~overlapping].sum())
    if not overlapping.any():
        return total
    parent = list(range(len(geometries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(left[overlapping].tolist(), right[overlapping].tolist(), strict=True):
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in set(left[overlapping].tolist()) | set(right[overlapping].tolist()):
        groups.setdefault(root(i), []).append(i)
    for members in groups.values():
        at = np.asarray(members)
        total += float(shapely.area(_union(geometries[at]))) - float(areas[at].sum())
    return total


def is_all(area: float, limit: float) -> bool:
    """Whether ``area`` is all of ``limit`` (the footprint's), bar the last bits of rounding."""
    return area >= limit * (1 - _COVERS_ALL)


def _union(geometries: np.ndarray) -> shapely.Geometry:
    """The union, taken in a fixed order so that the same overlaps always give the same bits."""
    ordered = sorted(geometries.tolist(), key=lambda g: (*g.bounds, g.area, g.length))
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
    # Each department's overlaps dissolved once; all of them together is the union of those few.
    unions = {key: _dissolve(overlaps, footprint_area_m2) for key, overlaps in by_department.items()}
    everything = _dissolve([g for g in unions.values() if g is not None], footprint_area_m2)

    def area(union: shapely.Geometry | None, with_steep: bool) -> float:
        covered = float(shapely.area(union)) if union is not None else 0.0
        if with_steep and steep is not None and len(steep.xy):
            covered += _cells_outside(union, steep.xy) * steep.cell_area_m2
        return round(min(covered, footprint_area_m2), 3)

    departments = set(by_department) | ({steep.department} if steep is not None else set())
    return ConditionalArea(
        area_m2=area(everything, True),
        by_department={
            key: area(unions.get(key), steep is not None and key == steep.department)
            for key in sorted(departments)
        },
    )


def _dissolve(overlaps: list[shapely.Geometry], limit: float) -> shapely.Geometry | None:
    """The union of ``overlaps`` as one geometry (one that is all of ``limit`` is the union)."""
    unique = list({id(g): g for g in overlaps}.values())
    if len(unique) <= 1:
        return unique[0] if unique else None
    geometries = np.asarray(unique, dtype=object)
    areas = shapely.area(geometries)
    if is_all(float(areas.max()), limit):
        return geometries[int(areas.argmax())]
    return _union(geometries)


def _cells_outside(union: shapely.Geometry | None, xy: np.ndarray) -> int:
    """How many of the cell centres ``xy`` lie outside ``union``."""
    if union is None:
        return len(xy)
    shapely.prepare(union)
    return len(xy) - int(np.count_nonzero(shapely.intersects_xy(union, xy[:, 0], xy[:, 1])))
