"""Query parameters of the OGC API: parsing, validation against the catalog, and format negotiation.

Parameters are read from the raw query string (not by FastAPI's validation) so that every bad value
answers 400 with a problem document, as OGC API – Features requires, and unknown parameters are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from app.edge.bbox import BBoxError, BBoxProblem, parse_bbox
from app.errors import BadRequest
from layers.catalog.model import Attribute, AttributeType, LayerEntry
from layers.district import DISTRICT, STORAGE_SRID

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
STORAGE_CRS_URI = DISTRICT.storage_crs.uri
SUPPORTED_CRS = [CRS84, STORAGE_CRS_URI]

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"

# Core/Part 2 parameters of /items; every other name must be a catalog attribute of the collection.
ITEMS_PARAMETERS = frozenset({"f", "bbox", "bbox-crs", "crs", "limit", "offset", "properties", "datetime"})
ITEM_PARAMETERS = frozenset({"f", "crs", "properties"})
DOCUMENT_PARAMETERS = frozenset({"f"})


@dataclass(frozen=True, slots=True)
class OutputCrs:
    """A CRS features can be written in."""

    uri: str
    srid: int
    # The storage CRS (Gauss-Kruger, as EPSG defines it) orders its axes northing, easting; OGC API
    # Part 2 honours the CRS's axis order.
    northing_first: bool
    digits: int  # decimal digits of GeoJSON coordinates


OUTPUT_CRS = {
    CRS84: OutputCrs(CRS84, 4326, northing_first=False, digits=7),
    STORAGE_CRS_URI: OutputCrs(STORAGE_CRS_URI, STORAGE_SRID, northing_first=True, digits=9),
}

_CRS_ALIASES = {
    CRS84: CRS84,
    CRS84.replace("http://", "https://"): CRS84,
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "[ogc:crs84]": CRS84,
    STORAGE_CRS_URI: STORAGE_CRS_URI,
    STORAGE_CRS_URI.replace("http://", "https://"): STORAGE_CRS_URI,
    f"epsg:{STORAGE_SRID}": STORAGE_CRS_URI,
    f"[epsg:{STORAGE_SRID}]": STORAGE_CRS_URI,
}


@dataclass(frozen=True, slots=True)
class BBox:
    """A bounding box as easting/longitude and northing/latitude ranges in one CRS."""

    x0: float
    y0: float
    x1: float
    y1: float
    srid: int


@dataclass(frozen=True, slots=True)
class FeatureFilter:
    """The filters of an items request: a bbox and equality on catalog attributes."""

    bbox: BBox | None = None
    match: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    """A validated items request."""

    where: FeatureFilter
    crs: OutputCrs
    properties: list[str] | None
    limit: int
    offset: int


def _bad(zh: str, en: str) -> BadRequest:
    return BadRequest(zh, en, code="invalid_parameter")


def single_values(params: QueryParams, allowed: frozenset[str], entry: LayerEntry | None) -> dict[str, str]:
    """The query as name → value; a repeated or unknown parameter is refused."""
    values: dict[str, str] = {}
    for name, value in params.multi_items():
        if name in values:
            raise _bad(f"参数“{name}”重复。", f"Parameter '{name}' is given more than once.")
        values[name] = value
    attributes = {a.name for a in entry.attributes} if entry is not None else set()
    unknown = sorted(set(values) - allowed - attributes)
    if unknown:
        names = ", ".join(unknown)
        raise _bad(f"不支持的参数：{names}。", f"Unknown parameter(s): {names}.")
    return values


def output_crs(value: str | None) -> OutputCrs:
    """The CRS named by a ``crs`` or ``bbox-crs`` value (CRS84 when absent)."""
    if value is None:
        return OUTPUT_CRS[CRS84]
    uri = _CRS_ALIASES.get(value.strip().lower()) or _CRS_ALIASES.get(value.strip())
    if uri is None:
        raise _bad(
            f"不支持的坐标参照系“{value}”，可用：{'、'.join(SUPPORTED_CRS)}。",
            f"Unsupported CRS '{value}'; use one of {', '.join(SUPPORTED_CRS)}.",
        )
    return OUTPUT_CRS[uri]


def _integer(name: str, value: str | None, default: int, minimum: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"\+?[0-9]{1,12}", value.strip()) or int(value) < minimum:
        raise _bad(
            f"参数“{name}”应为不小于 {minimum} 的整数。",
            f"'{name}' must be an integer of at least {minimum}.",
        )
    return int(value)


_SHAPE = ("bbox 应为 4 个（或 6 个）以逗号分隔的数。", "bbox must be 4 (or 6) comma-separated numbers.")
_BBOX_MESSAGES = {
    BBoxProblem.NUMBERS: _SHAPE,
    BBoxProblem.NOT_FINITE: _SHAPE,
    BBoxProblem.RANGE: ("bbox 超出经纬度范围。", "bbox is outside the longitude/latitude range."),
    BBoxProblem.ORDER: (
        "bbox 的最小值应不大于最大值（不支持跨越 180° 经线）。",
        "bbox minimum must not exceed its maximum (boxes across the antimeridian are not supported).",
    ),
}


def items_bbox(value: str | None, crs_value: str | None) -> BBox | None:
    """A ``bbox`` (4 or 6 numbers) in CRS84 or, with ``bbox-crs``, the storage CRS (northing first)."""
    if value is None:
        return None
    crs = output_crs(crs_value)
    try:
        x0, y0, x1, y1 = parse_bbox(
            value, counts=(4, 6), northing_first=crs.northing_first, lonlat=crs.srid == 4326
        )
    except BBoxError as exc:
        raise _bad(*_BBOX_MESSAGES[exc.problem]) from None
    return BBox(x0, y0, x1, y1, crs.srid)


def parse_properties(value: str | None, entry: LayerEntry) -> list[str] | None:
    """The attribute names of ``properties=a,b`` (None when absent); unknown names are refused."""
    if value is None:
        return None
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if entry.attribute(n) is None]
    if unknown:
        listed = ", ".join(unknown)
        raise _bad(
            f"图层“{entry.code}”没有属性：{listed}。", f"Layer '{entry.code}' has no property {listed}."
        )
    return names


_TRUE = {"true", "1", "yes", "是"}
_FALSE = {"false", "0", "no", "否"}


def typed_value(attribute: Attribute, raw: str) -> Any:
    """A filter value converted to the attribute's catalog type, as stored in the props JSON."""
    kind = attribute.type
    text = raw.strip()
    try:
        if kind is AttributeType.INTEGER and re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            return int(text)
        if kind is AttributeType.NUMBER and math.isfinite(float(text)):
            return float(text)
        if kind is AttributeType.DATE and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    if kind is AttributeType.BOOLEAN and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if kind is AttributeType.CODE:
        for code in attribute.codes or []:
            if text in (code.value, code.label_zh) or text.lower() == code.label_en.lower():
                return code.value
    if kind is AttributeType.TEXT:
        return raw
    expected = {
        AttributeType.INTEGER: ("整数", "an integer"),
        AttributeType.NUMBER: ("数值", "a number"),
        AttributeType.DATE: ("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
        AttributeType.BOOLEAN: ("true 或 false", "true or false"),
        AttributeType.CODE: (
            "代码表中的值：" + "、".join(attribute.code_values()),
            "a value of its code list",
        ),
    }[kind]
    raise _bad(
        f"属性“{attribute.label_zh}”（{attribute.name}）的值应为{expected[0]}。",
        f"The value of '{attribute.name}' must be {expected[1]}.",
    )


_INSTANT = (
    r"(\.\.|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?)?"
)


def check_datetime(value: str | None) -> None:
    """Validate ``datetime`` (an instant or interval); the layers carry no temporal geometry to filter."""
    if value is None:
        return
    parts = value.split("/")
    if (
        len(parts) > 2
        or not all(re.fullmatch(_INSTANT, p, re.IGNORECASE) for p in parts)
        or value in ("", "..")
    ):
        raise _bad(
            "datetime 应为 RFC 3339 时间或以“/”分隔的时间区间。",
            "datetime must be an RFC 3339 instant or an interval separated by '/'.",
        )


def parse_items_query(params: QueryParams, entry: LayerEntry) -> ItemsQuery:
    """Validate every parameter of an items request against the collection's catalog entry."""
    values = single_values(params, ITEMS_PARAMETERS, entry)
    check_datetime(values.get("datetime"))
    match = {
        name: typed_value(attr, values[name])
        for attr in entry.attributes
        if (name := attr.name) in values and name not in ITEMS_PARAMETERS
    }
    return ItemsQuery(
        where=FeatureFilter(bbox=items_bbox(values.get("bbox"), values.get("bbox-crs")), match=match),
        crs=output_crs(values.get("crs")),
        properties=parse_properties(values.get("properties"), entry),
        limit=min(_integer("limit", values.get("limit"), DEFAULT_LIMIT, 1), MAX_LIMIT),
        offset=_integer("offset", values.get("offset"), 0, 0),
    )


def _accepted(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        quality = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if fields[0]:
            ranked.append((-quality, position, fields[0].lower()))
    return sorted(ranked)


def wants_html(request: Request, values: dict[str, str]) -> bool:
    """HTML when ``f=html``, JSON when ``f=json``; otherwise whichever the Accept header ranks first."""
    fmt = values.get("f")
    if fmt is not None:
        if fmt.lower() not in ("json", "html"):
            raise _bad("参数 f 只能为 json 或 html。", "Parameter f must be json or html.")
        return fmt.lower() == "html"
    for negative_quality, _, media in _accepted(request.headers.get("accept", "")):
        if negative_quality >= 0:
            break
        if media in (HTML, "application/xhtml+xml"):
            return True
        if media.endswith("json") or media in ("*/*", "application/*"):
            return False
    return False
