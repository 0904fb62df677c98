"""Vector tiles: Duogui vs tipg on the same database, same tables, same random tiles, in one run.

Loads the demo district (default ``full``) into a throwaway database, starts our server (tile cache off,
so every figure is uncached) and tipg (installed into ``.venv-bench``, pointed at the same partitions),
requests the same random tiles inside the district at z8, z10, z12, z14 and z16 from both — tile by tile,
alternating which server is asked first, over kept-alive connections as a browser's map does — and prints
p50/p95/p99 latency and mean size for both and the ratio. Also times composite tiles of the ecological
layers at z8–z11 (ours only: tipg serves one table per request).

    .venv/bin/python bench/tiles_vs_tipg.py [--scale full|district|small] [--tiles 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth import users  # noqa: E402
from app.auth.policy import Role  # noqa: E402
from layers.audit import Actor  # noqa: E402
from layers.catalog.model import LayerEntry, LayerKind, get_catalog  # noqa: E402
from layers.demo.loader import load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from layers.tiles.grid import lonlat_to_tile  # noqa: E402
from layers.tiles.mvt import TileLayer, render_composite  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database  # noqa: E402

ZOOMS = (8, 10, 12, 14, 16)
TIPG = ROOT / ".venv-bench" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, headers: dict[str, str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise SystemExit(f"server at {url} did not come up")


# Like a browser's map (MapLibre): both servers may compress; sizes are of the bytes transferred.
CLIENT_HEADERS = {"Accept-Encoding": "gzip"}
# Like a browser, keep each server's connection open between tiles (HTTP/1.1 keep-alive); --new-connections
# opens one per request instead (adds the same TCP set-up and client overhead to both servers' times).
KEEP_ALIVE = {"on": True}
_connections: dict[tuple[str, int], http.client.HTTPConnection] = {}


def fetch(url: str, headers: dict[str, str]) -> tuple[float, int]:
    if not KEEP_ALIVE["on"]:
        started = time.perf_counter()
        try:
            request = urllib.request.Request(url, headers={**CLIENT_HEADERS, **headers})
            with urllib.request.urlopen(request, timeout=60) as r:
                body = r.read()
        except urllib.error.HTTPError as exc:
            if exc.code != 204:
                raise
            body = b""
        return (time.perf_counter() - started) * 1000, len(body)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    for attempt in (1, 2):
        conn = _connections.get((host, port))
        if conn is None:
            conn = _connections[(host, port)] = http.client.HTTPConnection(host, port, timeout=60)
            conn.connect()
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={**CLIENT_HEADERS, **headers})
            response = conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            del _connections[(host, port)]
            if attempt == 2:
                raise
            continue
        if response.status not in (200, 204):
            raise SystemExit(f"{url}: HTTP {response.status} {body[:200]!r}")
        if response.will_close:
            conn.close()
            del _connections[(host, port)]
        return (time.perf_counter() - started) * 1000, len(body)
    raise AssertionError("unreachable")


def stats(samples: list[tuple[float, int]]) -> tuple[float, float, float, float]:
    ms = [s[0] for s in samples]
    q = statistics.quantiles(ms, n=100)
    return q[49], q[94], q[98], statistics.mean(s[1] for s in samples) / 1024


def floor(dsn: str, layers: list[TileLayer], z: int, tiles: list[tuple[int, int]]) -> tuple[float, ...]:
    """The same tile statement run directly in the database: the floor under the HTTP figure."""
    samples = []
    with psycopg.connect(dsn, options="-c jit=off") as conn:
        for x, y in tiles:
            started = time.perf_counter()
            data = render_composite(conn, layers, z, x, y).data
            samples.append(((time.perf_counter() - started) * 1000, len(data)))
    return stats(samples)


def composite_vs_sum(
    port: int,
    headers: dict[str, str],
    tipg_port: int,
    vector: list[LayerEntry],
    versions: dict[str, int],
    lon: np.ndarray,
    lat: np.ndarray,
) -> None:
    """A composite tile of every layer visible at its zoom vs tipg serving those layers one request each."""
    head = f"{'zoom':>4} {'all visible layers':<22} {'ours composite p50':>19}"
    print(head + f" {'tipg summed p50':>16} {'ratio':>6}")
    for z in (10, 12, 14):
        visible = [e for e in vector if e.min_zoom <= z]
        codes = ",".join(e.code for e in visible)
        ours, theirs = [], []
        for a, b in list(zip(lon, lat, strict=True))[:30]:
            x, y = lonlat_to_tile(a, b, z)
            mine = f"http://127.0.0.1:{port}/tiles/{codes}/{z}/{x}/{y}.mvt"
            singles = [
                f"http://127.0.0.1:{tipg_port}/collections/basemap.f_{versions[e.code]}/tiles/"
                f"WebMercatorQuad/{z}/{x}/{y}"
                for e in visible
            ]
            # Alternate who goes first: the first to ask warms the database's buffers for the other.
            if len(ours) % 2 == 0:
                ours.append(fetch(mine, headers)[0])
                theirs.append(sum(fetch(u, {})[0] for u in singles))
            else:
                theirs.append(sum(fetch(u, {})[0] for u in singles))
                ours.append(fetch(mine, headers)[0])
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"{z:>4} {len(visible):>3} layers{'':<12} {o:17.1f}ms {t:14.1f}ms {o / t:5.2f}x")


def cache_hit_throughput(
    env: dict[str, str], headers: dict[str, str], entry: LayerEntry, versions: dict[str, int]
) -> None:
    """Requests/s for one cached tile from wrk against the service with 2 workers and the cache on."""
    if not shutil.which("wrk"):
        print("cache hits: wrk not installed (apt-get install wrk); skipped")
        return
    port = free_port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/duogui"), "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        env={**env, "DUOGUI_TILE_CACHE_MB": "64"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/health", {})
        x, y = lonlat_to_tile(114.25, 22.70, 14)
        url = f"http://127.0.0.1:{port}/tiles/{entry.code}/14/{x}/{y}.mvt"
        for _ in range(4):  # warm both workers' caches
            fetch(url, headers)
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c32",
                "-d10s",
                "-H",
                f"Authorization: {headers['Authorization']}",
                "-H",
                "Accept-Encoding: gzip",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rate = next(line for line in out.stdout.splitlines() if line.startswith("Requests/sec"))
        rps = rate.split(":")[1].strip()
        print(f"cache hits, 2 workers, wrk -t2 -c32 -d10s: {rps} requests/s (target >= 1000)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def ensure_tipg() -> None:
    if not (TIPG / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(TIPG.parent)], check=True)
        subprocess.run([str(TIPG / "pip"), "install", "-q", "tipg", "uvicorn"], check=True)


def main() -> None:  # noqa: C901 - a linear script
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", choices=["small", "district", "full"])
    parser.add_argument("--tiles", type=int, default=200, help="random tiles per zoom")
    parser.add_argument("--reuse", help="use (and keep) this database; the demo is loaded once if empty")
    parser.add_argument("--identity", action="store_true", help="ask for uncompressed tiles (no gzip)")
    parser.add_argument(
        "--new-connections", action="store_true", help="open a connection per request instead of keep-alive"
    )
    args = parser.parse_args()
    if args.identity:
        CLIENT_HEADERS.clear()
    KEEP_ALIVE["on"] = not args.new_connections
    ensure_tipg()
    catalog = get_catalog()
    if args.reuse:
        from app import bootstrap
        from app.settings import Settings

        settings, name = Settings(db_name=args.reuse), None
        bootstrap.prepare_database(settings, quiet=True)
    else:
        settings, name = create_throwaway_database("duogui_tilebench")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        from app import migrate
        from layers.demo.loader import demo_loaded

        migrate.upgrade(settings)
        with psycopg.connect(settings.owner_dsn) as conn:
            register_layers(conn, catalog)
            if not demo_loaded(conn):
                print(f"loading the {args.scale} demo …", flush=True)
                load_demo(conn, catalog, args.scale, settings.data_dir, progress=lambda _: None)
            from app.orgs.service import seed_organisations

            seed_organisations(conn, Actor.system("bench"))
            if not conn.execute("SELECT 1 FROM auth.user WHERE username = 'bench-admin'").fetchone():
                users.create_user(
                    conn,
                    Actor.system("bench"),
                    users.UserCreate(
                        username="bench-admin",
                        role=Role.ADMIN,
                        org_code="gov-data",
                        password="Bench-pass-2026",
                    ),
                )
            versions = dict(
                conn.execute(
                    "SELECT code, current_version FROM basemap.layer WHERE current_version IS NOT NULL"
                ).fetchall()
            )
            counts = dict(
                conn.execute(
                    "SELECT l.code, v.feature_count FROM basemap.layer l JOIN basemap.layer_version v"
                    " ON v.id = l.current_version"
                ).fetchall()
            )
            extent = conn.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
                "ST_SetSRID(ST_Extent(v.extent), 4547), 4326)::box2d e FROM basemap.layer_version v) s"
            ).fetchone()
            assert extent is not None
        vector = [e for e in catalog.layers.values() if e.kind is not LayerKind.RASTER and e.code in versions]
        # Per zoom, the hardest single layer: the one with most features among those shown at that zoom.
        chosen = {
            z: max((e for e in vector if e.min_zoom <= z), key=lambda e: counts.get(e.code, 0)) for z in ZOOMS
        }
        ours_port, tipg_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": settings.owner_dsn,
            "DUOGUI_TILE_CACHE_MB": "0",
            "DUOGUI_DEMO_SCALE": "none",
            "DUOGUI_DATA_DIR": str(settings.data_dir),
            "DUOGUI_POOL_MAX_SIZE": "4",
        }
        procs.append(
            subprocess.Popen(
                # Like tipg below (--log-level warning): no access log line per request.
                [str(ROOT / ".venv/bin/duogui"), "serve", "--port", str(ours_port), "--no-access-log"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        params = conninfo_to_dict(settings.owner_dsn)
        tables = sorted(f"basemap.f_{versions[e.code]}" for e in vector)
        tipg_env = {
            **os.environ,
            # asyncpg takes a Unix-socket directory as a percent-encoded host.
            "DATABASE_URL": f"postgresql://{params['user']}@{quote(params['host'], safe='')}:{params['port']}"
            f"/{params['dbname']}",
            "TIPG_DB_SCHEMAS": json.dumps(["basemap"]),
            "TIPG_DB_TABLES": json.dumps(tables),
            "DB_MAX_CONN_SIZE": "4",
        }
        procs.append(
            subprocess.Popen(
                [str(TIPG / "uvicorn"), "tipg.main:app", "--port", str(tipg_port), "--log-level", "warning"],
                env=tipg_env,
                cwd="/tmp",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        token_req = urllib.request.Request(
            f"http://127.0.0.1:{ours_port}/api/auth/token",
            data=b"username=bench-admin&password=Bench-pass-2026",
            method="POST",
        )
        wait_for(f"http://127.0.0.1:{ours_port}/api/health", {})
        with urllib.request.urlopen(token_req) as r:
            ours_headers = {"Authorization": "Bearer " + json.load(r)["access_token"]}
        wait_for(f"http://127.0.0.1:{tipg_port}/collections", {})
        rng = np.random.default_rng(42)
        # Random points inside the loaded data's extent (the whole district at district/full scale).
        lon = rng.uniform(extent[0], extent[2], args.tiles)
        lat = rng.uniform(extent[1], extent[3], args.tiles)
        head = f"{'zoom':>4} {'layer':<22} {'server':<7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        print(head + f" {'mean KB':>8}")
        for z in ZOOMS:
            entry = chosen[z]
            table = f"basemap.f_{versions[entry.code]}"
            tiles = [lonlat_to_tile(a, b, z) for a, b in zip(lon, lat, strict=True)]
            ours, theirs = [], []
            for i, (x, y) in enumerate(tiles):
                # Tile by tile, alternating who asks first: the first request warms the database's buffers
                # for the second, so neither server always meets the colder cache.
                mine = f"http://127.0.0.1:{ours_port}/tiles/{entry.code}/{z}/{x}/{y}.mvt"
                tipg = f"http://127.0.0.1:{tipg_port}/collections/{table}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                if i % 2 == 0:
                    ours.append(fetch(mine, ours_headers))
                    theirs.append(fetch(tipg, {}))
                else:
                    theirs.append(fetch(tipg, {}))
                    ours.append(fetch(mine, ours_headers))
            a, b = stats(ours), stats(theirs)
            f = floor(settings.owner_dsn, [TileLayer(entry, versions[entry.code])], z, tiles)
            print(f"{z:>4} {entry.code:<22} {'duogui':<7} {a[0]:8.1f} {a[1]:8.1f} {a[2]:8.1f} {a[3]:8.1f}")
            print(f"{'':>4} {'':<22} {'db only':<7} {f[0]:8.1f} {f[1]:8.1f} {f[2]:8.1f} {f[3]:8.1f}")
            print(
                f"{'':>4} {'':<22} {'tipg':<7} {b[0]:8.1f} {b[1]:8.1f} {b[2]:8.1f} {b[3]:8.1f}"
                f"   p50 ratio {a[0] / b[0]:.2f}x"
            )
        eco = ",".join(e.code for e in vector if e.group == "06")
        for z in (8, 9, 10, 11):
            tiles = [lonlat_to_tile(a, b, z) for a, b in zip(lon, lat, strict=True)]
            composite = [
                fetch(f"http://127.0.0.1:{ours_port}/tiles/{eco}/{z}/{x}/{y}.mvt", ours_headers)
                for x, y in tiles
            ]
            c = stats(composite)
            print(
                f"{z:>4} {'ecology (group 06)':<22} {'duogui':<7} {c[0]:8.1f} {c[1]:8.1f} {c[2]:8.1f}"
                f" {c[3]:8.1f}"
            )
        composite_vs_sum(ours_port, ours_headers, tipg_port, vector, versions, lon, lat)
        cache_hit_throughput(env, ours_headers, chosen[14], versions)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        if name is not None:
            drop_database(name)


if __name__ == "__main__":
    main()
