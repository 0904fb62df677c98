"""The messages of findings: rule templates filled with a feature's attributes and the measured values.

A template names attributes of its layer and the values the engine supplies (``ENGINE_FIELDS`` of the rule
loader, which checks every template against them); coded attributes read as their labels, Chinese in the
Chinese message and English in the English one. Every feature gets the template filled with its own
figures; a finding over several features states the finding's own figures instead (how many features,
their area counted once), so no message quotes one feature's figure for the whole finding.
"""

from __future__ import annotations

import functools
import string
from typing import Any

from analysis.findings import Finding
from analysis.rules.model import RuleOutcome
from analysis.rules.schema import Rule
from layers.catalog.model import LayerEntry
from layers.numbers import format_number

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


class _Figure(float):
    """A measured or stored figure: a bare ``{name}`` reads as people write it (27,700, not 27700.0); a
    placeholder with its own format spec (``{area_m2:,.0f}``) keeps it."""

    def __format__(self, format_spec: str) -> str:
        return super().__format__(format_spec) if format_spec else format_number(self)

    def __str__(self) -> str:
        return format_number(self)


def _figures(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _Figure(v) if type(v) is float else v for k, v in values.items()}


def fill(template: str, values: dict[str, Any]) -> str:
    """Fill a message template; the fast C path first, the tolerant formatter for odd values."""
    values = _figures(values)
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


def messages(rule: Rule, values: dict[str, Any], values_en: dict[str, Any] | None = None) -> tuple[str, str]:
    """The rule's Chinese and English messages filled from ``values`` (the English one from ``values_en``
    when given: coded attributes carry their English labels there)."""
    return fill(rule.message_zh, values), fill(rule.message_en, values if values_en is None else values_en)


def summary_messages(
    rule: Rule, entry: LayerEntry, count: int, area_m2: float | None, distance_m: float
) -> tuple[str, str]:
    """The messages of a finding over ``count`` features: how many, their area counted once (or the
    nearest distance when they do not meet the footprint), then what the rule requires."""
    if area_m2:
        zh = f"涉及 {count} {entry.measure_zh}{entry.name_zh}，合计 {area_m2:,.0f} m²"
        en = f"{count} features of {entry.name_en}, {area_m2:,.0f} m² in all"
    elif distance_m > 0:
        zh = f"涉及 {count} {entry.measure_zh}{entry.name_zh}，最近 {distance_m:,.1f} m"
        en = f"{count} features of {entry.name_en}, the nearest {distance_m:,.1f} m away"
    else:
        zh = f"涉及 {count} {entry.measure_zh}{entry.name_zh}"
        en = f"{count} features of {entry.name_en}"
    action_zh, action_en = consequence(rule.message_zh, "，"), consequence(rule.message_en, "; ")
    return (f"{zh}，{action_zh}" if action_zh else zh), (f"{en}; {action_en}" if action_en else en)


_OPEN, _CLOSE = "（(", "）)"


@functools.lru_cache(maxsize=1024)
def consequence(template: str, separator: str) -> str | None:
    """The template's closing clause (after its last ``separator`` outside brackets) when it names no
    feature value: what the rule requires, which holds for every feature ("需协商收回土地使用权")."""
    depth, cut = 0, -1
    for at, char in enumerate(template):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        elif depth == 0 and template.startswith(separator, at):
            cut = at + len(separator)
    tail = template[cut:].strip() if cut >= 0 else ""
    return tail if tail and "{" not in tail else None


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
    """A finding for a rule that fired, with its messages filled from ``values`` (see :func:`messages`)."""
    message_zh, message_en = messages(rule, values, values_en)
    return Finding(
        rule_id=rule.id,
        layer=entry.code,
        layer_name_zh=entry.name_zh,
        grade=outcome.grade,
        overlap_m2=overlap_m2,
        share_pct=share_pct,
        distance_m=distance_m,
        message_zh=message_zh,
        message_en=message_en,
        legal_basis=list(rule.legal_basis),
        department=outcome.department,
        approval_item=outcome.approval_item.name_zh if outcome.approval_item else None,
        features=[],
    )
