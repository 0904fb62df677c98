"""Routes: raster tiles (DEM, slope, hillshade) as PNG under /tiles/raster, and their TileJSON.

Tiles are WebMercatorQuad (XYZ, EPSG:3857). A tile the raster does not reach is a 200 with the one fully
transparent 256×256 PNG (never a 204), so every client draws it the same way and it caches like any other.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import visible_entry
from app.edge.params import Integer, Number
from app.errors import DuoguiError, NotFound
from layers.catalog.model import LayerEntry, LayerKind
from layers.tiles.grid import tile_in_range
from layers.tiles.raster import (
    ColourRamp,
    CurrentRaster,
    RasterTiles,
    RasterUnavailable,
    current_raster,
    tile_etag,
)

router = APIRouter(prefix="/tiles/raster", tags=["tiles"])

PNG = "image/png"
CACHE_CONTROL = "private, max-age=3600"

_SERVICE_LOCK = threading.Lock()


class TileJSON(BaseModel):
    """A TileJSON 3.0.0 document describing a raster layer's tiles."""

    tilejson: str = "3.0.0"
    name: str
    description: str | None = None
    version: str = Field(description="语义化版本号，主版本号即图层当前版本号")
    attribution: str
    scheme: str = "xyz"
    tiles: list[str]
    minzoom: int
    maxzoom: int
    bounds: list[float] = Field(description="[minLon, minLat, maxLon, maxLat]（WGS 84）")
    center: list[float] = Field(description="[lon, lat, zoom]")


def raster_tiles(request: Request) -> RasterTiles:
    """The application's raster tile service (open datasets and tile cache), created on first use."""
    service: RasterTiles | None = getattr(request.app.state, "raster_tiles", None)
    if service is None:
        with _SERVICE_LOCK:
            service = getattr(request.app.state, "raster_tiles", None)
            if service is None:
                service = RasterTiles()
                request.app.state.raster_tiles = service
    return service


def _raster_entry(request: Request, grant: Grant, code: str) -> LayerEntry:
    entry = visible_entry(request, grant, code)
    if entry.kind is not LayerKind.RASTER:
        raise NotFound(f"图层“{code}”不是栅格图层，没有栅格瓦片。", f"Layer '{code}' is not a raster layer.")
    return entry


def _current(request: Request, conn: Conn, entry: LayerEntry) -> CurrentRaster:
    raster = current_raster(conn, entry.code, request.app.state.settings.data_dir)
    if raster is None:
        raise NotFound(
            f"图层“{entry.name_zh}”尚无当前版本，请先导入栅格数据。",
            f"Layer '{entry.code}' has no current version yet; import a raster first.",
            code="no_current_version",
        )
    return raster


def _unreadable(entry: LayerEntry) -> DuoguiError:
    return DuoguiError(
        f"图层“{entry.name_zh}”的栅格文件无法读取，请联系管理员。",
        f"The raster file of layer '{entry.code}' cannot be read.",
        code="raster_unreadable",
    )


def _etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of If-None-Match against our ETag."""
    if header is None:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or etag in (c.removeprefix("W/") for c in candidates)


@router.get(
    "/{code}/{z}/{x}/{y}.png",
    summary="栅格瓦片（PNG，EPSG:3857）",
    response_class=Response,
    responses={
        200: {"content": {PNG: {"schema": {"type": "string", "format": "binary"}}}, "description": "瓦片"},
        304: {"description": "未修改（If-None-Match 与 ETag 一致）"},
        404: {"description": "图层不存在、不是栅格图层、没有当前版本，或瓦片编号超出范围"},
    },
)
def raster_tile(
    code: str,
    z: Integer,
    x: Integer,
    y: Integer,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
    if_none_match: Annotated[str | None, Header(description="上次响应的 ETag")] = None,
    v: Annotated[
        Number | None, Query(description="缓存区分参数（TileJSON 填入版本号）；总是返回当前版本")
    ] = None,
) -> Response:
    """A 256×256 RGBA PNG of the layer's current version, coloured by its catalog ramp.

    Outside the raster the tile is fully transparent; nodata pixels are transparent too.
    """
    entry = _raster_entry(request, grant, code)
    if not tile_in_range(z, x, y):
        raise NotFound(
            f"瓦片 {z}/{x}/{y} 超出范围（级别 0–22，行列号 0 至 2^级别−1）。",
            f"Tile {z}/{x}/{y} is out of range (zoom 0–22, x and y below 2^zoom).",
        )
    raster = _current(request, conn, entry)
    ramp = ColourRamp.from_stops(entry.style.ramp or [])
    headers = {"ETag": tile_etag(raster, z, x, y, ramp), "Cache-Control": CACHE_CONTROL}
    if _etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    nodata = entry.raster.nodata if entry.raster else None
    try:
        png = raster_tiles(request).tile(raster, z, x, y, ramp, nodata)
    except RasterUnavailable as exc:
        raise _unreadable(entry) from exc
    return Response(png, media_type=PNG, headers=headers)


@router.get("/{code}/tilejson.json", response_model=TileJSON, summary="栅格瓦片 TileJSON")
def raster_tilejson(
    code: str,
    request: Request,
    response: Response,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
) -> TileJSON:
    """TileJSON 3.0.0 of a raster layer: tile URL template, zoom range from its resolution, lon/lat bounds."""
    entry = _raster_entry(request, grant, code)
    raster = _current(request, conn, entry)
    try:
        info = raster_tiles(request).info(raster)
    except RasterUnavailable as exc:
        raise _unreadable(entry) from exc
    maxzoom = info.native_zoom()
    # The catalog's display threshold wins when it is lower: the tile route serves every zoom.
    minzoom = min(info.overview_zoom(), entry.min_zoom, maxzoom)
    x0, y0, x1, y1 = (round(value, 7) for value in info.bounds_lonlat)
    base = str(request.base_url).rstrip("/")
    # The tile URLs carry the version number, so a new tilejson never meets a browser-cached old tile.
    response.headers["Cache-Control"] = "private, no-cache"
    return TileJSON(
        name=entry.name_zh,
        description=entry.description_zh or entry.name_en,
        version=f"{raster.number}.0.0",
        attribution=f"{entry.department}：{entry.source}",
        tiles=[f"{base}/tiles/raster/{entry.code}/{{z}}/{{x}}/{{y}}.png?v={raster.number}"],
        minzoom=minzoom,
        maxzoom=maxzoom,
        bounds=[x0, y0, x1, y1],
        center=[round((x0 + x1) / 2, 7), round((y0 + y1) / 2, 7), float(max(minzoom, maxzoom - 2))],
    )
