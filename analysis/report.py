"""The pre-evaluation report: its schema, as stored and served, and the verdict names.

The engine (:mod:`analysis.engine`) fills it; the renderers (``report_html``, ``report_tables``), the
comparison of two reports (``report_diff``) and site comparison (``sites``) read it. Stored reports are
this model's JSON, so its fields and their order are a storage format.
"""

from __future__ import annotations

from pydantic import BaseModel

from analysis.compensation_model import Compensation
from analysis.coverage import Unavailable
from analysis.findings import Finding
from analysis.rules.schema import Grade
from layers.catalog.model import LayerEntry

VERDICT_ZH = {Grade.PROHIBITED: "不通过", Grade.CONDITIONAL: "有条件通过", None: "通过"}
VERDICT_EN = {Grade.PROHIBITED: "rejected", Grade.CONDITIONAL: "conditionally approved", None: "approved"}


class NotCheckable(BaseModel):
    """A layer that cannot answer for this footprint (or for its part outside the layer's coverage): no
    data is never reported as no conflict."""

    layer: str
    layer_name_zh: str
    reason_zh: str
    reason_en: str
    # no_data, out_of_date, outside_coverage or partly_outside_coverage (None in reports stored before
    # coverages were recorded).
    reason_code: str | None = None
    # For partly_outside_coverage: the footprint's area outside the coverage and its share of the footprint.
    uncovered_m2: float | None = None
    uncovered_share_pct: float | None = None


def not_checkable_of(entry: LayerEntry, reason: Unavailable) -> NotCheckable:
    """The report's entry for a layer that cannot answer (wholly or in part) for ``reason``."""
    return NotCheckable(
        layer=entry.code,
        layer_name_zh=entry.name_zh,
        reason_zh=reason.reason_zh,
        reason_en=reason.reason_en,
        reason_code=reason.reason_code,
        uncovered_m2=reason.uncovered_m2,
        uncovered_share_pct=reason.uncovered_share_pct,
    )


class Terrain(BaseModel):
    """Slope over the footprint, from the slope raster."""

    mean_slope_deg: float
    steep_share_pct: float
    steep_area_m2: float


class Demolition(BaseModel):
    """What the footprint implies for demolition (征拆): it seeds the demolition ledger."""

    buildings: int
    floor_area_m2: float
    households: int
    collective_land_m2: float
    state_land_m2: float
    compensation: Compensation | None = None


class Buildable(BaseModel):
    """The footprint minus every prohibited overlap."""

    area_m2: float
    share_pct: float
    geometry_wkt: str


class ConditionalArea(BaseModel):
    """The footprint's area under conditional findings, each square metre counted once (an area of a
    union, not a sum over findings), in all and by department."""

    area_m2: float
    by_department: dict[str, float]


class Report(BaseModel):
    """The pre-evaluation report."""

    verdict: str
    verdict_en: str
    project_type: str
    flags: list[str] = []
    footprint_area_m2: float
    findings: list[Finding]
    not_checkable: list[NotCheckable]
    layer_versions: dict[str, int]
    rules_version: str
    repairs: list[str]
    terrain: Terrain | None
    demolition: Demolition
    buildable: Buildable
    # Reports stored before the union areas were measured have none (their comparison figures stay sums).
    conditional: ConditionalArea | None = None

    def prohibited_area_m2(self) -> float:
        """The footprint minus the buildable remainder: prohibited overlaps counted once."""
        return round(max(self.footprint_area_m2 - self.buildable.area_m2, 0.0), 3)
