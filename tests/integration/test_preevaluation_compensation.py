"""Compensation estimate of the demolition scope: zone × ownership unit prices (known answers)."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.policy import Role
from tests.conftest import DemoEnv
from tests.preeval_world import box, geojson


def _report(world: DemoEnv, geom: Any) -> dict[str, Any]:
    unit = world.account(Role.PROJECT_UNIT, "works")
    r = world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(geom), "project_type": "school"},
    )
    assert r.status_code == 201, r.text
    return r.json()["report"]  # type: ignore[no-any-return]


def test_buildings_are_priced_by_zone_and_ownership(preeval_world: DemoEnv) -> None:
    # B1 (zone 1, state land), B2 and B3 (zone 3, collective land) all lie in [50,450]×[0,100].
    report = _report(preeval_world, box(50, 0, 450, 100))
    demolition = report["demolition"]
    assert (demolition["buildings"], demolition["households"], demolition["floor_area_m2"]) == (3, 19, 2600.0)
    compensation = demolition["compensation"]
    assert compensation["lines"] == [
        {
            "zone": "1",
            "owner_type": "state",
            "owner_type_zh": "国有",
            "buildings": 1,
            "floor_area_m2": 1200.0,
            "unit_price": 32000.0,
            "amount_yuan": 38_400_000.0,
        },
        {
            "zone": "3",
            "owner_type": "collective",
            "owner_type_zh": "集体",
            "buildings": 2,
            "floor_area_m2": 1400.0,
            "unit_price": 11000.0,
            "amount_yuan": 15_400_000.0,
        },
    ]
    assert compensation["total_yuan"] == 53_800_000.0
    assert compensation["unpriced"] == [] and compensation["unit"] == "元/m²"
    assert compensation["table_version"] == report["rules_version"] and compensation["source_zh"]
    # State land [50,130] and collective land [130,450], 100 m deep.
    assert demolition["state_land_m2"] == pytest.approx(8000, rel=1e-9)
    assert demolition["collective_land_m2"] == pytest.approx(32000, rel=1e-9)
    # Each zone's message carries the estimate of that zone (zone 1: B1; zone 3: B2 + B3); the finding
    # over both zones states the count, the area and the total estimate (38.4 M + 15.4 M).
    zone = next(f for f in report["findings"] if f["rule_id"] == "demo_compensation_zone.price")
    by_zone = {hit["attributes"]["zone_grade"]: hit for hit in zone["features"]}
    assert sorted(by_zone) == ["1", "3"]
    assert "38,400,000" in by_zone["1"]["message_zh"] and "38,400,000" in by_zone["1"]["message_en"]
    assert "15,400,000" in by_zone["3"]["message_zh"] and "15,400,000" in by_zone["3"]["message_en"]
    assert zone["message_zh"].startswith("涉及 2 处") and "合计 53,800,000 元" in zone["message_zh"]
    assert "53,800,000 yuan in all" in zone["message_en"]
    texts = [
        zone["message_zh"],
        zone["message_en"],
        *(h["message_zh"] + h["message_en"] for h in zone["features"]),
    ]
    assert not any("{cost_yuan" in text for text in texts)


def test_no_buildings_means_a_zero_estimate(preeval_world: DemoEnv) -> None:
    compensation = _report(preeval_world, box(250, 0, 350, 100))["demolition"]["compensation"]
    assert compensation["total_yuan"] == 0 and compensation["lines"] == [] and compensation["unpriced"] == []
