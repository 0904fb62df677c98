"""Tests of the pre-evaluation rule set: packaged data, known verdicts and the loader's error reports."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.checkplan import CheckPlan
from analysis.rules.catalog_checks import COMPATIBILITY_ATTRIBUTE
from analysis.rules.loader import RULES_DIR, compatibility, get_ruleset, load_ruleset, rules_for_layer
from analysis.rules.model import RuleOutcome, RuleSet
from analysis.rules.schema import Compatibility, Grade, Rule, RuleKind, Stage
from layers.catalog import get_catalog


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return get_ruleset()


def _outcome(
    ruleset: RuleSet, layer: str, project_type: str, attributes: dict[str, Any], flags: tuple[str, ...] = ()
) -> RuleOutcome | None:
    """Return the most severe outcome of a layer's rules, as the engine will report it."""
    severity = list(Grade)
    outcomes = [
        outcome
        for rule in ruleset.rules_for_layer(layer)
        if (outcome := ruleset.evaluate(rule, project_type, attributes, flags)) is not None
    ]
    return min(outcomes, key=lambda outcome: severity.index(outcome.grade), default=None)


def _rule(ruleset: RuleSet, rule_id: str) -> Rule:
    return ruleset.rules[rule_id]


# --- the packaged rule set -------------------------------------------------------------------------


def test_packaged_ruleset_loads_without_errors() -> None:
    loaded = load_ruleset()
    assert [str(error) for error in loaded.errors] == []
    assert loaded.ok
    assert loaded.ruleset is not None
    assert loaded.ruleset.version == "2026.12.1"
    assert loaded.ruleset.settings.sliver_area_m2 == 1.0
    assert loaded.ruleset.settings.sliver_width_m == 0.2


def test_every_pre_evaluation_layer_has_a_rule(ruleset: RuleSet) -> None:
    covered = {rule.layer for rule in ruleset.rules.values()}
    missing = [layer.code for layer in get_catalog().pre_evaluation_layers() if layer.code not in covered]
    assert missing == []


def test_every_theme_file_contributes_rules() -> None:
    themes = {path.stem for path in RULES_DIR.glob("*.yaml") if not path.name.startswith("_")}
    assert themes >= {
        "ecology", "forest", "water", "farmland", "lines", "transport", "utilities", "heritage",
        "statutory_plan", "demolition", "geology", "general",
    }  # fmt: skip
    for theme in themes:
        document = yaml.safe_load((RULES_DIR / f"{theme}.yaml").read_text(encoding="utf-8"))
        assert document["rules"], theme


def test_rules_cite_a_law_and_conditional_rules_name_a_procedure(ruleset: RuleSet) -> None:
    for rule in ruleset.rules.values():
        assert all(basis.startswith("《") for basis in rule.legal_basis), rule.id
        if rule.grade is Grade.CONDITIONAL:
            assert rule.approval_item in ruleset.settings.approval_items, rule.id
        assert rule.department in ruleset.settings.departments, rule.id


def test_project_type_classes(ruleset: RuleSet) -> None:
    assert ruleset.in_class("industrial", "polluting")
    assert not ruleset.in_class("school", "polluting")
    assert ruleset.in_class("road", "linear_infrastructure")
    assert ruleset.in_class("metro", "linear_infrastructure")
    assert ruleset.in_class("water_supply", "water_supply_works")


def test_compensation_table_covers_every_zone(ruleset: RuleSet) -> None:
    table = ruleset.settings.compensation
    zones = get_catalog().get("demo_compensation_zone").attribute("zone_grade")
    assert zones is not None
    assert sorted(table.zones) == sorted(zones.code_values())
    assert set(table.owner_types.values()) == {"国有", "集体", "私人"}
    assert table.price("1", "state") > table.price("4", "state")


def test_rules_for_layer_keeps_file_order() -> None:
    assert [rule.id for rule in rules_for_layer("forest_land")] == [
        "forest_land.grade_i",
        "forest_land.grade_ii_iv",
    ]


# --- known answers ---------------------------------------------------------------------------------


def test_forest_grade_i_is_prohibited(ruleset: RuleSet) -> None:
    outcome = _outcome(ruleset, "forest_land", "school", {"protection_grade": "I"})
    assert outcome is not None
    assert outcome.grade is Grade.PROHIBITED
    assert outcome.rule_id == "forest_land.grade_i"


