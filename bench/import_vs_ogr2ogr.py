"""Import throughput: Duogui's importer vs GDAL's ``ogr2ogr -f PostgreSQL`` on the same GeoPackage.

Both load into the same throwaway database to a query-ready state (spatial index + ANALYZE). Ours also
validates and repairs, maps attributes to the catalog, prepares 3857 and subdivided geometry, and
versions the layer. Prints features/s for both and the ratio (target: ours >= 1.0x).

    .venv/bin/python bench/import_vs_ogr2ogr.py                    # synthetic buildings, 300,000
    .venv/bin/python bench/import_vs_ogr2ogr.py --file buildings.gpkg --layer cur_building
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from psycopg.conninfo import conninfo_to_dict
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate  # noqa: E402
from app.audit.log import Actor  # noqa: E402
from layers.catalog.model import get_catalog  # noqa: E402
from layers.ingest.intake import IntakeLimits  # noqa: E402
from layers.ingest.load import import_path  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database  # noqa: E402


def synthetic_buildings(n: int, path: Path) -> Path:
    """Oriented building footprints with the catalog's attributes, in EPSG:4547, inside Longgang."""
    rng = np.random.default_rng(7)
    x0, y0 = Transformer.from_crs(4326, 4547, always_xy=True).transform(114.12, 22.62)
    cx = x0 + rng.uniform(0, 25_000, n)
    cy = y0 + rng.uniform(0, 18_000, n)
    w, h = rng.uniform(8, 40, n), rng.uniform(8, 30, n)
    boxes = shapely.box(-w / 2, -h / 2, w / 2, h / 2)
    angle = rng.uniform(0, np.pi, n)
    coords, index = shapely.get_coordinates(boxes, return_index=True)
    c, s = np.cos(angle[index]), np.sin(angle[index])
    rotated = np.column_stack(
        (coords[:, 0] * c - coords[:, 1] * s + cx[index], coords[:, 0] * s + coords[:, 1] * c + cy[index])
    )
    geoms = shapely.set_coordinates(boxes, rotated)
    floors = rng.integers(1, 33, n)
    frame = gpd.GeoDataFrame(
        {
            "building_code": [f"B{i:07d}" for i in range(n)],
            "floors": floors,
            "structure": rng.choice(["1", "2", "3", "4"], n),
            "use": rng.choice(["residential", "commercial", "industrial", "public"], n),
            "year_built": rng.integers(1980, 2025, n),
            "households": rng.integers(0, 200, n),
            "floor_area": np.round(shapely.area(geoms) * floors, 1),
        },
        geometry=geoms,
        crs=4547,
    )
    frame.to_file(path, driver="GPKG", layer="buildings")
    return path


def ogr2ogr_load(dsn: str, path: Path) -> float:
    params = conninfo_to_dict(dsn)
    pg = " ".join(
        f"{k}={v}" for k, v in params.items() if k in ("host", "port", "dbname", "user", "password")
    )
    started = time.perf_counter()
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            f"PG:{pg}",
            str(path),
            "-nln",
            "public.bench_ogr2ogr",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-lco",
            "SPATIAL_INDEX=GIST",
            "-t_srs",
            "EPSG:4547",
            "-nlt",
            "PROMOTE_TO_MULTI",
            "--config",
            "PG_USE_COPY",
            "YES",
            "-gt",
            "65536",
        ],
        check=True,
        capture_output=True,
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE public.bench_ogr2ogr")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=300_000)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--layer", default="cur_building", help="catalog layer to import into")
    args = parser.parse_args()
    settings, name = create_throwaway_database("duogui_bench")
    try:
        migrate.upgrade(settings)
        with psycopg.connect(settings.owner_dsn) as conn:
            register_layers(conn, get_catalog())
        with tempfile.TemporaryDirectory() as tmp:
            path = args.file or synthetic_buildings(args.features, Path(tmp) / "buildings.gpkg")
            n = int(gpd.read_file(path, rows=0, engine="pyogrio").shape[0] or 0) or args.features
            entry = get_catalog().get(args.layer)
            with psycopg.connect(settings.owner_dsn) as conn:
                started = time.perf_counter()
                info, _ = import_path(
                    conn,
                    entry,
                    path,
                    path.name,
                    Actor.system("bench"),
                    limits=IntakeLimits(max_upload_bytes=8 * 1024**3),
                )
                ours = time.perf_counter() - started
            n = info.feature_count
            theirs = ogr2ogr_load(settings.owner_dsn, path)
        print(f"{'loader':<28} {'features':>10} {'seconds':>9} {'features/s':>12}")
        print(f"{'duogui import (versioned)':<28} {n:>10} {ours:>9.2f} {n / ours:>12,.0f}")
        print(f"{'ogr2ogr -f PostgreSQL COPY':<28} {n:>10} {theirs:>9.2f} {n / theirs:>12,.0f}")
        print(f"ratio (ours / ogr2ogr throughput): {theirs / ours:.2f}x  (target >= 1.0x)")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
