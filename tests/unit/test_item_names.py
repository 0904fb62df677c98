"""Approval items are named in Chinese and English, the same way wherever an item code appears: the plan
templates, the rule set's approval items and the limits of triggered items."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from analysis.rules.loader import get_ruleset
from app.projects.preevaluation_link import LIMITS_FILE, _item_code
from app.projects.templates import TEMPLATE_DIR, TemplateItem, load_templates

# Names as the brief and common usage render them (checked by hand, not read from the files under test).
KNOWN = {
    "project_proposal": ("项目建议书批复", "Project proposal approval"),
    "land_pre_review": ("用地预审与选址意见书", "Land-use pre-review and site selection opinion"),
    "construction_permit": ("施工许可证", "Construction permit"),
    "drawing_review": ("施工图审查", "Construction drawing review"),
    "joint_acceptance": ("联合验收", "Joint completion acceptance"),
}


def raw_items() -> list[tuple[str, dict[str, Any]]]:
    """Every item as written in the template files (before inheritance), with its file's name."""
    out = []
    for path in sorted(TEMPLATE_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [(path.name, item) for item in data.get("items", [])]
    return out


def base_name(name: str) -> str:
    """A name without a trailing qualifier in brackets: 河道…审批（蓝线） → 河道…审批."""
    return re.sub(r"\s*[（(][^（）()]*[）)]$", "", name)


def test_every_template_item_has_a_chinese_and_an_english_name() -> None:
    items = raw_items()
    assert len(items) >= 14
    for file, item in items:
        for field in ("name_zh", "name_en"):
            assert isinstance(item.get(field), str) and item[field].strip(), (file, item["code"], field)
        assert not re.search(r"[\u4e00-\u9fff]", item["name_en"]), (file, item["code"])  # no Chinese left
    for template in load_templates().values():
        for item in template.items:
            if item.code in KNOWN:
                assert (item.name_zh, item.name_en) == KNOWN[item.code], (template.project_type, item.code)


@pytest.mark.parametrize("name_en", [None, "", "   "])
def test_a_template_item_without_an_english_name_is_refused(name_en: str | None) -> None:
    item: dict[str, Any] = {
        "code": "x",
        "name_zh": "某审批",
        "stage": "engineering",
        "department": "pnr",
        "statutory_days": 10,
        "promised_days": 5,
    }
    if name_en is not None:
        item["name_en"] = name_en
    with pytest.raises(ValidationError, match="name_en"):
        TemplateItem(**item)


def test_shared_item_codes_have_the_same_names_in_the_templates_and_the_rule_set() -> None:
    approval_items = get_ruleset().settings.approval_items
    shared = 0
    for template in load_templates().values():
        for item in template.items:
            spec = approval_items.get(item.code)
            if spec is None:
                continue
            shared += 1
            assert base_name(spec.name_zh) == item.name_zh, item.code
            assert base_name(spec.name_en) == item.name_en, item.code
            assert str(spec.stage) == item.stage and spec.department == item.department, item.code
    assert shared >= 10


def test_triggered_item_limits_name_rule_set_items_and_agree_with_the_templates() -> None:
    limits = yaml.safe_load(LIMITS_FILE.read_text(encoding="utf-8"))
    approval_items = get_ruleset().settings.approval_items
    assert set(limits["items"]) <= set(approval_items)
    in_templates = {i.code: i for t in load_templates().values() for i in t.items}
    for code, days in limits["items"].items():
        if code in in_templates:
            item = in_templates[code]
            assert (days["statutory_days"], days["promised_days"]) == (
                item.statutory_days,
                item.promised_days,
            )


def test_reports_name_items_in_chinese_and_each_name_leads_to_one_item() -> None:
    settings = get_ruleset().settings
    names = [spec.name_zh for spec in settings.approval_items.values()]
    assert len(names) == len(set(names))
    assert _item_code(settings, "使用林地审核同意书") == "forest_use_permit"  # as a stored report names it
    assert _item_code(settings, "forest_use_permit") == "forest_use_permit"
    assert _item_code(settings, "不存在的审批") is None and _item_code(settings, None) is None
