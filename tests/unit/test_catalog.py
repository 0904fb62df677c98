"""Tests of the base-map layer catalog: the packaged data and the loader's error reporting."""

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from layers.catalog import Catalog, LayerKind, get_catalog, load_catalog

# Every layer code named in the group lists of DOMAIN.md ("The one base map: layer groups").
DOMAIN_CODES: dict[str, list[str]] = {
    "01": [
        "admin_district", "admin_subdistrict", "admin_community", "admin_grid", "base_place_name",
        "base_address", "base_contour", "base_dem", "base_slope", "base_hillshade",
    ],
    "02": [
        "cdp_unit", "cdp_key_area", "cdp_industry_layout", "cdp_public_service", "cdp_transport",
        "cdp_eco_pattern", "cdp_center", "cdp_landuse",
    ],
    "03": [
        "tsp_eco_redline", "tsp_basic_farmland", "tsp_urban_boundary", "tsp_zoning", "tsp_agri_space",
        "tsp_eco_space", "tsp_urban_space", "tsp_farmland_reserve", "tsp_flood_line", "tsp_mineral_line",
    ],
    "04": [
        "lup_use_zone", "lup_construction_control", "lup_planned_construction", "lup_farmland_protect",
        "lup_cultivated", "lup_key_project", "lup_consolidation", "lup_quota",
    ],
    "05": [
        "sp_plan_boundary", "sp_parcel", "sp_road_redline", "sp_facility", "sp_green", "sp_height_zone",
        "sp_urban_design", "sp_renewal_plan", "sp_land_prep_plan", "sp_public_space", "sp_underground",
        "sp_blueprint",
    ],
    "06": [
        "eco_control_line", "eco_reserve", "eco_forest_park", "eco_country_park", "eco_wetland",
        "eco_corridor", "eco_biodiversity", "eco_scenic", "eco_geopark", "eco_restoration",
    ],
    "07": [
        "forest_land", "forest_welfare", "forest_natural", "forest_ancient_tree", "forest_ancient_tree_zone",
        "forest_fire_zone", "forest_nursery", "forest_plan_zone",
    ],
    "08": [
        "agri_cultivated", "agri_garden", "agri_high_standard", "agri_facility", "agri_pond", "agri_grass",
    ],
    "09": [
        "water_source_1", "water_source_2", "water_source_q", "water_blue_line", "water_river",
        "water_reservoir", "water_reservoir_zone", "water_detention", "water_waterlogging", "water_pump",
        "water_sewage_plant", "water_supply_plant", "water_supply_main", "water_drain_main",
    ],
    "10": [
        "util_yellow_line", "util_hv_corridor", "util_hv_line", "util_substation", "util_gas_pipe",
        "util_gas_station", "util_oil_pipe", "util_waste", "util_telecom", "util_energy",
        "util_fire_station", "util_tunnel",
    ],
    "11": [
        "trans_metro_line", "trans_metro_station", "trans_metro_protect", "trans_metro_control",
        "trans_expressway", "trans_arterial", "trans_secondary", "trans_branch", "trans_railway",
        "trans_railway_protect", "trans_hub", "trans_parking", "trans_clearance",
    ],
    "12": ["green_line", "green_park", "green_square", "green_greenway", "green_buffer", "green_pocket"],
    "13": [
        "heritage_purple_line", "heritage_relic", "heritage_relic_zone", "heritage_control_zone",
        "heritage_district", "heritage_village", "heritage_building", "heritage_buried",
    ],
    "14": [
        "cur_landuse", "cur_building", "cur_ownership", "cur_approved", "cur_supplied", "cur_idle",
        "cur_illegal", "cur_urban_village", "cur_old_industrial", "cur_site", "cur_population",
        "cur_cadastre", "cur_poi",
    ],
    "15": [
        "demo_land_prep", "demo_renewal_unit", "demo_expropriated", "demo_scope", "demo_reserve",
        "demo_collective_nonagri", "demo_compensation_zone", "demo_resettlement",
    ],
    "16": [
        "geo_hazard_point", "geo_hazard_zone", "geo_slope_risk", "geo_quarry", "geo_karst", "safety_hazmat",
        "safety_hazmat_buffer", "safety_shelter",
    ],
    "17": [
        "pub_school", "pub_kindergarten", "pub_hospital", "pub_clinic", "pub_elderly", "pub_culture",
        "pub_sports", "pub_office",
    ],
    "18": ["ind_park", "ind_key_zone", "ind_block_line", "ind_m0", "ind_enterprise", "ind_innovation"],
    "19": ["proj_government", "proj_under_construction", "proj_completed", "proj_reserve"],
}  # fmt: skip