def test_forest_grade_iii_needs_forest_permit_before_land_pre_review(ruleset: RuleSet) -> None:
    outcome = _outcome(ruleset, "forest_land", "school", {"protection_grade": "III"})
    assert outcome is not None
    assert outcome.grade is Grade.CONDITIONAL
    assert outcome.department == "forestry"
    item = outcome.approval_item
    assert item is not None
    assert item.name_zh == "使用林地审核同意书"
    assert item.stage is Stage.PROJECT_LAND
    assert item.before is not None
    assert ruleset.settings.approval_items[item.before].name_zh == "用地预审与选址意见书"


def test_missing_attribute_is_judged_as_the_worst_case(ruleset: RuleSet) -> None:
    outcome = _outcome(ruleset, "forest_land", "park", {})
    assert outcome is not None
    assert outcome.grade is Grade.PROHIBITED


def test_water_source_1_allows_only_water_supply_works(ruleset: RuleSet) -> None:
    supply = _outcome(ruleset, "water_source_1", "water_supply", {"level": "1"})
    assert supply is not None
    assert supply.grade is Grade.CONDITIONAL
    assert supply.exception_id == "water_supply_works"
    school = _outcome(ruleset, "water_source_1", "school", {"level": "1"})
    assert school is not None
    assert school.grade is Grade.PROHIBITED


def test_water_source_2_prohibits_polluting_projects_only(ruleset: RuleSet) -> None:
    industrial = _outcome(ruleset, "water_source_2", "industrial", {})
    assert industrial is not None
    assert industrial.grade is Grade.PROHIBITED
    school = _outcome(ruleset, "water_source_2", "school", {})
    assert school is not None
    assert school.grade is Grade.CONDITIONAL
    assert school.department == "eco-env"


def test_water_source_q_is_advisory_for_clean_projects(ruleset: RuleSet) -> None:
    outcome = _outcome(ruleset, "water_source_q", "school", {})
    assert outcome is not None
    assert outcome.grade is Grade.ADVISORY


def test_eco_red_line_allows_linear_infrastructure_with_unavoidability_study(ruleset: RuleSet) -> None:
    road = _outcome(ruleset, "tsp_eco_redline", "road", {})
    assert road is not None
    assert road.grade is Grade.CONDITIONAL
    assert road.approval_item is not None
    assert road.approval_item.name_zh.startswith("不可避让论证")
    housing = _outcome(ruleset, "tsp_eco_redline", "housing", {})
    assert housing is not None
    assert housing.grade is Grade.PROHIBITED
    major = _outcome(ruleset, "tsp_eco_redline", "housing", {}, flags=("national_major",))
    assert major is not None
    assert major.grade is Grade.CONDITIONAL


def test_basic_farmland_prohibited_except_six_class_major_projects(ruleset: RuleSet) -> None:
    plain = _outcome(ruleset, "tsp_basic_farmland", "road", {})
    assert plain is not None
    assert plain.grade is Grade.PROHIBITED
    major = _outcome(ruleset, "tsp_basic_farmland", "road", {}, flags=("six_class_major",))
    assert major is not None
    assert major.grade is Grade.CONDITIONAL
    assert major.approval_item is not None
    assert "补划" in major.approval_item.name_zh


def test_eco_control_line_is_conditional_with_city_approval(ruleset: RuleSet) -> None:
    outcome = _outcome(ruleset, "eco_control_line", "school", {})
    assert outcome is not None
    assert outcome.grade is Grade.CONDITIONAL
    assert outcome.department == "city-gov"


def test_hv_line_setback_depends_on_voltage(ruleset: RuleSet) -> None:
    applicable = [
        rule
        for rule in ruleset.rules_for_layer("util_hv_line")
        if ruleset.applies(rule, "school", {"voltage_kv": "500", "laying": "overhead"})
    ]
    assert [(rule.kind, rule.distance_m) for rule in applicable] == [(RuleKind.SETBACK, 20)]
    cable = [
        rule
        for rule in ruleset.rules_for_layer("util_hv_line")
        if ruleset.applies(rule, "school", {"voltage_kv": "110", "laying": "cable"})
    ]
    assert [rule.distance_m for rule in cable] == [0.75]


