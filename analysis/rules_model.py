"""Pydantic models of the pre-evaluation rule set (预评价规则) and the loader of its YAML files."""

import functools
import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from analysis.rules.catalog_checks import COMPATIBILITY_ATTRIBUTE, check_matrix, check_rule, check_settings
from analysis.rules.schema import (
    FIELD_KEY,
    GRADE_LABELS_ZH,
    STAGE_LABELS_ZH,
    STRICT,
    ApprovalItem,
    Compatibility,
    CompatibilityMatrix,
    CompensationTable,
    Condition,
    Grade,
    ProjectClass,
    ProjectType,
    ProjectTypeFilter,
    Rule,
    RuleException,
    RuleKind,
    RuleSetSettings,
    Stage,
)
from layers.catalog import Catalog, get_catalog

RULES_DIR = Path(__file__).parent / "rules"
"""Directory of the packaged rule set: ``_ruleset.yaml`` plus one YAML file per theme."""

RULESET_FILE = "_ruleset.yaml"

# Values the engine supplies to message templates besides the feature's own attributes.
ENGINE_FIELDS = frozenset(
    {"area_m2", "length_m", "distance_m", "share_pct", "slope_deg", "count", "layer_name", "cost_yuan"}
)

logger = logging.getLogger(__name__)


class RuleOutcome(BaseModel):
    """The effective verdict of one rule for one project type and feature."""

    model_config = STRICT

    rule_id: str
    grade: Grade
    department: str
    approval_item: ApprovalItem | None
    exception_id: str | None = None
    note_zh: str | None = None


_NO_RULES: list[Rule] = []
_OUTCOMES_MAX = 50_000


def _reads(rule: Rule) -> tuple[str, ...]:
    """The feature attributes a rule's outcome depends on (conditions, exceptions, compatibility)."""
    names = [c.attribute for c in rule.when]
    names += [c.attribute for exception in rule.exceptions for c in exception.when]
    if rule.kind is RuleKind.COMPATIBILITY:
        names.append(COMPATIBILITY_ATTRIBUTE)
    return tuple(dict.fromkeys(names))


def _value_key(value: Any) -> tuple[type, Any]:
    """A cache key for an attribute value: its type and value (floats by repr, so -0.0 is not 0.0)."""
    kind = type(value)
    return (kind, repr(value) if kind is float else value)


