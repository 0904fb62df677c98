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
    # The zone rule's message carries the estimate of the zone it names (zone 1: B1; zone 3: B2 + B3).
    zone = next(f for f in report["findings"] if f["rule_id"] == "demo_compensation_zone.price")
    named = zone["features"][0]["attributes"]["zone_grade"]
    assert {"1": "38,400,000", "3": "15,400,000"}[named] in zone["message_zh"]
    assert "{cost_yuan" not in zone["message_zh"] + zone["message_en"]


def test_no_buildings_means_a_zero_estimate(preeval_world: DemoEnv) -> None:
    compensation = _report(preeval_world, box(250, 0, 350, 100))["demolition"]["compensation"]
    assert compensation["total_yuan"] == 0 and compensation["lines"] == [] and compensation["unpriced"] == []
