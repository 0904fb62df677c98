"""Pre-evaluation terrain on the demo district: slope statistics from the slope COG (known answers)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from pyproj import Transformer

from app.auth.policy import Role
from tests.conftest import DemoEnv


def test_pre_evaluation_reads_the_slope_raster(demo: DemoEnv) -> None:
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT v.raster_path FROM basemap.layer l"
            " JOIN basemap.layer_version v ON v.id = l.current_version WHERE l.code = 'base_slope'"
        ).fetchone()
    assert row is not None
    with rasterio.open(demo.settings.data_dir / row[0]) as src:
        slope = src.read(1)
        r, c = np.unravel_index(np.argmax(slope), slope.shape)
        r, c = min(max(r - 2, 0), src.height - 4), min(max(c - 2, 0), src.width - 4)
        block = slope[r : r + 4, c : c + 4]  # 4 x 4 cells, the footprint follows their edges exactly
        x0, y1 = src.transform * (c, r)
        x1, y0 = src.transform * (c + 4, r + 4)
    box = shapely.box(x0, y0, x1, y1)
    lonlat = shapely.transform(
        box, lambda x, y: Transformer.from_crs(4547, 4326, always_xy=True).transform(x, y), interleaved=False
    )
    unit = demo.account(Role.PROJECT_UNIT, "works")
    r_ = demo.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": shapely.geometry.mapping(lonlat), "project_type": "park"},
    )
    assert r_.status_code == 201, r_.text
    terrain = r_.json()["report"]["terrain"]
    assert terrain["mean_slope_deg"] == pytest.approx(float(block.mean()), abs=1e-3)
    assert terrain["steep_share_pct"] == pytest.approx(100 * float((block > 25).sum()) / 16, abs=1e-6)
    steep = [f for f in r_.json()["report"]["findings"] if f["rule_id"] == "base_slope.steep"]
    if (block > 25).sum() / 16 >= 0.1:
        assert steep and steep[0]["approval_item"]
    else:
        assert not steep
