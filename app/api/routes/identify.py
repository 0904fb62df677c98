"""Route: identify — the features under a map point across layers, with Chinese attribute labels."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from psycopg import sql
from pydantic import BaseModel

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import catalog_of, visible_entry, visible_layers
from app.errors import Unprocessable
from app.projects import map_layer
from layers.catalog.model import Attribute, LayerEntry, LayerKind
from layers.district import STORAGE_SRID
from layers.ingest.geometry_input import check_lonlat_in_domain
from layers.numbers import DASH, with_unit
from layers.tiles.mvt import WORLD

router = APIRouter(prefix="/api", tags=["layers"])
MAX_PER_LAYER = 20


class IdentifiedAttribute(BaseModel):
    """One attribute value with its labels (code values also carry their label) and the text people read."""

    name: str
    label_zh: str
    label_en: str
    value: Any
    value_label_zh: str | None = None
    value_label_en: str | None = None
    unit: str | None = None
    # What the panel shows: a code's label, a number with separators and unit, or the text as stored.
    text_zh: str
    text_en: str


class IdentifiedFeature(BaseModel):
    """A feature found under the point."""

    layer: str
    layer_name_zh: str
    layer_name_en: str
    fid: int
    distance_m: float
    attributes: list[IdentifiedAttribute]
    extra: dict[str, Any] | None
    # GeoJSON in CRS84, simplified to half a screen pixel at the asked zoom (for the map's highlight).
    geometry: dict[str, Any] | None = None


def _shown(attr: Attribute, value: Any) -> str:
    """A value as people read it (not a code's label): numbers grouped, with the declared unit."""
    if value is None or value == "":
        return DASH
    if isinstance(value, int | float) and not isinstance(value, bool):
        return with_unit(value, attr.unit, grouped=attr.grouped)
    return str(value)


def _labelled(entry: LayerEntry, props: dict[str, Any]) -> list[IdentifiedAttribute]:
    out = []
    for attr in entry.attributes:
        if attr.name not in props:
            continue
        value = props[attr.name]
        code = next((c for c in attr.codes or [] if c.value == str(value)), None)
        shown = _shown(attr, value)
        out.append(
            IdentifiedAttribute(
                name=attr.name,
                label_zh=attr.label_zh,
                label_en=attr.label_en or attr.name,
                value=value,
                value_label_zh=code.label_zh if code else None,
                value_label_en=code.label_en if code else None,
                unit=attr.unit,
                text_zh=code.label_zh if code else shown,
                text_en=code.label_en if code else shown,
            )
        )
    return out


@router.get("/identify", response_model=list[IdentifiedFeature], summary="点查询（识别要素）")
def identify(
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
    lon: Annotated[float, Query(ge=-180, le=180, description="经度（CRS84）")],
    lat: Annotated[float, Query(ge=-90, le=90, description="纬度（CRS84）")],
    layers: Annotated[
        str | None, Query(description="图层代码，逗号分隔；缺省为该缩放级别可见的全部矢量图层")
    ] = None,
    zoom: Annotated[float, Query(ge=0, le=22, description="当前地图缩放级别")] = 15,
    tolerance_px: Annotated[int, Query(ge=0, le=50, description="点击容差（像素）")] = 5,
    geometry: Annotated[
        bool, Query(description="同时返回要素几何（GeoJSON，按缩放级别简化），用于高亮")
    ] = False,
) -> list[IdentifiedFeature]:
    """Features within ``tolerance_px`` screen pixels of the point at ``zoom``, the likeliest meant first.

    A point outside the district has no features (an empty list); a point where the storage CRS is not
    defined cannot be projected at all and is refused (422).
    """
    check_lonlat_in_domain(lon, lat, "lon,lat")
    if layers:
        # Each layer once, in the order asked: a repeated code would list its features twice.
        codes = list(dict.fromkeys(code for code in layers.split(",") if code))[:200]
        entries = [visible_entry(request, grant, code) for code in codes]
    else:
        entries = [e for e in visible_layers(request, grant) if e.min_zoom <= zoom]
    entries = [e for e in entries if e.kind is not LayerKind.RASTER]
    if not entries:
        raise Unprocessable("没有可查询的矢量图层。", "No vector layer to query.")
    versions: dict[str, int] = dict(
        conn.execute(
            "SELECT code, current_version FROM basemap.layer"
            " WHERE code = ANY(%s) AND current_version IS NOT NULL",
            ([e.code for e in entries],),
        ).fetchall()
    )
    # A screen pixel (256-pixel tiles) in ground metres at this latitude.
    pixel = WORLD / (256 * 2**zoom) * math.cos(math.radians(lat))
    tolerance = max(tolerance_px, 0.5) * pixel
    shape = (
        sql.SQL("ST_AsGeoJSON(ST_Transform(ST_Simplify(geom, %(half_pixel)s, true), 4326), 7)::jsonb")
        if geometry
        else sql.SQL("NULL::jsonb")
    )
    # A live layer (the project library) is read as the caller may see it, from its own tables.
    tables: dict[str, sql.Composable] = {
        e.code: sql.SQL("({}) AS live").format(map_layer.source(grant))
        for e in entries
        if e.live == map_layer.LIVE
    }
    tables.update(
        (e.code, sql.Identifier("basemap", f"f_{versions[e.code]}"))
        for e in entries
        if e.code in versions and e.code not in tables
    )
    parts = [
        sql.SQL(
            "(SELECT {code} AS code, fid, props, extra, ST_Distance(geom, p.pt) AS d, {shape} AS shape, "
            "coalesce(area_m2, 0) AS area "
            "FROM {table}, p WHERE ST_DWithin(geom, p.pt, %(tol)s) ORDER BY d LIMIT {limit})"
        ).format(
            shape=shape,
            code=sql.Literal(e.code),
            table=tables[e.code],
            limit=sql.Literal(MAX_PER_LAYER),
        )
        for e in entries
        if e.code in tables
    ]
    if not parts:
        return []
    query = sql.SQL(
        "WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), {srid}) AS pt) "
        "{parts}"
    ).format(srid=sql.Literal(STORAGE_SRID), parts=sql.SQL(" UNION ALL ").join(parts))
    rows = conn.execute(query, {"lon": lon, "lat": lat, "tol": tolerance, "half_pixel": pixel / 2}).fetchall()
    by_code = {e.code: e for e in entries}
    drawn = {code: i for i, code in enumerate(catalog_of(request).layers)}  # the style stacks in this order
    rows.sort(key=lambda r: _picking_order(by_code[r[0]], r[6], r[4], drawn[r[0]]))
    return [
        IdentifiedFeature(
            layer=code,
            layer_name_zh=by_code[code].name_zh,
            layer_name_en=by_code[code].name_en,
            fid=fid,
            distance_m=round(d, 2),
            attributes=_labelled(by_code[code], props or {}),
            extra=extra,
            geometry=shape,
        )
        for code, fid, props, extra, d, shape, _area in rows
    ]


# Points are drawn over lines and lines over areas; a smaller area lies within or over a larger one.
_KIND_RANK = {LayerKind.POINT: 0, LayerKind.LINE: 1, LayerKind.AREA: 2}


def _picking_order(
    entry: LayerEntry, area_m2: float, distance_m: float, drawn: int
) -> tuple[int, float, float, int]:
    """What a click most likely meant first: points, then lines, then areas from the smallest (a building
    before its parcel before its sub-district); ties go to the nearer feature, then to the layer drawn on top
    (later in the catalog)."""
    return (_KIND_RANK[entry.kind], area_m2 if entry.kind is LayerKind.AREA else 0.0, distance_m, -drawn)
