"""Figures that agree: a finding's overlap is the area of a union, never a sum (hand-computed answers).

A world of its own (EPSG:4547 metres from the origin of tests/preeval_world.py), built so that features of
one finding overlap each other and findings overlap each other:

    forest_land            F1 grade Ⅲ [0,100]×[0,100]     F2 grade Ⅲ [50,150]×[0,100]   (overlap [50,100])
                           F3 grade Ⅰ [300,400]×[0,100]   F4 grade Ⅰ [350,450]×[0,100]  (overlap [350,400])
    heritage_control_zone  H [0,75]×[0,100] (over F1 and part of F2)
    cur_supplied           S1 [600,630]×[0,50] 1,500 m²   S2 [640,680]×[0,50] 2,000 m²   S3 [750,850]×[0,40]
    trans_metro_protect    M [1000,1100]×[0,100], line 3号线, protection distance 50 m
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pytest

from app.auth.policy import Role
from tests.conftest import DemoEnv
from tests.preeval_world import box, build_world, geojson

SITES = {
    "conditional": box(25, 0, 175, 100),  # 15,000 m²
    "prohibited": box(325, 0, 475, 100),  # 15,000 m²
    "supplied": box(600, 0, 800, 100),  # 20,000 m²
    "metro": box(1000, 0, 1050, 100),  # 5,000 m², wholly in M
}


def _frames() -> dict[str, gpd.GeoDataFrame]:
    grades = ["III", "III", "I", "I"]
    forest = [box(0, 0, 100, 100), box(50, 0, 150, 100), box(300, 0, 400, 100), box(350, 0, 450, 100)]
    return {
        "forest_land": gpd.GeoDataFrame(
            {"xiaoban_code": ["F1", "F2", "F3", "F4"], "protection_grade": grades, "land_type": ["0301"] * 4},
            geometry=forest,
            crs=4547,
        ),
        "heritage_control_zone": gpd.GeoDataFrame(
            {"relic_name": ["鹤湖新居"], "height_limit": [24.0]}, geometry=[box(0, 0, 75, 100)], crs=4547
        ),
        "cur_supplied": gpd.GeoDataFrame(
            {"contract_no": ["HT-1", "HT-2", "HT-3"], "supply_mode": ["allocation"] * 3},
            geometry=[box(600, 0, 630, 50), box(640, 0, 680, 50), box(750, 0, 850, 40)],
            crs=4547,
        ),
        "trans_metro_protect": gpd.GeoDataFrame(
            {"line_name": ["3号线"], "distance": [50.0]}, geometry=[box(1000, 0, 1100, 100)], crs=4547
        ),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnv]:
    """The overlapping world, in its own database."""
    yield from build_world(tmp_path_factory.mktemp("figures"), _frames())


def _check(world: DemoEnv, site: str) -> tuple[dict[str, Any], dict[str, str]]:
    unit = world.account(Role.PROJECT_UNIT, "works")
    body = {"footprint": geojson(SITES[site]), "project_type": "school"}
    r = world.client.post("/api/pre-evaluations", headers=unit.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json(), unit.headers


def _finding(report: dict[str, Any], rule: str) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["rule_id"] == rule)


def test_two_overlapping_features_count_their_shared_part_once(world: DemoEnv) -> None:
    report = _check(world, "conditional")[0]["report"]
    forest = _finding(report, "forest_land.grade_ii_iv")
    # F1 ∩ site = [25,100] = 7,500 m², F2 ∩ site = [50,150] = 10,000 m²; their union [25,150] = 12,500 m²
    # (the sum, 17,500 m², would be 116.7 % of the site).
    assert sorted(h["overlap_m2"] for h in forest["features"]) == [pytest.approx(7500), pytest.approx(10000)]
    assert forest["overlap_m2"] == pytest.approx(12500, abs=0.01)
    assert forest["share_pct"] == pytest.approx(100 * 12500 / 15000, abs=1e-4)
    assert forest["message_zh"] == "涉及 2 处林地，合计 12,500 m²，需在用地预审前取得使用林地审核同意书"
    assert forest["message_en"].startswith("2 features of Forest land, 12,500 m² in all; forest-land use")
    # Each feature keeps its own figure in its own message.
    by_code = {h["attributes"]["xiaoban_code"]: h for h in forest["features"]}
    assert "7,500 m²" in by_code["F1"]["message_zh"] and "10,000 m²" in by_code["F2"]["message_zh"]
    assert "7,500 m²" in by_code["F1"]["message_en"] and "10,000 m²" in by_code["F2"]["message_en"]


def test_overlapping_prohibited_features_leave_the_rest_buildable(world: DemoEnv) -> None:
    report = _check(world, "prohibited")[0]["report"]
    forest = _finding(report, "forest_land.grade_i")
    # F3 ∩ site = [325,400] = 7,500, F4 ∩ site = [350,450] = 10,000; union [325,450] = 12,500 m².
    assert forest["overlap_m2"] == pytest.approx(12500, abs=0.01)
    assert forest["share_pct"] == pytest.approx(100 * 12500 / 15000, abs=1e-4)
    # The buildable remainder [450,475] = 2,500 m²: prohibited + buildable = the footprint.
    assert report["buildable"]["area_m2"] == pytest.approx(2500, abs=0.01)


def test_three_features_are_named_with_their_total_and_rows_carry_their_own_text(world: DemoEnv) -> None:
    stored, headers = _check(world, "supplied")
    supplied = _finding(stored["report"], "cur_supplied.recover")
    # S1 1,500 + S2 2,000 + S3 ∩ site [750,800]×[0,40] 2,000 = 5,500 m² (disjoint: union = sum).
    assert supplied["overlap_m2"] == pytest.approx(5500, abs=0.01)
    assert supplied["share_pct"] == pytest.approx(27.5, abs=1e-4)
    assert supplied["message_zh"] == "涉及 3 宗已供地，合计 5,500 m²，需协商收回土地使用权"
    assert (
        supplied["message_en"] == "3 features of Supplied land, 5,500 m² in all; recover the land-use rights"
    )
    r = world.client.get(f"/api/pre-evaluations/{stored['id']}/report.csv", headers=headers)
    rows = [
        row
        for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
        if row["规则代码"] == "cur_supplied.recover"
    ]
    texts = {row["要素编号"]: (float(row["重叠面积（m²）"]), row["说明"]) for row in rows}
    assert texts == {
        "1": (1500.0, "占用已供应土地 1,500 m²（合同 HT-1，划拨），需协商收回土地使用权"),
        "2": (2000.0, "占用已供应土地 2,000 m²（合同 HT-2，划拨），需协商收回土地使用权"),
        "3": (2000.0, "占用已供应土地 2,000 m²（合同 HT-3，划拨），需协商收回土地使用权"),
    }


def test_comparison_areas_are_union_areas(world: DemoEnv) -> None:
    unit = world.account(Role.PROJECT_UNIT, "works")
    body = {
        "project_type": "school",
        "candidates": [
            {"name": name, "footprint": geojson(SITES[name])} for name in ("conditional", "prohibited")
        ],
    }
    r = world.client.post("/api/pre-evaluations/compare", headers=unit.headers, json=body)
    assert r.status_code == 200, r.text
    rows = {c["name"]: c for c in r.json()["candidates"]}
    conditional = rows["conditional"]
    # Forest [25,150] (12,500) and heritage [25,75] (5,000, inside the forest part): 12,500 m² in all,
    # not 12,500 + 5,000 (and never the features' sum 17,500 + 5,000).
    assert conditional["conditional_area_m2"] == pytest.approx(12500, abs=0.01)
    assert {d["department"]: d["area_m2"] for d in conditional["conditional_by_department"]} == {
        "culture": pytest.approx(5000, abs=0.01),
        "forestry": pytest.approx(12500, abs=0.01),
    }
    prohibited = rows["prohibited"]
    assert prohibited["prohibited_area_m2"] == pytest.approx(12500, abs=0.01)
    assert prohibited["buildable_share_pct"] == pytest.approx(100 * 2500 / 15000, abs=1e-4)
    for row in rows.values():
        footprint = row["footprint_area_m2"]
        buildable = footprint * row["buildable_share_pct"] / 100
        assert row["prohibited_area_m2"] + buildable <= footprint + 0.01
        assert row["conditional_area_m2"] <= footprint + 0.01


def test_a_zones_own_distance_attribute_is_quoted_not_the_measured_distance(world: DemoEnv) -> None:
    report = _check(world, "metro")[0]["report"]
    metro = _finding(report, "trans_metro_protect.occupy")
    # The zone's protection distance (an attribute, 50 m), not the footprint's distance to it (0 m).
    assert metro["message_zh"] == "位于轨道交通安全保护区（3号线，50 m）内 5,000 m²，作业方案需经地铁集团同意"
    assert metro["overlap_m2"] == pytest.approx(5000, abs=0.01)
