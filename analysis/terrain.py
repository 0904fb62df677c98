"""Terrain of a footprint from the slope raster: share steeper than a threshold, mean slope."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.errors import RasterioError
from rasterio.features import geometry_mask
from rasterio.windows import from_bounds


@dataclass(frozen=True)
class SlopeStats:
    """Slope statistics over the raster cells whose centres fall in the footprint."""

    cells: int
    steep_share: float
    steep_area_m2: float
    mean_deg: float


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


def _window(footprint: shapely.Geometry, transform: Any, width: int, height: int) -> Any:
    """The raster window of whole cells around the footprint, within the raster."""
    window = from_bounds(*footprint.bounds, transform=transform).round_offsets().round_lengths()
    return window.intersection(rasterio.windows.Window(0, 0, width, height))


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
    """Statistics of the slope COG (EPSG:4547) inside ``footprint``; None when it holds no valid cell."""
    try:
        raster = _in_memory(path)
        if raster is not None:
            window = (
                from_bounds(*footprint.bounds, transform=raster.transform).round_offsets().round_lengths()
            )
            window = window.intersection(rasterio.windows.Window(0, 0, raster.width, raster.height))
            (r0, r1), (c0, c1) = window.toranges()
            data = raster.data[r0:r1, c0:c1]
            transform = rasterio.windows.transform(window, raster.transform)
            cell_area = raster.cell_area
        else:
            with rasterio.open(path) as src:
                window = (
                    from_bounds(*footprint.bounds, transform=src.transform).round_offsets().round_lengths()
                )
                window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
                data = src.read(1, window=window, masked=True, boundless=False)
                transform = src.window_transform(window)
                cell_area = abs(src.res[0] * src.res[1])
    except (RasterioError, ValueError, OSError):
        return None
    if data.size == 0:
        return None
    inside = _centres_inside(footprint, data.shape, transform)
    # Plain arrays from here: a masked array's indexing and mean cost several times as much.
    values = np.ma.getdata(data)[inside & ~np.ma.getmaskarray(data)]
    if values.size == 0:
        return None
    steep = int(np.count_nonzero(values > threshold_deg))
    return SlopeStats(
        cells=int(values.size),
        steep_share=steep / values.size,
        steep_area_m2=steep * cell_area,
        mean_deg=float(values.mean()),
    )