# Geometry kinds DOMAIN.md states explicitly (A/L/P/R).
DOMAIN_KINDS: dict[str, LayerKind] = {
    **dict.fromkeys(["admin_district", "admin_subdistrict", "admin_community", "admin_grid"], LayerKind.AREA),
    **dict.fromkeys(["base_dem", "base_slope", "base_hillshade"], LayerKind.RASTER),
    **dict.fromkeys(
        [
            "base_place_name", "base_address", "cdp_public_service", "cdp_center", "sp_facility",
            "forest_ancient_tree", "water_pump", "trans_metro_station", "heritage_relic", "cur_poi",
            "geo_hazard_point", "ind_enterprise",
        ],
        LayerKind.POINT,
    ),
    **dict.fromkeys(
        [
            "base_contour", "cdp_transport", "water_river", "water_supply_main", "water_drain_main",
            "util_hv_line", "util_gas_pipe", "util_oil_pipe", "util_tunnel", "trans_metro_line",
            "trans_expressway", "trans_arterial", "trans_secondary", "trans_branch", "trans_railway",
            "green_greenway",
        ],
        LayerKind.LINE,
    ),
}  # fmt: skip

# The case speaks of "近160个数据图层"; DOMAIN.md's group lists alone name 172 codes, all required below;
# the live project library and the gap analysis's deficit layers (one per facility type) come on top.
LAYER_COUNT_RANGE = range(150, 186)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    loaded = load_catalog()
    assert loaded.errors == []
    return loaded.catalog


def test_packaged_catalog_loads_without_errors(catalog: Catalog) -> None:
    assert len(catalog.layers) in LAYER_COUNT_RANGE
    assert list(catalog.groups) == [f"{number:02d}" for number in range(1, 21)]
    assert get_catalog().layers.keys() == catalog.layers.keys()


def test_every_domain_code_is_in_its_group(catalog: Catalog) -> None:
    missing = [code for codes in DOMAIN_CODES.values() for code in codes if code not in catalog.layers]
    assert missing == []
    for group_id, codes in DOMAIN_CODES.items():
        for code in codes:
            assert catalog.get(code).group == group_id, code


def test_every_group_has_layers(catalog: Catalog) -> None:
    grouped = catalog.by_group()
    assert all(grouped[group_id] for group_id in catalog.groups)
    assert sum(len(layers) for layers in grouped.values()) == len(catalog.layers)


@pytest.mark.parametrize(("code", "kind"), sorted(DOMAIN_KINDS.items()))
def test_kinds_match_domain(catalog: Catalog, code: str, kind: LayerKind) -> None:
    assert catalog.get(code).kind is kind


def test_rasters_have_a_source_under_rasters(catalog: Catalog) -> None:
    rasters = [layer for layer in catalog.layers.values() if layer.kind is LayerKind.RASTER]
    assert {layer.code for layer in rasters} == {"base_dem", "base_slope", "base_hillshade"}
    for layer in rasters:
        assert layer.raster is not None
        assert layer.raster.path == f"rasters/{layer.code}.tif"


def test_forest_land_has_protection_grades(catalog: Catalog) -> None:
    grade = catalog.get("forest_land").attribute("protection_grade")
    assert grade is not None
    assert grade.code_values() == ["I", "II", "III", "IV"]
    assert [code.label_zh for code in grade.codes or []] == [
        "Ⅰ级保护林地", "Ⅱ级保护林地", "Ⅲ级保护林地", "Ⅳ级保护林地",
    ]  # fmt: skip


def test_statutory_parcel_schema(catalog: Catalog) -> None:
    parcel = catalog.get("sp_parcel")
    land_use = parcel.attribute("land_use")
    assert land_use is not None
    assert {"R1", "GIC5", "M0", "C1", "G1", "E9"} <= set(land_use.code_values())
    for name in ("far", "height_limit", "coverage", "green_ratio"):
        assert parcel.attribute(name) is not None, name
    assert parcel.style.by == "land_use"


def test_building_schema(catalog: Catalog) -> None:
    building = catalog.get("cur_building")
    for name in ("floors", "structure", "use", "year_built", "households", "floor_area"):
        assert building.attribute(name) is not None, name


def test_pre_evaluation_flags(catalog: Catalog) -> None:
    checked = {layer.code for layer in catalog.pre_evaluation_layers()}
    assert {"tsp_eco_redline", "forest_land", "water_source_1", "eco_control_line", "sp_parcel"} <= checked
    assert {"base_place_name", "base_hillshade", "cur_poi"}.isdisjoint(checked)


def test_sensitive_layers_are_restricted(catalog: Catalog) -> None:
    for code in ("cur_population", "cur_cadastre", "demo_compensation_zone", "safety_hazmat"):
        assert catalog.get(code).restricted, code
    assert not catalog.get("base_place_name").restricted


def test_get_unknown_code_raises_key_error(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="no_such_layer"):
        catalog.get("no_such_layer")


