"""Site comparison and batch checks on the hand-made world (known answers, deterministic ranking)."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.policy import Role
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, box, geojson

FOREST_PERMIT = "使用林地审核同意书"
EXPROPRIATION = "集体土地征收"
HOUSES = "房屋征收与补偿（征拆）"


def _compare(world: DemoEnv, names: list[str], **extra: Any) -> Any:
    unit = world.account(Role.PROJECT_UNIT, "works")
    body = {
        "project_type": "school",
        "candidates": [{"name": n, "footprint": geojson(CANDIDATES[n.rstrip("′")])} for n in names],
        **extra,
    }
    return world.client.post("/api/pre-evaluations/compare", headers=unit.headers, json=body)


def test_comparison_table_and_recommendation_order(preeval_world: DemoEnv) -> None:
    r = _compare(preeval_world, ["甲", "乙", "丙", "丁", "乙′"])
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {c["name"]: c for c in body["candidates"]}
    assert [c["name"] for c in body["candidates"]] == ["甲", "乙", "丙", "丁", "乙′"]  # as submitted
    # 甲: half on grade Ⅰ forest; B1 (10 households) on state land.
    assert rows["甲"]["verdict"] == "不通过"
    assert rows["甲"]["prohibited_area_m2"] == pytest.approx(5000, abs=1e-3)
    assert rows["甲"]["buildable_share_pct"] == pytest.approx(50, abs=1e-4)
    assert rows["甲"]["households"] == 10 and rows["甲"]["compensation_yuan"] == 38_400_000
    # 乙: 5000 m² grade Ⅲ forest, collective land, nothing to demolish.
    assert rows["乙"]["verdict"] == "有条件通过" and rows["乙"]["prohibited_area_m2"] == 0
    assert [(d["department"], d["area_m2"]) for d in rows["乙"]["conditional_by_department"]] == [
        ("forestry", pytest.approx(5000, abs=1e-3))
    ]
    assert rows["乙"]["approvals"] == sorted([FOREST_PERMIT, EXPROPRIATION])
    assert rows["乙"]["households"] == 0 and rows["乙"]["buildable_share_pct"] == 100
    # 丙: 8000 m² in the heritage control zone (culture department); B3 with 4 households.
    assert [(d["department"], d["area_m2"]) for d in rows["丙"]["conditional_by_department"]] == [
        ("culture", pytest.approx(8000, abs=1e-3))
    ]
    assert (
        rows["丙"]["households"] == 4
        and len(rows["丙"]["approvals"]) == 3
        and HOUSES in rows["丙"]["approvals"]
    )
    # 丁: 5000 m² grade Ⅲ forest and B2 with 5 households.
    assert (
        rows["丁"]["conditional_area_m2"] == pytest.approx(5000, abs=1e-3) and rows["丁"]["households"] == 5
    )
    # Order: conditional before rejected; then fewer households; 乙′ ties 乙 exactly → submission order.
    assert body["recommendation"] == [1, 4, 2, 3, 0]
    assert [rows[n]["rank"] for n in ("乙", "乙′", "丙", "丁", "甲")] == [1, 2, 3, 4, 5]
    assert "推荐顺序" in body["ordering_rule_zh"] and body["ordering_rule_en"]
    # Every candidate's report is stored and can be opened.
    report_id = rows["丙"]["report_id"]
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    stored = preeval_world.client.get(f"/api/pre-evaluations/{report_id}", headers=unit.headers)
    assert stored.status_code == 200 and stored.json()["report"]["verdict"] == "有条件通过"


@pytest.mark.parametrize("names", [["甲"], ["甲", "乙", "丙", "丁", "乙′", "丙′"]])
def test_comparison_needs_two_to_five_candidates(preeval_world: DemoEnv, names: list[str]) -> None:
    r = _compare(preeval_world, names)
    assert r.status_code == 422 and r.json()["code"] == "candidate_count"
    assert "2–5" in r.json()["message_zh"]


def test_a_refused_candidate_is_named(preeval_world: DemoEnv) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    body = {
        "project_type": "school",
        "candidates": [
            {"name": "甲", "footprint": geojson(CANDIDATES["甲"])},
            {
                "name": "北京",
                "footprint": geojson(box(0, 0, 10, 10))
                | {"coordinates": [[[116.4, 39.9], [116.5, 39.9], [116.5, 40.0], [116.4, 39.9]]]},
            },
        ],
    }
    r = preeval_world.client.post(
        "/api/pre-evaluations/compare", headers={**unit.headers, "Accept-Language": "en"}, json=body
    )
    assert r.status_code == 422 and r.json()["code"] == "outside_district"
    assert r.json()["detail"].startswith("Candidate '北京'") and r.json()["message_zh"].startswith(
        "方案“北京”"
    )


def _collection(geoms: list[Any]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": f"F{i}"}, "geometry": geojson(g)}
            for i, g in enumerate(geoms)
        ],
    }


def test_batch_answers_one_summary_per_feature(preeval_world: DemoEnv) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    point = {
        "type": "Feature",
        "properties": {"name": "P"},
        "geometry": {"type": "Point", "coordinates": [114.22, 22.72]},
    }
    collection = _collection([CANDIDATES["甲"], CANDIDATES["乙"], CANDIDATES["丙"]])
    collection["features"].insert(1, point)
    r = preeval_world.client.post(
        "/api/pre-evaluations/batch",
        headers=unit.headers,
        json={"project_type": "school", "footprints": collection},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["count"], body["checked"], body["failed"]) == (4, 3, 1)
    items = body["items"]
    assert [i["index"] for i in items] == [0, 1, 2, 3] and [i["name"] for i in items] == [
        "F0",
        "P",
        "F1",
        "F2",
    ]
    assert items[1]["summary"] is None and items[1]["error"]["code"] == "wrong_geometry_kind"
    assert items[0]["summary"]["verdict"] == "不通过"
    assert items[0]["summary"]["prohibited_area_m2"] == pytest.approx(5000, abs=1e-3)
    assert items[2]["summary"]["verdict"] == "有条件通过" and items[3]["summary"]["households"] == 4
    assert all(i["summary"]["report_id"] for i in items if i["error"] is None)


def test_batch_limits_answer_clearly(preeval_world: DemoEnv) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    square = geojson(box(250, 0, 260, 10))
    many = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": square}] * 501,
    }
    r = preeval_world.client.post(
        "/api/pre-evaluations/batch",
        headers=unit.headers,
        json={"project_type": "school", "footprints": many},
    )
    assert (
        r.status_code == 413 and r.json()["code"] == "too_many_footprints" and "500" in r.json()["message_zh"]
    )
    empty = {"type": "FeatureCollection", "features": []}
    r = preeval_world.client.post(
        "/api/pre-evaluations/batch",
        headers={**unit.headers, "Accept-Language": "en"},
        json={"project_type": "school", "footprints": empty},
    )
    assert r.status_code == 422 and r.json()["detail"] == "The FeatureCollection is empty."


def test_a_batch_on_two_connections_answers_exactly_as_on_one(preeval_world: DemoEnv) -> None:
    """The helper thread checks every other footprint; results keep their order and their figures."""
    import psycopg

    from analysis.checkplan import get_check_plan
    from analysis.sites import SiteInput, evaluate_sites

    shapes = list(CANDIDATES.items()) * 2
    sites = [SiteInput(index=i, name=n, geojson=geojson(g)) for i, (n, g) in enumerate(shapes)]
    options: dict[str, Any] = {"plan": get_check_plan()}
    dsn = preeval_world.settings.owner_dsn
    with psycopg.connect(dsn, autocommit=True) as one, psycopg.connect(dsn, autocommit=True) as two:
        alone = evaluate_sites(one, sites, "school", **options)
        paired = evaluate_sites(one, sites, "school", helper=two, **options)
    assert len(paired) == len(sites) >= 4
    assert [r.site.name for r in paired] == [s.name for s in sites]
    for a, b in zip(alone, paired, strict=True):
        assert a.report is not None and b.report is not None
        assert a.report.model_dump() == b.report.model_dump()