def test_demolition_rules_count_and_do_not_ban(ruleset: RuleSet) -> None:
    building = _rule(ruleset, "cur_building.demolition")
    assert building.kind is RuleKind.DEMOLITION
    assert building.grade is Grade.INFO
    assert "floor_area" in building.measures
    collective = _outcome(ruleset, "cur_ownership", "school", {"ownership": "30"})
    assert collective is not None
    assert collective.grade is Grade.INFO
    assert collective.approval_item is not None
    assert collective.approval_item.name_zh == "集体土地征收"


def test_steep_slope_needs_geological_hazard_assessment(ruleset: RuleSet) -> None:
    steep = _rule(ruleset, "base_slope.steep")
    assert steep.kind is RuleKind.TERRAIN
    assert steep.slope_deg == 25
    outcome = ruleset.evaluate(steep, "school", {})
    assert outcome is not None
    assert outcome.approval_item is not None
    assert outcome.approval_item.name_zh == "地质灾害危险性评估"


def test_compatibility_matrix(ruleset: RuleSet) -> None:
    assert compatibility("school", "GIC5") == Compatibility.COMPATIBLE
    assert compatibility("industrial", "R2") == Compatibility.INCOMPATIBLE
    assert compatibility("road", "S1") == "compatible"
    land_uses = get_catalog().get("sp_parcel").attribute("land_use")
    assert land_uses is not None
    for project_type in ruleset.settings.project_types:
        for code in land_uses.code_values():
            assert ruleset.compatibility(project_type, code) in set(Compatibility)


def test_compatibility_rule_grades_parcels(ruleset: RuleSet) -> None:
    rule = _rule(ruleset, "sp_parcel.compatibility")
    assert ruleset.evaluate(rule, "school", {"land_use": "GIC5"}) is None
    incompatible = ruleset.evaluate(rule, "industrial", {"land_use": "R2"})
    assert incompatible is not None
    assert incompatible.grade is Grade.PROHIBITED
    conditional = ruleset.evaluate(rule, "school", {"land_use": "R2"})
    assert conditional is not None
    assert conditional.grade is Grade.CONDITIONAL
    assert conditional.approval_item is not None
    assert conditional.approval_item.name_zh == "法定图则调整"


def test_unknown_project_type_is_refused(ruleset: RuleSet) -> None:
    with pytest.raises(KeyError):
        ruleset.applies(_rule(ruleset, "forest_land.grade_i"), "spaceport", {})
    with pytest.raises(KeyError):
        compatibility("spaceport", "R2")


# --- broken input ----------------------------------------------------------------------------------


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _rule_yaml(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "overlap",
        "grade": "advisory",
        "message_zh": "测试 {area_m2:.0f} m²",
        "message_en": "test {area_m2:.0f} m²",
        "legal_basis": ["《中华人民共和国森林法》"],
        "department": "forestry",
    }
    return base | fields


