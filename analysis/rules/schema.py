"""The rule-set schema: grades, kinds, stages, conditions, shared vocabularies and the rule model itself."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from layers import yaml_model

KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
RULE_ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"

Text = Annotated[str, Field(min_length=1)]
Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Scalar = str | int | float | bool
STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

FIELD_KEY = "rule_field"
"""Key in a custom error's context naming the offending field below the model that raised it."""


def field_error(field: str, message: str) -> PydanticCustomError:
    """Build a validation error that names the offending field below the validated model."""
    return yaml_model.field_error(FIELD_KEY, field, message)


class Grade(StrEnum):
    """Severity of a rule's finding, most severe first."""

    PROHIBITED = "prohibited"
    CONDITIONAL = "conditional"
    ADVISORY = "advisory"
    INFO = "info"


GRADE_LABELS_ZH: dict[Grade, str] = {
    Grade.PROHIBITED: "禁止",
    Grade.CONDITIONAL: "有条件",
    Grade.ADVISORY: "提示",
    Grade.INFO: "统计",
}
"""Chinese labels of the grades for reports."""


class RuleKind(StrEnum):
    """How the engine tests a footprint against a rule's layer."""

    OVERLAP = "overlap"
    SETBACK = "setback"
    COMPATIBILITY = "compatibility"
    DEMOLITION = "demolition"
    TERRAIN = "terrain"


class Compatibility(StrEnum):
    """Verdict of the statutory-plan matrix for a project type on a land-use code."""

    COMPATIBLE = "compatible"
    CONDITIONAL = "conditional"
    INCOMPATIBLE = "incompatible"


class Stage(StrEnum):
    """The four stages of a government-investment project's approval plan."""

    PROJECT_LAND = "project_land"
    ENGINEERING = "engineering"
    CONSTRUCTION = "construction"
    COMPLETION = "completion"


STAGE_LABELS_ZH: dict[Stage, str] = {
    Stage.PROJECT_LAND: "立项用地规划许可",
    Stage.ENGINEERING: "工程建设许可",
    Stage.CONSTRUCTION: "施工许可",
    Stage.COMPLETION: "竣工验收",
}
"""Chinese names of the approval stages."""


