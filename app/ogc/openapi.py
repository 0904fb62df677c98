"""OpenAPI descriptions of the OGC routes' query parameters and media types.

The routes read their query parameters themselves (so that a bad value answers 400, not 422), so the
parameters are declared here for the API definition, with the schemas OGC API – Features prescribes.
"""

from __future__ import annotations

from typing import Any

from app.ogc.params import DEFAULT_LIMIT, GEOJSON, HTML, JSON, MAX_LIMIT, SUPPORTED_CRS
from layers.district import DISTRICT


def _query(name: str, description: str, schema: dict[str, Any], *, form: bool = False) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if form:
        parameter.update(style="form", explode=False)
    return parameter


_F = _query(
    "f", "输出格式 json 或 html；缺省时按 Accept 协商。", {"type": "string", "enum": ["json", "html"]}
)
_CRS = _query(
    "crs",
    f"输出坐标参照系（缺省 CRS84）。{DISTRICT.storage_crs.label} 的坐标按该坐标系的轴序（北坐标在前）。",
    {"type": "string", "format": "uri", "enum": SUPPORTED_CRS, "default": SUPPORTED_CRS[0]},
)
_PROPERTIES = _query(
    "properties",
    "只返回这些属性（逗号分隔的目录属性名）；未知属性名返回 400。",
    {"type": "array", "items": {"type": "string"}},
    form=True,
)
_ITEMS_ONLY = [
    _query(
        "bbox",
        f"范围 minLon,minLat,maxLon,maxLat（CRS84；bbox-crs 为 {DISTRICT.storage_crs.label} 时为 "
        "minN,minE,maxN,maxE）。",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        form=True,
    ),
    _query(
        "bbox-crs",
        "bbox 的坐标参照系（缺省 CRS84）。",
        {"type": "string", "format": "uri", "enum": SUPPORTED_CRS, "default": SUPPORTED_CRS[0]},
    ),
    _query(
        "limit",
        f"每页要素数（1–{MAX_LIMIT}，更大的值按 {MAX_LIMIT} 处理）。",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    _query(
        "offset",
        "跳过的要素数（翻页用）。",
        {"type": "integer", "minimum": 0, "maximum": 999_999_999_999, "default": 0},
    ),
    _query("datetime", "时间或时间区间（RFC 3339）；底图图层无时间几何，不据此筛选。", {"type": "string"}),
]

DOCUMENT_PARAMS: dict[str, Any] = {"parameters": [_F]}
ITEM_PARAMS: dict[str, Any] = {"parameters": [_F, _CRS, _PROPERTIES]}
ITEMS_PARAMS: dict[str, Any] = {
    "parameters": [_F, *_ITEMS_ONLY, _CRS, _PROPERTIES],
    "description": (
        "Features of the current version. Besides the parameters listed, any catalog attribute of the "
        "collection may be given as `<attribute>=<value>` for an equality filter (typed per the catalog: "
        "integer, number, date YYYY-MM-DD, boolean, code value or label, text). 除所列参数外，"
        "可用目录属性名作参数进行等值筛选。"
    ),
}

_FEATURE_COLLECTION_SCHEMA = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object"}},
        "links": {"type": "array", "items": {"type": "object"}},
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    },
}
_FEATURE_SCHEMA = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "integer"},
        "geometry": {"type": "object", "nullable": True},
        "properties": {"type": "object", "nullable": True},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
_CONTENT_CRS = {"Content-Crs": {"description": "坐标参照系 URI，形如 <uri>", "schema": {"type": "string"}}}
_HTML = {HTML: {"schema": {"type": "string"}}}

DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {JSON: {}, **_HTML}},
    400: {"description": "参数错误（problem+json）"},
}
ITEMS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "GeoJSON FeatureCollection",
        "headers": _CONTENT_CRS,
        "content": {GEOJSON: {"schema": _FEATURE_COLLECTION_SCHEMA}, **_HTML},
    },
    400: {"description": "参数错误（problem+json）"},
    404: {"description": "集合不存在（problem+json）"},
}
FEATURE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "GeoJSON Feature",
        "headers": _CONTENT_CRS,
        "content": {GEOJSON: {"schema": _FEATURE_SCHEMA}, **_HTML},
    },
    400: {"description": "参数错误（problem+json）"},
    404: {"description": "集合或要素不存在（problem+json）"},
}
