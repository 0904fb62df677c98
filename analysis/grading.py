"""Grading: the rules of a feature's layer applied to it, and a rule's hits gathered into its finding.

A rule's finding states its own figures: its overlap is the area of the union of its features' overlaps
(:func:`analysis.areas.union_area`, never their sum) and its message is the one feature's, or the count
and total of all of them; every feature keeps its own overlap, distance and message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import shapely
from pydantic import TypeAdapter

from analysis.areas import union_area
from analysis.checkplan import LayerPlan
from analysis.findings import FeatureHit, Finding
from analysis.messages import labelled, messages, summary_messages
from analysis.rules.model import OutcomeCache, RuleOutcome
from analysis.rules.schema import Rule


@dataclass
class Tally:
    """A rule's hits while grading, kept out of the pydantic models until the end (a dense block
    has thousands, and every assignment to a model field is validated)."""

    rule: Rule
    plan: LayerPlan
    outcome: RuleOutcome
    hits: list[dict[str, Any]] = field(default_factory=list)
    overlaps: list[shapely.Geometry] = field(default_factory=list)  # the hits' overlaps with an area
    measured: bool = False  # whether any hit has an overlap (an area layer's)
    distance: float = math.inf

    def finding(self, footprint_area_m2: float) -> Finding:
        """The finding: its overlap the area of the union of its features' overlaps (at most the
        footprint's), and its message the one feature's, or the figures of all of them when there
        are several."""
        overlap = union_area(self.overlaps, footprint_area_m2) if self.measured else None
        entry = self.plan.layer.entry
        if len(self.hits) == 1:
            message_zh, message_en = self.hits[0]["message_zh"], self.hits[0]["message_en"]
        else:
            message_zh, message_en = summary_messages(
                self.rule, entry, len(self.hits), overlap, self.distance
            )
        outcome = self.outcome
        return Finding(
            rule_id=self.rule.id,
            layer=entry.code,
            layer_name_zh=entry.name_zh,
            grade=outcome.grade,
            overlap_m2=overlap,
            share_pct=None,
            distance_m=self.distance,
            message_zh=message_zh,
            message_en=message_en,
            legal_basis=list(self.rule.legal_basis),
            department=outcome.department,
            approval_item=outcome.approval_item.name_zh if outcome.approval_item else None,
            features=_HITS.validate_python(self.hits),
        )


_HITS = TypeAdapter(list[FeatureHit])


@dataclass(frozen=True)
class Overlap:
    """A feature's overlap with the footprint, its area, and whether it counts (not empty, no sliver)."""

    geometry: shapely.Geometry
    area: float
    counts: bool


def apply_rules(
    tallies: dict[str, Tally],
    plan: LayerPlan,
    outcomes: OutcomeCache,
    project_type: str,
    flags: frozenset[str],
    fid: int,
    props: dict[str, Any],
    distance: float,
    overlap: Overlap | None,
) -> None:
    """Record every rule of the feature's layer that fires on it (its overlap is measured already),
    with the rule's message filled with this feature's attributes and figures."""
    values: tuple[dict[str, Any], dict[str, Any]] | None = None
    for rule, reach in plan.tests:
        if reach is None:  # overlap, compatibility and demolition rules
            if overlap is None:
                if distance > 0:
                    continue
            elif not overlap.counts:
                continue
        elif distance > reach:
            continue
        outcome = outcomes.get(rule, project_type, props, flags)
        if outcome is None:
            continue
        area = overlap.area if overlap is not None else None
        if values is None:  # labelled once per feature, for all its rules
            # Measured figures have names of their own: a layer's attribute `distance` (a protection or
            # safety distance) is quoted as it is, never replaced by the footprint's distance to the zone.
            measured = {"area_m2": area or 0.0, "distance_m": distance}
            values = (
                {**labelled(plan.code_labels, props), **measured},
                {**labelled(plan.code_labels_en, props), **measured},
            )
        message_zh, message_en = messages(rule, *values)
        tally = tallies.get(rule.id)
        if tally is None:
            tally = tallies[rule.id] = Tally(rule, plan, outcome)
        tally.hits.append(
            {
                "fid": fid,
                "attributes": props,
                "overlap_m2": area,
                "distance_m": round(distance, 3),
                "message_zh": message_zh,
                "message_en": message_en,
            }
        )
        if overlap is not None:
            tally.measured = True
            if area:
                tally.overlaps.append(overlap.geometry)
        tally.distance = min(tally.distance, distance)
