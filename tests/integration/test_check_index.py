"""The footprint-check index: same answers as the version tables, catch-up after a switch, stale reports.

Uses the forest-park layer, which no other test module touches, around the middle of the district.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from app.auth.policy import Role
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.load import import_path

X0, Y0 = 521_000.0, 2_509_000.0
TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)
TO_STORAGE = Transformer.from_crs(4326, 4547, always_xy=True)
LAYER = "eco_forest_park"
RULE = "eco_forest_park.occupy"


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    lonlat = shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)
    return shapely.geometry.mapping(lonlat)  # type: ignore[no-any-return]


def _received(geom: shapely.Geometry) -> shapely.Geometry:
    """The footprint as the server sees it after the lon/lat round trip."""
    return shapely.transform(
        shapely.geometry.shape(_geojson(geom)),
        lambda a, b: TO_STORAGE.transform(a, b),
        interleaved=False,
    )


def _park(dx: float = 0.0) -> shapely.Geometry:
    """A round park of 300 m radius with 4,096 vertices (subdivided in the index) and a square hole."""
    disc = shapely.Point(X0 + dx, Y0).buffer(300, quad_segs=1024)
    return disc.difference(shapely.box(X0 - 50 + dx, Y0 - 50, X0 + 50 + dx, Y0 + 50))


FAR = shapely.box(X0 + 3000, Y0, X0 + 3200, Y0 + 200)


def _import(conn: psycopg.Connection[Any], folder: Path, dx: float) -> None:
    frame = gpd.GeoDataFrame(
        {"name": ["梧桐山森林公园", "远处公园"], "level": ["municipal", "municipal"]},
        geometry=[_park(dx), FAR],
        crs=4547,
    )
    path = folder / f"park-{dx}.gpkg"
    frame.to_file(path, driver="GPKG")
    import_path(conn, get_catalog().get(LAYER), path, path.name, Actor.system("tests"))


def _run(client: TestClient, headers: dict[str, str], geom: shapely.Geometry, code: str | None = None) -> Any:
    body: dict[str, Any] = {"footprint": _geojson(geom), "project_type": "housing"}
    if code:
        body["project_code"] = code
    r = client.post("/api/pre-evaluations", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _finding(report: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in report["findings"] if f["rule_id"] == RULE), None)


def _state(conn: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT s.version_id = l.current_version, s.parts FROM basemap.check_state s"
        " JOIN basemap.layer l ON l.code = s.layer_code WHERE s.layer_code = %s",
        (LAYER,),
    ).fetchone()


def test_index_and_version_tables_give_the_same_report(
    settings: Settings,
    client: TestClient,
    make_account: Any,
    owner_conn: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    _import(owner_conn, tmp_path, 0.0)
    state = _state(owner_conn)
    assert state is None or state[0] is False  # just switched: not in the index yet
    # A footprint across the rim and the hole of the park.
    footprint = shapely.box(X0 - 100, Y0 - 20, X0 + 400, Y0 + 180)
    expected = shapely.intersection(_park(), _received(footprint)).area
    from_tables = _run(client, unit.headers, footprint)["report"]

    catch_up(owner_conn, get_check_plan(), [LAYER])
    state = _state(owner_conn)
    assert state is not None and state[0] is True
    assert state[1] > 16  # 4,096 vertices in parts of at most 256, plus the far square
    from_index = _run(client, unit.headers, footprint)["report"]

    a, b = _finding(from_tables), _finding(from_index)
    assert a is not None and b is not None
    assert a["overlap_m2"] == pytest.approx(expected, rel=1e-9)
    assert b["overlap_m2"] == pytest.approx(expected, rel=1e-9)
    assert [h["fid"] for h in a["features"]] == [h["fid"] for h in b["features"]] == [1]
    assert from_tables["verdict"] == from_index["verdict"] == "有条件通过"
    assert from_tables["buildable"] == from_index["buildable"]
    # A second catch-up has nothing to do.
    assert catch_up(owner_conn, get_check_plan(), [LAYER]) == []


def test_a_layer_update_marks_met_reports_stale_and_a_recheck_shows_the_change(
    client: TestClient,
    make_account: Any,
    make_org: Any,
    owner_conn: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    _import(owner_conn, tmp_path, 0.0)
    catch_up(owner_conn, get_check_plan(), [LAYER])
    near = shapely.box(X0 + 200, Y0 - 100, X0 + 400, Y0 + 100)  # on the park's east rim
    far = shapely.box(X0 + 3050, Y0 + 50, X0 + 3100, Y0 + 100)  # inside the unchanged far park
    near_report = _run(client, unit.headers, near, "2026-440307-48-01-000001")
    far_report = _run(client, unit.headers, far, "2026-440307-48-01-000002")
    before = _finding(near_report["report"])
    assert before is not None

    # The park moves 50 m west: the near footprint's overlap changes, the far park is identical.
    _import(owner_conn, tmp_path, -50.0)
    switches = catch_up(owner_conn, get_check_plan(), [LAYER])
    assert [(s.layer, s.stale_reports) for s in switches] == [(LAYER, 1)]

    near_now = client.get(f"/api/pre-evaluations/{near_report['id']}", headers=unit.headers).json()
    far_now = client.get(f"/api/pre-evaluations/{far_report['id']}", headers=unit.headers).json()
    assert [(m["layer"], m["changed"]) for m in near_now["stale"]] == [(LAYER, 2)]
    assert near_now["stale"][0]["to_version"] == near_now["stale"][0]["from_version"] + 1
    assert far_now["stale"] == []
    listed = client.get("/api/pre-evaluations", headers=unit.headers).json()
    flags = {r["id"]: r["stale"] for r in listed}
    assert flags[near_report["id"]] is True and flags[far_report["id"]] is False

    r = client.post(f"/api/pre-evaluations/{near_report['id']}/recheck", headers=unit.headers)
    assert r.status_code == 201, r.text
    recheck = r.json()
    assert recheck["previous_id"] == near_report["id"]
    assert recheck["project_code"] == "2026-440307-48-01-000001"
    expected = shapely.intersection(_park(-50.0), _received(near)).area
    after = _finding(recheck["report"])
    assert after is not None and after["overlap_m2"] == pytest.approx(expected, rel=1e-9)
    changes = recheck["changes"]
    assert [(c["rule_id"], c["change"]) for c in changes["findings"]] == [(RULE, "changed")]
    assert changes["findings"][0]["overlap_m2_before"] == pytest.approx(before["overlap_m2"])
    assert changes["layer_versions"][LAYER][1] == changes["layer_versions"][LAYER][0] + 1
    assert recheck["stale"] == []

    # Another organisation's unit can neither read nor re-check the report.
    _, other_org = make_org(kind="project_unit")
    stranger = make_account(Role.PROJECT_UNIT, other_org)
    r = client.post(f"/api/pre-evaluations/{near_report['id']}/recheck", headers=stranger.headers)
    assert r.status_code == 404


class _CatchUpBetweenStatements:
    """A connection on which the index catches up with a new layer version between the engine's state
    query and its candidates query, as a catch-up in another process could."""

    def __init__(self, conn: psycopg.Connection[Any], between: Any) -> None:
        self._conn, self._between, self._calls = conn, between, 0

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        self._calls += 1
        if self._calls == 2:
            self._between()
        return self._conn.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_catch_up_during_a_check_does_not_mix_versions(
    settings: Settings, owner_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    from analysis.engine import evaluate
    from analysis.footprint import parse_footprint

    _import(owner_conn, tmp_path, 0.0)
    catch_up(owner_conn, get_check_plan(), [LAYER])
    footprint = parse_footprint(
        {
            "type": "Polygon",
            "coordinates": _geojson(shapely.box(X0 + 200, Y0 - 100, X0 + 400, Y0 + 100))["coordinates"],
        }
    )
    version = owner_conn.execute("SELECT current_version FROM basemap.layer WHERE code = %s", (LAYER,))
    recorded = version.fetchone()

    def move_the_park() -> None:  # on another connection, committed before the engine reads candidates
        _import(owner_conn, tmp_path, -50.0)
        catch_up(owner_conn, get_check_plan(), [LAYER])

    with psycopg.connect(settings.owner_dsn) as conn:
        raced = evaluate(
            _CatchUpBetweenStatements(conn, move_the_park),  # type: ignore[arg-type]
            footprint,
            "housing",
            plan=get_check_plan(),
        )
        now = evaluate(conn, footprint, "housing", plan=get_check_plan())
    state = _state(owner_conn)
    assert state is not None and state[0] is True  # the index did move on to the new version
    assert recorded is not None
    old_number, new_number = owner_conn.execute(
        "SELECT (SELECT number FROM basemap.layer_version WHERE id = %s),"
        " (SELECT v.number FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version"
        "  WHERE l.code = %s)",
        (recorded[0], LAYER),
    ).fetchone() or (None, None)
    # The raced report records the old version and measured the old park, not the moved one.
    assert raced.layer_versions[LAYER] == old_number and now.layer_versions[LAYER] == new_number
    a = next(f for f in raced.findings if f.rule_id == RULE)
    b = next(f for f in now.findings if f.rule_id == RULE)
    assert a.overlap_m2 == pytest.approx(shapely.intersection(_park(), footprint.geometry).area, rel=1e-9)
    assert b.overlap_m2 == pytest.approx(
        shapely.intersection(_park(-50.0), footprint.geometry).area, rel=1e-9
    )
    assert a.overlap_m2 != pytest.approx(b.overlap_m2)
