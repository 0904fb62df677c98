"""The materials checklist of the templates: validated, shared materials listed once, checklist of a stage."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.projects.templates import (
    TEMPLATE_DIR,
    Template,
    checklist,
    load_templates,
    triggered_materials,
)


def _house() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((TEMPLATE_DIR / "house_building.yaml").read_text(encoding="utf-8"))
    return data


def test_every_item_of_every_template_has_materials() -> None:
    for name, template in load_templates().items():
        covered = {c for m in template.materials for c in m.items}
        assert {i.code for i in template.items} <= covered, name
        # Licences expire; a conditional material says when it applies.
        by_code = {m.code: m for m in template.materials}
        assert by_code["business_licence"].expires and not by_code["eia_report"].expires
        assert all(m.condition_zh for m in template.materials if not m.required)
    assert {m.code for m in triggered_materials().materials} >= {"business_licence", "forest_use_application"}


def test_extensions_inherit_and_add_materials() -> None:
    road = {m.code: m for m in load_templates()["municipal_road"].materials}
    assert "traffic_organisation" in road["business_licence"].items
    assert road["traffic_plan"].items == ["traffic_organisation", "construction_permit"]
    # Dropped items leave the base's materials.
    assert "energy_report" not in road and "energy_review" not in road["feasibility_report"].items
    assert {i.code for i in load_templates()["house_building"].items if i.joint_review} == {
        "engineering_planning_permit",
        "joint_acceptance",
    }


def test_checklist_lists_a_shared_material_once_with_its_items() -> None:
    got = checklist("house_building", ["drawing_review", "construction_permit"])
    assert [m.code for m in got] == [
        "business_licence",
        "legal_rep_authorisation",
        "land_title",
        "drawing_docs",
        "construction_contract",
        "supervision_contract",
    ]
    drawings = got[3]
    assert drawings.name_zh == "施工图设计文件及审查合格书"
    assert drawings.items == ["drawing_review", "construction_permit"]
    assert [m.required for m in got] == [True, True, False, True, True, False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["materials"][0]["items"].append("nowhere"), "unknown items ['nowhere']"),
        (
            lambda d: d.__setitem__(
                "materials", [m for m in d["materials"] if "energy_review" not in m["items"]]
            ),
            "items without any material ['energy_review', 'feasibility_study']",
        ),
        (lambda d: d["materials"][0].__setitem__("types", ["exe"]), "types"),
        (lambda d: d["materials"].append(dict(d["materials"][0])), "duplicate material codes"),
        (lambda d: d["materials"][7].pop("condition_zh"), "names its condition"),
        (lambda d: d.pop("materials"), "materials"),
    ],
)
def test_broken_materials_are_refused(change: Any, message: str) -> None:
    data = copy.deepcopy(_house())
    change(data)
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Template(**data)
