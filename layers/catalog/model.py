"""Pydantic models of the base-map layer catalog and the loader of its YAML files."""

import functools
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from layers.yaml_model import field_error, located_errors, location, read_mapping

DATA_DIR = Path(__file__).parent / "data"
"""Directory of the packaged catalog: one ``NN_group.yaml`` file per layer group."""

LAYER_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"
ATTRIBUTE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
COLOUR_PATTERN = r"^#[0-9A-Fa-f]{6}$"

# Key in a custom error's context naming the offending field below the model that raised it.
_FIELD_KEY = "catalog_field"

logger = logging.getLogger(__name__)

LayerCode = Annotated[str, Field(pattern=LAYER_CODE_PATTERN)]
AttributeName = Annotated[str, Field(pattern=ATTRIBUTE_NAME_PATTERN)]
Colour = Annotated[str, Field(pattern=COLOUR_PATTERN)]
GroupId = Annotated[str, Field(pattern=r"^[0-9]{2}$")]
Text = Annotated[str, Field(min_length=1)]
# The roles that read the base map (the security and audit administrators see no layer).
Role = Literal["system_admin", "planner", "project_unit", "reviewer", "coordinator", "viewer", "window"]
# Live layers: drawn from a workflow's own tables as they are now (never imported, no versions). Only the
# project library (project.project + its current project.footprint) is one.
LiveSource = Literal["project_library"]
# Derived layers: versions written by the platform's own analyses (never imported by hand, never generated
# by the demo). Only the facility gap analysis (寻找发展差距) writes one: its cells in deficit.
DerivedSource = Literal["gap_analysis"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class LayerKind(StrEnum):
    """Geometry kind of a layer."""

    AREA = "area"
    LINE = "line"
    POINT = "point"
    RASTER = "raster"


class AttributeType(StrEnum):
    """Value type of a layer attribute."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    CODE = "code"


# Style properties each kind must have, and the ones it may have.
_STYLE_REQUIRED: dict[LayerKind, tuple[str, ...]] = {
    LayerKind.AREA: ("fill", "fill_opacity", "line", "line_width"),
    LayerKind.LINE: ("line", "line_width"),
    LayerKind.POINT: ("circle", "radius"),
    LayerKind.RASTER: ("ramp",),
}
_STYLE_ALLOWED: dict[LayerKind, frozenset[str]] = {
    LayerKind.AREA: frozenset(
        {"fill", "fill_opacity", "line", "line_width", "dash", "by", "categories"}
        | {"line_by", "line_categories"}
    ),
    LayerKind.LINE: frozenset({"line", "line_width", "dash", "by", "categories"}),
    LayerKind.POINT: frozenset({"circle", "radius", "line", "line_width", "by", "categories"}),
    LayerKind.RASTER: frozenset({"ramp"}),
}


def _field_error(field: str, message: str) -> PydanticCustomError:
    """Build a validation error that names the offending field below the validated model."""
    return field_error(_FIELD_KEY, field, message)


def _duplicates(values: Iterable[str]) -> list[str]:
    """Return the values that occur more than once, in first-seen order."""
    return [value for value, count in Counter(values).items() if count > 1]


class CodeValue(BaseModel):
    """One entry of an attribute's code list."""

    model_config = _STRICT

    value: Text
    label_zh: Text
    label_en: Text


class Attribute(BaseModel):
    """One attribute (column) of a vector layer."""

    model_config = _STRICT

    name: AttributeName
    type: AttributeType
    label_zh: Text
    label_en: Text
    required: bool = False
    codes: list[CodeValue] | None = None
    unit: Text | None = None
    # Thousands separators when shown; false for figures read as a whole (years: 2008, not 2,008).
    grouped: bool = True

    @model_validator(mode="after")
    def _check_codes(self) -> Self:
        if self.type is AttributeType.CODE:
            if not self.codes:
                raise _field_error("codes", "an attribute of type code needs a non-empty code list")
            repeated = _duplicates(code.value for code in self.codes)
            if repeated:
                raise _field_error("codes", f"duplicate code values: {', '.join(repeated)}")
        elif self.codes is not None:
            raise _field_error("codes", f"a code list is only allowed with type code, not {self.type.value}")
        return self

    def code_values(self) -> list[str]:
        """Return the allowed values of a code attribute (empty for other types)."""
        return [code.value for code in self.codes or []]


class Style(BaseModel):
    """MapLibre display style; which properties apply depends on the layer kind."""

    model_config = _STRICT

    fill: Colour | None = None
    fill_opacity: Annotated[float, Field(ge=0, le=1)] | None = None
    line: Colour | None = None
    line_width: Annotated[float, Field(gt=0, le=20)] | None = None
    dash: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=2)] | None = None
    circle: Colour | None = None
    radius: Annotated[float, Field(gt=0, le=50)] | None = None
    ramp: Annotated[list[tuple[float, Colour]], Field(min_length=2)] | None = None
    by: AttributeName | None = None
    categories: Annotated[dict[str, Colour], Field(min_length=1)] | None = None
    # An area's outline coloured by a second attribute (the fill by ``by``), e.g. a project's tier.
    line_by: AttributeName | None = None
    line_categories: Annotated[dict[str, Colour], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        if (self.by is None) != (self.categories is None):
            raise _field_error("categories" if self.by else "by", "by and categories must be given together")
        if (self.line_by is None) != (self.line_categories is None):
            raise _field_error(
                "line_categories" if self.line_by else "line_by",
                "line_by and line_categories must be given together",
            )
        if self.ramp is not None:
            values = [value for value, _ in self.ramp]
            if values != sorted(values) or len(set(values)) != len(values):
                raise _field_error("ramp", "ramp stops must have strictly ascending values")
        return self

    def check_kind(self, kind: LayerKind) -> None:
        """Raise a validation error unless this style fits a layer of the given kind."""
        for name in _STYLE_REQUIRED[kind]:
            if getattr(self, name) is None:
                raise _field_error(f"style.{name}", f"a {kind.value} layer style needs {name}")
        for name in self.model_fields_set:
            if getattr(self, name) is not None and name not in _STYLE_ALLOWED[kind]:
                raise _field_error(f"style.{name}", f"{name} does not apply to a {kind.value} layer")


class RasterSource(BaseModel):
    """Where a raster layer's GeoTIFF lives, relative to the catalog's data directory."""

    model_config = _STRICT

    path: Text
    unit: Text | None = None
    nodata: float | None = None

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError("raster path must be relative to the data directory, without '..'")
        if path.suffix.lower() not in {".tif", ".tiff"}:
            raise ValueError("raster path must name a GeoTIFF (.tif)")
        return value


def _lonlat_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    west, south, east, north = box
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError("coverage_box is west, south, east, north in degrees, west < east, south < north")
    return box


class LayerEntry(BaseModel):
    """One layer of the base map: identity, provenance, schema, display and access."""

    model_config = _STRICT

    code: LayerCode
    name_zh: Text
    name_en: Text
    # The measure word (量词) that counts the layer's features in messages: 3 宗已供地, 29 栋建筑物, 2 条河流.
    measure_zh: Annotated[str, Field(pattern=r"^[\u4e00-\u9fff]$")] = "处"
    group: GroupId
    kind: LayerKind
    department: Text
    source: Text
    scale: Annotated[str, Field(pattern=r"^1:[1-9][0-9]*$")] | None = None
    vintage: date
    # Required but nullable: forgetting it must not silently make a layer "never stale".
    max_age_days: Annotated[int, Field(gt=0)] | None
    attributes: list[Attribute] = Field(default_factory=list)
    style: Style
    min_zoom: Annotated[int, Field(ge=0, le=22)]
    restricted: bool = False
    # Roles that may see a restricted layer; None on a restricted layer means administrators only.
    restricted_roles: Annotated[list[Role], Field(min_length=1)] | None = None
    pre_evaluation: bool
    # Part of the 底图 a planner expects on first sight (boundaries, main roads, water, place names): ticked
    # in the map until the user chooses otherwise, and its features' names are labelled from its min_zoom.
    base_map: bool = False
    raster: RasterSource | None = None
    description_zh: Text | None = None
    # A partial survey: the lon/lat box (west, south, east, north) its data covers, used as a version's
    # coverage when the import declares none (None: the whole district).
    coverage_box: Annotated[tuple[float, float, float, float], AfterValidator(_lonlat_box)] | None = None
    # A live layer reads a workflow's tables (see LiveSource): no imports, versions or pre-evaluation.
    live: LiveSource | None = None
    # A derived layer is versioned like any other but written by an analysis (see DerivedSource).
    derived: DerivedSource | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.live is not None and (self.kind is LayerKind.RASTER or self.pre_evaluation or self.base_map):
            raise _field_error("live", "a live layer is a vector layer, not pre-evaluated, not in the 底图")
        if self.derived is not None and (
            self.live is not None or self.kind is LayerKind.RASTER or self.pre_evaluation or self.base_map
        ):
            raise _field_error("derived", "a derived layer is stored, vector, not pre-evaluated, not 底图")
        if self.kind is LayerKind.RASTER:
            if self.raster is None:
                raise _field_error("raster", "a raster layer needs raster.path")
            if self.attributes:
                raise _field_error("attributes", "a raster layer has no attribute table")
        else:
            if self.raster is not None:
                raise _field_error("raster", f"a {self.kind.value} layer must not have a raster source")
            if not self.attributes:
                raise _field_error("attributes", "a vector layer needs at least one attribute")
        repeated = _duplicates(attribute.name for attribute in self.attributes)
        if repeated:
            raise _field_error("attributes", f"duplicate attribute names: {', '.join(repeated)}")
        self.style.check_kind(self.kind)
        self._check_categories()
        if self.restricted_roles is not None and not self.restricted:
            raise _field_error("restricted_roles", "restricted_roles needs restricted: true")
        return self

    def _check_categories(self) -> None:
        for by, categories, name in (
            (self.style.by, self.style.categories, ""),
            (self.style.line_by, self.style.line_categories, "line_"),
        ):
            if by is None or categories is None:
                continue
            attribute = self.attribute(by)
            if attribute is None:
                raise _field_error(f"style.{name}by", f"style.{name}by names unknown attribute {by!r}")
            if attribute.type is AttributeType.CODE:
                unknown = sorted(set(categories) - set(attribute.code_values()))
                if unknown:
                    message = f"not in the code list: {', '.join(unknown)}"
                    raise _field_error(f"style.{name}categories", message)

    def attribute(self, name: str) -> Attribute | None:
        """Return the attribute with this name, or None."""
        return next((attribute for attribute in self.attributes if attribute.name == name), None)

    def visible_to(self, role: str) -> bool:
        """Tell whether a user of this role may see the layer (restricted layers name their roles)."""
        if not self.restricted or role == "system_admin":
            return True
        return self.restricted_roles is not None and role in self.restricted_roles

    def is_stale(self, on: date) -> bool:
        """Tell whether the layer's vintage is older than its age limit on the given day."""
        return self.max_age_days is not None and (on - self.vintage).days > self.max_age_days


class LayerGroup(BaseModel):
    """A thematic group of layers (one YAML file)."""

    model_config = _STRICT

    id: GroupId
    name_zh: Text
    name_en: Text
    description_zh: Text | None = None


class Catalog(BaseModel):
    """The validated catalog: groups and layers, both in file order."""

    model_config = _STRICT

    groups: dict[str, LayerGroup] = Field(default_factory=dict)
    layers: dict[str, LayerEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        for key, group in self.groups.items():
            if key != group.id:
                raise _field_error(f"groups.{key}", f"key does not match group id {group.id!r}")
        for key, layer in self.layers.items():
            if key != layer.code:
                raise _field_error(f"layers.{key}", f"key does not match layer code {layer.code!r}")
            if layer.group not in self.groups:
                raise _field_error(f"layers.{key}.group", f"unknown group {layer.group!r}")
        return self

    def get(self, code: str) -> LayerEntry:
        """Return the layer with this code; raise KeyError if there is none."""
        try:
            return self.layers[code]
        except KeyError:
            raise KeyError(f"unknown layer code: {code!r}") from None

    def by_group(self) -> dict[str, list[LayerEntry]]:
        """Return the layers of each group, keyed by group id in file order."""
        grouped: dict[str, list[LayerEntry]] = {group_id: [] for group_id in self.groups}
        for layer in self.layers.values():
            grouped[layer.group].append(layer)
        return grouped

    def pre_evaluation_layers(self) -> list[LayerEntry]:
        """Return the layers that pre-evaluation checks a footprint against."""
        return [layer for layer in self.layers.values() if layer.pre_evaluation]


class CatalogError(BaseModel):
    """A problem found while loading the catalog; the entry or file concerned is skipped."""

    model_config = _STRICT

    file: str
    code: str | None = None
    index: int | None = None
    field: str = ""
    message: str

    def __str__(self) -> str:
        """Format as ``file:code:field: message`` for logs."""
        return f"{location(self.file, self.code, self.index, self.field)}: {self.message}"


class CatalogLoad(BaseModel):
    """Result of loading a catalog directory: the valid part and the errors found."""

    catalog: Catalog
    errors: list[CatalogError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the catalog loaded without any error."""
        return not self.errors


def _read_group_file(path: Path, errors: list[CatalogError]) -> tuple[LayerGroup, list[Any]] | None:
    """Parse one group file into its header and raw layer entries; None if the file is unusable."""
    document = read_mapping(path, errors, CatalogError, "expected a mapping with id, names and layers")
    if document is None:
        return None
    header = {key: value for key, value in document.items() if key != "layers"}
    try:
        group = LayerGroup.model_validate(header)
    except ValidationError as exc:
        errors.extend(located_errors(exc, _FIELD_KEY, CatalogError, file=path.name))
        return None
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list):
        errors.append(
            CatalogError(file=path.name, field="layers", message="expected a list of layer entries")
        )
        return group, []
    return group, raw_layers


def _validate_entry(
    file: str, index: int, raw: Any, group_id: str, errors: list[CatalogError]
) -> LayerEntry | None:
    """Validate one raw layer entry; report and return None if it is broken."""
    raw_code = raw.get("code") if isinstance(raw, dict) else None
    code = raw_code if isinstance(raw_code, str) and raw_code else None
    try:
        entry = LayerEntry.model_validate(raw)
    except ValidationError as exc:
        errors.extend(located_errors(exc, _FIELD_KEY, CatalogError, file=file, code=code, index=index))
        return None
    if entry.group != group_id:
        message = f"layer group {entry.group!r} does not match the file's group {group_id!r}"
        errors.append(CatalogError(file=file, code=code, index=index, field="group", message=message))
        return None
    return entry


def load_catalog(directory: Path | None = None) -> CatalogLoad:
    """Load every ``*.yaml`` group file of a directory, keeping valid entries and reporting the rest."""
    root = DATA_DIR if directory is None else directory
    errors: list[CatalogError] = []
    groups: dict[str, LayerGroup] = {}
    layers: dict[str, LayerEntry] = {}
    defined_in: dict[str, str] = {}
    if not root.is_dir():
        errors.append(CatalogError(file=str(root), message="catalog directory not found"))
    for path in sorted(root.glob("*.yaml")):
        parsed = _read_group_file(path, errors)
        if parsed is None:
            continue
        group, raw_layers = parsed
        if group.id in groups:
            errors.append(
                CatalogError(file=path.name, field="id", message=f"duplicate group id {group.id!r}")
            )
            continue
        groups[group.id] = group
        for index, raw in enumerate(raw_layers):
            entry = _validate_entry(path.name, index, raw, group.id, errors)
            if entry is None:
                continue
            if entry.code in layers:
                message = f"duplicate layer code, first defined in {defined_in[entry.code]}"
                errors.append(
                    CatalogError(file=path.name, code=entry.code, index=index, field="code", message=message)
                )
                continue
            layers[entry.code] = entry
            defined_in[entry.code] = path.name
    return CatalogLoad(catalog=Catalog(groups=groups, layers=layers), errors=errors)


@functools.cache
def get_catalog() -> Catalog:
    """Return the packaged catalog, loaded once; broken entries are logged and left out."""
    loaded = load_catalog()
    for error in loaded.errors:
        logger.error("layer catalog: %s", error)
    return loaded.catalog
