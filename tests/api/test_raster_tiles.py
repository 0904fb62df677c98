"""Raster tiles of the demo district: PNG shape, known colours, transparency, errors, caching, TileJSON."""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile

from app.auth.policy import Role
from layers.audit import Actor
from layers.catalog.model import LayerKind, get_catalog
from layers.district import DISTRICT
from layers.ingest.raster import import_raster
from layers.store.versions import rollback
from layers.tiles.raster import ColourRamp, DatasetCache, RasterUnavailable, render_tile
from tests.conftest import DemoEnv
from tests.helpers import Account

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

HALF_WORLD = 20_037_508.342789244
Z = 14
TO_4547 = Transformer.from_crs("EPSG:3857", "EPSG:4547", always_xy=True)
TO_LONLAT = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)


# --- hand-written references -----------------------------------------------------------------------------


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (the slippy-map formula)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def pixel_centre(z: int, x: int, y: int, col: int, row: int) -> tuple[float, float]:
    """EPSG:3857 coordinates of the centre of one pixel of a 256×256 tile."""
    size = 2 * HALF_WORLD / 2**z
    return -HALF_WORLD + x * size + (col + 0.5) * size / 256, HALF_WORLD - y * size - (row + 0.5) * size / 256


def ramp_colour(stops: list[tuple[float, str]], value: float) -> tuple[int, int, int]:
    """Linear interpolation between hex stops, clamped beyond the ends."""
    rgb = [(v, [int(c[i : i + 2], 16) for i in (1, 3, 5)]) for v, c in stops]
    if value <= rgb[0][0]:
        return tuple(rgb[0][1])  # type: ignore[return-value]
    if value >= rgb[-1][0]:
        return tuple(rgb[-1][1])  # type: ignore[return-value]
    for (v0, c0), (v1, c1) in zip(rgb, rgb[1:], strict=False):
        if v0 <= value <= v1:
            t = (value - v0) / (v1 - v0)
            return tuple(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]
    raise AssertionError("unreachable")


def decode_png(data: bytes) -> np.ndarray:
    """Decode with GDAL's PNG driver; returns (bands, rows, cols)."""
    with MemoryFile(data) as memory, memory.open() as ds:
        assert ds.driver == "PNG"
        return ds.read()


class Dem:
    """A raster read whole, with bilinear sampling at EPSG:4547 points (GDAL's pixel-centre convention)."""

    def __init__(self, path: Path) -> None:
        with rasterio.open(path) as ds:
            self.values = ds.read(1).astype(np.float64)
            self.transform = ds.transform
            self.bounds = ds.bounds
            self.res = ds.res[0]

    def neighbours(self, gx: float, gy: float) -> tuple[np.ndarray, float, float] | None:
        col = (gx - self.transform.c) / self.res - 0.5
        row = (self.transform.f - gy) / self.res - 0.5
        c0, r0 = math.floor(col), math.floor(row)
        if not (0 <= c0 < self.values.shape[1] - 1 and 0 <= r0 < self.values.shape[0] - 1):
            return None
        return self.values[r0 : r0 + 2, c0 : c0 + 2], col - c0, row - r0

    def bilinear(self, gx: float, gy: float) -> float:
        found = self.neighbours(gx, gy)
        assert found is not None
        cell, fx, fy = found
        top = cell[0, 0] * (1 - fx) + cell[0, 1] * fx
        bottom = cell[1, 0] * (1 - fx) + cell[1, 1] * fx
        return float(top * (1 - fy) + bottom * fy)

    def centre_lonlat(self) -> tuple[float, float]:
        lon, lat = TO_LONLAT.transform(
            (self.bounds.left + self.bounds.right) / 2, (self.bounds.bottom + self.bounds.top) / 2
        )
        return float(lon), float(lat)


# --- fixtures --------------------------------------------------------------------------------------------


def raster_path(demo: DemoEnv, code: str) -> Path:
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            """
            SELECT v.raster_path FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version
            WHERE l.code = %s
            """,
            (code,),
        ).fetchone()
    assert row is not None
    return Path(demo.settings.data_dir) / row[0]


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Account:
    return demo.account(Role.PLANNER)  # base_dem is restricted to administrators and planners


@pytest.fixture(scope="module")
def viewer(demo: DemoEnv) -> Account:
    return demo.account(Role.VIEWER)


@pytest.fixture(scope="module")
def dem(demo: DemoEnv) -> Dem:
    return Dem(raster_path(demo, "base_dem"))


def tile_url(code: str, z: int, x: int, y: int) -> str:
    return f"/tiles/raster/{code}/{z}/{x}/{y}.png"


