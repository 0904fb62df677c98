"""Import throughput: Duogui's importer vs GDAL's ``ogr2ogr -f PostgreSQL`` on the same GeoPackage.

Both load into the same throwaway database to a query-ready state (spatial index + ANALYZE). Ours also
validates and repairs, maps attributes to the catalog, prepares 3857 and subdivided geometry, and
versions the layer. Prints features/s for both and the ratio (target: ours >= 1.0x).

Fairness: the same file (in the page cache for both), the same database; before timing, each loader
loads a small file once (ogr2ogr's shared libraries and our Python code paths warm alike); then the
loaders alternate, ogr2ogr first on odd runs, and the medians of ``--runs`` runs are compared. The
machine may be shared: compare the ratios of one run, not absolute times across runs.

    .venv/bin/python bench/import_vs_ogr2ogr.py                    # synthetic buildings, 300,000
    .venv/bin/python bench/import_vs_ogr2ogr.py --file buildings.gpkg --layer cur_building --runs 7
"""

from __future__ import annotations

import argparse
import statistics
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
from layers.audit import Actor  # noqa: E402
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


def ogr2ogr_load(dsn: str, path: Path, table: str) -> float:
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
            f"public.{table}",
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
        conn.execute(f"ANALYZE public.{table}")
    return time.perf_counter() - started


def ours_load(dsn: str, path: Path, layer: str) -> tuple[float, int]:
    entry = get_catalog().get(layer)
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        info, _ = import_path(
            conn,
            entry,
            path,
            path.name,
            Actor.system("bench"),
            limits=IntakeLimits(max_upload_bytes=8 * 1024**3),
        )
        return time.perf_counter() - started, info.feature_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=300_000)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--layer", default="cur_building", help="catalog layer to import into")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each loader (medians compared)")
    args = parser.parse_args()
    settings, name = create_throwaway_database("duogui_bench")
    dsn = settings.owner_dsn
    try:
        migrate.upgrade(settings)
        with psycopg.connect(dsn) as conn:
            register_layers(conn, get_catalog())
        with tempfile.TemporaryDirectory() as tmp:
            path = args.file or synthetic_buildings(args.features, Path(tmp) / "buildings.gpkg")
            warm = synthetic_buildings(2_000, Path(tmp) / "warm-up.gpkg")
            if args.file is None or args.layer == "cur_building":
                ours_load(dsn, warm, args.layer)
                ogr2ogr_load(dsn, warm, "bench_warm_up")
            path.read_bytes()  # the file in the page cache for both
            ours: list[float] = []
            theirs: list[float] = []
            n = 0
            print(f"{'run':<5} {'duogui s':>9} {'ogr2ogr s':>10} {'ratio':>7}", flush=True)
            for run in range(1, args.runs + 1):
                if run % 2:
                    theirs.append(ogr2ogr_load(dsn, path, f"bench_ogr2ogr_{run}"))
                    seconds, n = ours_load(dsn, path, args.layer)
                    ours.append(seconds)
                else:
                    seconds, n = ours_load(dsn, path, args.layer)
                    ours.append(seconds)
                    theirs.append(ogr2ogr_load(dsn, path, f"bench_ogr2ogr_{run}"))
                print(
                    f"{run:<5} {ours[-1]:>9.2f} {theirs[-1]:>10.2f} {theirs[-1] / ours[-1]:>6.2f}x",
                    flush=True,
                )
        mine, other = statistics.median(ours), statistics.median(theirs)
        ratios = sorted(t / o for t, o in zip(theirs, ours, strict=True))
        print()
        label = f"loader (median of {args.runs})"
        print(f"{label:<28} {'features':>10} {'seconds':>9} {'features/s':>12}")
        print(f"{'duogui import (versioned)':<28} {n:>10} {mine:>9.2f} {n / mine:>12,.0f}")
        print(f"{'ogr2ogr -f PostgreSQL COPY':<28} {n:>10} {other:>9.2f} {n / other:>12,.0f}")
        print(
            f"ratio (ours / ogr2ogr throughput): {other / mine:.2f}x of medians; per run "
            f"{' '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f}x); "
            "target >= 1.0x"
        )
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
