"""Findings of a pre-evaluation: the rules that fired and the features they fired on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from analysis.rules.schema import Grade


class FeatureHit(BaseModel):
    """One feature a rule fired on, with its own overlap, distance and message (the rule's template
    filled with this feature's attributes and figures; absent in reports stored before it existed)."""

    fid: int
    attributes: dict[str, Any]
    overlap_m2: float | None = None
    distance_m: float | None = None
    message_zh: str | None = None
    message_en: str | None = None


class Finding(BaseModel):
    """A rule that fired, with its measured extent and its consequences.

    ``overlap_m2`` is the area of the footprint the rule's features cover, each square metre counted
    once (the area of the union of the features' overlaps, never their sum), so ``share_pct`` ≤ 100.
    """

    rule_id: str
    layer: str
    layer_name_zh: str
    grade: Grade
    overlap_m2: float | None
    share_pct: float | None
    distance_m: float | None
    message_zh: str
    message_en: str
    legal_basis: list[str]
    department: str
    approval_item: str | None
    features: list[FeatureHit]
