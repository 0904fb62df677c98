"""Measure the base-map table design: one partition per layer version vs one big table for everything.

Loads the demo district (``--scale``, default ``district``) into a throwaway database through the real
importer (design A, what Duogui uses), copies every feature into one table with a composite GiST index
(design B: ``btree_gist (version_id, geom)``), then times on both:

1. a footprint check: 200 random 300 m x 300 m boxes against the current version of every layer;
2. a single-layer bounding-box query (what a tile needs), on the largest layer;
3. loading one more 300,000-feature version (fresh partition + index build vs insert into the indexed table).

    .venv/bin/python bench/table_design.py [--scale small|district]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate  # noqa: E402
from layers.catalog.model import get_catalog  # noqa: E402
from layers.demo.loader import load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database  # noqa: E402


def _time(conn: psycopg.Connection, sql: str, params: list[dict]) -> list[float]:  # type: ignore[type-arg]
    out = []
    for p in params:
        started = time.perf_counter()
        conn.execute(sql, p).fetchall()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _row(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"{name:<46} p50 {q[49]:8.2f} ms   p95 {q[94]:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="district", choices=["small", "district"])
    args = parser.parse_args()
    settings, name = create_throwaway_database("duogui_design")
    try:
        migrate.upgrade(settings)
        with psycopg.connect(settings.owner_dsn) as conn:
            register_layers(conn, get_catalog())
            load_demo(
                conn, get_catalog(), args.scale, settings.data_dir / "bench-design", progress=lambda _: None
            )
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
            started = time.perf_counter()
            conn.execute("CREATE TABLE single AS SELECT * FROM basemap.feature")
            conn.execute("CREATE INDEX ON single USING gist (version_id, geom)")
            conn.execute("ANALYZE single")
            build_b = time.perf_counter() - started
            current = [
                r[0]
                for r in conn.execute(
                    "SELECT current_version FROM basemap.layer"
                    " WHERE current_version IS NOT NULL AND kind <> 'raster'"
                )
            ]
            total = conn.execute("SELECT count(*) FROM single").fetchone()[0]  # type: ignore[index]
            x0, y0, x1, y1 = conn.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
                " FROM (SELECT ST_Extent(geom) e FROM single) s"
            ).fetchone()  # type: ignore[misc]
            rng = np.random.default_rng(1)
            boxes = [
                {"x": float(x), "y": float(y), "v": current}
                for x, y in zip(rng.uniform(x0, x1 - 300, 200), rng.uniform(y0, y1 - 300, 200), strict=True)
            ]
            footprint = "ST_MakeEnvelope(%(x)s, %(y)s, %(x)s + 300, %(y)s + 300, 4547)"
            a_fp = _time(
                conn,
                f"SELECT version_id, fid FROM basemap.feature WHERE version_id = ANY(%(v)s) "
                f"AND geom && {footprint} AND ST_Intersects(geom, {footprint})",
                boxes,
            )
            b_fp = _time(
                conn,
                f"SELECT version_id, fid FROM single WHERE version_id = ANY(%(v)s) "
                f"AND geom && {footprint} AND ST_Intersects(geom, {footprint})",
                boxes,
            )
            big = conn.execute(
                "SELECT current_version FROM basemap.layer l"
                " JOIN basemap.layer_version v ON v.id = l.current_version"
                " ORDER BY v.feature_count DESC LIMIT 1"
            ).fetchone()[0]  # type: ignore[index]
            tile = "ST_MakeEnvelope(%(x)s, %(y)s, %(x)s + 2000, %(y)s + 2000, 4547)"
            one = [{**b, "big": big} for b in boxes]
            a_tile = _time(
                conn,
                f"SELECT fid, geom FROM basemap.feature WHERE version_id = %(big)s AND geom && {tile}",
                one,
            )
            b_tile = _time(
                conn, f"SELECT fid, geom FROM single WHERE version_id = %(big)s AND geom && {tile}", one
            )
            # Loading one more large version.
            conn.execute(
                f"CREATE TABLE staged AS SELECT 999999 AS version_id, fid, source_fid, props, extra, "
                f"area_m2, length_m, vertices, geom, geom_3857 FROM basemap.feature WHERE version_id = {big}"
            )
            n = conn.execute("SELECT count(*) FROM staged").fetchone()[0]  # type: ignore[index]
            started = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE basemap.f_999999 (LIKE basemap.feature INCLUDING DEFAULTS)")
            conn.execute("ALTER TABLE basemap.f_999999 ADD CHECK (version_id = 999999)")
            conn.execute("INSERT INTO basemap.f_999999 SELECT * FROM staged")
            conn.execute("ALTER TABLE basemap.f_999999 ADD PRIMARY KEY (fid)")
            conn.execute("CREATE INDEX ON basemap.f_999999 USING gist (geom)")
            conn.execute("ANALYZE basemap.f_999999")
            conn.execute(
                "ALTER TABLE basemap.feature ATTACH PARTITION basemap.f_999999 FOR VALUES IN (999999)"
            )
            conn.execute("COMMIT")
            load_a = time.perf_counter() - started
            started = time.perf_counter()
            conn.execute("INSERT INTO single SELECT * FROM staged")
            conn.execute("ANALYZE single")
            load_b = time.perf_counter() - started
        print(f"data: {args.scale} demo, {total:,} features in {len(current)} current vector versions")
        print("A = one partition per layer version (Duogui);  B = one table, GiST (version_id, geom)")
        print(_row("footprint check, all layers   A", a_fp))
        print(_row("footprint check, all layers   B", b_fp))
        print(_row("2 km bbox on the largest layer A", a_tile))
        print(_row("2 km bbox on the largest layer B", b_tile))
        print(
            f"{'load one more version of ' + format(n, ',') + ' features':<46}"
            f" A {load_a:6.2f} s   B {load_b:6.2f} s"
        )
        print(f"{'initial build of B (copy + index)':<46}   {build_b:6.2f} s")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
