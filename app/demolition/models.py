"""Demolition ledger models: the status pipeline, units, transitions and their events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from app.demolition.personal import PERSONAL_FIELDS, is_masked, normalise_phone, normalise_resident_id
from app.edge.params import Number, RowId


class UnitStatus(StrEnum):
    """调查 → 评估 → 签约 → 补偿 → 腾空 → 拆除 → 移交."""

    SURVEYED = "surveyed"
    VALUED = "valued"
    SIGNED = "signed"
    PAID = "paid"
    VACATED = "vacated"
    DEMOLISHED = "demolished"
    HANDED_OVER = "handed_over"


PIPELINE: list[UnitStatus] = list(UnitStatus)
STATUS_LABELS: dict[UnitStatus, tuple[str, str]] = {
    UnitStatus.SURVEYED: ("调查", "Surveyed"),
    UnitStatus.VALUED: ("评估", "Valued"),
    UnitStatus.SIGNED: ("签约", "Signed"),
    UnitStatus.PAID: ("补偿", "Paid"),
    UnitStatus.VACATED: ("腾空", "Vacated"),
    UnitStatus.DEMOLISHED: ("拆除", "Demolished"),
    UnitStatus.HANDED_OVER: ("移交", "Handed over"),
}
# Map colours from "much left to do" (red) to "done" (green).
STATUS_COLOURS: dict[UnitStatus, str] = {
    UnitStatus.SURVEYED: "#D73027",
    UnitStatus.VALUED: "#F46D43",
    UnitStatus.SIGNED: "#FDAE61",
    UnitStatus.PAID: "#FEE08B",
    UnitStatus.VACATED: "#D9EF8B",
    UnitStatus.DEMOLISHED: "#66BD63",
    UnitStatus.HANDED_OVER: "#1A9850",
}
# A unit whose building is down no longer stands in the way of construction.
CLEARED = frozenset({UnitStatus.DEMOLISHED, UnitStatus.HANDED_OVER})


class OwnerType(StrEnum):
    """Ownership of the unit (国有/集体/私人)."""

    STATE = "state"
    COLLECTIVE = "collective"
    PRIVATE = "private"


OWNER_LABELS = {OwnerType.STATE: "国有", OwnerType.COLLECTIVE: "集体", OwnerType.PRIVATE: "私人"}


class UnitSource(StrEnum):
    """Where a unit came from."""

    PRE_EVALUATION = "pre_evaluation"
    SPREADSHEET = "spreadsheet"
    GIS = "gis"
    MANUAL = "manual"


Money = Field(default=None, ge=0, le=Decimal("1e13"), decimal_places=2)


class UnitFields(BaseModel):
    """The attributes of a unit a coordinator may set."""

    address: str | None = Field(default=None, max_length=300, description="地址")
    owner_type: OwnerType | None = Field(
        default=None, description="权属：state 国有、collective 集体、private 私人"
    )
    owner_name: str | None = Field(default=None, max_length=200, description="权利人（个人信息）")
    id_number: str | None = Field(
        default=None, max_length=40, description="权利人身份证号（18 位，个人信息）"
    )
    phone: str | None = Field(
        default=None, max_length=40, description="联系电话（11 位手机号或带区号的固话，个人信息）"
    )
    floor_area_m2: Decimal | None = Field(default=None, ge=0, le=Decimal("1e9"), decimal_places=2)
    households: int | None = Field(default=None, ge=0, le=100_000, description="户数")
    valuation_yuan: Decimal | None = Money
    agreed_compensation_yuan: Decimal | None = Money
    paid_compensation_yuan: Decimal | None = Money
    subdistrict_code: str | None = Field(default=None, description="责任街道组织代码，如 sd-pinghu")

    @field_validator(*PERSONAL_FIELDS, mode="after")
    @classmethod
    def _personal(cls, value: str | None, info: Any) -> str | None:
        """Personal values: never a masked one (it would overwrite the real value); IDs and phones checked."""
        if value is None or value.strip() == "":
            return None if info.field_name in ("id_number", "phone") else value
        if is_masked(value):
            raise ValueError("不能写入脱敏后的值（含 *） / a masked value (with *) cannot be stored")
        try:
            if info.field_name == "id_number":
                return normalise_resident_id(value)
            if info.field_name == "phone":
                return normalise_phone(value)
        except ValueError as exc:
            zh, en = str(exc).split("|")
            raise ValueError(f"{zh} / {en}") from None
        return value


class UnitCreate(UnitFields):
    """A unit entered by hand."""

    unit_code: str = Field(min_length=1, max_length=64, description="户号/楼栋编码（项目内唯一）")
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON 几何（默认 CRS84）")
    crs: str | None = Field(default=None, description="坐标系，缺省为 CRS84")


class UnitUpdate(UnitFields):
    """A versioned change of a unit's attributes (fields left out stay as they are)."""

    version: Number | None = Field(default=None, description="读取时的版本号（或使用 If-Match）")


class Attachment(BaseModel):
    """A document attached to a transition: a material of the unit's project, uploaded first to the
    materials store (``POST /api/materials`` with purpose=demolition). The event keeps its id, file name,
    size and SHA-256 as the store has them (never as a client states them); the bytes are downloaded from
    ``/api/materials/{material_id}/content``."""

    material_id: RowId = Field(description="材料库中本项目征拆材料的编号")


class TransitionIn(BaseModel):
    """Move a unit to another status; skipping steps or going back needs a reason."""

    to_status: UnitStatus
    version: Number | None = Field(default=None, description="读取时的版本号（或使用 If-Match）")
    reason: str | None = Field(default=None, max_length=1000, description="跳步或退回的理由")
    note: str | None = Field(default=None, max_length=2000)
    attachment: Attachment | None = None


class Unit(BaseModel):
    """One unit of the ledger."""

    id: int
    project_id: int
    unit_code: str
    address: str | None
    owner_type: OwnerType | None
    owner_name: str | None
    id_number: str | None
    phone: str | None
    floor_area_m2: Decimal
    households: int
    valuation_yuan: Decimal | None
    agreed_compensation_yuan: Decimal | None
    paid_compensation_yuan: Decimal | None
    subdistrict_id: int | None
    subdistrict_code: str | None
    status: UnitStatus
    status_zh: str
    source: UnitSource
    source_ref: dict[str, Any] | None
    geometry: dict[str, Any] | None = Field(description="GeoJSON（CRS84）")
    created_at: datetime
    updated_at: datetime
    version: int


class UnitEvent(BaseModel):
    """One entry of a unit's event log."""

    id: int
    unit_id: int
    kind: str
    from_status: UnitStatus | None
    to_status: UnitStatus
    irregular: bool
    reason: str | None
    note: str | None
    attachment: dict[str, Any] | None
    changes: dict[str, Any] | None
    actor_name: str
    actor_display_name: str = Field(description="操作人姓名（账户显示名，未设时为登录名）")
    at: datetime


class StatusInfo(BaseModel):
    """A status of the pipeline with its labels and map colour."""

    code: UnitStatus
    order: int
    name_zh: str
    name_en: str
    colour: str
