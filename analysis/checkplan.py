"""The catalog and the rule set compiled once for checks: everything a check needs that never changes.

A :class:`CheckPlan` is built from a catalog and a rule set — by the service at start-up (held on
``app.state``), by a command, a script or a test for the ones it loaded — and passed to every check, batch
and catch-up of the check index. It holds the checked layers with their rules, reach and age limit, the
terrain rules, the remembered rule outcomes and the rendered candidate statements. A rule set changed
after compiling needs a new plan.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from analysis.messages import CodeLabels, code_labels
from analysis.rules.loader import get_ruleset
from analysis.rules.model import OutcomeCache, RuleSet
from analysis.rules.schema import Rule, RuleKind
from layers.catalog.model import Catalog, LayerEntry, LayerKind, get_catalog

# Rules measured against the footprint's geometry (terrain rules read the slope raster instead).
GEOMETRIC = (RuleKind.OVERLAP, RuleKind.SETBACK, RuleKind.COMPATIBILITY, RuleKind.DEMOLITION)
# Rules that fire on the features the footprint overlaps (setback rules: within their distance).
AREA_KINDS = (RuleKind.OVERLAP, RuleKind.COMPATIBILITY, RuleKind.DEMOLITION)
# "At exactly the distance" counts; a millimetre absorbs the rounding of coordinates sent in lon/lat.
SETBACK_TOLERANCE_M = 0.001
# Remembered outcomes are dropped past this many: a bound on memory (a flood of distinct values).
OUTCOMES_MAX = 50_000


@dataclass(frozen=True)
class CheckedLayer:
    """A layer some geometric rule reads, and how far from the footprint its rules look."""

    entry: LayerEntry
    reach_m: float


def search_reach(layer: CheckedLayer) -> float:
    """How far from the footprint a part of the layer can matter: its widest rule, plus the tolerance
    with which a setback at exactly its distance counts."""
    return layer.reach_m + SETBACK_TOLERANCE_M if layer.reach_m > 0 else 0.0


@dataclass(frozen=True)
class LayerPlan:
    """What the engine needs of one checked layer that does not change between checks."""

    layer: CheckedLayer
    # The layer's overlap and setback rules in file order, each with its reach (None: must overlap).
    tests: list[tuple[Rule, float | None]]
    max_age_days: int
    code_labels: CodeLabels
    code_labels_en: CodeLabels
    # (reach of its parts, area layer): what ``engine._measure`` needs of each part of the layer.
    measure: tuple[float, bool]


class CheckPlan:
    """A catalog and a rule set compiled for checks (shared by every check, on any thread)."""

    def __init__(self, catalog: Catalog, ruleset: RuleSet) -> None:
        self.catalog = catalog
        self.ruleset = ruleset
        # Each layer's rules, in file order.
        self.rules_by_layer: dict[str, list[Rule]] = {}
        for rule in ruleset.rules.values():
            self.rules_by_layer.setdefault(rule.layer, []).append(rule)
        # The vector pre-evaluation layers with at least one geometric rule, in catalog order.
        self.checked_layers: list[CheckedLayer] = []
        for entry in catalog.pre_evaluation_layers():
            rules = [r for r in self.rules_by_layer.get(entry.code, []) if r.kind in GEOMETRIC]
            if rules and entry.kind is not LayerKind.RASTER:
                reach = float(max([r.distance_m or 0.0 for r in rules] + [0.0]))
                self.checked_layers.append(CheckedLayer(entry, reach))
        self.layer_plans = [self._layer_plan(layer) for layer in self.checked_layers]
        self.terrain_rules = [r for r in ruleset.rules.values() if r.kind is RuleKind.TERRAIN]
        # Candidate statements rendered once, by the layers they read (see analysis.candidates).
        self.queries: dict[tuple[Any, ...], bytes] = {}
        self._outcomes = OutcomeCache(ruleset)

    def _layer_plan(self, layer: CheckedLayer) -> LayerPlan:
        """The layer's overlap and setback rules with their reach, its age limit and code labels."""
        rules = self.rules_by_layer.get(layer.entry.code, [])
        tests: list[tuple[Rule, float | None]] = []
        for rule in rules:
            if rule.kind in AREA_KINDS:
                tests.append((rule, None))
            elif rule.kind is RuleKind.SETBACK and rule.distance_m is not None:
                tests.append((rule, rule.distance_m + SETBACK_TOLERANCE_M))
        ages = [r.max_age_days for r in rules if r.kind in GEOMETRIC and r.max_age_days]
        max_age = min(ages + [layer.entry.max_age_days or 10**9])
        measure = (search_reach(layer), layer.entry.kind is LayerKind.AREA)
        labels = (code_labels(layer.entry), code_labels(layer.entry, english=True))
        return LayerPlan(layer, tests, max_age, *labels, measure)

    def outcomes(self) -> OutcomeCache:
        """The remembered rule outcomes (started afresh when they have grown large)."""
        cache = self._outcomes
        if len(cache) > OUTCOMES_MAX:
            cache = self._outcomes = OutcomeCache(self.ruleset)
        return cache


@functools.cache
def get_check_plan() -> CheckPlan:
    """The packaged catalog and rule set, compiled once (the service compiles the catalog it loaded)."""
    return CheckPlan(get_catalog(), get_ruleset())
