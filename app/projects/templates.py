"""Approval plan templates per project type, kept as data in ``templates/*.yaml``."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.errors import Unprocessable

TEMPLATE_DIR = Path(__file__).parent / "templates"
K = TypeVar("K", bound=Hashable)
STAGES = ("project_land", "engineering", "construction", "completion")
# A name shown to people: required, and not blank.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class TemplateItem(BaseModel):
    """One approval item of a template."""

    code: str
    name_zh: Name
    name_en: Name
    stage: str
    department: str
    statutory_days: int = Field(ge=1)
    promised_days: int = Field(ge=1)
    after: list[str] = Field(default_factory=list)
    parallel_group: str | None = None
    drop_below_wan: Decimal | None = None
    merge_below_wan: Decimal | None = None
    merge_into: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TemplateItem:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage}")
        if self.promised_days > self.statutory_days:
            raise ValueError(f"{self.code}: promised limit above the statutory one")
        if (self.merge_below_wan is None) != (self.merge_into is None):
            raise ValueError(f"{self.code}: merge_below_wan and merge_into go together")
        return self


class Template(BaseModel):
    """A project type's approval plan."""

    project_type: str
    name_zh: str
    industry: str = Field(pattern=r"^\d{2}$")
    code_type: str = Field(pattern=r"^0[123]$")
    demolition_gate_pct: Decimal = Field(ge=0, le=100)
    items: list[TemplateItem]

    @model_validator(mode="after")
    def _dag(self) -> Template:
        codes = [i.code for i in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError(f"{self.project_type}: duplicate item codes")
        known = set(codes)
        for item in self.items:
            missing = [a for a in item.after if a not in known] + (
                [item.merge_into] if item.merge_into and item.merge_into not in known else []
            )
            if missing:
                raise ValueError(f"{self.project_type}.{item.code}: unknown items {missing}")
        topological_order({i.code: i.after for i in self.items})  # raises on a cycle
        return self


class PlannedItem(BaseModel):
    """A template item instantiated for one project's investment."""

    item: TemplateItem
    after: list[str]
    merged_into: str | None


def topological_order(after: Mapping[K, Sequence[K]]) -> list[K]:
    """Keys ordered so that every prerequisite comes first (else input order); ValueError on a cycle."""
    order: list[K] = []
    state: dict[K, int] = {}

    def visit(code: K, path: tuple[K, ...]) -> None:
        if state.get(code) == 2:
            return
        if state.get(code) == 1:
            raise ValueError(f"prerequisite cycle: {' → '.join(str(c) for c in (*path, code))}")
        state[code] = 1
        for pre in after.get(code, []):
            visit(pre, (*path, code))
        state[code] = 2
        order.append(code)

    for code in after:
        visit(code, ())
    return order


def _without(after: dict[str, list[str]], removed: str) -> dict[str, list[str]]:
    """Remove an item; its successors inherit its prerequisites (the DAG stays connected)."""
    inherited = after[removed]
    out: dict[str, list[str]] = {}
    for code, pres in after.items():
        if code == removed:
            continue
        new: list[str] = []
        for pre in pres:
            for p in inherited if pre == removed else [pre]:
                if p not in new:
                    new.append(p)
        out[code] = new
    return out


def _resolve(raw: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    data = dict(raw[name])
    base_name = data.pop("extends", None)
    drop = data.pop("drop", [])
    if base_name is None:
        return data
    base = _resolve(raw, base_name)
    items = {i["code"]: i for i in base["items"]}
    after = {code: list(i.get("after", [])) for code, i in items.items()}
    for code in drop:
        after = _without(after, code)
        items.pop(code)
    for code, item in items.items():
        items[code] = {**item, "after": after[code]}
    for item in data.get("items", []):
        items[item["code"]] = item
    return {**base, **data, "items": list(items.values())}


@cache
def load_templates() -> dict[str, Template]:
    """Every template, validated once on first use (a broken file fails loudly there and in the tests)."""
    raw = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(TEMPLATE_DIR.glob("*.yaml"))}
    return {name: Template(**_resolve(raw, name)) for name in raw}


def get_template(project_type: str) -> Template:
    """The template of a project type, or 422 naming the known types."""
    templates = load_templates()
    if project_type not in templates:
        raise Unprocessable(
            f"未知项目类型“{project_type}”，可选：{'、'.join(templates)}。",
            f"Unknown project type '{project_type}'; known: {', '.join(templates)}.",
            code="unknown_project_type",
        )
    return templates[project_type]


def instantiate(template: Template, investment_wan: Decimal) -> list[PlannedItem]:
    """The template's items for an investment: thresholds drop or merge items, the DAG is rewired."""
    after = {i.code: list(i.after) for i in template.items}
    merged: dict[str, str] = {}
    for item in template.items:
        if item.drop_below_wan is not None and investment_wan < item.drop_below_wan:
            after = _without(after, item.code)
        elif item.merge_below_wan is not None and investment_wan < item.merge_below_wan:
            after = _without(after, item.code)
            merged[item.code] = item.merge_into or ""
    planned = []
    for item in template.items:
        if item.code in after:
            planned.append(PlannedItem(item=item, after=after[item.code], merged_into=None))
        elif item.code in merged:
            planned.append(PlannedItem(item=item, after=[], merged_into=merged[item.code]))
    return planned
