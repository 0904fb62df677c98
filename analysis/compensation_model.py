"""The compensation estimate as a report holds it: priced lines by zone and owner type, unpriced buildings.

Models only: the report (:mod:`analysis.report`) holds them, and the estimator
(:mod:`analysis.compensation`) fills them.
"""

from __future__ import annotations

from pydantic import BaseModel


class CompensationLine(BaseModel):
    """Buildings of one zone and one owner type, priced."""

    zone: str
    owner_type: str
    owner_type_zh: str
    buildings: int
    floor_area_m2: float
    unit_price: float
    amount_yuan: float


class UnpricedBuilding(BaseModel):
    """A building the table cannot price, and why."""

    fid: int
    building_code: str | None
    floor_area_m2: float
    reason_zh: str
    reason_en: str


class Compensation(BaseModel):
    """Estimated compensation of the demolition scope (a planning figure, not an assessed value)."""

    total_yuan: float
    unit: str
    table_version: str
    source_zh: str | None
    lines: list[CompensationLine]
    unpriced: list[UnpricedBuilding]
