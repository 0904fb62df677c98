"""The one parser of a ``bbox`` query parameter, shared by the layer features route and the OGC API.

It says what is wrong with a box as a :class:`BBoxProblem`; each route answers with its own error class
and words (a 422 for ``/api/layers``, a 400 problem for the OGC API, as each has always answered).
"""

from __future__ import annotations

import math
from enum import StrEnum

Box = tuple[float, float, float, float]
"""x0, y0, x1, y1: west, south, east, north for longitude/latitude."""


class BBoxProblem(StrEnum):
    """Why a bbox was refused, in the order the checks run."""

    NUMBERS = "numbers"  # not the allowed count of comma-separated numbers
    NOT_FINITE = "not_finite"  # NaN or infinity
    RANGE = "range"  # a longitude or latitude outside its range (or the south above the north)
    ORDER = "order"  # a minimum above its maximum
    EMPTY = "empty"  # a minimum equal to its maximum, where the route wants an area


class BBoxError(ValueError):
    """A bbox that cannot be used, and why."""

    def __init__(self, problem: BBoxProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def parse_bbox(
    text: str,
    *,
    counts: tuple[int, ...] = (4,),
    northing_first: bool = False,
    lonlat: bool = True,
    allow_empty: bool = True,
) -> Box:
    """The box of ``minX,minY,maxX,maxY`` (or, with ``counts`` allowing 6, ``minX,minY,minZ,maxX,maxY,maxZ``).

    ``northing_first``: the CRS orders its axes northing, easting, so the first of each pair is y.
    ``lonlat``: the values are longitudes and latitudes, checked against their ranges.
    Raises :class:`BBoxError` naming the first check the box fails.
    """
    try:
        numbers = [float(v) for v in text.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) not in counts:
        raise BBoxError(BBoxProblem.NUMBERS)
    if not all(math.isfinite(v) for v in numbers):
        raise BBoxError(BBoxProblem.NOT_FINITE)
    half = len(numbers) // 2  # a 3D box's heights are read and ignored
    low, high = (numbers[0], numbers[1]), (numbers[half], numbers[half + 1])
    if northing_first:
        low, high = (low[1], low[0]), (high[1], high[0])
    (x0, y0), (x1, y1) = low, high
    if lonlat and not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise BBoxError(BBoxProblem.RANGE)
    if x0 > x1 or y0 > y1:
        raise BBoxError(BBoxProblem.ORDER)
    if not allow_empty and (x0 == x1 or y0 == y1):
        raise BBoxError(BBoxProblem.EMPTY)
    return (x0, y0, x1, y1)
