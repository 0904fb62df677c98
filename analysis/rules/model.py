"""The pre-evaluation rule set (预评价规则) as the engine uses it: rules by id, outcomes, compatibility."""

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, Field

from analysis.rules.catalog_checks import COMPATIBILITY_ATTRIBUTE
from analysis.rules.schema import (
    STRICT,
    ApprovalItem,
    Compatibility,
    CompatibilityMatrix,
    Grade,
    Rule,
    RuleException,
    RuleKind,
    RuleSetSettings,
)


class RuleOutcome(BaseModel):
    """The effective verdict of one rule for one project type and feature."""

    model_config = STRICT

    rule_id: str
    grade: Grade
    department: str
    approval_item: ApprovalItem | None
    exception_id: str | None = None
    note_zh: str | None = None


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

    @property
    def version(self) -> str:
        """Return the rule set's version string."""
        return self.settings.version

    def rules_for_layer(self, code: str) -> list[Rule]:
        """Return the rules on a layer, in file order (checks use ``CheckPlan.rules_by_layer``)."""
        return [rule for rule in self.rules.values() if rule.layer == code]

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

    __slots__ = ("_outcomes", "_reads", "_ruleset")

    def __init__(self, ruleset: RuleSet) -> None:
        self._ruleset = ruleset
        self._outcomes: dict[tuple[Any, ...], RuleOutcome | None] = {}
        self._reads: dict[str, tuple[str, ...]] = {}

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
