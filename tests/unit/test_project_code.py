"""National project code: check character by hand, round trip, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import Unprocessable
from app.projects.code import check_character, make_code, validate_code
from app.projects.templates import instantiate, load_templates, topological_order


def test_check_character_known_answers() -> None:
    # ISO 7064 MOD 11,10 reference value (Croatian OIB 69435151530 uses the same system).
    assert check_character("6943515153") == "0"
    # By hand for 2025 440307 47 01 00001: running products p = 4 8 9 8 4 5 10 6 1 5 7 8 5 1 2 4 8 5 1,
    # check = (11 - 1) mod 10 = 0.
    assert check_character("2025440307470100001") == "0"


def test_code_round_trip_and_refusals() -> None:
    code = make_code(2025, "47", "01", 1)
    assert code == "2025-440307-47-01-000010" and len(code) == 24
    assert validate_code(code) == code
    for serial in (2, 123, 99999):
        assert validate_code(make_code(2026, "48", "03", serial)) is not None
    with pytest.raises(Unprocessable) as err:
        validate_code("2025-440307-47-01-000011")  # wrong check character
    assert err.value.code == "bad_project_code_check"
    # A transposition of adjacent digits is caught.
    with pytest.raises(Unprocessable):
        validate_code("2025-440307-74-01-000010")
    for bad in ("2025-440307-47-01-00001", "2025-440307-47-09-000010", "２０２５-440307-47-01-000010", ""):
        with pytest.raises(Unprocessable):
            validate_code(bad)


def test_every_template_is_a_dag_and_thresholds_drop_or_merge() -> None:
    templates = load_templates()
    assert {"house_building", "municipal_road", "water_works", "park_greening"} <= set(templates)
    for template in templates.values():
        order = topological_order({i.code: i.after for i in template.items})
        assert len(order) == len(template.items)
    house = templates["house_building"]
    big = {p.item.code: p for p in instantiate(house, Decimal(8000))}
    assert all(p.merged_into is None for p in big.values()) and len(big) == 14
    small = {p.item.code: p for p in instantiate(house, Decimal(800))}
    # Below 1000 万元 no energy review, below 5000 no stability assessment; below 3000 the proposal and the
    # feasibility study are merged into the preliminary design; the chain stays connected.
    assert "energy_review" not in small and "stability_assessment" not in small
    assert small["project_proposal"].merged_into == "preliminary_design"
    assert small["feasibility_study"].merged_into == "preliminary_design"
    assert small["land_planning_permit"].after == ["land_pre_review"]
    assert small["land_pre_review"].after == []
