"""Slope statistics from a raster held in memory and read window by window agree, on known cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from analysis import terrain


def _raster(path: Path) -> None:
    # 10 x 10 cells of 10 m from (500000, 2510000); the left half is 30°, the right half 10°; one nodata cell.
    data = np.full((10, 10), 10.0, dtype="float32")
    data[:, :5] = 30.0
    data[0, 0] = -9999.0
    profile = {
        "driver": "GTiff",
        "width": 10,
        "height": 10,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4547",
        "transform": from_origin(500_000, 2_510_000, 10, 10),
        "nodata": -9999.0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


@pytest.mark.parametrize("in_memory", [True, False])
def test_known_cells(tmp_path: Path, monkeypatch: Any, in_memory: bool) -> None:
    path = tmp_path / f"slope-{in_memory}.tif"
    _raster(path)
    if not in_memory:
        monkeypatch.setattr(terrain, "IN_MEMORY_MAX_BYTES", 0)
    # The top 4 rows, all 10 columns: 40 cells minus the nodata one; 19 steep (left) and 20 gentle.
    footprint = shapely.box(500_000, 2_509_960, 500_100, 2_510_000)
    stats = terrain.slope_stats(path, footprint, 25.0)
    assert stats is not None
    assert stats.cells == 39
    assert stats.steep_area_m2 == pytest.approx(19 * 100)
    assert stats.steep_share == pytest.approx(19 / 39)
    assert stats.mean_deg == pytest.approx((19 * 30 + 20 * 10) / 39, rel=1e-6)
    # A footprint off the raster has no statistics.
    assert terrain.slope_stats(path, shapely.box(600_000, 2_600_000, 600_100, 2_600_100), 25.0) is None


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_cell_whose_centre_is_inside_counts_wherever_the_box_edges_fall(
    tmp_path: Path, monkeypatch: Any, in_memory: bool
) -> None:
    """x from 6 m to 26 m: the centres at 15 and 25 m are inside, the one at 5 m is not (GDAL's rule).
    A rounded window from the box (offset 0.6 → 0, length 2.0 → 2) would have stopped before 25 m."""
    path = tmp_path / f"slope-{in_memory}.tif"
    _raster(path)
    if not in_memory:
        monkeypatch.setattr(terrain, "IN_MEMORY_MAX_BYTES", 0)
    footprint = shapely.box(500_006, 2_509_962, 500_026, 2_509_998)  # rows 0–3 by their centres
    stats = terrain.slope_stats(path, footprint, 25.0)
    assert stats is not None
    assert stats.cells == 8  # columns 1 and 2, rows 0–3; all in the 30° half
    assert stats.steep_share == 1.0 and stats.mean_deg == pytest.approx(30.0)
    # A box between two centres holds no cell.
    assert terrain.slope_stats(path, shapely.box(500_016, 2_509_962, 500_024, 2_509_998), 25.0) is None