class RuleSet(BaseModel):
    """The validated rule set: header, rules keyed by id in file order, and the compatibility matrix."""

    model_config = STRICT

    settings: RuleSetSettings
    rules: dict[str, Rule] = Field(default_factory=dict)
    compatibility_matrix: CompatibilityMatrix = Field(default_factory=dict)
    compatibility_approval_item: str | None = None
    # Rules grouped by layer, rebuilt when the rules dict is replaced or grows.
    _by_layer: dict[str, list[Rule]] = PrivateAttr(default_factory=dict)
    _by_layer_key: tuple[int, int] | None = PrivateAttr(default=None)
    # Outcomes remembered by the values they depend on (see ``outcomes``).
    _outcomes: "OutcomeCache | None" = PrivateAttr(default=None)

    @property
    def version(self) -> str:
        """Return the rule set's version string."""
        return self.settings.version

    def rules_for_layer(self, code: str) -> list[Rule]:
        """Return the rules on a layer, in file order (a shared list: do not mutate it)."""
        key = (id(self.rules), len(self.rules))
        if self._by_layer_key != key:
            by_layer: dict[str, list[Rule]] = {}
            for rule in self.rules.values():
                by_layer.setdefault(rule.layer, []).append(rule)
            self._by_layer, self._by_layer_key = by_layer, key
        return self._by_layer.get(code, _NO_RULES)

    def outcomes(self) -> "OutcomeCache":
        """The remembered outcomes of this rule set (one per rules dict; reset when it grows large)."""
        key = (id(self.rules), len(self.rules))
        cache = self._outcomes
        if cache is None or cache.key != key or len(cache) > _OUTCOMES_MAX:
            cache = self._outcomes = OutcomeCache(self, key)
        return cache

    def _check_project_type(self, project_type: str) -> None:
        if project_type not in self.settings.project_types:
            raise KeyError(f"unknown project type: {project_type!r}")

    def applies(self, rule: Rule, project_type: str, attributes: Mapping[str, Any]) -> bool:
        """Tell whether a rule concerns this project type and feature (its when and project_types)."""
        self._check_project_type(project_type)
        classes = self.settings.project_classes
        if rule.project_types is not None and not rule.project_types.matches(project_type, classes):
            return False
        return all(condition.matches(attributes) for condition in rule.when)

    def evaluate(
        self,
        rule: Rule,
        project_type: str,
        attributes: Mapping[str, Any],
        flags: Collection[str] = (),
    ) -> RuleOutcome | None:
        """Return the rule's effective grade and approval after exceptions, or None if it does not apply."""
        if not self.applies(rule, project_type, attributes):
            return None
        if rule.kind is RuleKind.COMPATIBILITY:
            return self._evaluate_compatibility(rule, project_type, attributes)
        for exception in rule.exceptions:
            if self._exception_matches(exception, project_type, attributes, flags):
                return RuleOutcome(
                    rule_id=rule.id,
                    grade=exception.grade,
                    department=exception.department or rule.department,
                    approval_item=self.approval_item(exception.approval_item or rule.approval_item),
                    exception_id=exception.id,
                    note_zh=exception.note_zh,
                )
        return RuleOutcome(
            rule_id=rule.id,
            grade=rule.grade,
            department=rule.department,
            approval_item=self.approval_item(rule.approval_item),
        )

    def _evaluate_compatibility(
        self, rule: Rule, project_type: str, attributes: Mapping[str, Any]
    ) -> RuleOutcome | None:
        """Grade a parcel by the matrix; an unknown or missing land use counts as conditional."""
        land_use = attributes.get(COMPATIBILITY_ATTRIBUTE)
        row = self.compatibility_matrix.get(project_type, {})
        verdict = row.get(str(land_use), Compatibility.CONDITIONAL)
        if verdict is Compatibility.COMPATIBLE:
            return None
        grade = Grade.PROHIBITED if verdict is Compatibility.INCOMPATIBLE else rule.grade
        item = self.compatibility_approval_item or rule.approval_item
        return RuleOutcome(
            rule_id=rule.id, grade=grade, department=rule.department, approval_item=self.approval_item(item)
        )

    def _exception_matches(
        self,
        exception: RuleException,
        project_type: str,
        attributes: Mapping[str, Any],
        flags: Collection[str],
    ) -> bool:
        classes = self.settings.project_classes
        if exception.project_types is not None and not exception.project_types.matches(project_type, classes):
            return False
        if exception.project_flags is not None and not set(exception.project_flags) & set(flags):
            return False
        return all(condition.matches(attributes) for condition in exception.when)

    def approval_item(self, key: str | None) -> ApprovalItem | None:
        """Return the approval item with this key (None for None)."""
        return None if key is None else self.settings.approval_items[key]

    def compatibility(self, project_type: str, land_use: str) -> Compatibility:
        """Return the statutory-plan verdict for a project type on a parcel's land-use code."""
        self._check_project_type(project_type)
        try:
            return self.compatibility_matrix[project_type][land_use]
        except KeyError:
            raise KeyError(f"no compatibility for {project_type!r} on land use {land_use!r}") from None

    def in_class(self, project_type: str, class_name: str) -> bool:
        """Tell whether a project type belongs to a project class (e.g. polluting)."""
        return project_type in self.settings.project_classes[class_name].members


