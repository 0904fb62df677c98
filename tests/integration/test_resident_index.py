"""The check index held in memory: the same reports as the database path, and never a stale answer.

The identity test runs the `small` demo district (every layer) through both paths; the switch test
imports versions of the geopark layer, which no other test module touches, into the main test database.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from analysis import resident as resident_module
from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from analysis.engine import evaluate
from analysis.footprint import Footprint
from analysis.report import Report
from analysis.resident import ResidentIndex
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.load import import_path
from tests.conftest import DemoEnv

LAYER = "eco_geopark"
RULE = "eco_geopark.occupy"
X0, Y0 = 530_000.0, 2_511_000.0
TODAY = date(2026, 11, 29)


def _index(conn: psycopg.Connection[Any], budget_mb: int = 512) -> ResidentIndex:
    """A resident index reading through its own connections (as from the service's pool)."""
    dsn = conn.info.dsn
    password = conn.info.password
    return ResidentIndex(lambda: psycopg.connect(dsn, password=password, autocommit=True), budget_mb)


@pytest.fixture(autouse=True)
def _reload_only_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks ask for background reloads; these tests reload explicitly, one step at a time."""
    monkeypatch.setattr(resident_module, "REFRESH_INTERVAL_S", 1e9)


def _check(
    conn: psycopg.Connection[Any], geom: shapely.Geometry, project_type: str, resident: ResidentIndex | None
) -> Report:
    return evaluate(
        conn,
        Footprint(geom, float(geom.area)),
        project_type,
        plan=get_check_plan(),
        today=TODAY,
        resident=resident,
    )


def _footprints(conn: psycopg.Connection[Any], n: int) -> list[shapely.Geometry]:
    """Rotated rectangles and L-shapes of 1–40 ha with random centres inside the demo district."""
    row = conn.execute(
        "SELECT ST_AsBinary(ST_Union(f.geom)) FROM basemap.feature f JOIN basemap.layer l"
        " ON l.current_version = f.version_id WHERE l.code = 'admin_district'"
    ).fetchone()
    assert row and row[0]
    district = shapely.from_wkb(row[0])
    x0, y0, x1, y1 = district.bounds
    rng = np.random.default_rng(7)
    out: list[shapely.Geometry] = []
    while len(out) < n:
        w, h = rng.uniform(100, 650, size=2)
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        geom = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if len(out) % 3 == 2:  # an L: a quarter cut away
            geom = geom.difference(shapely.box(cx, cy, cx + w, cy + h))
        geom = shapely.affinity.rotate(geom, rng.uniform(0, 90))
        if district.contains(geom):
            out.append(geom)
    return out


def test_memory_and_database_paths_give_identical_reports(demo: DemoEnv) -> None:
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        resident = _index(conn)
        resident.refresh()
        snapshot = resident.snapshot
        assert resident.status == "ready" and snapshot is not None
        parts = conn.execute("SELECT count(*) FROM basemap.check_part").fetchone()
        layers = conn.execute("SELECT count(*) FROM basemap.check_state").fetchone()
        assert parts and layers and len(snapshot.parts) == parts[0] > 1000
        assert len(snapshot.versions) == layers[0]
        types = ["housing", "school", "road", "water_works", "industrial", "park"]
        findings = 0
        for i, geom in enumerate(_footprints(conn, 36)):
            project_type = types[i % len(types)]
            from_database = _check(conn, geom, project_type, None)
            from_memory = _check(conn, geom, project_type, resident)
            assert from_memory.model_dump() == from_database.model_dump(), f"footprint {i}"
            findings += len(from_memory.findings)
        # Not a vacuous comparison: the footprints meet plenty of features.
        assert findings > 100


def _import(conn: psycopg.Connection[Any], folder: Path, squares: list[shapely.Geometry], tag: str) -> None:
    frame = gpd.GeoDataFrame(
        {"name": [f"地质公园{i}" for i in range(len(squares))], "level": ["municipal"] * len(squares)},
        geometry=squares,
        crs=4547,
    )
    path = folder / f"geopark-{tag}.gpkg"
    frame.to_file(path, driver="GPKG")
    import_path(conn, get_catalog().get(LAYER), path, path.name, Actor.system("tests"))


def _current(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    row = conn.execute(
        "SELECT v.id, v.number FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version"
        " WHERE l.code = %s",
        (LAYER,),
    ).fetchone()
    assert row
    return row[0], row[1]


def _overlap(report: Report) -> float | None:
    finding = next((f for f in report.findings if f.rule_id == RULE), None)
    return finding.overlap_m2 if finding else None


def test_a_switched_layer_is_read_from_the_database_until_reloaded(
    settings: Settings, owner_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    footprint = shapely.box(X0, Y0, X0 + 200, Y0 + 100)
    # Version 1: a 100 m square half under the footprint (5,000 m²).
    _import(owner_conn, tmp_path, [shapely.box(X0 + 150, Y0, X0 + 250, Y0 + 100)], "a")
    catch_up(owner_conn, get_check_plan(), [LAYER])
    resident = _index(owner_conn)
    resident.refresh()
    first_id, first_number = _current(owner_conn)
    assert resident.snapshot is not None and resident.snapshot.versions[LAYER] == first_id
    report = _check(owner_conn, footprint, "housing", resident)
    assert _overlap(report) == pytest.approx(5000.0, rel=1e-12)
    assert report.layer_versions[LAYER] == first_number

    # Version 2 moves the square fully under the footprint; memory still holds version 1.
    _import(owner_conn, tmp_path, [shapely.box(X0 + 50, Y0, X0 + 150, Y0 + 100)], "b")
    second_id, second_number = _current(owner_conn)
    assert second_id != first_id and resident.snapshot.versions[LAYER] == first_id
    # Not caught up: read from the version tables.
    report = _check(owner_conn, footprint, "housing", resident)
    assert _overlap(report) == pytest.approx(10_000.0, rel=1e-12)
    assert report.layer_versions[LAYER] == second_number
    # Caught up, not reloaded: read from the check index in the database.
    catch_up(owner_conn, get_check_plan(), [LAYER])
    from_index = _check(owner_conn, footprint, "housing", resident)
    assert from_index.model_dump() == report.model_dump()
    # Reloaded: only the moved layer was read again, and memory gives the same report.
    before = resident.snapshot
    resident.refresh()
    after = resident.snapshot
    assert after is not None and after is not before and after.versions[LAYER] == second_id
    unchanged = [code for code in before.versions if code != LAYER]
    assert {code: after.versions[code] for code in unchanged} == {c: before.versions[c] for c in unchanged}
    parts = owner_conn.execute("SELECT count(*) FROM basemap.check_part").fetchone()
    assert parts and len(after.parts) == parts[0]
    assert _check(owner_conn, footprint, "housing", resident).model_dump() == report.model_dump()
    # A reload with nothing moved keeps the snapshot.
    resident.refresh()
    assert resident.snapshot is after


def test_a_check_that_meets_a_moved_layer_has_it_reloaded_in_the_background(
    owner_conn: psycopg.Connection[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resident_module, "REFRESH_INTERVAL_S", 0.0)
    footprint = shapely.box(X0 + 2000, Y0, X0 + 2200, Y0 + 100)
    _import(owner_conn, tmp_path, [shapely.box(X0 + 2100, Y0, X0 + 2300, Y0 + 100)], "c")
    catch_up(owner_conn, get_check_plan(), [LAYER])
    resident = _index(owner_conn)
    try:
        resident.refresh()
        _import(owner_conn, tmp_path, [shapely.box(X0 + 2150, Y0, X0 + 2350, Y0 + 100)], "d")
        catch_up(owner_conn, get_check_plan(), [LAYER])
        moved_to, _ = _current(owner_conn)
        report = _check(owner_conn, footprint, "housing", resident)  # asks for the reload
        assert _overlap(report) == pytest.approx(5000.0, rel=1e-12)
        deadline = time.monotonic() + 60
        while resident.snapshot is None or resident.snapshot.versions.get(LAYER) != moved_to:
            assert time.monotonic() < deadline, "the background reload did not happen"
            time.sleep(0.05)
        assert _check(owner_conn, footprint, "housing", resident).model_dump() == report.model_dump()
    finally:
        resident.close()


def test_over_the_memory_budget_checks_read_the_database(
    owner_conn: psycopg.Connection[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The check index holds at least this layer's parts, whatever ran before (its heap is never empty).
    _import(owner_conn, tmp_path, [shapely.box(X0 + 1000, Y0, X0 + 1200, Y0 + 200)], "budget")
    catch_up(owner_conn, get_check_plan(), [LAYER])
    off = _index(owner_conn, budget_mb=0)
    off.refresh()
    assert off.status == "off" and off.snapshot is None
    # A check index "larger" than 1 MB of budget: not loaded, and said so once.
    monkeypatch.setattr(resident_module, "MEMORY_PER_HEAP_BYTE", 1e9)
    small = _index(owner_conn, budget_mb=1)
    with caplog.at_level(logging.WARNING, logger="analysis.resident"):
        small.refresh()
        small.request_refresh()
    assert small.status == "off" and small.snapshot is None
    assert [r.getMessage() for r in caplog.records if "DUOGUI_CHECK_MEMORY_MB" in r.getMessage()]
    geom = shapely.box(X0 + 1000, Y0, X0 + 1100, Y0 + 100)
    assert _overlap(_check(owner_conn, geom, "housing", None)) == pytest.approx(10_000)
    assert (
        _check(owner_conn, geom, "housing", small).model_dump()
        == _check(owner_conn, geom, "housing", None).model_dump()
    )


def test_the_service_loads_the_index_in_the_background_and_reports_it(
    client: TestClient, owner_conn: psycopg.Connection[Any]
) -> None:
    deadline = time.monotonic() + 60
    while True:
        memory = client.get("/api/health").json()["check_index_memory"]
        if memory["status"] != "loading" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert memory["status"] == "ready", memory
    # Other tests switch layers; a reload (as a check that meets them asks for) holds them all.
    client.app.state.resident.refresh()  # type: ignore[attr-defined]
    memory = client.get("/api/health").json()["check_index_memory"]
    layers = owner_conn.execute("SELECT count(*) FROM basemap.check_state").fetchone()
    parts = owner_conn.execute("SELECT count(*) FROM basemap.check_part").fetchone()
    assert layers and parts and (memory["layers"], memory["parts"]) == (layers[0], parts[0])


class _Recording:
    """A connection that notes the text of every statement run on it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query if isinstance(query, str | bytes) else query.as_string(self._conn)
        self.statements.append(text.decode() if isinstance(text, bytes) else text)
        return self._conn.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_compensation_from_memory_prices_like_the_database(preeval_world: DemoEnv) -> None:
    from tests.preeval_world import CANDIDATES

    with psycopg.connect(preeval_world.settings.owner_dsn, autocommit=True) as conn:
        catch_up(conn, get_check_plan())
        resident = _index(conn)
        resident.refresh()
        assert resident.snapshot is not None
        fids, _ = resident.snapshot.anchors["cur_building"]
        assert len(fids) == 3  # B1, B2, B3
        recording = _Recording(conn)
        totals = {}
        for name, geom in CANDIDATES.items():
            database = _check(conn, geom, "housing", None)
            memory = _check(recording, geom, "housing", resident)  # type: ignore[arg-type]
            assert memory.model_dump() == database.model_dump(), name
            assert memory.demolition.compensation is not None
            totals[name] = memory.demolition.compensation.total_yuan
        # Hand-computed (tests/preeval_world.py): B1 1200 m² × 32,000; B2 800 m² and B3 600 m² × 11,000.
        assert totals == {"甲": 38_400_000.0, "乙": 0.0, "丙": 6_600_000.0, "丁": 8_800_000.0}
        # From memory: only the layer states were read from the database.
        assert not [s for s in recording.statements if "PointOnSurface" in s or "check_part" in s]


def test_a_check_runs_ahead_on_the_last_layer_states_and_waits_for_the_current_ones(demo: DemoEnv) -> None:
    """With every layer in memory, a check sends the state query and grades meanwhile: it runs no
    statement through psycopg, yet gives the database path's report; the connection stays usable."""
    with psycopg.connect(demo.settings.owner_dsn) as conn:  # not autocommit: a transaction is open
        resident = _index(conn)
        resident.refresh()
        footprints = _footprints(conn, 4)
        first = _check(conn, footprints[0], "housing", resident)  # nothing to run ahead on yet
        assert resident.last_states and resident.last_states.numbers == first.layer_versions
        recording = _Recording(conn)
        for i, geom in enumerate(footprints):
            ahead = _check(recording, geom, "school", resident)  # type: ignore[arg-type]
            assert recording.statements == [], f"footprint {i}"
            assert ahead.model_dump() == _check(conn, geom, "school", None).model_dump(), f"footprint {i}"
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
        conn.commit()
        # A connection whose transaction failed answers with that error, as the usual path would.
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            _check(conn, footprints[1], "school", resident)
        conn.rollback()
        again = _check(conn, footprints[1], "school", resident)
        assert again.model_dump() == _check(conn, footprints[1], "school", None).model_dump()
