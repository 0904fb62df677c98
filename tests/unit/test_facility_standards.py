"""The facility standards file: every figure sourced, assumed ones explained, checked against the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from analysis.standards.model import STANDARDS_FILE, Figure, get_standards, load_standards


def test_the_packaged_standards_cover_the_issue_s_facility_types() -> None:
    standards = get_standards()
    assert {f.code for f in standards.facilities} >= {
        "kindergarten",
        "primary_school",
        "middle_school",
        "community_health_station",
        "elderly_care_station",
        "park",
        "sports_ground",
    }
    assert standards.fingerprint.startswith("sha256:") and len(standards.fingerprint) == 71
    # The walking radii are GB 50180-2018's life circles (DOMAIN.md), not assumptions.
    radii = {f.code: f.radius_m for f in standards.facilities}
    assert (radii["kindergarten"].value, radii["primary_school"].value, radii["middle_school"].value) == (
        300,
        500,
        1000,
    )
    assert not any(r.assumed for r in radii.values())
    assert all("GB 50180-2018" in r.source for r in radii.values())
    # 千人指标 are not in the project's sources: each is marked assumed with a note.
    assert all(f.provision.assumed and f.provision.note for f in standards.facilities)


def test_an_assumed_figure_needs_a_note_and_a_sourced_one_a_source() -> None:
    with pytest.raises(ValidationError, match="assumed figure needs a note"):
        Figure(value=40, assumed=True)
    with pytest.raises(ValidationError, match="must name its source"):
        Figure(value=40)
    assert Figure(value=40, assumed=True, note="常用取值").assumed


def test_a_changed_figure_changes_the_fingerprint_and_bad_references_are_named(tmp_path: Path) -> None:
    document = yaml.safe_load(STANDARDS_FILE.read_text(encoding="utf-8"))
    document["facilities"][1]["provision"]["per_1000"] = 85
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert load_standards(changed).fingerprint != get_standards().fingerprint
    document["facilities"][1]["capacity"]["attribute"] = "seats"
    document["facilities"][2]["layer"] = "pub_nowhere"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_standards(broken)
    assert "primary_school.capacity: layer 'pub_school' has no attribute 'seats'" in str(caught.value)
    assert "middle_school.select: unknown layer 'pub_nowhere'" in str(caught.value)
