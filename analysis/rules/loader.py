"""The loader of the rule set's YAML files, checked against the layer catalog, and the packaged rule set."""

import functools
import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from analysis.rules.catalog_checks import check_matrix, check_rule, check_settings
from analysis.rules.model import RuleOutcome, RuleSet
from analysis.rules.schema import (
    FIELD_KEY,
    STRICT,
    Compatibility,
    CompatibilityMatrix,
    Rule,
    RuleSetSettings,
)
from layers.catalog import Catalog, get_catalog
from layers.yaml_model import located_errors, location, read_mapping

RULES_DIR = Path(__file__).parent
"""Directory of the packaged rule set: ``_ruleset.yaml`` plus one YAML file per theme."""

RULESET_FILE = "_ruleset.yaml"

# Values the engine supplies to message templates besides the feature's own attributes.
ENGINE_FIELDS = frozenset(
    {"area_m2", "length_m", "distance_m", "share_pct", "slope_deg", "count", "layer_name", "cost_yuan"}
)

_NOT_A_MAPPING = "expected a mapping at the top level"

logger = logging.getLogger(__name__)


class RuleError(BaseModel):
    """A problem found while loading the rule set; the rule or file concerned is skipped."""

    model_config = STRICT

    file: str
    rule_id: str | None = None
    index: int | None = None
    field: str = ""
    message: str

    def __str__(self) -> str:
        """Format as ``file:rule_id:field: message`` for logs."""
        return f"{location(self.file, self.rule_id, self.index, self.field)}: {self.message}"


class RuleSetLoad(BaseModel):
    """Result of loading a rule-set directory: the valid part (None if the header is unusable) and errors."""

    ruleset: RuleSet | None
    errors: list[RuleError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the rule set loaded without any error."""
        return self.ruleset is not None and not self.errors


def _load_settings(root: Path, catalog: Catalog, errors: list[RuleError]) -> RuleSetSettings | None:
    """Read and validate the header file; None if it is missing or broken."""
    document = read_mapping(root / RULESET_FILE, errors, RuleError, _NOT_A_MAPPING)
    if document is None:
        return None
    try:
        settings = RuleSetSettings.model_validate(document)
    except ValidationError as exc:
        errors.extend(located_errors(exc, FIELD_KEY, RuleError, file=RULESET_FILE))
        return None
    for field, message in check_settings(settings, catalog):
        errors.append(RuleError(file=RULESET_FILE, field=field, message=message))
    return settings


def _load_theme(
    path: Path, settings: RuleSetSettings, catalog: Catalog, rules: dict[str, Rule], errors: list[RuleError]
) -> dict[str, Any]:
    """Validate one theme file's rules into ``rules``; return the file's other top-level keys."""
    document = read_mapping(path, errors, RuleError, _NOT_A_MAPPING)
    if document is None:
        return {}
    raw_rules = document.get("rules", [])
    if not isinstance(raw_rules, list):
        errors.append(RuleError(file=path.name, field="rules", message="expected a list of rules"))
        return {}
    for index, raw in enumerate(raw_rules):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        rule_id = raw_id if isinstance(raw_id, str) and raw_id else None
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as exc:
            errors.extend(
                located_errors(exc, FIELD_KEY, RuleError, file=path.name, rule_id=rule_id, index=index)
            )
            continue
        if rule.id in rules:
            errors.append(
                RuleError(
                    file=path.name, rule_id=rule.id, index=index, field="id", message="duplicate rule id"
                )
            )
            continue
        problems = check_rule(rule, settings, catalog, ENGINE_FIELDS)
        for field, message in problems:
            errors.append(
                RuleError(file=path.name, rule_id=rule.id, index=index, field=field, message=message)
            )
        if not problems:
            rules[rule.id] = rule
    return {key: value for key, value in document.items() if key != "rules"}


def load_ruleset(directory: Path | None = None, catalog: Catalog | None = None) -> RuleSetLoad:
    """Load a rule-set directory against the layer catalog, keeping valid rules and reporting the rest."""
    root = RULES_DIR if directory is None else directory
    catalog = get_catalog() if catalog is None else catalog
    errors: list[RuleError] = []
    settings = _load_settings(root, catalog, errors)
    if settings is None:
        return RuleSetLoad(ruleset=None, errors=errors)
    rules: dict[str, Rule] = {}
    matrix: CompatibilityMatrix = {}
    matrix_item: str | None = None
    for path in sorted(root.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        extra = _load_theme(path, settings, catalog, rules, errors)
        if "compatibility" in extra:
            raw_matrix, matrix_item, problems = check_matrix(extra["compatibility"], settings, catalog)
            matrix = {
                key: {code: Compatibility(v) for code, v in row.items()} for key, row in raw_matrix.items()
            }
            errors.extend(
                RuleError(file=path.name, field=field, message=message) for field, message in problems
            )
    ruleset = RuleSet(
        settings=settings, rules=rules, compatibility_matrix=matrix, compatibility_approval_item=matrix_item
    )
    return RuleSetLoad(ruleset=ruleset, errors=errors)


@functools.cache
def get_ruleset() -> RuleSet:
    """Return the packaged rule set, loaded once; broken rules are logged and left out."""
    loaded = load_ruleset()
    for error in loaded.errors:
        logger.error("rule set: %s", error)
    if loaded.ruleset is None:
        raise RuntimeError("the packaged rule set header (_ruleset.yaml) is unusable")
    return loaded.ruleset


def rules_for_layer(code: str) -> list[Rule]:
    """Return the packaged rules on a layer."""
    return get_ruleset().rules_for_layer(code)


def applies(rule: Rule, project_type: str, attributes: Mapping[str, Any]) -> bool:
    """Tell whether a packaged rule concerns this project type and feature."""
    return get_ruleset().applies(rule, project_type, attributes)


def evaluate(
    rule: Rule, project_type: str, attributes: Mapping[str, Any], flags: Collection[str] = ()
) -> RuleOutcome | None:
    """Return a packaged rule's effective outcome after exceptions, or None if it does not apply."""
    return get_ruleset().evaluate(rule, project_type, attributes, flags)


def compatibility(project_type: str, land_use: str) -> Compatibility:
    """Return the packaged statutory-plan verdict for a project type on a land-use code."""
    return get_ruleset().compatibility(project_type, land_use)
