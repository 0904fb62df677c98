"""Where geometry lands inside a vector tile: decoded vertices against the Web Mercator formula.

Features are imported in EPSG:4490 at exact lon/lat; the expected tile position of each vertex comes from
:mod:`tests.known_coordinates` (spherical Mercator and the tile-pixel arithmetic written out), not from
PROJ or PostGIS. ``ST_AsMVTGeom`` rounds to the 4096-unit grid, so each vertex must lie within half a unit.
The features stay under the simplification rules of ``layers/tiles/mvt.py`` (only geometries with more
than 64 vertices are simplified, and only below z15; areas under 4 x 4 units are dropped), so every vertex
is kept at every zoom tested.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.known_coordinates import tile_pixel

EXTENT = 4096
HALF_UNIT = 0.5 + 1e-6  # rounding to the integer grid, nothing more
Z = 16
# The z16 tile holding (114.3130°E, 22.6410°N), by the tile arithmetic (not the product's grid module);
# away from the points other tests of this database identify at (they list every layer found there).
TX = int((114.3130 + 180) / 360 * 2**Z)
TY = int((1 - math.asinh(math.tan(math.radians(22.6410))) / math.pi) / 2 * 2**Z)


def _lonlat(fx: float, fy: float) -> tuple[float, float]:
    """The lon/lat at fraction (fx, fy) of the z16 tile (y down), rounded to 1e-7° as a file would hold."""
    n = 2**Z
    lon = (TX + fx) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (TY + fy) / n))))
    return round(lon, 7), round(lat, 7)


# An irregular pentagon (no three corners nearly in line), a four-vertex line and a point, well inside.
PENTAGON = [_lonlat(*f) for f in [(0.30, 0.30), (0.62, 0.34), (0.70, 0.66), (0.41, 0.71), (0.28, 0.52)]]
LINE = [_lonlat(*f) for f in [(0.20, 0.80), (0.45, 0.86), (0.63, 0.78), (0.85, 0.90)]]
POINT = _lonlat(0.15, 0.12)
LAYERS = {"cur_site": "project_name", "water_supply_main": "diameter", "base_place_name": "name"}


def _import(client: TestClient, headers: dict[str, str], code: str, geom: Any, tmp: Path) -> None:
    column = LAYERS[code]
    value: Any = 300 if column == "diameter" else "已知坐标"
    frame = gpd.GeoDataFrame({column: [value]}, geometry=[geom], crs=4490)
    path = tmp / f"{code}.gpkg"
    frame.to_file(path, driver="GPKG")
    with path.open("rb") as fh:
        r = client.post(f"/api/layers/{code}/versions", headers=headers, files={"file": (path.name, fh)})
    assert r.status_code == 201, r.text


def _close(got: list[Any], expected: list[tuple[float, float]]) -> None:
    """Each decoded vertex within half a grid unit of the computed one, in order (any ring start)."""
    assert len(got) == len(expected), (got, expected)
    worst = max(max(abs(gx - ex), abs(gy - ey)) for (gx, gy), (ex, ey) in zip(got, expected, strict=True))
    assert worst <= HALF_UNIT, (worst, got, expected)


@pytest.mark.parametrize("z", [13, 15, 16, 17])
def test_decoded_vertices_lie_where_web_mercator_puts_them(
    z: int, client: TestClient, make_account: Any, tmp_path: Path
) -> None:
    headers = make_account(Role.PLANNER).headers
    _import(client, headers, "cur_site", shapely.Polygon(PENTAGON), tmp_path)
    _import(client, headers, "water_supply_main", shapely.LineString(LINE), tmp_path)
    _import(client, headers, "base_place_name", shapely.Point(POINT), tmp_path)
    # The tile at zoom z holding the z16 tile (for z17, its child holding the pentagon's first corner).
    if z <= Z:
        x, y = TX >> (Z - z), TY >> (Z - z)
    else:
        x, y = 2 * TX, 2 * TY
    r = client.get(f"/tiles/{','.join(LAYERS)}/{z}/{x}/{y}.mvt", headers=headers)
    assert r.status_code == 200, r.text
    tile = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})

    def pixels(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [tile_pixel(lon, lat, z, x, y, EXTENT) for lon, lat in points]

    assert tile["cur_site"]["extent"] == EXTENT
    [site] = tile["cur_site"]["features"]
    assert site["geometry"]["type"] == "Polygon" and len(site["geometry"]["coordinates"]) == 1
    ring = site["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]
    ring = ring[:-1]
    expected = pixels(PENTAGON)
    if z == 17:
        # The z17 tile holds only part of the pentagon: clipped to the tile plus its 64-unit buffer.
        inside = [(px, py) for px, py in expected if -64 <= px <= EXTENT + 64 and -64 <= py <= EXTENT + 64]
        assert inside and all(
            min(max(abs(gx - px), abs(gy - py)) for gx, gy in ring) <= HALF_UNIT for px, py in inside
        )
        return
    # MVT rings are clockwise with y down; the decoded ring may start at another corner.
    start = min(range(len(ring)), key=lambda i: math.dist(ring[i], expected[0]))
    rotated = ring[start:] + ring[:start]
    if math.dist(rotated[1], expected[1]) > 1:  # stored the other way round
        rotated = [rotated[0], *reversed(rotated[1:])]
    _close(rotated, expected)
    [main] = tile["water_supply_main"]["features"]
    assert main["geometry"]["type"] == "LineString"
    _close(main["geometry"]["coordinates"], pixels(LINE))
    [place] = tile["base_place_name"]["features"]
    assert place["geometry"]["type"] == "Point"
    _close([place["geometry"]["coordinates"]], pixels([POINT]))
