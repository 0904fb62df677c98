"""Request and answer bodies of the one window (综合窗口): applications, intake, review."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.edge.params import Number, RowId
from app.projects.templates import MaterialCode

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Stage = Literal["project_land", "engineering", "construction", "completion"]
Decision = Literal["approve", "approve_conditional", "refuse"]


class ApplicationCreate(BaseModel):
    """Open an application (申报件) for one stage of a project's plan."""

    project_id: RowId
    stage: Stage
    contact_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    contact_phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None


class VersionBody(BaseModel):
    """A step on an application, carrying the version the caller read (or If-Match)."""

    version: Number | None = Field(default=None, description="读取时的版本号（或使用 If-Match）")
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class AttachBody(BaseModel):
    """Attach one version of a library material to a checklist entry."""

    material_id: RowId
    version: Number | None = Field(default=None, description="申报件版本号（可选）")


class Gap(BaseModel):
    """A conditional material the window lets the unit supply later (容缺受理)."""

    material_code: MaterialCode
    supplement_due: date = Field(description="承诺补齐日期")


class AcceptBody(VersionBody):
    """Accept the package: every item enters review at once; gaps make their items 容缺受理."""

    gaps: list[Gap] = Field(default_factory=list, max_length=50)


class Point(BaseModel):
    """One thing missing or wrong, optionally naming the checklist entry."""

    material_code: MaterialCode | None = None
    text: Text


class ReturnBody(VersionBody):
    """Return the package once with one consolidated list (一次性告知)."""

    points: list[Point] = Field(min_length=1, max_length=100)
    reason: Text | None = Field(default=None, description="再次退回的理由（第二次退回必填）")


class LetterBody(VersionBody):
    """Merge every open correction request into one letter (补正告知书)."""

    round_reason: Text | None = Field(default=None, description="第二轮及以后补正的理由")


class OpinionBody(BaseModel):
    """A department's decision on its own item."""

    decision: Decision = Field(description="approve 同意 / approve_conditional 有条件同意 / refuse 不同意")
    conditions: Text | None = None
    reasons: Text | None = None
    legal_basis: Text | None = None
    document_id: RowId | None = Field(default=None, description="决定文书（本部门 purpose=decision 的材料）")
    version: Number | None = Field(default=None, description="事项版本号（可选）")


class CorrectionRequestBody(BaseModel):
    """A department's request for more, sent to the window."""

    points: list[Point] = Field(min_length=1, max_length=100)


class Opinion(BaseModel):
    """A recorded opinion."""

    decision: str
    conditions: str | None
    reasons: str | None
    legal_basis: str | None
    document_id: int | None
    decided_by_name: str
    decided_by_display_name: str = Field(description="决定人姓名（账户显示名，未设时为登录名）")
    decided_at: datetime


class ApplicationItem(BaseModel):
    """One item of an application with its clock (the same figures as e-supervision)."""

    id: int
    item_code: str
    name_zh: str
    name_en: str
    department_id: int | None
    department_code: str
    department_name: str | None
    status: str
    version: int
    promised_days: int
    statutory_days: int
    started_on: date | None
    due: date | None
    elapsed_days: int
    colour: str = Field(description="green / yellow（≥80% 承诺时限）/ red（超期）")
    missing_documents: list[str] | None
    supplement_due: date | None
    supplemented_at: datetime | None
    opinion: Opinion | None
    open_requests: int
    joint_review: bool
    allowed_actions: list[str]


class MaterialSummary(BaseModel):
    """A library material version (offered or attached)."""

    material_id: int
    file_name: str
    version: int
    valid_until: date | None
    project_id: int | None = None
    uploaded_at: datetime | None = None


class ChecklistEntry(BaseModel):
    """One checklist entry and what answers it."""

    code: str
    name_zh: str
    name_en: str
    required: bool
    condition_zh: str | None
    condition_en: str | None
    types: list[str]
    item_codes: list[str]
    expires: bool
    attached: MaterialSummary | None
    offered: list[MaterialSummary]
    state: str = Field(description="attached / missing / expired")
    gap: bool = Field(description="容缺受理时准予后补")


class LetterPoint(BaseModel):
    """One point of a correction letter, with who asked."""

    request_id: int
    item_id: int
    department_name: str | None
    item_name_zh: str
    item_name_en: str
    material_code: str | None
    text: str


class Letter(BaseModel):
    """A consolidated correction letter (补正告知书)."""

    id: int
    round: int
    round_reason: str | None
    sent_at: datetime
    resubmitted_at: datetime | None
    points: list[LetterPoint]


class CorrectionRequest(BaseModel):
    """A department's correction request."""

    id: int
    application_id: int
    item_id: int
    item_name_zh: str
    item_name_en: str
    department_id: int | None
    department_name: str | None
    points: list[dict[str, Any]]
    requested_at: datetime
    letter_id: int | None
    withdrawn_at: datetime | None


class ApplicationEvent(BaseModel):
    """One row of an application's event log."""

    id: int
    action: str
    from_status: str
    to_status: str
    actor_name: str
    actor_display_name: str = Field(description="办理人姓名（账户显示名，未设时为登录名）")
    actor_org_id: int | None
    at: datetime
    note: str | None
    detail: dict[str, Any] | None


class ApplicationSummary(BaseModel):
    """An application in a list or queue."""

    id: int
    number: str
    project_id: int
    project_code: str
    project_name: str
    unit_org_id: int
    unit_name: str
    stage: str
    stage_name_zh: str
    stage_name_en: str
    status: str
    version: int
    correction_rounds: int
    submitted_at: datetime | None
    accepted_at: datetime | None
    issued_at: datetime | None
    contact_name: str | None
    contact_phone: str | None


class Application(ApplicationSummary):
    """An application with its items, checklist, letters, open requests and event log."""

    items: list[ApplicationItem]
    checklist: list[ChecklistEntry]
    letters: list[Letter]
    open_requests: list[CorrectionRequest]
    allowed_actions: list[str]
    events: list[ApplicationEvent]


class WorkItem(BaseModel):
    """An item waiting on the caller's department (我的待办)."""

    application_id: int
    application_number: str
    application_status: str
    project_id: int
    project_code: str
    project_name: str
    stage: str
    item: ApplicationItem
    joint_reviews: list[dict[str, Any]]