def centre_tile(dem: Dem, z: int = Z) -> tuple[int, int]:
    return lonlat_to_tile(*dem.centre_lonlat(), z)


def flat_pixels(
    dem: Dem, z: int, x: int, y: int, step: int = 16, max_range: float = 4.0
) -> list[tuple[int, int]]:
    """Tile pixels whose four surrounding DEM cells differ by less than ``max_range`` metres."""
    found = []
    for row in range(8, 256, step):
        for col in range(8, 256, step):
            near = dem.neighbours(*TO_4547.transform(*pixel_centre(z, x, y, col, row)))
            if near is not None and np.ptp(near[0]) < max_range:
                found.append((col, row))
    return found


# --- tiles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["base_dem", "base_slope", "base_hillshade"])
@pytest.mark.parametrize("z", [12, 13, 14])
def test_tile_over_the_centre_is_a_256_rgba_png(
    demo: DemoEnv, planner: Account, dem: Dem, code: str, z: int
) -> None:
    r = demo.client.get(tile_url(code, z, *centre_tile(dem, z)), headers=planner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    # base_dem is restricted: never stored by clients (issue 14); public rasters keep their caching.
    restricted = get_catalog().get(code).restricted  # type: ignore[union-attr]
    assert r.headers["cache-control"] == ("no-store" if restricted else "private, max-age=3600")
    assert ("etag" in r.headers) is not restricted
    pixels = decode_png(r.content)
    assert pixels.shape == (4, 256, 256)
    assert (pixels[3] == 255).sum() > 1000


def test_dem_pixels_have_the_ramp_colour_of_their_value(demo: DemoEnv, planner: Account, dem: Dem) -> None:
    x, y = centre_tile(dem)
    pixels = decode_png(demo.client.get(tile_url("base_dem", Z, x, y), headers=planner.headers).content)
    stops = get_catalog().get("base_dem").style.ramp
    assert stops is not None
    checked = flat_pixels(dem, Z, x, y)
    assert len(checked) >= 10
    for col, row in checked:
        value = dem.bilinear(*TO_4547.transform(*pixel_centre(Z, x, y, col, row)))
        expected = ramp_colour(stops, value)
        got = tuple(int(v) for v in pixels[:3, row, col])
        assert pixels[3, row, col] == 255
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 2, (
            col,
            row,
            value,
            got,
            expected,
        )


def test_ramp_reference_by_hand() -> None:
    stops = get_catalog().get("base_dem").style.ramp
    assert stops is not None
    # halfway between 50 m (#91CF60) and 150 m (#D9EF8B); clamped below 0 m and above 800 m
    assert ramp_colour(stops, 100) == (181, 223, 118)
    assert ramp_colour(stops, -20) == (0x1A, 0x98, 0x50)
    assert ramp_colour(stops, 2000) == (0xD7, 0x30, 0x27)


def test_hillshade_is_grey(demo: DemoEnv, viewer: Account, dem: Dem) -> None:
    r = demo.client.get(tile_url("base_hillshade", Z, *centre_tile(dem)), headers=viewer.headers)
    pixels = decode_png(r.content)
    opaque = pixels[3] == 255
    assert opaque.any()
    assert np.array_equal(pixels[0][opaque], pixels[1][opaque])
    assert np.array_equal(pixels[0][opaque], pixels[2][opaque])


def test_outside_the_raster_is_transparent(demo: DemoEnv, viewer: Account, dem: Dem) -> None:
    x, y = centre_tile(dem)
    r = demo.client.get(tile_url("base_slope", Z, x + 40, y), headers=viewer.headers)
    assert r.status_code == 200
    pixels = decode_png(r.content)
    assert pixels.shape == (4, 256, 256)
    assert (pixels[3] == 0).all()
    # a tile on the raster's north-east corner is part opaque, part transparent
    east, north = TO_LONLAT.transform(dem.bounds.right, dem.bounds.top)
    corner = decode_png(
        demo.client.get(
            tile_url("base_slope", Z, *lonlat_to_tile(east, north, Z)), headers=viewer.headers
        ).content
    )
    assert (corner[3] == 0).any() and (corner[3] == 255).any()


@pytest.mark.parametrize(
    "path",
    [
        "base_slope/23/0/0.png",
        "base_slope/-1/0/0.png",
        "base_slope/3/8/0.png",
        "base_slope/3/0/8.png",
        "base_slope/3/-1/0.png",
        "no_such_layer/12/3418/1780.png",
    ],
)
def test_bad_addresses_are_404_problems(demo: DemoEnv, viewer: Account, path: str) -> None:
    r = demo.client.get(f"/tiles/raster/{path}", headers=viewer.headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_vector_and_hidden_layers_are_404(demo: DemoEnv, viewer: Account, dem: Dem) -> None:
    x, y = centre_tile(dem)
    vector = next(
        e.code for e in get_catalog().layers.values() if e.kind is not LayerKind.RASTER and not e.restricted
    )
    r = demo.client.get(tile_url(vector, Z, x, y), headers=viewer.headers)
    assert r.status_code == 404
    assert "不是栅格图层" in r.json()["message_zh"]
    for url in (tile_url("base_dem", Z, x, y), "/tiles/raster/base_dem/tilejson.json"):
        hidden = demo.client.get(url, headers=viewer.headers)
        assert hidden.status_code == 404
        assert hidden.json()["message_zh"] == "图层“base_dem”不存在。"


def test_layer_without_a_version_is_404_in_chinese(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)  # the main test database has the catalog registered, nothing imported
    for url in ("/tiles/raster/base_slope/12/3418/1780.png", "/tiles/raster/base_slope/tilejson.json"):
        r = client.get(url, headers=viewer.headers)
        assert r.status_code == 404
        assert r.json()["message_zh"] == "图层“坡度”尚无当前版本，请先导入栅格数据。"


def test_anonymous_callers_are_refused(demo: DemoEnv, dem: Dem) -> None:
    for url in (tile_url("base_slope", Z, *centre_tile(dem)), "/tiles/raster/base_slope/tilejson.json"):
        r = demo.client.get(url)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


def test_etag_and_if_none_match(demo: DemoEnv, viewer: Account, dem: Dem) -> None:
    x, y = centre_tile(dem)
    url = tile_url("base_slope", Z, x, y)
    first = demo.client.get(url, headers=viewer.headers)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = demo.client.get(url, headers={**viewer.headers, "If-None-Match": header})
        assert r.status_code == 304, header
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers["cache-control"] == "private, max-age=3600"
    stale = demo.client.get(url, headers={**viewer.headers, "If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == first.content
    neighbour = demo.client.get(tile_url("base_slope", Z, x + 1, y), headers=viewer.headers)
    assert neighbour.headers["etag"] != etag
    other_layer = demo.client.get(tile_url("base_hillshade", Z, x, y), headers=viewer.headers)
    assert other_layer.headers["etag"] != etag


def current_number(conn: psycopg.Connection[Any], code: str) -> int:
    """The number of the layer's current version."""
    row = conn.execute(
        "SELECT v.number FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version "
        "WHERE l.code = %s",
        (code,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_new_version_changes_etag(demo: DemoEnv, viewer: Account, dem: Dem) -> None:
    """A public raster's ETag follows the layer version (base_dem, restricted, is sent with none)."""
    x, y = centre_tile(dem)
    url = tile_url("base_slope", Z, x, y)
    before = demo.client.get(url, headers=viewer.headers)
    entry = get_catalog().get("base_slope")
    actor = Actor.system("tests")
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        number = current_number(conn, "base_slope")
        source = raster_path(demo, "base_slope")
        import_raster(conn, entry, source, source.name, actor, demo.settings.data_dir)  # the same data again
        try:
            after = demo.client.get(url, headers={**viewer.headers, "If-None-Match": before.headers["etag"]})
            assert after.status_code == 200 and after.content == before.content
            assert after.headers["etag"] != before.headers["etag"]
        finally:
            rollback(conn, entry, number, actor)
    restored = demo.client.get(url, headers={**viewer.headers, "If-None-Match": before.headers["etag"]})
    assert restored.status_code == 304


def test_new_version_changes_colour(demo: DemoEnv, planner: Account, dem: Dem, tmp_path: Path) -> None:
    x, y = centre_tile(dem)
    url = tile_url("base_dem", Z, x, y)
    before = demo.client.get(url, headers=planner.headers)
    assert before.headers["cache-control"] == "no-store" and "etag" not in before.headers
    col, row = next(
        (c, r)
        for c, r in flat_pixels(dem, Z, x, y)
        if dem.bilinear(*TO_4547.transform(*pixel_centre(Z, x, y, c, r))) < 600
    )
    value = dem.bilinear(*TO_4547.transform(*pixel_centre(Z, x, y, col, row)))
    raised = tmp_path / "dem_plus_100.tif"
    with rasterio.open(raster_path(demo, "base_dem")) as src:
        data = src.read(1)
        profile = {**src.profile, "driver": "GTiff"}
    data = np.where(data == src.nodata, data, data + 100).astype(data.dtype)
    with rasterio.open(raised, "w", **profile) as out:
        out.write(data, 1)
    entry = get_catalog().get("base_dem")
    actor = Actor.system("tests")
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        number = current_number(conn, "base_dem")
        import_raster(conn, entry, raised, raised.name, actor, demo.settings.data_dir)
        try:
            after = demo.client.get(url, headers=planner.headers)
            assert after.status_code == 200
            old = tuple(int(v) for v in decode_png(before.content)[:3, row, col])
            new = tuple(int(v) for v in decode_png(after.content)[:3, row, col])
            assert new != old
            expected = ramp_colour(entry.style.ramp or [], value + 100)
            assert max(abs(a - b) for a, b in zip(new, expected, strict=True)) <= 2, (value, new, expected)
            doc = demo.client.get("/tiles/raster/base_dem/tilejson.json", headers=planner.headers).json()
            assert doc["tiles"][0].endswith(f"?v={number + 1}")
        finally:
            rollback(conn, entry, number, actor)
    restored = demo.client.get(url, headers=planner.headers)
    assert restored.content == before.content


# --- TileJSON --------------------------------------------------------------------------------------------


def test_tilejson(demo: DemoEnv, viewer: Account, dem: Dem) -> None:
    r = demo.client.get("/tiles/raster/base_slope/tilejson.json", headers=viewer.headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["name"] == "坡度"
    assert doc["scheme"] == "xyz"
    (template,) = doc["tiles"]
    assert template.startswith("http://testserver/tiles/raster/base_slope/{z}/{x}/{y}.png")
    assert 0 <= doc["minzoom"] <= doc["maxzoom"] <= 22
    assert doc["maxzoom"] == 12  # 50 m cells: z12 pixels are ~35 m on the ground at 22.7°N, z11 ~70 m
    west, south, east, north = doc["bounds"]
    lon0, lat0 = TO_LONLAT.transform(dem.bounds.left, dem.bounds.bottom)
    lon1, lat1 = TO_LONLAT.transform(dem.bounds.right, dem.bounds.top)
    assert west == pytest.approx(lon0, abs=2e-3) and east == pytest.approx(lon1, abs=2e-3)
    assert south == pytest.approx(lat0, abs=2e-3) and north == pytest.approx(lat1, abs=2e-3)
    x0, y0, x1, y1 = DISTRICT.extent
    assert x0 <= west < east <= x1 and y0 <= south < north <= y1
    lon, lat, zoom = doc["center"]
    assert west < lon < east and south < lat < north and doc["minzoom"] <= zoom <= doc["maxzoom"]
    x, y = centre_tile(dem)
    tile = demo.client.get(
        template.replace("http://testserver", "").format(z=Z, x=x, y=y), headers=viewer.headers
    )
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"


def test_tilejson_of_a_vector_layer_is_404(demo: DemoEnv, viewer: Account) -> None:
    vector = next(
        e.code for e in get_catalog().layers.values() if e.kind is not LayerKind.RASTER and not e.restricted
    )
    assert demo.client.get(f"/tiles/raster/{vector}/tilejson.json", headers=viewer.headers).status_code == 404


# --- renderer --------------------------------------------------------------------------------------------


def test_threads_sharing_the_dataset_cache_render_what_one_thread_renders(demo: DemoEnv, dem: Dem) -> None:
    ramp = ColourRamp.from_stops(get_catalog().get("base_slope").style.ramp or [])
    cx, cy = centre_tile(dem)
    jobs = [
        (raster_path(demo, code), Z, cx + dx, cy + dy)
        for code in ("base_slope", "base_hillshade")
        for dx in range(-2, 3)
        for dy in range(-2, 3)
    ]
    expected = [render_tile(DatasetCache(), path, z, x, y, ramp) for path, z, x, y in jobs]
    shared = DatasetCache(max_datasets=1)  # alternating files evict datasets other threads may be holding
    order = [i % len(jobs) for i in range(4 * len(jobs))]
    random.Random(1).shuffle(order)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: render_tile(shared, *jobs[i], ramp), order))
    assert got == [expected[i] for i in order]


def test_a_missing_raster_file_is_reported(tmp_path: Path) -> None:
    ramp = ColourRamp.from_stops([(0, "#000000"), (1, "#FFFFFF")])
    with pytest.raises(RasterUnavailable):
        render_tile(DatasetCache(), tmp_path / "gone.tif", 14, 13398, 7130, ramp)
