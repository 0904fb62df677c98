"""What changed between two pre-evaluation reports of the same footprint (a re-check after a layer update)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from analysis.findings import Finding
from analysis.report import Report

# Overlaps and distances that differ by less than this are the same measurement.
_TOLERANCE = 0.01


class FindingChange(BaseModel):
    """A rule whose outcome differs between the two reports."""

    rule_id: str
    layer: str
    change: str  # added | removed | changed
    grade_before: str | None
    grade_after: str | None
    overlap_m2_before: float | None
    overlap_m2_after: float | None
    features_before: list[int]
    features_after: list[int]


class ReportChanges(BaseModel):
    """Verdict, findings and layer versions compared."""

    previous_id: int
    verdict_before: str
    verdict_after: str
    findings: list[FindingChange]
    layer_versions: dict[str, list[int | None]]
    rules_version_before: str
    rules_version_after: str


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= _TOLERANCE


def _fids(finding: Finding | None) -> list[int]:
    return sorted(h.fid for h in finding.features) if finding else []


def compare(previous_id: int, before: Report, after: Report) -> ReportChanges:
    """The differences a user needs to see after a re-check: nothing is listed when nothing changed."""
    old = {f.rule_id: f for f in before.findings}
    new = {f.rule_id: f for f in after.findings}
    changes = []
    for rule_id in sorted(old.keys() | new.keys()):
        a, b = old.get(rule_id), new.get(rule_id)
        if a is not None and b is not None:
            if a.grade == b.grade and _same(a.overlap_m2, b.overlap_m2) and _fids(a) == _fids(b):
                continue
            kind = "changed"
        else:
            kind = "added" if a is None else "removed"
        either: Any = b or a
        changes.append(
            FindingChange(
                rule_id=rule_id,
                layer=either.layer,
                change=kind,
                grade_before=a.grade.value if a else None,
                grade_after=b.grade.value if b else None,
                overlap_m2_before=a.overlap_m2 if a else None,
                overlap_m2_after=b.overlap_m2 if b else None,
                features_before=_fids(a),
                features_after=_fids(b),
            )
        )
    versions = {
        code: [before.layer_versions.get(code), after.layer_versions.get(code)]
        for code in sorted(before.layer_versions.keys() | after.layer_versions.keys())
        if before.layer_versions.get(code) != after.layer_versions.get(code)
    }
    return ReportChanges(
        previous_id=previous_id,
        verdict_before=before.verdict,
        verdict_after=after.verdict,
        findings=changes,
        layer_versions=versions,
        rules_version_before=before.rules_version,
        rules_version_after=after.rules_version,
    )
