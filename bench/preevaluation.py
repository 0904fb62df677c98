"""Pre-evaluation speed: our engine vs a naive per-layer check vs a geopandas overlay, in one run.

Loads the demo district (default ``full``) into a throwaway database (or reuses one with ``--reuse``),
catches the footprint-check index up, and checks the same random footprints inside the district:
``--n`` (default 200) of 1–20 ha, plus 1 km² and 10 km² ones. For each footprint it times

(a) our engine (``analysis.engine.evaluate``: the check index searched in memory, as the service does
    once it has started, then rules, terrain, compensation); (a') the same engine reading the check
    index from the database (one statement), as before the in-memory copy has loaded;
(b) a naive per-layer check: one ``ST_Intersects``/``ST_DWithin`` + ``ST_Intersection`` query per
    pre-evaluation layer on the original, unsubdivided geometry (what a first implementation does);
(c) what an analyst's script does: geopandas ``read_postgis`` of every layer whose extent meets the
    footprint's bounding box, then an in-memory overlay with the footprint;
and the floor: bare ``&&`` index probes of the footprint's box across every layer's version table.
It also times the HTTP request (``POST /api/pre-evaluations`` on a ``duogui serve`` process, report
stored) and the batch throughput (``POST /api/pre-evaluations/batch`` when the server has it).

    .venv/bin/python bench/preevaluation.py [--scale full|district|small] [--n 200] [--reuse NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql
from pyproj import Transformer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.checkindex import catch_up  # noqa: E402
from analysis.checkplan import CheckedLayer, get_check_plan  # noqa: E402
from analysis.engine import evaluate  # noqa: E402
from analysis.footprint import Footprint  # noqa: E402
from analysis.resident import ResidentIndex  # noqa: E402
from app import migrate  # noqa: E402
from app.auth import users  # noqa: E402
from app.auth.policy import Role  # noqa: E402
from app.main import settle_heap  # noqa: E402
from app.orgs.service import seed_organisations  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.tiles_vs_tipg import free_port, wait_for  # noqa: E402
from layers.audit import Actor  # noqa: E402
from layers.demo.loader import demo_loaded, load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database  # noqa: E402

PASSWORD = "Bench-pass-2026"
TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)


def footprints(
    conn: psycopg.Connection[Any], n: int, area_range: tuple[float, float], seed: int
) -> list[Any]:
    """Random rotated rectangles of the given area range, wholly inside the district boundary."""
    row = conn.execute(
        "SELECT ST_AsBinary(ST_Union(geom)) FROM basemap.feature f JOIN basemap.layer l"
        " ON l.current_version = f.version_id WHERE l.code = 'admin_district'"
    ).fetchone()
    assert row and row[0], "the demo has no district boundary"
    district = shapely.from_wkb(row[0])
    shapely.prepare(district)
    x0, y0, x1, y1 = district.bounds
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    while len(out) < n:
        area = rng.uniform(*area_range)
        ratio = rng.uniform(0.5, 2.0)
        w, h = (area * ratio) ** 0.5, (area / ratio) ** 0.5
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        geom = shapely.affinity.rotate(box, rng.uniform(0, 90))
        if district.contains(geom):
            out.append(geom)
    return out


def percentiles(ms: list[float]) -> tuple[float, float]:
    if len(ms) < 2:
        return ms[0], ms[0]
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[94]


def timed(fn: Callable[[Any], Any], items: list[Any]) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def interleaved(fns: list[Callable[[Any], Any]], items: list[Any], block: int = 20) -> list[list[float]]:
    """Time every function on every item, a block of items at a time, rotating which function goes
    first: a machine whose speed drifts during the run (a shared host) slows them all alike, so the
    ratios hold; within a block each function runs warm, as it would serving requests of its kind."""
    out: list[list[float]] = [[] for _ in fns]
    for b, start in enumerate(range(0, len(items), block)):
        for k in range(len(fns)):
            j = (b + k) % len(fns)
            out[j].extend(timed(fns[j], items[start : start + block]))
    return out


def naive_check(conn: psycopg.Connection[Any], layers: list[tuple[CheckedLayer, int]], fp: Any) -> int:
    """(b): one query per layer on the original geometry, overlaps computed by PostGIS."""
    wkb = shapely.to_wkb(fp)
    rows = 0
    for layer, version in layers:
        query = sql.SQL(
            "SELECT fid, props, ST_AsBinary(ST_Intersection(geom, g)), ST_Distance(geom, g) "
            "FROM {t}, (SELECT ST_GeomFromWKB(%s, 4547) AS g) f WHERE {cond}"
        ).format(
            t=sql.Identifier("basemap", f"f_{version}"),
            cond=sql.SQL("ST_DWithin(geom, g, {r})").format(r=sql.Literal(layer.reach_m))
            if layer.reach_m > 0
            else sql.SQL("ST_Intersects(geom, g)"),
        )
        rows += len(conn.execute(query, (wkb,)).fetchall())
    return rows


def geopandas_check(
    conn: psycopg.Connection[Any], layers: list[tuple[CheckedLayer, int, Any]], fp: Any
) -> int:
    """(c): read every layer whose extent meets the footprint's box, overlay in memory."""
    import geopandas as gpd

    footprint = gpd.GeoDataFrame({"site": [1]}, geometry=[fp], crs=4547)
    x0, y0, x1, y1 = fp.bounds
    hits = 0
    for layer, version, extent in layers:
        reach = layer.reach_m
        if extent is None or not shapely.box(x0 - reach, y0 - reach, x1 + reach, y1 + reach).intersects(
            extent
        ):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = gpd.read_postgis(
                f"SELECT fid, props::text AS props, geom FROM basemap.f_{version} WHERE geom && "
                f"ST_MakeEnvelope({x0 - reach}, {y0 - reach}, {x1 + reach}, {y1 + reach}, 4547)",
                conn,
                geom_col="geom",
            )
        if frame.empty:
            continue
        if layer.entry.kind.value == "area":
            hits += len(gpd.overlay(frame, footprint, how="intersection", keep_geom_type=True))
        else:
            hits += int((frame.distance(fp) <= reach).sum())
    return hits


