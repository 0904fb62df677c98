"""Terrain of a footprint from the slope raster: share steeper than a threshold, mean slope; terrain rules."""

from __future__ import annotations

import math
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.errors import RasterioError
from rasterio.features import geometry_mask
from rasterio.windows import from_bounds

from analysis.areas import SteepCells
from analysis.checkplan import CheckPlan
from analysis.findings import Finding
from analysis.footprint import Footprint
from analysis.messages import new_finding
from analysis.report import NotCheckable, Terrain
from analysis.rules.schema import Grade


@dataclass(frozen=True)
class SlopeStats:
    """Slope statistics over the raster cells whose centres fall in the footprint."""

    cells: int
    steep_share: float
    steep_area_m2: float
    mean_deg: float
    # The centres of the steep cells (x, y in the raster's CRS), for areas that must count them once.
    steep_xy: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), compare=False, repr=False)


# Whole rasters kept in memory, by path (a path names one immutable version): the district's slope
# raster is a few MB, and a window of an array costs microseconds where a read from the file costs
# milliseconds. Larger rasters are read window by window.
IN_MEMORY_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Raster:
    data: np.ma.MaskedArray
    transform: Any
    width: int
    height: int
    cell_area: float


_RASTERS: dict[Path, _Raster | None] = {}
_RASTERS_LOCK = threading.Lock()


def _in_memory(path: Path) -> _Raster | None:
    """The raster's first band in memory, or None when it is too large to keep."""
    with _RASTERS_LOCK:
        if path in _RASTERS:
            return _RASTERS[path]
    with rasterio.open(path) as src:
        size = src.width * src.height * np.dtype(src.dtypes[0]).itemsize
        raster = None
        if size <= IN_MEMORY_MAX_BYTES:
            data = src.read(1, masked=True)
            data.flags.writeable = False
            raster = _Raster(data, src.transform, src.width, src.height, abs(src.res[0] * src.res[1]))
    with _RASTERS_LOCK:
        if len(_RASTERS) >= 8:
            _RASTERS.clear()
        _RASTERS[path] = raster
    return raster


def _cells(bounds: tuple[float, float, float, float], transform: Any, width: int, height: int) -> Any:
    """The window of every cell whose centre can lie within ``bounds``, within the raster (None: none).

    Whole cells from the one the box's west (north) edge falls in to the one its east (south) edge falls
    in. rasterio's rounded ``from_bounds`` window can leave out the last cell of a row or column whose
    centre the footprint covers, and costs a tenth of a millisecond in Python objects per check.
    """
    x0, y0, x1, y1 = bounds
    a, c, e, f = transform.a, transform.c, transform.e, transform.f
    if transform.b != 0 or transform.d != 0 or a <= 0 or e >= 0:  # not north-up: rasterio's way
        window = from_bounds(*bounds, transform=transform).round_offsets().round_lengths()
        return window.intersection(rasterio.windows.Window(0, 0, width, height))  # WindowError: none
    c0, c1 = max(0, math.floor((x0 - c) / a)), min(width, math.ceil((x1 - c) / a))
    r0, r1 = max(0, math.floor((y1 - f) / e)), min(height, math.ceil((y0 - f) / e))
    if c1 <= c0 or r1 <= r0:
        return None
    return rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)


def _centres_inside(footprint: shapely.Geometry, shape: tuple[int, ...], transform: Any) -> np.ndarray:
    """The cells whose centres lie inside the footprint (GDAL's rule when it rasterises a polygon).

    A north-up raster's cell centres are a grid of x and y values, tested against the prepared
    footprint in one vectorised call: GDAL's rasteriser costs about a millisecond per call in set-up
    alone, which was a tenth of a whole check. A rotated raster takes GDAL's way.
    """
    if transform.b != 0 or transform.d != 0:
        return geometry_mask([footprint], out_shape=shape, transform=transform, invert=True)
    rows, cols = shape
    xs = transform.c + transform.a * (np.arange(cols) + 0.5)
    ys = transform.f + transform.e * (np.arange(rows) + 0.5)
    shapely.prepare(footprint)
    return shapely.contains_xy(footprint, xs[np.newaxis, :], ys[:, np.newaxis])


