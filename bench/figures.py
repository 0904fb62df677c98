"""Figures that agree, at district scale: the property test of the pre-evaluation figures
(tests/integration/test_preevaluation_figures_property.py) on the `district` demo, too slow for the suite.

Checks random footprints (``--n`` of 1–20 ha, plus ``--large`` of ~10 km²) with the engine and compares every
finding's overlap and share, and the prohibited and conditional areas, with shapely's from the features read
through the OGC API (tests/figures_check.py), to 0.01 m². Prints what it checked and every disagreement.

    .venv/bin/python bench/figures.py [--n 300] [--large 5] [--reuse NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import shapely
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.checkindex import catch_up  # noqa: E402
from analysis.checkplan import get_check_plan  # noqa: E402
from analysis.engine import evaluate  # noqa: E402
from analysis.footprint import Footprint  # noqa: E402
from analysis.report import Report  # noqa: E402
from app import bootstrap, migrate  # noqa: E402
from app.auth import users  # noqa: E402
from app.auth.policy import Role  # noqa: E402
from app.main import create_app  # noqa: E402
from app.orgs.service import seed_organisations  # noqa: E402
from app.settings import Settings  # noqa: E402
from layers.audit import Actor  # noqa: E402
from layers.demo.core import scale_bounds  # noqa: E402
from layers.demo.loader import demo_loaded, load_demo  # noqa: E402
from layers.store.versions import register_layers  # noqa: E402
from tests.conftest import create_throwaway_database, drop_database  # noqa: E402
from tests.figures_check import OgcFeatures, check_all, random_footprints  # noqa: E402
from tests.helpers import sign_in  # noqa: E402

PASSWORD = "Bench-pass-2026"


def main() -> None:
    """Load (or reuse) the district demo, check the footprints, print what disagrees."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="random 1–20 ha footprints")
    parser.add_argument("--large", type=int, default=5, help="random ~10 km² footprints")
    parser.add_argument("--reuse", help="use (and keep) this database; loaded once if empty")
    args = parser.parse_args()
    plan = get_check_plan()
    if args.reuse:
        settings, name = Settings(db_name=args.reuse), None
        bootstrap.prepare_database(settings, quiet=True)
    else:
        settings, name = create_throwaway_database("duogui_figures")
    try:
        migrate.upgrade(settings)
        with psycopg.connect(settings.owner_dsn, autocommit=True, options="-c jit=off") as conn:
            register_layers(conn, plan.catalog)
            if not demo_loaded(conn):
                print("loading the district demo …", flush=True)
                load_demo(conn, plan.catalog, "district", settings.data_dir, progress=lambda _: None)
            seed_organisations(conn, Actor.system("bench"))
            catch_up(conn, plan)
            username = "bench-figures"
            if not conn.execute("SELECT 1 FROM auth.user WHERE username = %s", (username,)).fetchone():
                user = users.UserCreate(
                    username=username, role=Role.PLANNER, org_code="pnr", password=PASSWORD
                )
                users.create_user(conn, Actor.system("bench"), user)
            rng = np.random.default_rng(16)
            bounds = scale_bounds("district")
            footprints = random_footprints(rng, bounds, args.n, (1e4, 2e5))
            footprints += random_footprints(rng, bounds, args.large, (9e6, 1.1e7))

            def check(fp: shapely.Geometry) -> Report:
                return evaluate(
                    conn, Footprint(fp, float(fp.area)), "housing", plan=plan, data_dir=settings.data_dir
                )

            with TestClient(create_app(settings)) as client:
                token = sign_in(client, username, PASSWORD)
                features = OgcFeatures(client, {"Authorization": f"Bearer {token}"}, conn)
                started = time.perf_counter()
                checked, found = check_all(check, footprints, features)
            print(
                f"{len(footprints)} footprints ({args.n} of 1–20 ha, {args.large} of ~10 km²): "
                f"{checked:,} findings with an overlap checked against {len(features.cache):,} features "
                f"read through the OGC API (from the store, unpublished: {sorted(features.unpublished)}) "
                f"in {time.perf_counter() - started:.0f} s"
            )
            print(f"disagreements beyond 0.01 m²: {len(found)}")
            for problem in found[:50]:
                print("  " + problem)
    finally:
        if name:
            drop_database(name)


if __name__ == "__main__":
    main()
