"""Findings of a pre-evaluation: the rules that fired and the features they fired on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from analysis.rules.schema import Grade


class FeatureHit(BaseModel):
    """One feature a rule fired on."""

    fid: int
    attributes: dict[str, Any]
    overlap_m2: float | None = None
    distance_m: float | None = None


class Finding(BaseModel):
    """A rule that fired, with its measured extent and its consequences."""

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
