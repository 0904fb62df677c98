"""Figures that agree: union areas, multi-feature messages and units said once (known answers)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely

from analysis.areas import SteepCells, conditional_area, union_area
from analysis.messages import consequence, summary_messages
from analysis.rules.loader import get_ruleset
from layers.catalog.model import get_catalog

SQUARE = shapely.box(0, 0, 100, 100)


def test_union_area_counts_shared_ground_once() -> None:
    # Two 100 × 100 squares sharing a 50 × 100 strip: 15,000 m², not 20,000.
    assert union_area([SQUARE, shapely.box(50, 0, 150, 100)]) == pytest.approx(15000)
    # A square inside another counts nothing more.
    assert union_area([SQUARE, shapely.box(10, 10, 20, 20)]) == pytest.approx(10000)
    # One geometry met by two rules is counted once.
    assert union_area([SQUARE, SQUARE]) == pytest.approx(10000)
    assert union_area([]) == 0.0
    # At most the limit (the footprint's area).
    assert union_area([SQUARE, shapely.box(50, 0, 150, 100)], 12000.0) == 12000.0


def test_union_area_of_a_tiling_is_its_sum_and_an_overlap_among_many_is_found() -> None:
    # A 10 × 10 grid of 10 m cells that share edges: exactly 10,000 m² (the pairs only touch).
    cells = [shapely.box(x, y, x + 10, y + 10) for x in range(0, 100, 10) for y in range(0, 100, 10)]
    assert union_area(cells) == pytest.approx(10000, abs=1e-9)
    # One more cell over the corner of two others shares 2 × 25 m²: 10,000 + 100 − 50.
    assert union_area([*cells, shapely.box(5, 0, 15, 10)]) == pytest.approx(10000, abs=1e-9)
    assert union_area([*cells, shapely.box(95, 95, 105, 105)]) == pytest.approx(10075, abs=1e-9)


def test_conditional_area_is_a_union_across_findings_and_departments() -> None:
    forest = [shapely.box(0, 0, 60, 100), shapely.box(40, 0, 100, 100)]  # 10,000 m² together
    heritage = [shapely.box(0, 0, 50, 100)]  # inside the forest's
    area = conditional_area({"forestry": forest, "culture": heritage}, None, 20000.0)
    assert area.area_m2 == pytest.approx(10000)
    assert area.by_department == {"culture": pytest.approx(5000), "forestry": pytest.approx(10000)}


def test_steep_cells_count_only_outside_the_vector_overlaps() -> None:
    # 10 m cells steep over x ∈ [0, 200): 20 columns × 10 rows, centres at 5, 15, …; [0,100] is forest.
    xs, ys = np.meshgrid(np.arange(5, 200, 10.0), np.arange(5, 100, 10.0))
    steep = SteepCells(np.column_stack([xs.ravel(), ys.ravel()]), 100.0, "pnr")
    area = conditional_area({"forestry": [SQUARE]}, steep, 40000.0)
    # Forest 10,000 m² + the 100 steep cells east of it (10,000 m²); pnr alone is all 200 cells.
    assert area.area_m2 == pytest.approx(20000)
    assert area.by_department == {"forestry": pytest.approx(10000), "pnr": pytest.approx(20000)}


@pytest.mark.parametrize(
    ("template", "separator", "expected"),
    [
        (
            "占用已供应土地 {area_m2:,.0f} m²（合同 {contract_no}，{supply_mode}），需协商收回土地使用权",
            "，",
            "需协商收回土地使用权",
        ),
        (
            "Occupies {area_m2:,.0f} m² of supplied land (contract {contract_no}); recover the rights",
            "; ",
            "recover the rights",
        ),
        ("现状地类 {land_class}，{area_m2:,.0f} m²", "，", None),  # the closing clause names a value
        ("位于城镇或乡村发展区 {area_m2:,.0f} m²", "，", None),  # no closing clause
    ],
)
def test_the_consequence_is_the_closing_clause_outside_brackets(
    template: str, separator: str, expected: str | None
) -> None:
    assert consequence(template, separator) == expected


def test_a_finding_over_several_features_states_its_count_and_total() -> None:
    ruleset = get_ruleset()
    rule = ruleset.rules["cur_supplied.recover"]
    entry = get_catalog().get("cur_supplied")
    zh, en = summary_messages(rule, entry, 3, 6709.4, 0.0)
    assert zh == "涉及 3 宗已供地，合计 6,709 m²，需协商收回土地使用权"
    assert en == "3 features of Supplied land, 6,709 m² in all; recover the land-use rights"
    tree = ruleset.rules["forest_ancient_tree.setback"]
    zh, en = summary_messages(tree, get_catalog().get(tree.layer), 2, None, 12.345)
    # Each layer counts features with its own measure word (宗 parcels, 棵 trees), 处 where none is declared.
    assert zh.startswith("涉及 2 棵古树名木") and "最近 12.3 m" in zh and "the nearest 12.3 m away" in en


def test_no_unit_is_said_twice_after_a_coded_value() -> None:
    """A coded number's label carries its unit ("110千伏", "110 kV"): no template repeats it after it."""
    catalog = get_catalog()
    doubled = []
    for rule in get_ruleset().rules.values():
        entry = catalog.layers.get(rule.layer)
        for attribute in entry.attributes if entry else []:
            # The unit of every label that is a number with a unit, in either language.
            units = {
                match.group(1)
                for code in attribute.codes or []
                for label in (code.label_zh, code.label_en)
                if (match := re.fullmatch(r"[\d.]+\s*(\D+)", label))
            }
            for template in (rule.message_zh, rule.message_en):
                for match in re.finditer(r"\{" + attribute.name + r"(?::[^}]*)?\}", template):
                    after = template[match.end() :].lstrip()
                    doubled += [(rule.id, unit) for unit in units if after.startswith(unit)]
    assert doubled == []
    # The case seen on the demo: the high-voltage corridor's voltage reads once.
    corridor = get_ruleset().rules["util_hv_corridor.other"]
    assert "{voltage_kv}，" in corridor.message_zh and "{voltage_kv});" in corridor.message_en
