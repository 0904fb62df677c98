"""What a footprint implies for demolition (征拆): the demolition findings summed up, and priced.

The report's ``demolition`` section seeds the demolition ledger: buildings, floor area and households from
the demolition rule's hits, land by ownership from the ownership rules' overlaps, and the compensation
estimate (:mod:`analysis.compensation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import Connection

from analysis.compensation import estimate_compensation
from analysis.findings import Finding
from analysis.report import Demolition
from analysis.rules.model import RuleSet
from analysis.snapshot import Snapshot


def demolition(
    conn: Connection[Any],
    findings: dict[str, Finding],
    ruleset: RuleSet,
    current: Mapping[str, int],
    snapshot: Snapshot | None,
) -> Demolition:
    """The demolition section of a report, with its compensation estimate (see ``estimate_compensation``)."""
    summary = _summary(findings)
    compensation = estimate_compensation(conn, findings, ruleset, current, snapshot)
    return summary.model_copy(update={"compensation": compensation})


def _summary(findings: Mapping[str, Finding]) -> Demolition:
    """Buildings, floor area, households and land ownership from the demolition findings."""

    def number(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return 0.0

    buildings = findings.get("cur_building.demolition")
    hits = buildings.features if buildings else []
    collective = findings.get("cur_ownership.collective")
    state = findings.get("cur_ownership.state")
    return Demolition(
        buildings=len(hits),
        floor_area_m2=round(sum(number(h.attributes.get("floor_area")) for h in hits), 2),
        households=int(sum(number(h.attributes.get("households")) for h in hits)),
        collective_land_m2=round((collective.overlap_m2 or 0.0) if collective else 0.0, 3),
        state_land_m2=round((state.overlap_m2 or 0.0) if state else 0.0, 3),
    )
