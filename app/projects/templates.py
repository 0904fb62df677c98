"""Approval plan templates per project type, kept as data in ``templates/*.yaml``."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.errors import Unprocessable

TEMPLATE_DIR = Path(__file__).parent / "templates"
TRIGGERED_FILE = Path(__file__).parent / "triggered_items.yaml"
K = TypeVar("K", bound=Hashable)
STAGES = ("project_land", "engineering", "construction", "completion")
# The file types a checklist entry may accept (checked by content when a material is uploaded).
FileType = Literal["pdf", "ofd", "jpeg", "png", "dwg", "dxf", "docx", "xlsx", "zip"]
MaterialCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")]
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
    joint_review: bool = Field(default=False, description="联合审查/会商")

    @model_validator(mode="after")
    def _check(self) -> TemplateItem:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage}")
        if self.promised_days > self.statutory_days:
            raise ValueError(f"{self.code}: promised limit above the statutory one")
        if (self.merge_below_wan is None) != (self.merge_into is None):
            raise ValueError(f"{self.code}: merge_below_wan and merge_into go together")
        return self


class TemplateMaterial(BaseModel):
    """One entry of the materials checklist (材料清单): listed once, with every item that needs it."""

    code: MaterialCode
    name_zh: Name
    name_en: Name
    required: bool = Field(default=True, description="false: 视情形提交（条件材料），可容缺")
    condition_zh: str | None = None
    condition_en: str | None = None
    types: list[FileType] = Field(min_length=1)
    items: list[str] = Field(min_length=1)
    expires: bool = Field(default=False, description="有有效期的证照（过期后不再推荐）")

    @model_validator(mode="after")
    def _check(self) -> TemplateMaterial:
        if not self.required and not (self.condition_zh and self.condition_en):
            raise ValueError(f"{self.code}: a conditional material names its condition (zh and en)")
        if len(set(self.items)) != len(self.items):
            raise ValueError(f"{self.code}: an item is listed twice")
        return self


def _check_materials(owner: str, materials: list[TemplateMaterial], item_codes: list[str]) -> None:
    """Material codes unique, their items known, every item with at least one material (ValueError)."""
    codes = [m.code for m in materials]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{owner}: duplicate material codes")
    known = set(item_codes)
    for m in materials:
        unknown = [c for c in m.items if c not in known]
        if unknown:
            raise ValueError(f"{owner}.materials.{m.code}: unknown items {unknown}")
    covered = {c for m in materials for c in m.items}
    bare = [c for c in item_codes if c not in covered]
    if bare:
        raise ValueError(f"{owner}: items without any material {bare}")


class Template(BaseModel):
    """A project type's approval plan."""

    project_type: str
    name_zh: str
    industry: str = Field(pattern=r"^\d{2}$")
    code_type: str = Field(pattern=r"^0[123]$")
    demolition_gate_pct: Decimal = Field(ge=0, le=100)
    items: list[TemplateItem]
    materials: list[TemplateMaterial] = Field(min_length=1)

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
        _check_materials(self.project_type, self.materials, codes)
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
    return {
        **base,
        **data,
        "items": list(items.values()),
        "materials": _merge_materials(base.get("materials", []), data.get("materials", []), set(items)),
    }


def _merge_materials(
    base: list[dict[str, Any]], extra: list[dict[str, Any]], items: set[str]
) -> list[dict[str, Any]]:
    """The base template's materials for the items left, then the extension's: an entry with a known code
    adds its items (and overrides the fields it gives), a new code is a new material."""
    merged: dict[str, dict[str, Any]] = {}
    for m in base:
        kept = [c for c in m.get("items", []) if c in items]
        if kept:
            merged[m["code"]] = {**m, "items": kept}
    for m in extra:
        if m["code"] in merged:
            old = merged[m["code"]]
            more = [c for c in m.get("items", []) if c not in old["items"]]
            merged[m["code"]] = {**old, **m, "items": old["items"] + more}
        else:
            merged[m["code"]] = dict(m)
    return list(merged.values())


@cache
def load_templates() -> dict[str, Template]:
    """Every template, validated once on first use (a broken file fails loudly there and in the tests)."""
    raw = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(TEMPLATE_DIR.glob("*.yaml"))}
    return {name: Template(**_resolve(raw, name)) for name in raw}


class TriggeredMaterials(BaseModel):
    """The materials of the items pre-evaluation adds (``triggered_items.yaml``)."""

    items: list[str]
    materials: list[TemplateMaterial]

    @model_validator(mode="after")
    def _check(self) -> TriggeredMaterials:
        _check_materials("triggered_items", self.materials, self.items)
        return self


@cache
def triggered_materials() -> TriggeredMaterials:
    """The triggered items' materials, validated once on first use."""
    data = yaml.safe_load(TRIGGERED_FILE.read_text(encoding="utf-8"))
    return TriggeredMaterials(items=list(data["items"]), materials=data.get("materials", []))


def checklist(project_type: str, item_codes: Sequence[str]) -> list[TemplateMaterial]:
    """The materials checklist of a set of items (an application's stage): every material of the project
    type's template or of the triggered items that one of them needs, listed once, its ``items`` narrowed
    to those of the set, in template order (then the triggered items' order)."""
    wanted = list(dict.fromkeys(item_codes))
    out: dict[str, TemplateMaterial] = {}
    sources = [*get_template(project_type).materials, *triggered_materials().materials]
    for m in sources:
        mine = [c for c in m.items if c in wanted]
        if not mine:
            continue
        if m.code in out:
            known = out[m.code]
            out[m.code] = known.model_copy(
                update={"items": known.items + [c for c in mine if c not in known.items]}
            )
        else:
            out[m.code] = m.model_copy(update={"items": mine})
    return list(out.values())


def stage_checklist(project_type: str, stage: str, item_codes: Sequence[str]) -> list[TemplateMaterial]:
    """``checklist`` of the items of one stage (``item_codes`` are the project's items of that stage)."""
    if stage not in STAGES:
        raise Unprocessable(
            f"未知阶段“{stage}”，可选：{'、'.join(STAGES)}。",
            f"Unknown stage '{stage}'.",
            code="unknown_stage",
        )
    return checklist(project_type, item_codes)


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
