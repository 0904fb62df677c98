"""Facility gap analysis speed on the demo district: ``GET /api/gaps`` cold (network built and answer
computed), computed on a stored network, and read back from the answer cache, per facility type.

``first s`` is the client's time of the first request, which in-process includes the background task that
writes the deficit layer's new version after the response; ``answer s`` is the route's own time for it
(``answer_ms``: what a browser waits for).

Loads the demo district (default ``district``) into a throwaway database, or reuses a migrated one that
holds it (``--reuse NAME``), and calls the route in-process as a planner.

    .venv/bin/python bench/gap_analysis.py [--scale district|small] [--reuse NAME] [--keep]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.standards.model import get_standards  # noqa: E402
from app import migrate  # noqa: E402
from app.auth import users  # noqa: E402
from app.auth.policy import Role  # noqa: E402
from app.main import create_app  # noqa: E402
from app.orgs.service import seed_organisations  # noqa: E402
from app.settings import Settings  # noqa: E402
from layers.audit import Actor  # noqa: E402
from layers.catalog.model import get_catalog  # noqa: E402
from layers.demo.loader import load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database, server_settings  # noqa: E402
from tests.helpers import sign_in  # noqa: E402

PASSWORD = "Bench-pass-2026"


def _database(args: argparse.Namespace) -> tuple[Settings, str, bool]:
    if args.reuse:
        from psycopg.conninfo import make_conninfo
        from pydantic import SecretStr

        base = server_settings()
        settings = Settings(
            environment="test",
            database_url=SecretStr(make_conninfo(base.owner_dsn, dbname=args.reuse)),
            app_database_url=SecretStr(make_conninfo(base.app_dsn, dbname=args.reuse)),
            demo_scale="none",
        )
        migrate.upgrade(settings)
        return settings, args.reuse, False
    settings, name = create_throwaway_database("duogui_gapbench")
    migrate.upgrade(settings)
    started = time.monotonic()
    with psycopg.connect(settings.owner_dsn) as conn:
        seed_organisations(conn, Actor.system("bench"))
        register_layers(conn, get_catalog())
        load_demo(conn, get_catalog(), args.scale, settings.data_dir, progress=lambda _: None)
    print(f"demo {args.scale} loaded in {time.monotonic() - started:.0f} s into {name}")
    return settings, name, True


def _timed(client: TestClient, headers: dict[str, str], **params: Any) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    r = client.get("/api/gaps", params=params, headers=headers)
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    return elapsed, r.json()


def main() -> None:
    """Print one row per facility type: cold, warm-network and cached answer times, and the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="district", choices=["district", "small"])
    parser.add_argument("--reuse", help="a migrated database that already holds the demo")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parser.parse_args()
    settings, name, created = _database(args)
    try:
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM gap.result")
            conn.execute("DELETE FROM gap.network")
            username = f"gapbench{uuid.uuid4().hex[:6]}"
            users.create_user(
                conn,
                Actor.system("bench"),
                users.UserCreate(username=username, role=Role.PLANNER, org_code="pnr", password=PASSWORD),
            )
        with TestClient(create_app(settings)) as client:
            headers = {"Authorization": f"Bearer {sign_in(client, username, PASSWORD)}"}
            print(
                f"{'facility':<26}{'first s':>9}{'answer s':>9}{'compute s':>10}{'cached s':>10}{'sd s':>7}"
                f"{'cells':>7}{'sites':>7}{'cand':>6}{'covered %':>10}{'shortfall':>12}{'MB':>6}"
            )
            for standard in get_standards().facilities:
                with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
                    conn.execute("DELETE FROM gap.result")
                first, body = _timed(client, headers, facility=standard.code)
                answered = body["answer_ms"] / 1000
                with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
                    conn.execute("DELETE FROM gap.result")
                compute, body = _timed(client, headers, facility=standard.code)
                cached, again = _timed(client, headers, facility=standard.code)
                assert again["cached"] and again["district"] == body["district"]
                sd = body["subdistricts"][0]["subdistrict"] or "buji"
                sd_s, _ = _timed(client, headers, facility=standard.code, subdistrict=sd)
                d = body["district"]
                size = len(str(body)) / 1e6
                print(
                    f"{standard.code:<26}{first:>9.2f}{answered:>9.2f}{compute:>10.2f}{cached:>10.2f}{sd_s:>7.2f}"
                    f"{sum(r['deficit_cells'] for r in body['subdistricts']):>7}{len(body['facilities']):>7}"
                    f"{len(body['candidates']):>6}{100 * d['covered'] / max(1, d['population']):>10.1f}"
                    f"{d['shortfall']:>12,.0f}{size:>6.1f}"
                )
            net = body["network"]
            print(
                f"network: {net['edge_count']:,} edges, {net['node_count']:,} nodes, "
                f"{net['length_km']:,.0f} km, built in {net['build_ms'] / 1000:.1f} s"
            )
    finally:
        if created and not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()
