"""Load: the `district` demo served to 50, 100 and 200 simultaneous users, measured per request type.

The users (``bench/load_locustfile.py``, run by locust in ``.venv-bench``) ask for map tiles 60 %,
pre-evaluations 25 %, layer and OGC reads 15 % (plus a reviewer's work queue, item transitions and
sign-ins), each waiting 0.5–1.5 s between requests, as people do. The server is a ``duogui serve``
process on this machine, as ``make run`` starts it. For each user count the script prints, over the
steady part of the run (after the ramp-up): requests per second, p50/p95/p99 per request type, the
5xx and 503 answers and the time-outs, the slowest 503, and the server's CPU use; then the targets of
the "hold under load" issue, met or not:

- at 100 users: no answer ≥ 500 and no time-out; throughput at 100 ≥ at 50; tile p95 ≤ 200 ms,
  pre-evaluation p95 ≤ 500 ms, sign-in p95 ≤ 500 ms;
- at 200 users: every answer that is not served is a 503 given within the pool timeout + 1 s.

    .venv/bin/python bench/load.py [--reuse duogui_load] [--users 50,100,200] [--seconds 60]

The database (default ``duogui_load`` on the project's cluster) gets the `district` demo the first time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.checkindex import catch_up  # noqa: E402
from analysis.checkplan import get_check_plan  # noqa: E402
from app import bootstrap, migrate  # noqa: E402
from app.auth import users  # noqa: E402
from app.auth.passwords import hash_password  # noqa: E402
from app.auth.policy import Role  # noqa: E402
from app.orgs.service import seed_organisations  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.preevaluation import footprints  # noqa: E402
from bench.tiles_vs_tipg import free_port, wait_for  # noqa: E402
from layers.audit import Actor  # noqa: E402
from layers.catalog.model import get_catalog  # noqa: E402
from layers.demo.loader import demo_loaded, load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402

LOCUST = ROOT / ".venv-bench" / "bin" / "locust"
LOCUST_VERSION = "2.47.0"
PASSWORD = "Load-bench-2026"
TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)
# What planners overlay: a few screens of layers, as the map's layer tree composes them.
SCREENS = [
    ["admin_subdistrict", "cur_landuse"],
    ["tsp_eco_redline", "forest_land", "water_source_1", "water_source_2"],
    ["sp_parcel", "sp_facility", "admin_community"],
    ["cur_building", "cur_landuse", "tsp_eco_redline"],
    ["tsp_urban_boundary", "tsp_basic_farmland", "sp_parcel", "sp_road_redline"],
    ["pub_school", "pub_kindergarten", "pub_clinic", "cur_population"],
]
TYPES = ["tile", "pre-evaluation", "layer list", "layer detail", "ogc items", "identify", "item list", "item"]
TYPES += ["transition", "sign-in"]


def ensure_bench_venv() -> None:
    """Locust lives in its own venv (it brings gevent), like the other benches' peers."""
    if LOCUST.exists():
        return
    print("installing locust into .venv-bench …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(ROOT / ".venv-bench")], check=True)
    pip = ROOT / ".venv-bench" / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", f"locust=={LOCUST_VERSION}"], check=True)


def prepare_database(settings: Settings) -> None:
    """Migrate, load the district demo once, catch the check index up, and make the bench's accounts."""
    migrate.upgrade(settings)
    catalog = get_catalog()
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        register_layers(conn, catalog)
        seed_organisations(conn, Actor.system("bench"))
        if not demo_loaded(conn):
            print("loading the district demo (once) …", flush=True)
            load_demo(conn, catalog, "district", settings.data_dir, progress=lambda _: None)
        catch_up(conn, get_check_plan())
        departments = [
            r[0]
            for r in conn.execute(
                "SELECT code FROM auth.organisation WHERE kind = 'department' ORDER BY code"
            )
        ]
        wanted = [("load-unit", Role.PROJECT_UNIT, "works"), ("load-planner", Role.PLANNER, "pnr")]
        wanted += [(f"load-rev-{code}", Role.REVIEWER, code) for code in departments]
        for username, role, org in wanted:
            if conn.execute("SELECT 1 FROM auth.user WHERE username = %s", (username,)).fetchone():
                conn.execute(
                    "UPDATE auth.user SET password_hash = %s, must_change_password = false,"
                    " failed_attempts = 0, locked_until = NULL WHERE username = %s",
                    (hash_password(PASSWORD), username),
                )
                continue
            user, _ = users.create_user(
                conn,
                Actor.system("bench"),
                users.UserCreate(username=username, role=role, org_code=org, password=PASSWORD),
            )
            conn.execute("UPDATE auth.user SET must_change_password = false WHERE id = %s", (user.id,))


def call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    """One JSON request of the set-up; raise on anything but 2xx."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def sign_in(base: str, username: str) -> str:
    """A bearer token for a bench account."""
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    with urllib.request.urlopen(urllib.request.Request(base + "/api/auth/token", data=form), timeout=60) as r:
        token: str = json.load(r)["access_token"]
    return token


def reviewed_items(base: str, tokens: dict[str, Any], projects: int) -> list[dict[str, Any]]:
    """Register projects, plan them, submit every item and take each into review: the reviewers' work."""
    items: list[dict[str, Any]] = []
    stamp = time.strftime("%Y%m%d%H%M%S")
    for i in range(projects):
        body = {
            "name": f"负载测试项目 {stamp}-{i + 1}",
            "project_type": "house_building",
            "investment_wan": 5000,
            "funding_source": "区政府投资",
            "owner_dept_code": "housing",
        }
        project = call(base, "POST", "/api/projects", tokens["unit"], body)
        for item in call(base, "POST", f"/api/projects/{project['id']}/plan", tokens["unit"]):
            reviewer = tokens["reviewers"].get(item["department_code"])
            if item["department_id"] is None or reviewer is None:
                continue
            path = f"/api/items/{item['id']}/transitions"
            try:
                moved = call(
                    base, "POST", path, tokens["unit"], {"action": "submit", "version": item["version"]}
                )
                for action in ("accept", "start_review"):
                    moved = call(
                        base, "POST", path, reviewer, {"action": action, "version": moved["version"]}
                    )
            except urllib.error.HTTPError:  # an item that waits for another (prerequisites) stays out
                continue
            items.append({"id": item["id"], "department": item["department_code"]})
    return items


def tile_of(lon: float, lat: float, z: int) -> list[int]:
    """The XYZ (Web Mercator) tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
    return [z, x, y]


def load_plan(conn: psycopg.Connection[Any], seed: int = 7) -> dict[str, Any]:
    """Tiles, footprints, windows and points inside the district, and the layers that hold data."""
    rng = np.random.default_rng(seed)
    present = {
        r[0]
        for r in conn.execute(
            "SELECT l.code FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version"
            " WHERE v.feature_count > 0"
        )
    }
    screens = [",".join(c for c in screen if c in present) for screen in SCREENS]
    screens = [s for s in screens if s]
    sites = footprints(conn, 300, (10_000, 200_000), seed)
    centres = [TO_LONLAT.transform(*shapely.centroid(s).coords[0]) for s in sites]
    tiles = [tile_of(lon, lat, int(rng.integers(12, 17))) for lon, lat in centres]
    bboxes = [[lon - 0.004, lat - 0.003, lon + 0.004, lat + 0.003] for lon, lat in centres]
    geojson = [
        {
            "type": "Polygon",
            "coordinates": [[list(TO_LONLAT.transform(x, y)) for x, y in s.exterior.coords]],
        }
        for s in sites
    ]
    return {
        "screens": screens,
        "tiles": tiles,
        "footprints": geojson,
        "bboxes": bboxes,
        "points": centres,
        "layers": sorted(present & {c for screen in SCREENS for c in screen}),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_locust(base: str, plan_path: Path, users_n: int, seconds: int, ramp: int) -> list[dict[str, Any]]:
    """Run the users for ``seconds`` after a ``ramp``-second ramp-up; the steady part's requests."""
    log = Path(tempfile.mkstemp(prefix="duogui-load-", suffix=".jsonl")[1])
    env = {**os.environ, "DUOGUI_LOAD_PLAN": str(plan_path), "DUOGUI_LOAD_LOG": str(log)}
    started = time.time()
    subprocess.run(
        [
            str(LOCUST),
            "-f",
            str(ROOT / "bench" / "load_locustfile.py"),
            "--headless",
            "--only-summary",
            "--users",
            str(users_n),
            "--spawn-rate",
            str(max(1, users_n // ramp)),
            "--run-time",
            f"{ramp + seconds}s",
            "--stop-timeout",
            "35",
            "--host",
            base,
            "--loglevel",
            "ERROR",
        ],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    log.unlink()
    steady_from, steady_to = started + ramp, started + ramp + seconds
    return [r for r in records if steady_from <= r["t"] < steady_to]


def figures(records: list[dict[str, Any]], seconds: int) -> dict[str, dict[str, float]]:
    """Per request type (and all together): rate, percentiles, 5xx, 503s, time-outs, slowest 503."""
    out: dict[str, dict[str, float]] = {}
    for name in [*TYPES, "all"]:
        mine = [r for r in records if name == "all" or r["name"] == name]
        if not mine:
            continue
        ms = np.array([r["ms"] for r in mine])
        busy = [r["ms"] for r in mine if r["status"] == 503]
        out[name] = {
            "n": len(mine),
            "rps": len(mine) / seconds,
            "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)),
            "5xx": sum(1 for r in mine if r["status"] >= 500),
            "503": len(busy),
            "timeouts": sum(1 for r in mine if r["timeout"]),
            "slowest_503": max(busy, default=0.0),
        }
    return out


def print_table(users_n: int, table: dict[str, dict[str, float]], cpu: float, seconds: int) -> None:
    """One run's figures (``cpu``: the server's CPU seconds per second over the whole run)."""
    print(f"\n{users_n} users — {seconds} s steady; server CPU {cpu * 100:.0f} % of one core")
    print(f"  {'type':<15} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  5xx  503  t/o")
    for name, f in table.items():
        print(
            f"  {name:<15} {f['n']:>6.0f} {f['rps']:>7.1f} {f['p50']:>8.1f} {f['p95']:>8.1f} {f['p99']:>8.1f}"
            f" {f['5xx']:>4.0f} {f['503']:>4.0f} {f['timeouts']:>4.0f}"
        )


def verdicts(runs: dict[int, dict[str, dict[str, float]]], pool_timeout_s: float) -> list[tuple[str, bool]]:
    """The issue's targets, each with whether it holds in this run."""
    checks: list[tuple[str, bool]] = []
    if 100 in runs:
        at100 = runs[100]
        checks.append(
            ("100 users: no answer ≥ 500, no time-out", at100["all"]["5xx"] + at100["all"]["timeouts"] == 0)
        )
        for name, limit in (("tile", 200), ("pre-evaluation", 500), ("sign-in", 500)):
            if name in at100:
                checks.append((f"100 users: {name} p95 ≤ {limit} ms", at100[name]["p95"] <= limit))
        if 50 in runs:
            checks.append(("throughput at 100 ≥ at 50", at100["all"]["rps"] >= runs[50]["all"]["rps"]))
    if 200 in runs:
        at200 = runs[200]["all"]
        checks.append(("200 users: no time-out", at200["timeouts"] == 0))
        checks.append(("200 users: every 5xx is a 503", at200["5xx"] == at200["503"]))
        limit = (pool_timeout_s + 1) * 1000
        checks.append((f"200 users: every 503 within {limit:.0f} ms", at200["slowest_503"] <= limit))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reuse", default="duogui_load", help="database to use (the demo is loaded once)")
    parser.add_argument("--users", default="50,100,200", help="comma list of user counts")
    parser.add_argument("--seconds", type=int, default=60, help="steady seconds per user count")
    parser.add_argument("--ramp", type=int, default=10, help="ramp-up seconds (not counted)")
    parser.add_argument("--projects", type=int, default=6, help="projects whose items reviewers work on")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    ensure_bench_venv()
    settings = Settings(db_name=args.reuse)
    bootstrap.prepare_database(settings, quiet=True)
    prepare_database(settings)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.owner_dsn,
        "DUOGUI_DEMO_SCALE": "none",
        "DUOGUI_DATA_DIR": str(settings.data_dir),
    }
    command = [str(ROOT / ".venv/bin/duogui"), "serve", "--port", str(port), "--no-access-log"]
    server = subprocess.Popen([*command, "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/health", {})
        for _ in range(1200):
            with urllib.request.urlopen(f"{base}/api/health") as response:
                if json.load(response)["check_index_memory"]["status"] != "loading":
                    break
            time.sleep(0.1)
        names = ["load-unit", "load-planner"]
        with psycopg.connect(settings.owner_dsn) as conn:
            names += [
                r[0] for r in conn.execute("SELECT username FROM auth.user WHERE username LIKE 'load-rev-%'")
            ]
            plan = load_plan(conn)
        tokens: dict[str, Any] = {
            "unit": sign_in(base, "load-unit"),
            "planner": sign_in(base, "load-planner"),
        }
        tokens["reviewers"] = {n.removeprefix("load-rev-"): sign_in(base, n) for n in names[2:]}
        plan |= {"tokens": tokens, "accounts": [[n, PASSWORD] for n in names]}
        plan["items"] = reviewed_items(base, tokens, args.projects)
        plan_path = Path(tempfile.mkstemp(prefix="duogui-load-plan-", suffix=".json")[1])
        plan_path.write_text(json.dumps(plan))
        print(
            f"server: {args.workers} worker process(es), pool {settings.pool_max_size} connections each,"
            f" pool timeout {settings.pool_timeout_s:g} s; {len(plan['tiles'])} tiles"
            f" × {len(plan['screens'])} screens, {len(plan['footprints'])} footprints,"
            f" {len(plan['items'])} items in review"
        )
        runs: dict[int, dict[str, dict[str, float]]] = {}
        for users_n in (int(u) for u in args.users.split(",")):
            cpu_before, wall_before = cpu_seconds(server.pid), time.monotonic()
            records = run_locust(base, plan_path, users_n, args.seconds, args.ramp)
            cpu = (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - wall_before)
            runs[users_n] = figures(records, args.seconds)
            print_table(users_n, runs[users_n], cpu, args.seconds)
            time.sleep(5)  # let the last requests drain before the next count
        print("\ntargets:")
        for text, held in verdicts(runs, settings.pool_timeout_s):
            print(f"  {'✓' if held else '✗'} {text}")
        plan_path.unlink()
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
