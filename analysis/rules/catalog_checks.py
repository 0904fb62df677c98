"""Checks of pre-evaluation rules against the layer catalog and the rule set's vocabularies."""

import string
from collections.abc import Collection
from typing import Any

from analysis.rules.schema import Condition, ProjectTypeFilter, Rule, RuleKind, RuleSetSettings
from layers.catalog import Attribute, AttributeType, Catalog, LayerEntry, LayerKind

Problem = tuple[str, str]
"""A problem found: the dotted field below the rule and a message."""

COMPATIBILITY_ATTRIBUTE = "land_use"
COMPATIBILITY_LAYER = "sp_parcel"
COMPENSATION_LAYER = "demo_compensation_zone"
COMPENSATION_ATTRIBUTE = "zone_grade"
_NUMERIC = (AttributeType.INTEGER, AttributeType.NUMBER)
_VERDICTS = ("compatible", "conditional", "incompatible")


def _check_condition(layer: LayerEntry, condition: Condition, field: str) -> list[Problem]:
    """Check that a condition names an attribute of the layer and only values it can take."""
    attribute = layer.attribute(condition.attribute)
    if attribute is None:
        return [(f"{field}.attribute", f"layer {layer.code} has no attribute {condition.attribute!r}")]
    numeric = attribute.type in _NUMERIC
    if (condition.gte is not None or condition.lt is not None) and not numeric:
        return [(field, f"gte/lt need a numeric attribute, {attribute.name} is {attribute.type.value}")]
    for operator, values in (("in", condition.in_), ("not_in", condition.not_in)):
        if values is not None:
            problem = _check_values(attribute, values)
            if problem:
                return [(f"{field}.{operator}", problem)]
    if condition.equals is not None:
        problem = _check_values(attribute, [condition.equals])
        if problem:
            return [(f"{field}.equals", problem)]
    return []


def _check_values(attribute: Attribute, values: list[Any]) -> str | None:
    """Return a message if a value cannot occur in the attribute, else None."""
    if attribute.type is AttributeType.CODE:
        # Compared as text: an unquoted YAML code such as 010 would otherwise be read as a number.
        unknown = [str(value) for value in values if str(value) not in attribute.code_values()]
        if unknown:
            return f"not in the code list of {attribute.name}: {', '.join(unknown)}"
    elif attribute.type is AttributeType.BOOLEAN:
        if any(not isinstance(value, bool) for value in values):
            return f"{attribute.name} is boolean: use true or false"
    elif attribute.type in _NUMERIC and any(isinstance(value, (str, bool)) for value in values):
        return f"{attribute.name} is numeric: use numbers"
    return None


def _check_project_types(
    project_filter: ProjectTypeFilter | None, settings: RuleSetSettings, field: str
) -> list[Problem]:
    """Check that a filter lists only known project types or project classes."""
    if project_filter is None:
        return []
    known = set(settings.project_types) | set(settings.project_classes)
    unknown = [name for name in project_filter.names() if name not in known]
    operator = "in" if project_filter.in_ is not None else "not_in"
    return [(f"{field}.{operator}", f"unknown project types: {', '.join(unknown)}")] if unknown else []


def _check_message(
    layer: LayerEntry, template: str, field: str, engine_fields: Collection[str]
) -> list[Problem]:
    """Check that a message template only uses the feature's attributes and engine-supplied values."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as exc:
        return [(field, f"bad template: {exc}")]
    known = {attribute.name for attribute in layer.attributes} | set(engine_fields)
    unknown = sorted(name for name in names if name not in known)
    return [(field, f"unknown placeholders: {', '.join(unknown)}")] if unknown else []


def _check_numeric_attribute(layer: LayerEntry, name: str, field: str) -> list[Problem]:
    """Check that a named attribute exists on the layer and is numeric."""
    attribute = layer.attribute(name)
    if attribute is None or attribute.type not in _NUMERIC:
        return [(field, f"layer {layer.code} has no numeric attribute {name!r}")]
    return []


def _check_kind(rule: Rule, layer: LayerEntry) -> list[Problem]:
    """Check that the rule's kind suits its layer."""
    problems: list[Problem] = []
    if rule.kind is RuleKind.TERRAIN and layer.kind is not LayerKind.RASTER:
        problems.append(("kind", "terrain rules need a raster layer"))
    if rule.kind is not RuleKind.TERRAIN and layer.kind is LayerKind.RASTER:
        problems.append(("kind", "a raster layer only takes terrain rules"))
    if rule.kind is RuleKind.COMPATIBILITY and rule.layer != COMPATIBILITY_LAYER:
        problems.append(("layer", f"compatibility rules apply to {COMPATIBILITY_LAYER}"))
    if rule.distance_attribute is not None:
        problems += _check_numeric_attribute(layer, rule.distance_attribute, "distance_attribute")
    for index, name in enumerate(rule.measures):
        problems += _check_numeric_attribute(layer, name, f"measures.{index}")
    return problems


