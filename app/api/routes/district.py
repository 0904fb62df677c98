"""Route: the district this installation serves, from its one settings block (``layers/district.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from layers.district import DISTRICT

router = APIRouter(prefix="/api", tags=["layers"])


class DistrictInfo(BaseModel):
    """What the browser needs of the district: its names, clock, storage CRS and where to look."""

    code: str = Field(description="行政区划代码（GB/T 2260），项目代码的地区段")
    name_zh: str
    name_en: str
    time_zone: str = Field(description="辖区时区（IANA），日期按它计")
    storage_srid: int = Field(description="存储坐标系的 EPSG 代码")
    storage_crs: str = Field(description=f"存储坐标系，如 {DISTRICT.storage_crs.label}")
    storage_crs_name_zh: str
    storage_crs_name_en: str
    extent: list[float] = Field(description="辖区范围 [西, 南, 东, 北]（经纬度，近似）")
    centre: list[float] = Field(description="地图初始中心 [经度, 纬度]")
    zoom: int = Field(description="地图初始缩放级别")


_INFO = DistrictInfo(
    code=DISTRICT.code,
    name_zh=DISTRICT.name_zh,
    name_en=DISTRICT.name_en,
    time_zone=DISTRICT.time_zone,
    storage_srid=DISTRICT.storage_crs.srid,
    storage_crs=DISTRICT.storage_crs.label,
    storage_crs_name_zh=DISTRICT.storage_crs.name_zh,
    storage_crs_name_en=DISTRICT.storage_crs.name_en,
    extent=list(DISTRICT.extent),
    centre=[round(v, 6) for v in DISTRICT.centre],
    zoom=DISTRICT.start_zoom,
)


@router.get("/district", response_model=DistrictInfo, summary="辖区设置")
def district(grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]) -> DistrictInfo:
    """The district's code, names, time zone, storage CRS, extent and the map's start view."""
    return _INFO
