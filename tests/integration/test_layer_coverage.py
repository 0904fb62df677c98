"""Layer coverage: "not checkable" means no data there, not "no feature there" (hand-made world).

EPSG:4547 metres from the origin of tests/preeval_world.py:

    sp_parcel            P education (GIC5) [2000,2200]×[0,150], unbuilt; Q housing (R2) [2200,2400]×[0,150]
    tsp_basic_farmland   far away: [5000,5100]×[0,100] (its data covers the district, as every default)
    heritage_buried      K not surveyed [0,50]×[0,50], a partial survey imported through the API with the
                         coverage polygon COVERAGE (a diagonal east edge from (2300,-500) to (1900,500))
    (no other layer has data: e.g. tsp_eco_redline is not checkable, "图层无数据")
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer

from app.auth.policy import Role
from tests.conftest import DemoEnv
from tests.preeval_world import WX0, WY0, box, build_world, geojson

COVERAGE = shapely.Polygon(
    [(WX0 + x, WY0 + y) for x, y in [(-500, -500), (2300, -500), (1900, 500), (-500, 500)]]
)
SITES = {
    "school": box(2010, 10, 2060, 80),  # in P, inside COVERAGE (the diagonal is at x ≥ 2068 for y ≤ 80)
    "straddling": box(2050, 20, 2150, 120),  # across the diagonal
    "outside": box(2400, 20, 2450, 70),  # east of the diagonal
}
TO_STORAGE = Transformer.from_crs(4326, 4547, always_xy=True)


def _frames() -> dict[str, gpd.GeoDataFrame]:
    return {
        "sp_parcel": gpd.GeoDataFrame(
            {
                "parcel_code": ["P", "Q"],
                "plan_code": ["LG00-70"] * 2,
                "land_use": ["GIC5", "R2"],
                "area": [30_000.0, 30_000.0],
            },
            geometry=[box(2000, 0, 2200, 150), box(2200, 0, 2400, 150)],
            crs=4547,
        ),
        "tsp_basic_farmland": gpd.GeoDataFrame(
            {"tb_code": ["F"], "land_class": ["0101"]}, geometry=[box(5000, 0, 5100, 100)], crs=4547
        ),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnv]:
    """The world, with heritage_buried imported through the API with its coverage polygon."""
    folder = tmp_path_factory.mktemp("coverage")
    for env in build_world(folder, _frames()):
        planner = env.account(Role.PLANNER)
        r = _import(env, planner.headers, folder, area=COVERAGE)
        assert r.status_code == 201, r.text
        yield env


def _import(
    env: DemoEnv, headers: dict[str, str], folder: Path, area: shapely.Geometry | None = None, **form: Any
) -> Any:
    buried = gpd.GeoDataFrame(
        {"name": ["甲埋藏区"], "surveyed": ["not_surveyed"]}, geometry=[box(0, 0, 50, 50)], crs=4547
    )
    path = folder / "buried.gpkg"
    buried.to_file(path, driver="GPKG")
    files: dict[str, Any] = {"file": (path.name, path.read_bytes())}
    if area is not None:
        cover = folder / "coverage.gpkg"
        gpd.GeoDataFrame({"name": ["普查范围"]}, geometry=[area], crs=4547).to_file(cover, driver="GPKG")
        files["coverage_file"] = (cover.name, cover.read_bytes())
    return env.client.post("/api/layers/heritage_buried/versions", headers=headers, files=files, data=form)


def _check(world: DemoEnv, site: str, project_type: str = "school") -> dict[str, Any]:
    unit = world.account(Role.PROJECT_UNIT, "works")
    body = {"footprint": geojson(SITES[site]), "project_type": project_type}
    r = world.client.post("/api/pre-evaluations", headers=unit.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()["report"]  # type: ignore[no-any-return]


def _not_checkable(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["layer"]: n for n in report["not_checkable"]}


def test_a_layer_covering_the_site_with_no_feature_there_is_checked(world: DemoEnv) -> None:
    report = _check(world, "school")
    missing = _not_checkable(report)
    # Basic farmland has data (elsewhere) covering the district: checked, no conflict.
    assert "tsp_basic_farmland" not in missing
    # The partial survey covers the site: checked too.
    assert "heritage_buried" not in missing
    # A layer without any data is not checkable, in both languages.
    assert missing["tsp_eco_redline"]["reason_code"] == "no_data"
    assert missing["tsp_eco_redline"]["reason_zh"] == "图层无数据"
    assert missing["tsp_eco_redline"]["reason_en"] == "the layer has no data"


def test_a_school_inside_an_unbuilt_education_parcel_passes(world: DemoEnv) -> None:
    report = _check(world, "school")
    # The planned use (GIC5) matches the project type: compatible, no plan adjustment.
    assert [f for f in report["findings"] if f["layer"] == "sp_parcel"] == []
    assert report["verdict"] == "通过" and report["verdict_en"] == "approved"


def test_a_site_straddling_the_coverage_is_not_checkable_for_the_uncovered_part(world: DemoEnv) -> None:
    report = _check(world, "straddling")
    entry = _not_checkable(report)["heritage_buried"]
    site = SITES["straddling"]
    # The footprint as the engine reads it (through CRS84), cut by the coverage polygon, with shapely.
    lonlat = shapely.geometry.shape(geojson(site))
    as_read = shapely.transform(lonlat, lambda x, y: TO_STORAGE.transform(x, y), interleaved=False)
    uncovered = as_read.difference(COVERAGE).area
    assert uncovered == pytest.approx(site.difference(COVERAGE).area, abs=0.01)
    assert 1000 < uncovered < site.area - 1000  # really straddling
    assert entry["reason_code"] == "partly_outside_coverage"
    assert entry["uncovered_m2"] == pytest.approx(uncovered, abs=0.01)
    assert entry["uncovered_share_pct"] == pytest.approx(100 * uncovered / site.area, abs=0.001)
    assert 0 < entry["uncovered_share_pct"] < 100
    area = f"{uncovered:,.2f} m²"
    assert area in entry["reason_zh"] and "无法评价" in entry["reason_zh"]
    assert area in entry["reason_en"] and "cannot be checked" in entry["reason_en"]


def test_a_site_outside_the_coverage_is_not_checkable(world: DemoEnv) -> None:
    entry = _not_checkable(_check(world, "outside"))["heritage_buried"]
    assert entry["reason_code"] == "outside_coverage"
    assert entry["reason_zh"] == "图层数据未覆盖用地范围"
    assert entry["reason_en"] == "the layer does not cover the footprint"
    assert entry["uncovered_m2"] is None


def test_the_version_shows_its_coverage(world: DemoEnv) -> None:
    planner = world.account(Role.PLANNER)
    versions = world.client.get("/api/layers/heritage_buried/versions", headers=planner.headers).json()
    assert versions[0]["coverage_source"] == "declared"
    assert versions[0]["coverage_area_m2"] == pytest.approx(COVERAGE.area, rel=1e-6)
    farmland = world.client.get("/api/layers/tsp_basic_farmland/versions", headers=planner.headers).json()
    assert farmland[0]["coverage_source"] == "district"
    assert farmland[0]["coverage"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    "form_or_file",
    [
        {"coverage": "somewhere"},
        {"coverage": "district", "with_file": True},
        {"line_file": True},
    ],
)
def test_bad_coverage_input_is_refused_and_nothing_is_written(
    world: DemoEnv, tmp_path: Path, form_or_file: dict[str, Any]
) -> None:
    planner = world.account(Role.PLANNER)
    before = world.client.get("/api/layers/heritage_buried/versions", headers=planner.headers).json()
    form = {k: v for k, v in form_or_file.items() if k == "coverage"}
    if form_or_file.get("line_file"):
        coverage: shapely.Geometry | None = shapely.LineString([(WX0, WY0), (WX0 + 100, WY0 + 100)])
    else:
        coverage = COVERAGE if form_or_file.get("with_file") else None
    r = _import(world, planner.headers, tmp_path, area=coverage, **form)
    assert r.status_code == 422, r.text
    assert r.json()["code"] in ("invalid_coverage", "empty_footprint")
    after = world.client.get("/api/layers/heritage_buried/versions", headers=planner.headers).json()
    assert after == before


def test_coverage_is_stored_once_per_version_by_the_migration_default(world: DemoEnv) -> None:
    import psycopg

    with psycopg.connect(world.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT ST_Area(coverage), ST_SRID(coverage) FROM basemap.layer_version v"
            " JOIN basemap.layer l ON l.current_version = v.id WHERE l.code = 'tsp_basic_farmland'"
        ).fetchone()
    assert row is not None and row[1] == 4547
    # The district box (114.05–114.40 E, 22.55–22.82 N) is about 36 km × 30 km.
    to_storage = Transformer.from_crs(4490, 4547, always_xy=True)
    edge = shapely.Polygon(
        [
            to_storage.transform(x, y)
            for x, y in [(114.05, 22.55), (114.40, 22.55), (114.40, 22.82), (114.05, 22.82)]
        ]
    )
    assert row[0] == pytest.approx(edge.area, rel=1e-4)
