"""The district this installation serves: one settings block, validated once at import.

The values live in ``layers/catalog/district.yaml`` beside the layer catalog; every module that needs the
district's name, time zone, storage SRID or extent reads :data:`DISTRICT` (``layers/`` and ``analysis/``
directly, the service through it too, the browser through ``GET /api/district``). SQL takes the storage
SRID as :data:`STORAGE_SRID`: a bound parameter in static statements, ``sql.Literal`` where a statement
is already composed with ``psycopg.sql``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

DISTRICT_FILE = Path(__file__).parent / "catalog" / "district.yaml"
"""The packaged district block."""

Bounds = tuple[float, float, float, float]
"""A box as (x0, y0, x1, y1): west, south, east, north for longitude/latitude."""

_STRICT = ConfigDict(extra="forbid", frozen=True)
_Text = Annotated[str, Field(min_length=1)]


def _ordered(box: Bounds) -> Bounds:
    x0, y0, x1, y1 = box
    if not all(math.isfinite(v) for v in box) or x0 >= x1 or y0 >= y1:
        raise ValueError("a box is x0, y0, x1, y1 with x0 < x1 and y0 < y1")
    return box


_Box = Annotated[Bounds, AfterValidator(_ordered)]


class StorageCrs(BaseModel):
    """The projected CRS every geometry is stored in (metres, x east and y north)."""

    model_config = _STRICT

    srid: int = Field(gt=0)
    name_zh: _Text
    name_en: _Text
    plausible_bounds: _Box

    @property
    def label(self) -> str:
        """``EPSG:<srid>``, as messages and CRS fields write it."""
        return f"EPSG:{self.srid}"

    @property
    def uri(self) -> str:
        """The CRS as an OGC URI (``http://www.opengis.net/def/crs/EPSG/0/<srid>``)."""
        return f"http://www.opengis.net/def/crs/EPSG/0/{self.srid}"


class District(BaseModel):
    """The district block: who it is, its clock, its storage CRS and where it lies."""

    model_config = _STRICT

    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    name_zh: _Text
    name_en: _Text
    time_zone: _Text
    storage_crs: StorageCrs
    extent: _Box
    region: _Box
    start_zoom: int = Field(ge=0, le=22)
    sample_point: tuple[float, float]
    gauss_kruger: dict[str, tuple[tuple[int, int], ...]]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _boxes_nest(self) -> Self:
        (w, s, e, n), (rw, rs, re, rn) = self.extent, self.region
        if not (rw <= w and rs <= s and e <= re and n <= rn):
            raise ValueError("the region must contain the extent")
        lon, lat = self.sample_point
        if not (w <= lon <= e and s <= lat <= n):
            raise ValueError("the sample point must lie in the extent")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The district's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def centre(self) -> tuple[float, float]:
        """The extent's centre (longitude, latitude)."""
        west, south, east, north = self.extent
        return ((west + east) / 2, (south + north) / 2)


@functools.cache
def load_district(path: Path = DISTRICT_FILE) -> District:
    """Read and validate a district block (a broken block stops the start: nothing works without it)."""
    return District.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


DISTRICT = load_district()
"""The district of this installation."""

STORAGE_SRID = DISTRICT.storage_crs.srid
"""The SRID of every stored geometry."""
