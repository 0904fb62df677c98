"""The facility standards of the gap analysis as data: radii, 千人指标, capacities, candidate sources.

``facilities.yaml`` beside this module is validated against the catalog at load; every answer cites the
standards' version and fingerprint (a SHA-256 of the file's bytes), so a changed figure changes the key
under which answers are cached.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers.catalog import Catalog, get_catalog

STANDARDS_FILE = Path(__file__).parent / "facilities.yaml"

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Figure(BaseModel):
    """One number with its source; an assumed number says why in a note."""

    model_config = _STRICT

    value: float = Field(ge=0)
    source: str = ""
    assumed: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _assumed_needs_note(self) -> Figure:
        if self.assumed and not self.note:
            raise ValueError("an assumed figure needs a note saying where it comes from")
        if not self.assumed and not self.source:
            raise ValueError("a figure that is not assumed must name its source")
        return self


class Provision(BaseModel):
    """Capacity needed per 1,000 residents (千人指标)."""

    model_config = _STRICT

    per_1000: float = Field(gt=0)
    unit_zh: str
    unit_en: str
    source: str
    assumed: bool = False
    note: str | None = None


class Selection(BaseModel):
    """Which features of the facility layer count, and the share of their capacity that does."""

    model_config = _STRICT

    attribute: str
    shares: dict[str, Figure]

    @model_validator(mode="after")
    def _shares_are_fractions(self) -> Selection:
        for value, share in self.shares.items():
            if not 0 < share.value <= 1:
                raise ValueError(f"share of '{value}' must be in (0, 1]")
        return self


class Capacity(BaseModel):
    """A facility's capacity: an attribute × per_unit, the feature's area, or per_unit alone."""

    model_config = _STRICT

    attribute: str | None = None
    geometry_area: bool = False
    per_unit: Figure
    typical: Figure = Field(
        description="capacity of a facility whose attribute is missing, and of a candidate"
    )


class CandidateSource(BaseModel):
    """Planned sites of the statutory plan: features of ``layer`` whose ``attribute`` is in ``values``."""

    model_config = _STRICT

    layer: str
    attribute: str
    values: list[str] = Field(min_length=1)


class ProjectKind(BaseModel):
    """What a candidate becomes: the approval template and the pre-evaluation project type."""

    model_config = _STRICT

    template: str
    preevaluation_type: str
    # The responsible department (组织代码) that owns such a project, and its implementing unit: the
    # defaults when a planner turns a candidate into a project without naming them.
    owner_dept: str | None = None
    unit: str | None = None


class FacilityStandard(BaseModel):
    """The standard of one facility type."""

    model_config = _STRICT

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    name_zh: str
    name_en: str
    radius_m: Figure
    provision: Provision
    layer: str
    select: Selection | None = None
    capacity: Capacity
    min_site_m2: Figure
    candidates: CandidateSource
    project: ProjectKind

    @model_validator(mode="after")
    def _radius_positive(self) -> FacilityStandard:
        if not 0 < self.radius_m.value <= 5000:
            raise ValueError("radius_m must be in (0, 5000] metres")
        return self


class LayerAttribute(BaseModel):
    """A layer and one of its attributes."""

    model_config = _STRICT

    layer: str
    attribute: str
    label: str | None = None


class Network(BaseModel):
    """The layers of the walking network and its tolerances."""

    model_config = _STRICT

    layers: list[str] = Field(min_length=1)
    snap_max_m: Figure
    node_tolerance_m: Figure


class Standards(BaseModel):
    """The whole standards file, with the fingerprint of its bytes."""

    model_config = _STRICT

    version: str
    title_zh: str
    title_en: str
    network: Network
    population: LayerAttribute
    built_within_m: Figure
    subdistricts: LayerAttribute
    facilities: list[FacilityStandard] = Field(min_length=1)
    fingerprint: str = ""

    def get(self, code: str) -> FacilityStandard | None:
        """The standard of facility type ``code``, if there is one."""
        return next((f for f in self.facilities if f.code == code), None)


def check_against_catalog(standards: Standards, catalog: Catalog) -> list[str]:
    """Problems of the standards against the layer catalog (unknown layers, attributes, codes)."""
    problems: list[str] = []

    def attribute(layer: str, name: str | None, where: str) -> None:
        entry = catalog.layers.get(layer)
        if entry is None:
            problems.append(f"{where}: unknown layer '{layer}'")
        elif name is not None and name not in {a.name for a in entry.attributes}:
            problems.append(f"{where}: layer '{layer}' has no attribute '{name}'")

    for code in standards.network.layers:
        entry = catalog.layers.get(code)
        if entry is None or entry.kind != "line":
            problems.append(f"network.layers: '{code}' is not a line layer")
    attribute(standards.population.layer, standards.population.attribute, "population")
    attribute(standards.subdistricts.layer, standards.subdistricts.attribute, "subdistricts")
    for f in standards.facilities:
        attribute(f.layer, f.select.attribute if f.select else None, f"{f.code}.select")
        attribute(f.layer, f.capacity.attribute, f"{f.code}.capacity")
        attribute(f.candidates.layer, f.candidates.attribute, f"{f.code}.candidates")
    if len({f.code for f in standards.facilities}) != len(standards.facilities):
        problems.append("facilities: duplicate code")
    return problems


def load_standards(path: Path = STANDARDS_FILE, catalog: Catalog | None = None) -> Standards:
    """Read, validate and fingerprint a standards file; raise ValueError naming every problem."""
    raw = path.read_bytes()
    document: Any = yaml.safe_load(raw.decode("utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: expected a mapping at the top level")
    fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()
    standards = Standards.model_validate({**document, "fingerprint": fingerprint})
    problems = check_against_catalog(standards, catalog or get_catalog())
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return standards


@functools.cache
def get_standards() -> Standards:
    """The packaged standards, loaded once."""
    return load_standards()