def check_rule(
    rule: Rule, settings: RuleSetSettings, catalog: Catalog, engine_fields: Collection[str]
) -> list[Problem]:
    """Return the problems of a rule against the catalog and the rule set's vocabularies."""
    layer = catalog.layers.get(rule.layer)
    if layer is None:
        return [("layer", f"unknown layer {rule.layer!r}")]
    if not layer.pre_evaluation:
        return [("layer", f"layer {rule.layer!r} is not marked pre_evaluation in the catalog")]
    problems = _check_kind(rule, layer)
    for index, condition in enumerate(rule.when):
        problems += _check_condition(layer, condition, f"when.{index}")
    problems += _check_project_types(rule.project_types, settings, "project_types")
    if rule.department not in settings.departments:
        problems.append(("department", f"unknown department {rule.department!r}"))
    if rule.approval_item is not None and rule.approval_item not in settings.approval_items:
        problems.append(("approval_item", f"unknown approval item {rule.approval_item!r}"))
    problems += _check_message(layer, rule.message_zh, "message_zh", engine_fields)
    problems += _check_message(layer, rule.message_en, "message_en", engine_fields)
    for index, exception in enumerate(rule.exceptions):
        field = f"exceptions.{index}"
        for number, condition in enumerate(exception.when):
            problems += _check_condition(layer, condition, f"{field}.when.{number}")
        problems += _check_project_types(exception.project_types, settings, f"{field}.project_types")
        unknown_flags = [flag for flag in exception.project_flags or [] if flag not in settings.project_flags]
        if unknown_flags:
            problems.append((f"{field}.project_flags", f"unknown project flags: {', '.join(unknown_flags)}"))
        if exception.approval_item is not None and exception.approval_item not in settings.approval_items:
            problems.append((f"{field}.approval_item", f"unknown approval item {exception.approval_item!r}"))
        if exception.department is not None and exception.department not in settings.departments:
            problems.append((f"{field}.department", f"unknown department {exception.department!r}"))
    return problems


def check_settings(settings: RuleSetSettings, catalog: Catalog) -> list[Problem]:
    """Check the header against the catalog: compensation zones must be the zone codes of the layer."""
    layer = catalog.layers.get(COMPENSATION_LAYER)
    attribute = layer.attribute(COMPENSATION_ATTRIBUTE) if layer is not None else None
    if attribute is None:
        return [("compensation.zones", f"catalog has no {COMPENSATION_LAYER}.{COMPENSATION_ATTRIBUTE}")]
    codes = attribute.code_values()
    zones = list(settings.compensation.zones)
    problems: list[Problem] = []
    unknown = [zone for zone in zones if zone not in codes]
    if unknown:
        problems.append(
            ("compensation.zones", f"not in the code list of {attribute.name}: {', '.join(unknown)}")
        )
    missing = [code for code in codes if code not in zones]
    if missing:
        problems.append(("compensation.zones", f"zones without prices: {', '.join(missing)}"))
    return problems


def _land_use_codes(catalog: Catalog) -> list[str]:
    """Return the statutory-plan land-use codes from the catalog's parcel layer."""
    layer = catalog.layers.get(COMPATIBILITY_LAYER)
    attribute = layer.attribute(COMPATIBILITY_ATTRIBUTE) if layer is not None else None
    return attribute.code_values() if attribute is not None else []


def _matrix_row(row: Any, codes: list[str], field: str) -> tuple[dict[str, str], list[Problem]]:
    """Turn one project type's verdict lists into a land-use → verdict row, checking it is complete."""
    if not isinstance(row, dict) or not set(row) <= set(_VERDICTS):
        return {}, [(field, f"expected a mapping with keys among {', '.join(_VERDICTS)}")]
    verdicts: dict[str, str] = {}
    problems: list[Problem] = []
    for verdict in _VERDICTS:
        for code in row.get(verdict) or []:
            code = str(code)
            if code not in codes:
                problems.append((f"{field}.{verdict}", f"unknown land-use code {code!r}"))
            elif code in verdicts:
                problems.append((f"{field}.{verdict}", f"land-use code {code} listed twice"))
            verdicts[code] = verdict
    missing = [code for code in codes if code not in verdicts]
    if missing:
        problems.append((field, f"land-use codes without a verdict: {', '.join(missing)}"))
    return verdicts, problems


def check_matrix(
    raw: Any, settings: RuleSetSettings, catalog: Catalog
) -> tuple[dict[str, dict[str, str]], str | None, list[Problem]]:
    """Validate the compatibility section: every project type × every land-use code gets one verdict."""
    if not isinstance(raw, dict) or not isinstance(raw.get("matrix"), dict):
        return {}, None, [("compatibility", "expected a mapping with approval_item and matrix")]
    problems: list[Problem] = []
    item = raw.get("approval_item")
    if item is not None and item not in settings.approval_items:
        problems.append(("compatibility.approval_item", f"unknown approval item {item!r}"))
        item = None
    codes = _land_use_codes(catalog)
    matrix: dict[str, dict[str, str]] = {}
    for project_type, row in raw["matrix"].items():
        field = f"compatibility.matrix.{project_type}"
        if project_type not in settings.project_types:
            problems.append((field, f"unknown project type {project_type!r}"))
            continue
        verdicts, row_problems = _matrix_row(row, codes, field)
        problems += row_problems
        if not row_problems:
            matrix[project_type] = verdicts
    missing = [name for name in settings.project_types if name not in raw["matrix"]]
    if missing:
        problems.append(("compatibility.matrix", f"project types without a row: {', '.join(missing)}"))
    return matrix, item, problems