def test_broken_rules_are_reported_and_valid_rules_still_load(tmp_path: Path) -> None:
    directory = _copy_rules(tmp_path)
    broken = {
        "theme": "broken",
        "rules": [
            _rule_yaml(id="nowhere.layer", layer="no_such_layer"),
            _rule_yaml(
                id="forest_land.grade_v",
                layer="forest_land",
                when={"attribute": "protection_grade", "in": ["V"]},
            ),
            _rule_yaml(id="forest_land.grade_i", layer="forest_land"),
            _rule_yaml(
                id="forest_land.colour", layer="forest_land", when={"attribute": "colour", "in": ["x"]}
            ),
            _rule_yaml(id="forest_land.alien", layer="forest_land", project_types={"in": ["spaceport"]}),
            _rule_yaml(id="forest_land.note", layer="forest_land"),
        ],
    }
    (directory / "zz_broken.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    loaded = load_ruleset(directory)
    found = {(error.file, error.rule_id, error.field) for error in loaded.errors}
    assert found == {
        ("zz_broken.yaml", "nowhere.layer", "layer"),
        ("zz_broken.yaml", "forest_land.grade_v", "when.0.in"),
        ("zz_broken.yaml", "forest_land.grade_i", "id"),
        ("zz_broken.yaml", "forest_land.colour", "when.0.attribute"),
        ("zz_broken.yaml", "forest_land.alien", "project_types.in"),
    }
    assert any("V" in error.message for error in loaded.errors)
    assert str(loaded.errors[0]).startswith("zz_broken.yaml:")
    assert loaded.ruleset is not None
    assert "forest_land.note" in loaded.ruleset.rules
    # The first definition of a duplicated id wins; the rest of the packaged rules are intact.
    assert loaded.ruleset.rules["forest_land.grade_i"].grade is Grade.PROHIBITED
    assert len(loaded.ruleset.rules) == len(get_ruleset().rules) + 1


def test_schema_errors_name_the_field(tmp_path: Path) -> None:
    directory = _copy_rules(tmp_path)
    broken = {
        "rules": [
            _rule_yaml(id="forest_land.far", layer="forest_land", kind="setback"),
            _rule_yaml(id="forest_land.typo", layer="forest_land", grad="advisory"),
            _rule_yaml(id="forest_land.cond", layer="forest_land", grade="conditional"),
        ]
    }
    (directory / "zz_broken.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    errors = load_ruleset(directory).errors
    by_id = {error.rule_id: error for error in errors}
    assert by_id["forest_land.far"].field == "distance_m"
    assert by_id["forest_land.typo"].field == "grad"
    assert by_id["forest_land.cond"].field == "approval_item"


def test_incomplete_compatibility_matrix_is_reported(tmp_path: Path) -> None:
    directory = _copy_rules(tmp_path)
    path = directory / "statutory_plan.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["compatibility"]["matrix"]["school"]["incompatible"].remove("E9")
    document["compatibility"]["matrix"]["park"]["compatible"].append("Z9")
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    loaded = load_ruleset(directory)
    fields = {(error.file, error.field) for error in loaded.errors}
    assert ("statutory_plan.yaml", "compatibility.matrix.school") in fields
    assert ("statutory_plan.yaml", "compatibility.matrix.park.compatible") in fields
    assert any("E9" in error.message for error in loaded.errors)
    assert loaded.ruleset is not None
    assert loaded.ruleset.compatibility("industrial", "M1") is Compatibility.COMPATIBLE


def test_unusable_header_is_fatal_but_reported(tmp_path: Path) -> None:
    directory = _copy_rules(tmp_path)
    (directory / "_ruleset.yaml").write_text("version: [", encoding="utf-8")
    loaded = load_ruleset(directory)
    assert loaded.ruleset is None
    assert not loaded.ok
    assert loaded.errors[0].file == "_ruleset.yaml"


def _samples(rule: Rule) -> list[dict[str, Any]]:
    """Attribute sets around a rule's condition values: each value, its string, a neighbour, odd types."""
    conditions = list(rule.when) + [c for exception in rule.exceptions for c in exception.when]
    names = {c.attribute for c in conditions} | {COMPATIBILITY_ATTRIBUTE}
    values: list[Any] = [None, 1, 1.0, True, "1", -0.0, 0.0, ["R2"], {"a": 1}]
    for c in conditions:
        for value in [*(c.in_ or []), *(c.not_in or []), c.equals, c.gte, c.lt]:
            if value is not None:
                values += [value, str(value)]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values += [float(value), value + 0.5, value - 1]
    values += ["R2", "GIC5", "M1", "unknown"]
    return [{}] + [dict.fromkeys(names, value) for value in values]


def test_remembered_outcomes_equal_evaluated_ones(ruleset: RuleSet) -> None:
    """The engine's outcome cache answers exactly what evaluate answers, for values of every type."""
    plan = CheckPlan(get_catalog(), ruleset)
    outcomes = plan.outcomes()
    for rule in ruleset.rules.values():
        for project_type in ruleset.settings.project_types:
            for flags in (frozenset(), frozenset({"national_major"}), frozenset({"six_class_major"})):
                for attributes in _samples(rule):
                    expected = ruleset.evaluate(rule, project_type, attributes, flags)
                    for _ in range(2):  # the first answer is computed, the second remembered
                        assert outcomes.get(rule, project_type, attributes, flags) == expected
    assert plan.outcomes() is outcomes