def test_staleness_uses_vintage_and_age_limit(catalog: Catalog) -> None:
    building = catalog.get("cur_building")
    assert building.max_age_days is not None
    assert not building.is_stale(building.vintage)
    assert building.is_stale(date.fromordinal(building.vintage.toordinal() + building.max_age_days + 1))
    assert not catalog.get("tsp_eco_redline").is_stale(date(2100, 1, 1))


# ---------------------------------------------------------------- broken entries


def _layer(code: str, group: str = "01") -> dict[str, Any]:
    return {
        "code": code,
        "name_zh": "测试图层",
        "name_en": "Test layer",
        "group": group,
        "kind": "area",
        "department": "规划和自然资源局",
        "source": "测试数据",
        "scale": "1:2000",
        "vintage": "2024-06-30",
        "max_age_days": 365,
        "min_zoom": 12,
        "pre_evaluation": True,
        "style": {"fill": "#FF0000", "fill_opacity": 0.4, "line": "#990000", "line_width": 1},
        "attributes": [
            {"name": "name", "type": "text", "label_zh": "名称", "label_en": "Name", "required": True},
            {
                "name": "grade",
                "type": "code",
                "label_zh": "等级",
                "label_en": "Grade",
                "codes": [
                    {"value": "I", "label_zh": "Ⅰ级", "label_en": "Grade I"},
                    {"value": "II", "label_zh": "Ⅱ级", "label_en": "Grade II"},
                ],
            },
        ],
    }


def _write_group(directory: Path, file_name: str, group_id: str, layers: list[dict[str, Any]]) -> None:
    document = {"id": group_id, "name_zh": "测试组", "name_en": "Test group", "layers": layers}
    (directory / file_name).write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def test_broken_entries_are_reported_and_skipped(tmp_path: Path) -> None:
    bad_colour = _layer("bad_colour")
    bad_colour["style"]["fill"] = "#GG0000"
    unknown_field = _layer("unknown_field")
    unknown_field["colour_name"] = "red"
    _write_group(
        tmp_path,
        "01_first.yaml",
        "01",
        [_layer("alpha"), bad_colour, _layer("beta"), unknown_field, _layer("alpha")],
    )
    _write_group(tmp_path, "02_second.yaml", "02", [_layer("gamma", "02"), _layer("beta", "02")])
    (tmp_path / "03_broken.yaml").write_text("id: '03'\nlayers: [\n  - code: delta\n", encoding="utf-8")

    loaded = load_catalog(tmp_path)

    assert list(loaded.catalog.layers) == ["alpha", "beta", "gamma"]
    assert list(loaded.catalog.groups) == ["01", "02"]
    found = {(error.file, error.code, error.field) for error in loaded.errors}
    assert found == {
        ("01_first.yaml", "bad_colour", "style.fill"),
        ("01_first.yaml", "unknown_field", "colour_name"),
        ("01_first.yaml", "alpha", "code"),
        ("02_second.yaml", "beta", "code"),
        ("03_broken.yaml", None, ""),
    }
    duplicate = next(error for error in loaded.errors if error.file == "02_second.yaml")
    assert duplicate.index == 1
    assert "01_first.yaml" in duplicate.message
    broken = next(error for error in loaded.errors if error.file == "03_broken.yaml")
    assert "YAML" in broken.message
    assert "03_broken.yaml" in str(broken)


def _set(entry: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = entry
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "Bad-Code"}, "code"),
        ({"min_zoom": 23}, "min_zoom"),
        ({"kind": "polygon"}, "kind"),
        ({"vintage": "not a date"}, "vintage"),
        ({"style.fill_opacity": 1.5}, "style.fill_opacity"),
        ({"style.line": "red"}, "style.line"),
        ({"style.circle": "#FF0000"}, "style.circle"),
        ({"style.by": "grade"}, "style.categories"),
        ({"style.by": "colour", "style.categories": {"I": "#FF0000"}}, "style.by"),
        ({"style.by": "grade", "style.categories": {"V": "#FF0000"}}, "style.categories"),
        ({"attributes.1.codes": None}, "attributes.1.codes"),
        ({"attributes.0.codes": [{"value": "x", "label_zh": "x", "label_en": "x"}]}, "attributes.0.codes"),
        ({"attributes.1.type": "number"}, "attributes.1.codes"),
        ({"attributes.1.name": "name"}, "attributes"),
        ({"attributes.0.name": "名称"}, "attributes.0.name"),
        ({"attributes.0.type": "string"}, "attributes.0.type"),
        ({"attributes": []}, "attributes"),
        ({"raster": {"path": "rasters/x.tif"}}, "raster"),
        ({"restricted_roles": ["planner"]}, "restricted_roles"),
        ({"restricted": True, "restricted_roles": ["mayor"]}, "restricted_roles.0"),
        ({"group": "02"}, "group"),
        ({"scale": "2000"}, "scale"),
        ({"style.line_by": "grade"}, "style.line_categories"),
        ({"style.line_by": "grade", "style.line_categories": {"V": "#FF0000"}}, "style.line_categories"),
        ({"style.line_by": "colour", "style.line_categories": {"I": "#FF0000"}}, "style.line_by"),
        ({"live": "project_library"}, "live"),  # pre-evaluated: a live layer is not
        ({"live": "demolition", "pre_evaluation": False}, "live"),
    ],
)
def test_invalid_entry_names_code_and_field(tmp_path: Path, changes: dict[str, Any], field: str) -> None:
    entry = _layer("broken")
    for path, value in changes.items():
        _set(entry, path, value)
    _write_group(tmp_path, "01_test.yaml", "01", [_layer("before"), entry, _layer("after")])

    loaded = load_catalog(tmp_path)

    assert list(loaded.catalog.layers) == ["before", "after"]
    assert [(error.code, error.index) for error in loaded.errors] == [(entry["code"], 1)]
    assert loaded.errors[0].field == field


