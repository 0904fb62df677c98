"""Property: on the `small` demo, every finding's overlap and share over random footprints (1–20 ha and
~10 km²) equal an independent shapely computation from the features read through the OGC API, to 0.01 m²;
the prohibited and conditional areas are the areas of unions, and never more than the footprint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely

from analysis.checkplan import get_check_plan
from analysis.engine import evaluate
from analysis.footprint import Footprint
from analysis.report import Report
from app.auth.policy import Role
from layers.demo.core import scale_bounds
from tests.conftest import DemoEnv
from tests.figures_check import OgcFeatures, check_all, random_footprints


@pytest.fixture(scope="module")
def conn(demo: DemoEnv) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as connection:
        yield connection


def test_every_finding_agrees_with_shapely_over_random_footprints(
    demo: DemoEnv, conn: psycopg.Connection[Any]
) -> None:
    rng = np.random.default_rng(16)
    bounds = scale_bounds("small")
    footprints = random_footprints(rng, bounds, 200, (1e4, 2e5)) + random_footprints(
        rng, bounds, 4, (9e6, 1.1e7)
    )
    plan = get_check_plan()
    kinds = ["school", "housing", "road", "park"]

    def check(fp: shapely.Geometry) -> Report:
        kind = kinds[int(rng.integers(len(kinds)))]
        return evaluate(conn, Footprint(fp, float(fp.area)), kind, plan=plan, data_dir=demo.settings.data_dir)

    features = OgcFeatures(demo.client, demo.account(Role.PLANNER).headers, conn)
    checked, found = check_all(check, footprints, features)
    assert found == []
    # The footprints meet enough features for the property to mean something; nearly all are read
    # through the OGC API.
    assert checked > 1000 and len(features.cache) > 500
    assert len(features.unpublished) <= 2, features.unpublished
