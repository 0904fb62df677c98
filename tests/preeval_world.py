"""A small hand-made world for the pre-evaluation outputs (renderings, comparison, batch, uploads).

It lives in its own throwaway database so that other tests' imports cannot change its layers. All
coordinates are EPSG:4547 metres relative to (WX0, WY0); every expected number below is computed by hand.

    forest_land            A grade Ⅰ [0,100]×[0,100]     B grade Ⅲ [200,300]×[0,100]
    heritage_control_zone  H [400,500]×[0,100] (鹤湖新居)
    demo_compensation_zone zone 1: x < 150             zone 3: x ≥ 150
    cur_ownership          state (10): x < 130         collective (30): x ≥ 130
    cur_building           B1 [60,80]×[10,30]  1200 m², 10 households (zone 1, state → 32,000 元/m²)
                           B2 [160,180]×[10,30]  800 m², 5 households (zone 3, collective → 11,000 元/m²)
                           B3 [420,440]×[10,30]  600 m², 4 households (zone 3, collective → 11,000 元/m²)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from app import migrate
from app.main import create_app
from app.orgs import service as orgs
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.load import import_path
from layers.store.versions import register_layers

WX0, WY0 = (round(v, 3) for v in Transformer.from_crs(4326, 4547, always_xy=True).transform(114.22, 22.72))
TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    """A rectangle in world coordinates (metres from the origin)."""
    return shapely.box(WX0 + x0, WY0 + y0, WX0 + x1, WY0 + y1)


def geojson(geom: shapely.Geometry) -> dict[str, Any]:
    """The geometry as CRS84 GeoJSON."""
    lonlat = shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)
    return shapely.geometry.mapping(lonlat)  # type: ignore[no-any-return]


# Candidate sites: (name, footprint). Expected figures are in the tests that use them.
CANDIDATES = {
    "甲": box(50, 0, 150, 100),  # half on grade Ⅰ forest (5000 m² prohibited), B1 demolished
    "乙": box(250, 0, 350, 100),  # 5000 m² grade Ⅲ forest (conditional), no buildings
    "丙": box(380, 0, 480, 100),  # 8000 m² heritage control zone (conditional), B3 demolished
    "丁": box(150, 0, 250, 100),  # 5000 m² grade Ⅲ forest (conditional), B2 demolished
}


def _frames() -> dict[str, gpd.GeoDataFrame]:
    west, east = (-1000, -1000, 150, 1000), (150, -1000, 1500, 1000)
    return {
        "forest_land": gpd.GeoDataFrame(
            {"xiaoban_code": ["A", "B"], "protection_grade": ["I", "III"], "land_type": ["0301", "0301"]},
            geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)],
            crs=4547,
        ),
        "heritage_control_zone": gpd.GeoDataFrame(
            {"relic_name": ["鹤湖新居"], "height_limit": [24.0]}, geometry=[box(400, 0, 500, 100)], crs=4547
        ),
        "demo_compensation_zone": gpd.GeoDataFrame(
            {"zone_grade": ["1", "3"], "base_price": [30000.0, 20000.0]},
            geometry=[box(*west), box(*east)],
            crs=4547,
        ),
        "cur_ownership": gpd.GeoDataFrame(
            {"ownership": ["10", "30"], "owner": ["深圳市", "南联股份合作公司"]},
            geometry=[box(-1000, -1000, 130, 1000), box(130, -1000, 1500, 1000)],
            crs=4547,
        ),
        "cur_building": gpd.GeoDataFrame(
            {
                "building_code": ["B1", "B2", "B3"],
                "floors": [3, 2, 2],
                "structure": ["3", "4", "4"],
                "use": ["residential"] * 3,
                "year_built": [1998, 2005, 2001],
                "households": [10, 5, 4],
                "floor_area": [1200.0, 800.0, 600.0],
            },
            geometry=[box(60, 10, 80, 30), box(160, 10, 180, 30), box(420, 10, 440, 30)],
            crs=4547,
        ),
    }


def build_world(tmp: Path, frames: dict[str, gpd.GeoDataFrame] | None = None) -> Iterator[Any]:
    """Yield a DemoEnv-like environment over the hand-made world, or over ``frames`` (layer code →
    features), in its own database."""
    from tests.conftest import DemoEnv, cluster_lock, create_throwaway_database, drop_database

    with cluster_lock():
        world_settings, name = create_throwaway_database("duogui_world")
        migrate.upgrade(world_settings)
    try:
        with psycopg.connect(world_settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            for code, frame in (_frames() if frames is None else frames).items():
                path = tmp / f"{code}-{uuid.uuid4().hex[:6]}.gpkg"
                frame.to_file(path, driver="GPKG")
                import_path(conn, get_catalog().get(code), path, path.name, Actor.system("tests"))
        with TestClient(create_app(world_settings)) as client:
            yield DemoEnv(world_settings, client)
    finally:
        drop_database(name)
