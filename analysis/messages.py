"""The messages of findings: rule templates filled with a feature's attributes and the measured values.

A template names attributes of its layer and the values the engine supplies (``ENGINE_FIELDS`` of the rule
loader, which checks every template against them); coded attributes read as their labels, Chinese in the
Chinese message and English in the English one.
"""

from __future__ import annotations

import string
from typing import Any

from analysis.findings import Finding
from analysis.rules.model import RuleOutcome
from analysis.rules.schema import Rule
from layers.catalog.model import LayerEntry

CodeLabels = list[tuple[str, dict[str, str]]]
"""A layer's coded attributes, each with the label of every code value."""


class _Formatter(string.Formatter):
    """Message templates: unknown placeholders stay visible instead of failing."""

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str) and key not in kwargs:
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMAT = _Formatter()


class _Visible(dict[str, Any]):
    """Values for a message template: an unknown placeholder stays visible as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: dict[str, Any]) -> str:
    """Fill a message template; the fast C path first, the tolerant formatter for odd values."""
    try:
        return template.format_map(_Visible(values))
    except (ValueError, TypeError, IndexError, AttributeError, KeyError):
        return _FORMAT.format(template, **values)


def code_labels(entry: LayerEntry, english: bool = False) -> CodeLabels:
    """The layer's coded attributes with the Chinese (or English) label of each code value."""
    coded = [
        (attr.name, {c.value: c.label_en if english else c.label_zh for c in attr.codes or []})
        for attr in entry.attributes
    ]
    return [(name, labels) for name, labels in coded if labels]


def labelled(coded: CodeLabels, props: dict[str, Any]) -> dict[str, Any]:
    """Attribute values with code values replaced by their labels (for messages)."""
    out = dict(props)
    for name, labels in coded:
        if name in out and str(out[name]) in labels:
            out[name] = labels[str(out[name])]
    return out


def new_finding(
    rule: Rule,
    entry: LayerEntry,
    outcome: RuleOutcome,
    values: dict[str, Any],
    *,
    values_en: dict[str, Any] | None = None,
    overlap_m2: float | None = None,
    share_pct: float | None = None,
    distance_m: float | None = None,
) -> Finding:
    """A finding for a rule that fired, with its messages filled from ``values`` (the English one from
    ``values_en`` when given: coded attributes carry their English labels there)."""
    return Finding(
        rule_id=rule.id,
        layer=entry.code,
        layer_name_zh=entry.name_zh,
        grade=outcome.grade,
        overlap_m2=overlap_m2,
        share_pct=share_pct,
        distance_m=distance_m,
        message_zh=fill(rule.message_zh, values),
        message_en=fill(rule.message_en, values if values_en is None else values_en),
        legal_basis=list(rule.legal_basis),
        department=outcome.department,
        approval_item=outcome.approval_item.name_zh if outcome.approval_item else None,
        features=[],
    )
