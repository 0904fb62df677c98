"""Tile-size sweep: every composite tile of the demo district from z8 to z16 must stay under 500 KB.

For each zoom it enumerates every tile that meets the district's extent and builds the composite tile of
all vector layers visible at that zoom (what the web map asks for), with the same statement the tile
service runs (``layers.tiles.mvt.render_composite``). Prints, per zoom, the number of tiles, the largest and
the 99th-percentile size (uncompressed and gzip), the slowest tile, and the largest tile's coordinates;
exits non-zero if any uncompressed tile exceeds the limit.

    .venv/bin/python bench/tile_sizes.py [--scale full] [--reuse NAME] [--zooms 8-16] [--limit-kb 500]
"""

from __future__ import annotations

import argparse
import gzip
import math
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import migrate  # noqa: E402
from app.settings import Settings  # noqa: E402
from layers.catalog.model import LayerKind, get_catalog  # noqa: E402
from layers.demo.loader import demo_loaded, load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from layers.tiles.grid import lonlat_to_tile  # noqa: E402
from layers.tiles.mvt import TileLayer, render_composite  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database  # noqa: E402


def zoom_range(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", choices=["small", "district", "full"])
    parser.add_argument("--reuse", help="use (and keep) this database; the demo is loaded once if empty")
    parser.add_argument("--zooms", default="8-16")
    parser.add_argument("--limit-kb", type=float, default=500)
    args = parser.parse_args()
    catalog = get_catalog()
    if args.reuse:
        from app import bootstrap

        settings, name = Settings(db_name=args.reuse), None
        bootstrap.prepare_database(settings, quiet=True)
    else:
        settings, name = create_throwaway_database("duogui_tilesizes")
    worst_kb = 0.0
    try:
        migrate.upgrade(settings)
        with psycopg.connect(settings.owner_dsn, autocommit=True, options="-c jit=off") as conn:
            register_layers(conn, catalog)
            if not demo_loaded(conn):
                print(f"loading the {args.scale} demo …", flush=True)
                load_demo(conn, catalog, args.scale, settings.data_dir, progress=lambda _: None)
            versions = dict(
                conn.execute(
                    "SELECT code, current_version FROM basemap.layer WHERE current_version IS NOT NULL"
                ).fetchall()
            )
            extent = conn.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
                "ST_SetSRID(ST_Extent(v.extent), 4547), 4326)::box2d e FROM basemap.layer l"
                " JOIN basemap.layer_version v ON v.id = l.current_version WHERE l.code = 'admin_district') s"
            ).fetchone()
            assert extent is not None and extent[0] is not None, "the demo has no district boundary"
            vector = [
                e for e in catalog.layers.values() if e.kind is not LayerKind.RASTER and e.code in versions
            ]
            print(
                f"{'zoom':>4} {'layers':>6} {'tiles':>6} {'max KB':>8} {'p99 KB':>8} {'max gz KB':>9}"
                f" {'p50 ms':>7} {'max ms':>7}  largest tile"
            )
            for z in zoom_range(args.zooms):
                layers = [TileLayer(e, versions[e.code]) for e in vector if e.min_zoom <= z]
                x0, y0 = lonlat_to_tile(extent[0], extent[3], z)
                x1, y1 = lonlat_to_tile(extent[2], extent[1], z)
                sizes: list[tuple[int, int, tuple[int, int]]] = []
                times: list[float] = []
                for x in range(x0, x1 + 1):
                    for y in range(y0, y1 + 1):
                        started = time.perf_counter()
                        raw = render_composite(conn, layers, z, x, y).data
                        times.append((time.perf_counter() - started) * 1000)
                        sizes.append((len(raw), len(gzip.compress(raw, 1)) if raw else 0, (x, y)))
                sizes.sort()
                big = sizes[-1]
                p99 = sizes[min(len(sizes) - 1, math.ceil(0.99 * len(sizes)) - 1)][0]
                worst_kb = max(worst_kb, big[0] / 1024)
                print(
                    f"{z:>4} {len(layers):>6} {len(sizes):>6} {big[0] / 1024:8.1f} {p99 / 1024:8.1f}"
                    f" {max(s[1] for s in sizes) / 1024:9.1f} {statistics.median(times):7.1f}"
                    f" {max(times):7.1f}  {z}/{big[2][0]}/{big[2][1]}",
                    flush=True,
                )
    finally:
        if name is not None:
            drop_database(name)
    verdict = "PASS" if worst_kb <= args.limit_kb else "FAIL"
    print(f"{verdict}: largest tile {worst_kb:.1f} KB (limit {args.limit_kb:.0f} KB)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
