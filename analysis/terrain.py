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


_LOCAL = threading.local()


def _open(path: Path) -> Any:
    """The raster, kept open per thread (datasets are not thread-safe); a new version is a new path."""
    cache: dict[Path, Any] = getattr(_LOCAL, "datasets", None) or {}
    _LOCAL.datasets = cache
    src = cache.get(path)
    if src is None or src.closed:
        if len(cache) > 8:
            for old in cache.values():
                old.close()
            cache.clear()
        src = cache[path] = rasterio.open(path)
    return src


def slope_stats(path: Path, footprint: shapely.Geometry, threshold_deg: float) -> SlopeStats | None:
    """Statistics of the slope COG (EPSG:4547) inside ``footprint``; None when it holds no valid cell."""
    try:
        src = _open(path)
        window = from_bounds(*footprint.bounds, transform=src.transform).round_offsets().round_lengths()
        window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
        data = src.read(1, window=window, masked=True, boundless=False)
        transform = src.window_transform(window)
        cell_area = abs(src.res[0] * src.res[1])
    except (RasterioError, ValueError):
        return None
    if data.size == 0:
        return None
    inside = geometry_mask([footprint], out_shape=data.shape, transform=transform, invert=True)
    values = data[inside & ~np.ma.getmaskarray(data)]
    if values.size == 0:
        return None
    steep = int(np.count_nonzero(values > threshold_deg))
    return SlopeStats(
        cells=int(values.size),
        steep_share=steep / values.size,
        steep_area_m2=steep * cell_area,
        mean_deg=float(values.mean()),
    )
