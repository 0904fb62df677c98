"""Request and response models of the project library."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.edge.params import Number


class ProjectStatus(StrEnum):
    """Lifecycle: 储备 → 前期 → 在建 → 竣工, or 终止."""

    RESERVE = "reserve"
    PREPARATION = "preparation"
    CONSTRUCTION = "construction"
    COMPLETED = "completed"
    STOPPED = "stopped"


STATUS_NEXT: dict[ProjectStatus, set[ProjectStatus]] = {
    ProjectStatus.RESERVE: {ProjectStatus.PREPARATION, ProjectStatus.STOPPED},
    ProjectStatus.PREPARATION: {ProjectStatus.CONSTRUCTION, ProjectStatus.RESERVE, ProjectStatus.STOPPED},
    ProjectStatus.CONSTRUCTION: {ProjectStatus.COMPLETED, ProjectStatus.STOPPED},
    ProjectStatus.COMPLETED: set(),
    ProjectStatus.STOPPED: set(),
}


class Tier(StrEnum):
    """Tiers of the library (储备库 / 前期库 / 实施库)."""

    RESERVE = "reserve"
    PREPARATION = "preparation"
    IMPLEMENTATION = "implementation"


class PlanLink(BaseModel):
    """What a top-down project implements: a plan objective and/or a base-map layer feature."""

    layer: str | None = Field(default=None, description="图层代码，如 sp_parcel")
    fid: Number | None = Field(default=None, description="要素编号")
    objective: str | None = Field(default=None, max_length=500, description="规划目标")


class ProjectCreate(BaseModel):
    """A new project of the library."""

    name: str = Field(min_length=1, max_length=200)
    project_type: str = Field(
        description="模板类型：house_building、municipal_road、water_works、park_greening"
    )
    unit_org_code: str | None = Field(default=None, description="建设单位（项目单位）组织代码")
    owner_dept_code: str | None = Field(default=None, description="主管部门组织代码")
    investment_wan: Decimal = Field(ge=0, le=Decimal("1e10"), description="总投资（万元）")
    funding_source: str = Field(min_length=1, max_length=100, description="资金来源")
    planned_start: date | None = Field(default=None, description="计划开工日期")
    tier: Tier = Tier.RESERVE
    code: str | None = Field(default=None, description="已有的全国项目代码；缺省时自动赋码")
    plan_link: PlanLink | None = None
    demolition_progress_pct: Decimal | None = Field(default=None, ge=0, le=100)


class ProjectUpdate(BaseModel):
    """A versioned change of a project (fields left out stay as they are)."""

    version: Number | None = Field(default=None, description="读取时的版本号（或使用 If-Match）")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    investment_wan: Decimal | None = Field(default=None, ge=0, le=Decimal("1e10"))
    funding_source: str | None = Field(default=None, min_length=1, max_length=100)
    planned_start: date | None = None
    status: ProjectStatus | None = None
    tier: Tier | None = None
    plan_link: PlanLink | None = None
    demolition_progress_pct: Decimal | None = Field(default=None, ge=0, le=100)


class Project(BaseModel):
    """A project of the library."""

    id: int
    code: str
    name: str
    project_type: str
    owner_dept_id: int
    unit_org_id: int
    investment_wan: Decimal
    funding_source: str
    planned_start: date | None
    status: ProjectStatus
    tier: Tier
    initiation: str
    plan_link: dict[str, Any] | None
    demolition_progress_pct: Decimal | None
    demolition_threshold_pct: Decimal | None
    created_at: datetime
    updated_at: datetime
    version: int


class FootprintIn(BaseModel):
    """A new footprint (the previous one is kept as history)."""

    footprint: dict[str, Any] = Field(description="GeoJSON（默认 CRS84）")
    crs: str | None = None
    note: str | None = Field(default=None, max_length=500)


class FootprintOut(BaseModel):
    """One footprint version."""

    id: int
    area_m2: float
    note: str | None
    created_at: datetime
    superseded_at: datetime | None
    geometry: dict[str, Any]