def slope_stats(path: Path, footprint: shapely.Geometry, threshold_deg: float) -> SlopeStats | None:
    """Statistics of the slope COG (storage CRS) inside ``footprint``; None when it holds no valid cell."""
    try:
        raster = _in_memory(path)
        if raster is not None:
            window = _cells(footprint.bounds, raster.transform, raster.width, raster.height)
            if window is None:
                return None
            r0, c0 = int(window.row_off), int(window.col_off)
            data = raster.data[r0 : r0 + int(window.height), c0 : c0 + int(window.width)]
            transform = rasterio.windows.transform(window, raster.transform)
            cell_area = raster.cell_area
        else:
            with rasterio.open(path) as src:
                window = _cells(footprint.bounds, src.transform, src.width, src.height)
                if window is None:
                    return None
                data = src.read(1, window=window, masked=True, boundless=False)
                transform = src.window_transform(window)
                cell_area = abs(src.res[0] * src.res[1])
    except (RasterioError, ValueError, OSError):
        return None
    if data.size == 0:
        return None
    inside = _centres_inside(footprint, data.shape, transform)
    # Plain arrays from here: a masked array's indexing and mean cost several times as much.
    valid = inside & ~np.ma.getmaskarray(data)
    values = np.ma.getdata(data)[valid]
    if values.size == 0:
        return None
    is_steep = values > threshold_deg
    steep = int(np.count_nonzero(is_steep))
    rows, cols = np.nonzero(valid)
    col, row = cols[is_steep] + 0.5, rows[is_steep] + 0.5
    xs = transform.c + transform.a * col + transform.b * row
    ys = transform.f + transform.d * col + transform.e * row
    return SlopeStats(
        cells=int(values.size),
        steep_share=steep / values.size,
        steep_area_m2=steep * cell_area,
        mean_deg=float(values.mean()),
        steep_xy=np.column_stack([xs, ys]),
    )


def grade_terrain(
    rasters: dict[str, str],
    footprint: Footprint,
    project_type: str,
    plan: CheckPlan,
    flags: Collection[str],
    data_dir: Path | None,
    findings: dict[str, Finding],
    not_checkable: list[NotCheckable],
) -> tuple[Terrain | None, SteepCells | None]:
    """Slope statistics and the terrain rules they fire (into ``findings``), with the steep cells of
    the first conditional one; the slope layer is not checkable without a raster (then it joins
    ``not_checkable``)."""
    rules = plan.terrain_rules
    if not rules:
        return None, None
    entry = plan.catalog.layers.get(rules[0].layer)
    if entry is None:
        return None, None
    path = rasters.get(entry.code)
    stats = None
    if path and data_dir is not None:
        stats = slope_stats(data_dir / path, footprint.geometry, rules[0].slope_deg or 25.0)
    if stats is None:
        not_checkable.append(
            NotCheckable(
                layer=entry.code,
                layer_name_zh=entry.name_zh,
                reason_zh="坡度数据未覆盖用地范围",
                reason_en="no slope data over the footprint",
                reason_code="outside_coverage",
            )
        )
        return None, None
    share_pct = 100 * stats.steep_share
    steep = None
    for rule in rules:
        outcome = plan.ruleset.evaluate(rule, project_type, {}, flags)
        if outcome is None or stats.steep_area_m2 <= 0 or stats.steep_share < (rule.min_share or 0):
            continue
        values = {"share_pct": share_pct, "area_m2": stats.steep_area_m2}
        findings[rule.id] = new_finding(
            rule, entry, outcome, values, overlap_m2=stats.steep_area_m2, share_pct=round(share_pct, 4)
        )
        if steep is None and outcome.grade is Grade.CONDITIONAL:
            cell_area = stats.steep_area_m2 / len(stats.steep_xy)
            steep = SteepCells(stats.steep_xy, cell_area, outcome.department)
    terrain = Terrain(
        mean_slope_deg=round(stats.mean_deg, 3),
        steep_share_pct=round(share_pct, 4),
        steep_area_m2=round(stats.steep_area_m2, 3),
    )
    return terrain, steep