class OutcomeCache:
    """:meth:`RuleSet.evaluate` remembered by what an outcome depends on (shared results: do not mutate).

    An outcome depends only on the rule, the project type, the flags and the values of the attributes
    the rule's conditions, its exceptions and the compatibility matrix read. Values are keyed with
    their type (``1``, ``1.0`` and ``True`` format differently, so conditions may tell them apart);
    unhashable values (lists, objects) are evaluated each time.
    """

    __slots__ = ("_outcomes", "_reads", "_ruleset", "key")

    def __init__(self, ruleset: RuleSet, key: tuple[int, int]) -> None:
        self._ruleset = ruleset
        self._outcomes: dict[tuple[Any, ...], RuleOutcome | None] = {}
        self._reads: dict[str, tuple[str, ...]] = {}
        self.key = key

    def __len__(self) -> int:
        return len(self._outcomes)

    def get(
        self, rule: Rule, project_type: str, attributes: Mapping[str, Any], flags: frozenset[str]
    ) -> RuleOutcome | None:
        """The rule's outcome for this project type, feature and flags, as ``RuleSet.evaluate`` gives it."""
        reads = self._reads.get(rule.id)
        if reads is None:
            reads = self._reads[rule.id] = _reads(rule)
        try:
            key = (rule.id, project_type, flags, *[_value_key(attributes.get(name)) for name in reads])
            return self._outcomes[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: not remembered
            return self._ruleset.evaluate(rule, project_type, attributes, flags)
        found = self._outcomes[key] = self._ruleset.evaluate(rule, project_type, attributes, flags)
        return found


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
        where = (
            self.rule_id if self.rule_id is not None else (f"#{self.index}" if self.index is not None else "")
        )
        location = ":".join(part for part in (self.file, where, self.field) if part)
        return f"{location}: {self.message}"


class RuleSetLoad(BaseModel):
    """Result of loading a rule-set directory: the valid part (None if the header is unusable) and errors."""

    ruleset: RuleSet | None
    errors: list[RuleError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the rule set loaded without any error."""
        return self.ruleset is not None and not self.errors


def _errors_from(exc: ValidationError, file: str, rule_id: str | None, index: int | None) -> list[RuleError]:
    """Turn a pydantic validation error into rule errors with dotted field paths."""
    found = []
    for error in exc.errors(include_url=False):
        parts = [str(part) for part in error["loc"]]
        below = (error.get("ctx") or {}).get(FIELD_KEY)
        if below:
            parts.append(str(below))
        field = ".".join(parts)
        found.append(RuleError(file=file, rule_id=rule_id, index=index, field=field, message=error["msg"]))
    return found


def _read_yaml(path: Path, errors: list[RuleError]) -> dict[str, Any] | None:
    """Parse one YAML file into a mapping; report and return None if it is unusable."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(RuleError(file=path.name, message=f"cannot read YAML: {' '.join(str(exc).split())}"))
        return None
    if not isinstance(document, dict):
        errors.append(RuleError(file=path.name, message="expected a mapping at the top level"))
        return None
    return document


def _load_settings(root: Path, catalog: Catalog, errors: list[RuleError]) -> RuleSetSettings | None:
    """Read and validate the header file; None if it is missing or broken."""
    document = _read_yaml(root / RULESET_FILE, errors)
    if document is None:
        return None
    try:
        settings = RuleSetSettings.model_validate(document)
    except ValidationError as exc:
        errors.extend(_errors_from(exc, RULESET_FILE, None, None))
        return None
    for field, message in check_settings(settings, catalog):
        errors.append(RuleError(file=RULESET_FILE, field=field, message=message))
    return settings


def _load_theme(
    path: Path, settings: RuleSetSettings, catalog: Catalog, rules: dict[str, Rule], errors: list[RuleError]
) -> dict[str, Any]:
    """Validate one theme file's rules into ``rules``; return the file's other top-level keys."""
    document = _read_yaml(path, errors)
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
            errors.extend(_errors_from(exc, path.name, rule_id, index))
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


__all__ = [
    "ENGINE_FIELDS",
    "GRADE_LABELS_ZH",
    "RULES_DIR",
    "STAGE_LABELS_ZH",
    "ApprovalItem",
    "Compatibility",
    "CompensationTable",
    "Condition",
    "Grade",
    "ProjectClass",
    "ProjectType",
    "ProjectTypeFilter",
    "Rule",
    "RuleError",
    "RuleException",
    "RuleKind",
    "OutcomeCache",
    "RuleOutcome",
    "RuleSet",
    "RuleSetLoad",
    "RuleSetSettings",
    "Stage",
    "applies",
    "compatibility",
    "evaluate",
    "get_ruleset",
    "load_ruleset",
    "rules_for_layer",
]