class Condition(BaseModel):
    """A test on one attribute of the layer's feature; exactly one operator is given."""

    model_config = STRICT

    attribute: Text
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    not_in: Annotated[list[Scalar], Field(min_length=1)] | None = None
    equals: Scalar | None = None
    gte: float | None = None
    lt: float | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Self:
        given = [name for name in ("in_", "not_in", "equals", "gte", "lt") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a condition needs exactly one of in, not_in, equals, gte, lt")
        return self

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        """Tell whether the feature matches; a missing value matches, so unknown data counts as worst case."""
        value = attributes.get(self.attribute)
        if value is None:
            return True
        if self.in_ is not None:
            return str(value) in {str(item) for item in self.in_}
        if self.not_in is not None:
            return str(value) not in {str(item) for item in self.not_in}
        if self.equals is not None:
            return value == self.equals or str(value) == str(self.equals)
        number = float(value)
        return number >= self.gte if self.gte is not None else number < float(self.lt or 0)


def as_condition_list(value: Any) -> Any:
    """Accept a single condition mapping where a list of conditions is expected."""
    return [value] if isinstance(value, dict) else value


class ProjectTypeFilter(BaseModel):
    """Which project types a rule concerns: names of project types or of project classes."""

    model_config = STRICT

    in_: list[Key] | None = Field(default=None, alias="in", min_length=1)
    not_in: Annotated[list[Key], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Self:
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("a project type filter needs exactly one of in, not_in")
        return self

    def names(self) -> list[str]:
        """Return the type or class names listed."""
        return list(self.in_ or self.not_in or [])

    def matches(self, project_type: str, classes: Mapping[str, "ProjectClass"]) -> bool:
        """Tell whether a project type passes the filter, expanding class names."""
        listed = any(
            project_type == name or (name in classes and project_type in classes[name].members)
            for name in self.names()
        )
        return listed if self.in_ is not None else not listed


class ProjectType(BaseModel):
    """One entry of the fixed list of project types."""

    model_config = STRICT

    name_zh: Text
    name_en: Text


class ProjectFlag(BaseModel):
    """A property of a project that rule exceptions may ask for (e.g. a national major project)."""

    model_config = STRICT

    name_zh: Text
    name_en: Text


class ProjectClass(BaseModel):
    """A named set of project types that rules refer to, e.g. polluting or linear infrastructure."""

    model_config = STRICT

    name_zh: Text
    name_en: Text
    members: Annotated[list[Key], Field(min_length=1)]


class Department(BaseModel):
    """A department (or outside body) findings send an applicant to, named in both report languages."""

    model_config = STRICT

    name_zh: Text
    name_en: Text

    @model_validator(mode="before")
    @classmethod
    def _named_in_both(cls, value: Any) -> Any:
        # A bare name was the format before reports were bilingual: say what is expected instead.
        if isinstance(value, str):
            raise PydanticCustomError(
                "department_names",
                "a department needs name_zh and name_en, e.g. {{name_zh: {zh}, name_en: …}}",
                {"zh": value},
            )
        return value

    def name(self, english: bool = False) -> str:
        """The department's name in the report's language."""
        return self.name_en if english else self.name_zh


class ApprovalItem(BaseModel):
    """An approval a rule triggers, placed in the approval plan by stage and precedence."""

    model_config = STRICT

    name_zh: Text
    name_en: Text
    stage: Stage
    department: Key
    before: Key | None = None


class CompensationTable(BaseModel):
    """Demolition compensation unit prices (元/m² floor area) by compensation zone and owner type."""

    model_config = STRICT

    unit: Text
    source_zh: Text | None = None
    owner_types: Annotated[dict[Key, Text], Field(min_length=1)]
    zones: Annotated[dict[str, dict[Key, Annotated[float, Field(gt=0)]]], Field(min_length=1)]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        for zone, prices in self.zones.items():
            if set(prices) != set(self.owner_types):
                raise ValueError(f"zone {zone} must price exactly the owner types {sorted(self.owner_types)}")
        return self

    def price(self, zone: str, owner_type: str) -> float:
        """Return the unit price of a zone and owner type; KeyError if either is unknown."""
        return self.zones[str(zone)][owner_type]


class RuleSetSettings(BaseModel):
    """The rule set's header (``_ruleset.yaml``): version, tolerances and shared vocabularies."""

    model_config = STRICT

    version: Annotated[str, Field(pattern=r"^[0-9]{4}\.[0-9]{1,2}\.[0-9]+$")]
    sliver_area_m2: Annotated[float, Field(ge=0)]
    sliver_width_m: Annotated[float, Field(ge=0)]
    project_types: Annotated[dict[Key, ProjectType], Field(min_length=1)]
    project_classes: dict[Key, ProjectClass]
    project_flags: dict[Key, ProjectFlag] = Field(default_factory=dict)
    departments: Annotated[dict[Key, Department], Field(min_length=1)]
    approval_items: dict[Key, ApprovalItem]
    compensation: CompensationTable

    def department_name(self, key: str, english: bool = False) -> str:
        """A department's name in the report's language (its key if the rule set no longer has it)."""
        department = self.departments.get(key)
        return key if department is None else department.name(english)

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        for name, project_class in self.project_classes.items():
            if name in self.project_types:
                raise ValueError(f"project class {name} clashes with a project type")
            unknown = sorted(set(project_class.members) - set(self.project_types))
            if unknown:
                raise ValueError(f"project class {name} lists unknown project types: {', '.join(unknown)}")
        for key, item in self.approval_items.items():
            if item.department not in self.departments:
                raise ValueError(f"approval item {key} names unknown department {item.department}")
            if item.before is not None and item.before not in self.approval_items:
                raise ValueError(f"approval item {key} must precede unknown item {item.before}")
        return self


CompatibilityMatrix = dict[str, dict[str, Compatibility]]


class RuleException(BaseModel):
    """A case in which a rule's grade is replaced, e.g. linear infrastructure in the eco red line."""

    model_config = STRICT

    id: Key
    project_types: ProjectTypeFilter | None = None
    project_flags: Annotated[list[Key], Field(min_length=1)] | None = None
    when: list[Condition] = Field(default_factory=list)
    grade: Grade
    approval_item: Key | None = None
    department: Key | None = None
    note_zh: Text
    note_en: Text

    _wrap_when = field_validator("when", mode="before")(as_condition_list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.project_types is None and self.project_flags is None and not self.when:
            raise field_error("project_types", "an exception needs project_types, project_flags or when")
        if self.grade is Grade.CONDITIONAL and self.approval_item is None:
            raise field_error("approval_item", "a conditional exception must name its approval_item")
        return self


class Rule(BaseModel):
    """One pre-evaluation rule on one catalog layer."""

    model_config = STRICT

    id: Annotated[str, Field(pattern=RULE_ID_PATTERN)]
    layer: Text
    kind: RuleKind
    grade: Grade
    when: list[Condition] = Field(default_factory=list)
    project_types: ProjectTypeFilter | None = None
    distance_m: Annotated[float, Field(gt=0, le=5000)] | None = None
    distance_attribute: Text | None = None
    measures: list[Text] = Field(default_factory=list)
    slope_deg: Annotated[float, Field(gt=0, lt=90)] | None = None
    min_share: Annotated[float, Field(gt=0, le=1)] | None = None
    message_zh: Text
    message_en: Text
    legal_basis: Annotated[list[Text], Field(min_length=1)]
    department: Key
    approval_item: Key | None = None
    exceptions: list[RuleException] = Field(default_factory=list)
    max_age_days: Annotated[int, Field(gt=0)] | None = None

    _wrap_when = field_validator("when", mode="before")(as_condition_list)

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        setback = self.kind is RuleKind.SETBACK
        if setback != (self.distance_m is not None):
            raise field_error("distance_m", "distance_m is required for, and only allowed on, setback rules")
        if self.distance_attribute is not None and not setback:
            raise field_error("distance_attribute", "distance_attribute is only allowed on setback rules")
        if (self.kind is RuleKind.TERRAIN) != (self.slope_deg is not None):
            raise field_error("slope_deg", "slope_deg is required for, and only allowed on, terrain rules")
        if self.measures and self.kind is not RuleKind.DEMOLITION:
            raise field_error("measures", "measures are only allowed on demolition rules")
        if self.grade is Grade.CONDITIONAL and self.approval_item is None:
            raise field_error("approval_item", "a conditional rule must name its approval_item")
        if len({exception.id for exception in self.exceptions}) != len(self.exceptions):
            raise field_error("exceptions", "exception ids must be unique within a rule")
        return self