def floor_probe(conn: psycopg.Connection[Any], layers: list[tuple[CheckedLayer, int]], fp: Any) -> int:
    """Bare ``&&`` probes of the footprint's box across every checked layer, one statement."""
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("(SELECT count(*) FROM {t} WHERE geom && ST_GeomFromWKB(%(fp)s, 4547))").format(
            t=sql.Identifier("basemap", f"f_{version}")
        )
        for _, version in layers
    )
    return len(conn.execute(query, {"fp": shapely.to_wkb(shapely.box(*fp.bounds))}, prepare=True).fetchall())


def geojson(fp: Any) -> dict[str, Any]:
    lonlat = shapely.transform(fp, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)
    return shapely.geometry.mapping(lonlat)  # type: ignore[no-any-return]


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={**headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def row(name: str, ms: list[float], ref: list[float] | None = None) -> str:
    p50, p95 = percentiles(ms)
    ratio = f"   ours/this p50 {percentiles(ref)[0] / p50:.3f}x" if ref else ""
    return f"  {name:<44} p50 {p50:9.1f} ms   p95 {p95:9.1f} ms{ratio}"


def main() -> None:  # noqa: C901, PLR0915 - a linear script
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", choices=["small", "district", "full"])
    parser.add_argument("--n", type=int, default=200, help="random 1–20 ha footprints")
    parser.add_argument("--reuse", help="use (and keep) this database; loaded once if empty")
    args = parser.parse_args()
    plan = get_check_plan()
    catalog = plan.catalog
    if args.reuse:
        settings = Settings(db_name=args.reuse)
        name = None
        from app import bootstrap

        bootstrap.prepare_database(settings, quiet=True)
    else:
        settings, name = create_throwaway_database("duogui_prebench")
    server: subprocess.Popen[bytes] | None = None
    try:
        migrate.upgrade(settings)
        # JIT off, as on the service's pooled connections (app/db.py); the baselines share the connection.
        with psycopg.connect(settings.owner_dsn, autocommit=True, options="-c jit=off") as conn:
            register_layers(conn, catalog)
            if not demo_loaded(conn):
                print(f"loading the {args.scale} demo …", flush=True)
                load_demo(conn, catalog, args.scale, settings.data_dir, progress=lambda _: None)
            seed_organisations(conn, Actor.system("bench"))
            if not conn.execute("SELECT 1 FROM auth.user WHERE username = 'bench-unit'").fetchone():
                users.create_user(
                    conn,
                    Actor.system("bench"),
                    users.UserCreate(
                        username="bench-unit", role=Role.PROJECT_UNIT, org_code="works", password=PASSWORD
                    ),
                )
            started = time.perf_counter()
            caught = catch_up(conn, plan)
            print(f"check index caught up: {len(caught)} layers in {time.perf_counter() - started:.1f} s")
            features = conn.execute(
                "SELECT sum(v.feature_count) FROM basemap.layer l JOIN basemap.layer_version v"
                " ON v.id = l.current_version"
            ).fetchone()
            parts = conn.execute("SELECT count(*) FROM basemap.check_part").fetchone()
            print(
                f"base map: {features[0] if features else 0:,} features; "
                f"check index: {parts[0] if parts else 0:,} parts"
            )
            state = {
                code: (version, shapely.from_wkb(extent) if extent else None)
                for code, version, extent in conn.execute(
                    "SELECT l.code, v.id, ST_AsBinary(v.extent) FROM basemap.layer l"
                    " JOIN basemap.layer_version v ON v.id = l.current_version"
                ).fetchall()
            }
            layers = [(c, state[c.entry.code][0]) for c in plan.checked_layers if c.entry.code in state]
            layers_x = [(c, v, state[c.entry.code][1]) for c, v in layers]
            small = footprints(conn, args.n, (1e4, 2e5), 1)
            km1 = footprints(conn, 20, (1e6, 1e6), 2)
            km10 = footprints(conn, 5, (1e7, 1e7), 3)

            resident = ResidentIndex(lambda: contextlib.nullcontext(conn), settings.check_memory_mb)
            started = time.perf_counter()
            resident.refresh()
            held = resident.snapshot
            print(
                f"check index in memory ({resident.status}): {len(held.parts) if held else 0:,} parts"
                f" in {time.perf_counter() - started:.1f} s"
            )

            def ours(fp: Any, memory: ResidentIndex | None = resident) -> Any:
                return evaluate(
                    conn,
                    Footprint(fp, float(fp.area)),
                    "housing",
                    plan=plan,
                    data_dir=settings.data_dir,
                    resident=memory,
                )

            def ours_database(fp: Any) -> Any:
                return ours(fp, None)

            for warm in small[:10]:
                ours(warm)
                ours_database(warm)
            settle_heap()  # what the server does once it has started
            print(f"\n{len(layers)} pre-evaluation layers; {len(small)} footprints of 1–20 ha")
            a, a_db, b, f = interleaved(
                [
                    ours,
                    ours_database,
                    lambda fp: naive_check(conn, layers, fp),
                    lambda fp: floor_probe(conn, layers, fp),
                ],
                small,
            )
            c = timed(lambda fp: geopandas_check(conn, layers_x, fp), small[: max(20, args.n // 5)])
            print(row("(a) duogui engine", a))
            print(row("(a') duogui engine, index read from the database", a_db, a))
            print(row("(b) naive per-layer ST_Intersection", b, a))
            print(row("(c) geopandas read_postgis + overlay", c, a))
            print(row("floor: bare && probes, every layer", f))
            print(f"  engine throughput (one connection): {1000 * len(a) / sum(a):.0f} footprints/s")
            for label, group in (("1 km²", km1), ("10 km²", km10)):
                big, naive = interleaved([ours, lambda fp: naive_check(conn, layers, fp)], group)
                print(row(f"(a) duogui engine, {label}", big))
                print(row(f"(b) naive per-layer, {label}", naive, big))

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": settings.owner_dsn,
            "DUOGUI_DEMO_SCALE": "none",
            "DUOGUI_DATA_DIR": str(settings.data_dir),
        }
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/duogui"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/health", {})
        # Time the service as it runs once started: with its check index copied into memory.
        for _ in range(600):
            with urllib.request.urlopen(f"{base}/api/health") as response:
                if json.load(response)["check_index_memory"]["status"] != "loading":
                    break
            time.sleep(0.1)
        token = urllib.request.Request(
            f"{base}/api/auth/token", data=f"username=bench-unit&password={PASSWORD}".encode(), method="POST"
        )
        with urllib.request.urlopen(token) as response:
            headers = {"Authorization": "Bearer " + json.load(response)["access_token"]}
        url = f"{base}/api/pre-evaluations"
        for warm in small[:10]:
            post(url, {"footprint": geojson(warm), "project_type": "housing"}, headers)
        statuses: list[int] = []
        http = timed(
            lambda fp: statuses.append(
                post(url, {"footprint": geojson(fp), "project_type": "housing"}, headers)
            ),
            small,
        )
        assert set(statuses) == {201}, f"unexpected statuses {set(statuses)}"
        print(row("HTTP POST /api/pre-evaluations, 1–20 ha", http))
        http10 = timed(
            lambda fp: post(url, {"footprint": geojson(fp), "project_type": "housing"}, headers), km10
        )
        print(row("HTTP POST /api/pre-evaluations, 10 km²", http10))
        batch_body = {
            "footprints": {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": str(i)}, "geometry": geojson(fp)}
                    for i, fp in enumerate(small[:100])
                ],
            },
            "project_type": "housing",
        }
        started = time.perf_counter()
        status = post(f"{url}/batch", batch_body, headers)
        elapsed = time.perf_counter() - started
        if status in (200, 201):
            print(f"  batch of 100 footprints over HTTP: {100 / elapsed:.0f} footprints/s")
        else:
            print(f"  batch endpoint not available here (HTTP {status})")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if name is not None:
            drop_database(name)


if __name__ == "__main__":
    main()
