"""Pre-evaluation known answers: hand-computed overlaps, edges, slivers, setbacks, not-checkable layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
import shapely.affinity
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_h
from hypothesis import strategies as st
from pyproj import Transformer

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from app.auth.policy import Role
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.load import import_path
from layers.store.coverage import Coverage

# A clear area in the south-east of the district, away from the other tests' layers.
X0, Y0 = (round(v, 3) for v in Transformer.from_crs(4326, 4547, always_xy=True).transform(114.33, 22.60))
TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    lonlat = shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)
    return shapely.geometry.mapping(lonlat)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def base(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """forest_land: a grade Ⅰ and a grade Ⅲ 100 m square; util_hv_line: a 110 kV overhead line."""
    import psycopg

    folder = tmp_path_factory.mktemp("preeval")
    forest = gpd.GeoDataFrame(
        {"xiaoban_code": ["A", "B"], "protection_grade": ["I", "III"], "land_type": ["0301", "0301"]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)],
        crs=4547,
    )
    line = gpd.GeoDataFrame(
        {"line_name": ["龙岗甲线"], "voltage_kv": ["110"], "laying": ["overhead"]},
        geometry=[shapely.LineString([(X0, Y0 + 400), (X0 + 1000, Y0 + 400)])],
        crs=4547,
    )
    buildings = gpd.GeoDataFrame(
        {
            "building_code": ["B1", "B2"],
            "floors": [3, 2],
            "structure": ["1", "2"],
            "use": ["residential"] * 2,
            "year_built": [1998, 2005],
            "households": [10, 5],
            "floor_area": [1200.0, 800.0],
        },
        geometry=[
            shapely.box(X0 + 60, Y0 + 10, X0 + 80, Y0 + 30),
            shapely.box(X0 + 120, Y0 + 10, X0 + 140, Y0 + 30),
        ],
        crs=4547,
    )
    with psycopg.connect(settings.owner_dsn) as conn:
        # The forest survey covers a 3 km × 2 km area around its squares (a partial survey): a site
        # beyond it is not checkable for forest land.
        survey = Coverage(
            "declared", wkb=shapely.to_wkb(shapely.box(X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 1000))
        )
        for code, frame in (("forest_land", forest), ("util_hv_line", line), ("cur_building", buildings)):
            path = Path(folder) / f"{code}.gpkg"
            frame.to_file(path, driver="GPKG")
            coverage = survey if code == "forest_land" else None
            import_path(
                conn, get_catalog().get(code), path, path.name, Actor.system("tests"), coverage=coverage
            )
        # Checks below read the footprint-check index (test_check_index covers the fallback path).
        catch_up(conn, get_check_plan(), ["forest_land", "util_hv_line", "cur_building"])


def _check(
    client: TestClient, headers: dict[str, str], geom: shapely.Geometry, project: str = "school"
) -> Any:
    r = client.post(
        "/api/pre-evaluations", headers=headers, json={"footprint": _geojson(geom), "project_type": project}
    )
    assert r.status_code == 201, r.text
    return r.json()["report"]


def _finding(report: dict[str, Any], rule: str) -> dict[str, Any] | None:
    return next((f for f in report["findings"] if f["rule_id"] == rule), None)


def test_half_over_grade_i_forest_is_prohibited_with_the_exact_area(
    base: None, client: TestClient, make_account: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    report = _check(client, unit.headers, shapely.box(X0 + 50, Y0, X0 + 150, Y0 + 100))
    finding = _finding(report, "forest_land.grade_i")
    assert finding is not None
    assert finding["overlap_m2"] == pytest.approx(5000, rel=1e-6)
    assert finding["share_pct"] == pytest.approx(50, rel=1e-6)
    assert finding["grade"] == "prohibited" and report["verdict"] == "不通过"
    assert [f["fid"] for f in finding["features"]] == [1]
    assert "Ⅰ级" in finding["message_zh"] and "5,000 m²" in finding["message_zh"]
    assert finding["legal_basis"] and finding["department"]
    assert report["footprint_area_m2"] == pytest.approx(10_000, rel=1e-6)
    # The buildable remainder is the half not on grade Ⅰ forest.
    assert report["buildable"]["area_m2"] == pytest.approx(5000, rel=1e-6)
    assert report["buildable"]["share_pct"] == pytest.approx(50, rel=1e-6)
    # Both buildings inside the footprint are to be demolished; without compensation zones, unpriced.
    compensation = report["demolition"].pop("compensation")
    assert compensation["total_yuan"] == 0 and [u["building_code"] for u in compensation["unpriced"]] == [
        "B1",
        "B2",
    ]
    assert report["demolition"] == {
        "buildings": 2,
        "floor_area_m2": 2000.0,
        "households": 15,
        "collective_land_m2": 0.0,
        "state_land_m2": 0.0,
    }
    demolition = _finding(report, "cur_building.demolition")
    assert demolition is not None and demolition["grade"] == "info"


def test_grade_iii_forest_is_conditional_and_triggers_the_forest_use_permit(
    base: None, client: TestClient, make_account: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    report = _check(client, unit.headers, shapely.box(X0 + 250, Y0 + 50, X0 + 350, Y0 + 150))
    finding = _finding(report, "forest_land.grade_ii_iv")
    assert finding is not None and finding["grade"] == "conditional"
    assert finding["overlap_m2"] == pytest.approx(2500, rel=1e-6)
    assert finding["approval_item"] == "使用林地审核同意书"
    # The coded grade reads as its label in each language.
    assert finding["message_zh"].startswith("占用Ⅲ级保护林地 2,500 m²（小班 ")
    assert finding["message_en"].startswith("Occupies 2,500 m² of protected forest land (Grade III); ")
    assert _finding(report, "forest_land.grade_i") is None
    assert report["verdict"] == "有条件通过"


def test_touching_an_edge_and_slivers_are_not_conflicts(
    base: None, client: TestClient, make_account: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    touching = _check(client, unit.headers, shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100))
    assert not [f for f in touching["findings"] if f["layer"] == "forest_land"]
    thin = _check(client, unit.headers, shapely.box(X0 + 99.9, Y0, X0 + 199.9, Y0 + 100))  # 0.1 m wide
    assert _finding(thin, "forest_land.grade_i") is None
    wider = _check(client, unit.headers, shapely.box(X0 + 99.5, Y0, X0 + 199.5, Y0 + 100))  # 0.5 m wide
    assert _finding(wider, "forest_land.grade_i")["overlap_m2"] == pytest.approx(50, rel=1e-6)  # type: ignore[index]


def test_setback_counts_at_exactly_the_distance(base: None, client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    at = _check(client, unit.headers, shapely.box(X0 + 400, Y0 + 290, X0 + 500, Y0 + 390))  # 10 m below
    finding = _finding(at, "util_hv_line.overhead_110kv")
    assert finding is not None and finding["distance_m"] == pytest.approx(10, abs=1e-6)
    assert finding["grade"] == "conditional"
    beyond = _check(client, unit.headers, shapely.box(X0 + 400, Y0 + 289, X0 + 500, Y0 + 389.5))  # 10.5 m
    assert _finding(beyond, "util_hv_line.overhead_110kv") is None


def test_layers_without_data_are_not_checkable(base: None, client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    report = _check(client, unit.headers, shapely.box(X0 + 50, Y0, X0 + 150, Y0 + 100))
    reasons = {n["layer"]: n["reason_zh"] for n in report["not_checkable"]}
    assert reasons["tsp_eco_redline"] == "图层无数据"
    outside = _check(client, unit.headers, shapely.box(X0 - 5000, Y0 - 3000, X0 - 4900, Y0 - 2900))
    assert {n["layer"]: n["reason_zh"] for n in outside["not_checkable"]}[
        "forest_land"
    ] == "图层数据未覆盖用地范围"
    assert report["layer_versions"]["forest_land"] >= 1 and report["rules_version"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"footprint": {"type": "Point", "coordinates": [114.3, 22.6]}, "project_type": "school"},
            "wrong_geometry_kind",
        ),
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [[[116.4, 39.9], [116.5, 39.9], [116.5, 40.0], [116.4, 39.9]]],
                },
                "project_type": "school",
            },
            "outside_district",
        ),
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [[[22.6, 114.3], [22.61, 114.3], [22.61, 114.31], [22.6, 114.3]]],
                },
                "project_type": "school",
            },
            "outside_district",
        ),
        (
            {"footprint": {"type": "FeatureCollection", "features": []}, "project_type": "school"},
            "empty_footprint",
        ),
        (
            {"footprint": {"type": "Polygon", "coordinates": "nonsense"}, "project_type": "school"},
            "invalid_footprint",
        ),
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [[[114.3, 22.6], [114.31, 22.6], [114.31, 22.61], [114.3, 22.6]]],
                },
                "project_type": "spaceport",
            },
            "unknown_project_type",
        ),
    ],
)
def test_bad_footprints_get_a_clear_422(
    body: dict[str, Any], code: str, client: TestClient, make_account: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    r = client.post("/api/pre-evaluations", headers=unit.headers, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code


def test_viewers_cannot_run_a_pre_evaluation(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.post(
        "/api/pre-evaluations",
        headers=viewer.headers,
        json={"footprint": _geojson(shapely.box(X0, Y0, X0 + 10, Y0 + 10)), "project_type": "school"},
    )
    assert r.status_code == 403


@settings_h(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    x=st.floats(min_value=-80, max_value=330),
    y=st.floats(min_value=-80, max_value=150),
    w=st.floats(min_value=5, max_value=200),
    h=st.floats(min_value=5, max_value=120),
    angle=st.floats(min_value=0, max_value=90),
)
def test_overlap_areas_agree_with_shapely(
    base: None, client: TestClient, make_account: Any, x: float, y: float, w: float, h: float, angle: float
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    footprint = shapely.affinity.rotate(shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h), angle)
    report = _check(client, unit.headers, footprint)
    # Independent computation on the footprint as the server received it (lon/lat round trip included).
    received = shapely.transform(
        shapely.geometry.shape(_geojson(footprint)),
        lambda a, b: Transformer.from_crs(4326, 4547, always_xy=True).transform(a, b),
        interleaved=False,
    )
    for rule, square in (
        ("forest_land.grade_i", shapely.box(X0, Y0, X0 + 100, Y0 + 100)),
        ("forest_land.grade_ii_iv", shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)),
    ):
        expected = shapely.intersection(square, received)
        finding = _finding(report, rule)
        sliver = expected.area < 1.0 or (expected.length > 0 and 2 * expected.area / expected.length < 0.2)
        if expected.is_empty or sliver:
            assert finding is None
        else:
            assert finding is not None
            assert finding["overlap_m2"] == pytest.approx(expected.area, rel=1e-9, abs=1e-9)


def test_reports_are_stored_reproducible_and_private_to_their_organisation(
    base: None, client: TestClient, make_account: Any, make_org: Any
) -> None:
    _, own_org = make_org(kind="project_unit")
    _, other_org = make_org(kind="project_unit")
    unit = make_account(Role.PROJECT_UNIT, own_org)
    other = make_account(Role.PROJECT_UNIT, other_org)
    body = {
        "footprint": _geojson(shapely.box(X0 + 50, Y0, X0 + 150, Y0 + 100)),
        "project_type": "school",
        "project_code": "2026-440307-83-01-000001",
    }
    first = client.post("/api/pre-evaluations", headers=unit.headers, json=body).json()
    second = client.post("/api/pre-evaluations", headers=unit.headers, json=body).json()
    assert first["id"] != second["id"] and first["report"] == second["report"]  # same versions, same report
    stored = client.get(f"/api/pre-evaluations/{first['id']}", headers=unit.headers)
    assert stored.status_code == 200 and stored.json()["report"] == first["report"]
    assert client.get(f"/api/pre-evaluations/{first['id']}", headers=other.headers).status_code == 404
    listed = client.get(
        "/api/pre-evaluations", params={"project_code": body["project_code"]}, headers=unit.headers
    ).json()
    assert [r["id"] for r in listed] == [second["id"], first["id"]] and listed[0]["verdict"] == "不通过"
    assert client.get("/api/pre-evaluations", headers=other.headers).json() == []
