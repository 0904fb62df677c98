"""Files in each accepted CRS land where the projection formulas (not PROJ) put them.

The other import tests write files with ogr2ogr and read them back through pyproj: both use PROJ, so a
wrong datum shift, ellipsoid or false easting would cancel out. Here the file's coordinates and the
expected stored EPSG:4547 coordinates both come from :mod:`tests.known_coordinates`.

What the platform claims for the datums (and these tests hold it to):
- EPSG:4490 (CGCS2000 lon/lat) → EPSG:4547 is a pure projection: exact, to the millimetre.
- EPSG:4326 (WGS 84) → CGCS2000: PROJ applies EPSG's "ballpark" null shift, i.e. WGS 84 lon/lat are
  taken as CGCS2000 lon/lat. Both are ITRF-aligned and agree to a few centimetres, so this is right.
- EPSG:2383 (Xian 1980 / 3-degree GK CM 114E) → EPSG:4547: EPSG has no Xian 1980 → CGCS2000
  transformation, so PROJ also applies a ballpark null shift: the Xian 1980 lon/lat are kept and only the
  ellipsoid changes (IAG 1975 → CGCS2000), which moves a point about 1.17 m south in the district. The
  real offset between the two datums is not applied (it needs a locally published parameter set); data
  surveyed in Xian 1980 lands where its lon/lat would lie in CGCS2000. The test pins this so that a change
  of PROJ's choice (e.g. a real transformation appearing in its database) is noticed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.known_coordinates import CGCS2000, XIAN1980, gauss_kruger

LAYER = "sp_parcel"
# Quadrilaterals with corners at exact lon/lat, at the district's south-west corner, middle and
# north-east corner (the farthest from the central meridian the district reaches).
CORNERS = [(114.05, 22.55), (114.27, 22.66), (114.40, 22.82)]
STEP = 0.001  # degrees, about 100 m
MM = 0.001


def _quads() -> list[list[tuple[float, float]]]:
    return [
        [(lon, lat), (lon + STEP, lat), (lon + STEP, lat + STEP), (lon, lat + STEP)] for lon, lat in CORNERS
    ]


def _in_file_crs(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    """A lon/lat as written in a file of ``epsg`` (easting, northing order for the projected ones)."""
    if epsg in (4326, 4490):
        return lon, lat
    return gauss_kruger(lon, lat, XIAN1980 if epsg == 2383 else CGCS2000)


def _stored_vertices(conn: Any) -> list[list[tuple[float, float]]]:
    rows = conn.execute(
        """
        SELECT f.fid, array_agg(ARRAY[ST_X(d.geom), ST_Y(d.geom)] ORDER BY d.path)
        FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id,
             ST_DumpPoints(f.geom) d
        WHERE l.code = %s GROUP BY f.fid ORDER BY f.fid
        """,
        (LAYER,),
    ).fetchall()
    return [[(float(x), float(y)) for x, y in points] for _, points in rows]


@pytest.mark.parametrize("epsg", [4547, 4490, 4326, 2383])
def test_a_layer_in_each_crs_lands_where_the_gauss_kruger_formula_says(
    epsg: int, client: TestClient, make_account: Any, owner_conn: Any, tmp_path: Path
) -> None:
    planner = make_account(Role.PLANNER)
    rings = [[_in_file_crs(epsg, lon, lat) for lon, lat in quad] for quad in _quads()]
    frame = gpd.GeoDataFrame(
        {"parcel_code": [f"K-{i}" for i in range(len(rings))]},
        geometry=[shapely.Polygon(ring) for ring in rings],
        crs=epsg,
    )
    path = tmp_path / f"known_{epsg}.gpkg"
    frame.to_file(path, driver="GPKG")
    with path.open("rb") as fh:
        r = client.post(
            f"/api/layers/{LAYER}/versions", headers=planner.headers, files={"file": (path.name, fh)}
        )
    assert r.status_code == 201, r.text
    stored = _stored_vertices(owner_conn)
    assert len(stored) == len(CORNERS)
    for quad, got in zip(_quads(), stored, strict=True):
        expected = [gauss_kruger(lon, lat, CGCS2000) for lon, lat in quad]
        assert len(got) == len(expected) + 1 and got[0] == got[-1]  # a closed ring, nothing added
        for ex, ey in expected:
            # The ring may start elsewhere or turn the other way once stored: match each corner.
            nearest = min(max(abs(gx - ex), abs(gy - ey)) for gx, gy in got)
            assert nearest < MM, (epsg, (ex, ey), got)


def test_proj_converts_xian_1980_to_cgcs2000_by_the_ballpark_null_shift() -> None:
    # The expectation above for EPSG:2383 rests on this: the only operation PROJ offers keeps lon/lat.
    operations = pyproj.transformer.TransformerGroup(2383, 4547).transformers
    assert len(operations) == 1 and "Ballpark geographic offset" in operations[0].description
    x_xian, y_xian = gauss_kruger(114.25, 22.70, XIAN1980)
    x_cgcs, y_cgcs = gauss_kruger(114.25, 22.70, CGCS2000)
    # The same lon/lat on the two ellipsoids: 1.17 m apart in northing, 1 cm in easting.
    assert y_cgcs - y_xian == pytest.approx(-1.170, abs=0.001)
    assert x_cgcs - x_xian == pytest.approx(-0.012, abs=0.001)