def test_missing_field_is_reported(tmp_path: Path) -> None:
    entry = _layer("no_limit")
    del entry["max_age_days"]
    _write_group(tmp_path, "01_test.yaml", "01", [entry])
    loaded = load_catalog(tmp_path)
    assert [(error.code, error.field) for error in loaded.errors] == [("no_limit", "max_age_days")]


def test_entry_without_code_is_reported_by_index(tmp_path: Path) -> None:
    entry = _layer("x")
    del entry["code"]
    _write_group(tmp_path, "01_test.yaml", "01", [_layer("first"), entry])
    loaded = load_catalog(tmp_path)
    assert list(loaded.catalog.layers) == ["first"]
    assert [(error.code, error.index, error.field) for error in loaded.errors] == [(None, 1, "code")]
    assert "#1" in str(loaded.errors[0])


def test_raster_rules(tmp_path: Path) -> None:
    raster = _layer("ok_raster")
    raster.update(kind="raster", style={"ramp": [[0, "#000000"], [10, "#FFFFFF"]]}, scale=None)
    raster["raster"] = {"path": "rasters/ok_raster.tif", "unit": "m", "nodata": -9999}
    del raster["attributes"]
    no_source = copy.deepcopy(raster)
    no_source["code"] = "no_source"
    del no_source["raster"]
    escaping = copy.deepcopy(raster)
    escaping["code"] = "escaping"
    escaping["raster"]["path"] = "../secret.tif"
    descending = copy.deepcopy(raster)
    descending["code"] = "descending"
    descending["style"]["ramp"] = [[10, "#000000"], [0, "#FFFFFF"]]
    _write_group(tmp_path, "01_test.yaml", "01", [raster, no_source, escaping, descending])

    loaded = load_catalog(tmp_path)

    assert list(loaded.catalog.layers) == ["ok_raster"]
    assert {(error.code, error.field) for error in loaded.errors} == {
        ("no_source", "raster"),
        ("escaping", "raster.path"),
        ("descending", "style.ramp"),
    }


def test_bad_group_header_skips_only_that_file(tmp_path: Path) -> None:
    _write_group(tmp_path, "01_ok.yaml", "01", [_layer("kept")])
    _write_group(tmp_path, "02_bad.yaml", "2", [_layer("lost", "02")])
    (tmp_path / "03_list.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    _write_group(tmp_path, "04_dup.yaml", "01", [_layer("also_lost")])

    loaded = load_catalog(tmp_path)

    assert list(loaded.catalog.layers) == ["kept"]
    assert {(error.file, error.field) for error in loaded.errors} == {
        ("02_bad.yaml", "id"),
        ("03_list.yaml", ""),
        ("04_dup.yaml", "id"),
    }


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    loaded = load_catalog(tmp_path / "absent")
    assert loaded.catalog.layers == {}
    assert len(loaded.errors) == 1
    assert not loaded.ok


def test_every_facility_type_has_its_derived_deficit_layer(catalog: Catalog) -> None:
    from analysis.standards.model import get_standards

    derived = {code for code, layer in catalog.layers.items() if layer.derived is not None}
    assert derived == {f"gap_{f.code}" for f in get_standards().facilities}
    for code in derived:
        layer = catalog.get(code)
        assert layer.group == "20" and not layer.pre_evaluation and layer.live is None
        # Built from the population grid: no one sees it who may not see the grid.
        assert layer.restricted_roles == catalog.get("cur_population").restricted_roles
        names = [a.name for a in layer.attributes]
        assert names == [
            "facility", "grid_id", "subdistrict", "population", "not_covered", "demand", "shortfall"
        ]  # fmt: skip
