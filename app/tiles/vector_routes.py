"""Routes: composite vector tiles, TileJSON, the MapLibre style, and the OGC API – Tiles paths."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from isal import igzip
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from app.auth.deps import Allow, AllowBriefly, AllowInEndpoint, Deferred, Grant
from app.auth.policy import Action
from app.db import Conn, gate_of
from app.deps import visible_entry, visible_layers
from app.edge.params import TILE_INDEX_MAX
from app.errors import BadRequest, NotFound
from app.projects import map_layer
from app.tiles.style import maplibre_style, tilejson
from layers.catalog.model import LayerEntry, LayerKind
from layers.district import STORAGE_SRID
from layers.tiles.cache import TileCache
from layers.tiles.glyphs import FONTSTACK, GlyphStore, encode_glyphs, font_dir, parse_range
from layers.tiles.grid import tile_in_range
from layers.tiles.mvt import StaleVersions, TileLayer, render_composite

MVT = "application/vnd.mapbox-vector-tile"
GLYPHS = "application/x-protobuf"
router = APIRouter(tags=["tiles"])
_MVT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {MVT: {}}, "description": "Mapbox Vector Tile (gzip when accepted)"},
    204: {"description": "No feature in this tile"},
    304: {"description": "Not modified"},
}
MAX_CODES = 200
# What every tile route declares (and app.tiles.fast_path checks the same way).
READ_LAYERS = AllowInEndpoint(Action.LAYERS_READ)
MAX_ZOOM = 22
# Gzip by ISA-L (the isal package): at its level 1 a 300 KB tile compresses in about 0.5 ms, to the size
# zlib's level 1 reaches in 3.5 ms; standard gzip, which every browser and GDAL read.
GZIP_LEVEL = 1


def tile_cache(request: Request) -> TileCache:
    """The application's tile cache (created on first use)."""
    cache: TileCache | None = getattr(request.app.state, "tile_cache", None)
    if cache is None:
        budget = request.app.state.settings.tile_cache_mb * 1024 * 1024
        cache = request.app.state.tile_cache = TileCache(budget)
    return cache


def _entries(request: Request, grant: Grant, codes: str) -> list[LayerEntry]:
    names = [c for c in codes.split(",") if c]
    # A malformed list is the client's mistake (400); a well-formed list naming an unknown layer is a 404.
    if not names or len(names) > MAX_CODES or len(set(names)) != len(names):
        raise BadRequest(
            f"图层列表无效：须为 1–{MAX_CODES} 个不重复的图层代码，以逗号分隔。",
            f"Invalid layer list: give 1–{MAX_CODES} distinct layer codes separated by commas.",
        )
    entries = [visible_entry(request, grant, code) for code in names]
    raster = [e.code for e in entries if e.kind is LayerKind.RASTER]
    if raster:
        raise NotFound(
            f"栅格图层请使用 /tiles/raster：{', '.join(raster)}", "Raster layers are served by /tiles/raster."
        )
    return entries


def _seen_versions(request: Request) -> dict[str, int | None]:
    """The layers' current versions as last seen by this application: a guess that saves a round trip
    on cache misses. Every answer is checked against the database (in the tile statement itself on a
    miss), so a stale guess costs a retry, never a stale tile."""
    seen: dict[str, int | None] | None = getattr(request.app.state, "seen_versions", None)
    if seen is None:
        seen = request.app.state.seen_versions = {}
    return seen


def _versions(conn: Conn, entries: list[LayerEntry], seen: dict[str, int | None]) -> dict[str, int | None]:
    """The current version of each entry (None: the layer has no data yet), read now."""
    codes = [e.code for e in entries]
    rows = conn.execute(
        "SELECT code, current_version FROM basemap.layer WHERE code = ANY(%s)", (codes,)
    ).fetchall()
    found: dict[str, int | None] = dict.fromkeys(codes)
    found.update({code: (int(v) if v is not None else None) for code, v in rows})
    seen.update(found)
    return found


def _tile_layers(
    entries: list[LayerEntry], versions: dict[str, int | None], z: int, live: dict[str, TileLayer]
) -> list[TileLayer]:
    layers = []
    for e in entries:
        version = versions.get(e.code)
        if e.min_zoom > z:
            continue
        if e.code in live:
            layers.append(live[e.code])
        elif version is not None:
            layers.append(TileLayer(e, version))
    return layers


def live_tile_layers(conn: Conn, grant: Grant, entries: list[LayerEntry], z: int) -> dict[str, TileLayer]:
    """The live layers among ``entries`` shown at zoom ``z``, as the caller sees them now (one query each)."""
    return {
        e.code: map_layer.tile_layer(e, map_layer.state(conn, grant))
        for e in entries
        if e.live == map_layer.LIVE and e.min_zoom <= z
    }


def render_tile(
    request: Request,
    conn: Conn,
    entries: list[LayerEntry],
    z: int,
    x: int,
    y: int,
    live: dict[str, TileLayer] | None = None,
) -> Response:
    """The tile of ``entries`` at z/x/y with caching, ETag and gzip (``live``: the live layers among them,
    each with the mark of what the caller sees; stored layers are checked against their versions)."""
    if not tile_in_range(z, x, y):
        raise NotFound("瓦片行列号超出范围。", "Tile coordinates out of range.")
    live = live or {}
    entries_all, entries = entries, [e for e in entries if e.code not in live]
    seen = _seen_versions(request)
    guess = {e.code: seen[e.code] for e in entries if e.code in seen}
    checked = len(guess) < len(entries)
    versions = _versions(conn, entries, seen) if checked else guess
    cache = tile_cache(request)
    for _ in range(3):
        layers = _tile_layers(entries_all, versions, z, live)
        key = (tuple((t.entry.code, t.version_id, t.source_key) for t in layers), z, x, y)
        # Weak: the gzip and identity encodings of a tile are the same tile.
        etag = 'W/"' + hashlib.sha1(repr(key).encode()).hexdigest() + '"'
        headers = {
            "ETag": etag,
            "Cache-Control": "private, max-age=300",
            "Vary": "Accept-Encoding, Authorization",
        }
        body = cache.get(key)
        revalidating = etag[2:] in request.headers.get("if-none-match", "")
        if (body is not None or revalidating or not layers) and not checked:
            # A cached answer (or a 304) must be for the current versions: check them first.
            current = _versions(conn, entries, seen)
            checked = True
            if current != versions:
                versions = current
                continue
        if revalidating:
            return Response(status_code=304, headers=headers)
        # Unchecked guesses are checked by the tile statement itself (entries shown at this zoom).
        expect = None if checked else {e.code: versions.get(e.code) for e in entries if e.min_zoom <= z}
        try:
            return _tile_response(request, conn, cache, key, layers, body, headers, z, x, y, expect)
        except StaleVersions as exc:
            seen.update(exc.current)
            versions = {**versions, **exc.current}
            checked = True
    raise RuntimeError("layer versions kept changing while rendering a tile")


def _tile_response(
    request: Request,
    conn: Conn,
    cache: TileCache,
    key: Any,
    layers: list[TileLayer],
    body: bytes | None,
    headers: dict[str, str],
    z: int,
    x: int,
    y: int,
    expect: dict[str, int | None] | None,
) -> Response:
    wants_gzip = "gzip" in request.headers.get("accept-encoding", "")
    if body is None:
        raw = render_composite(conn, layers, z, x, y, expect=expect).data
        if not raw:
            cache.put(key, b"")
            return Response(status_code=204, headers=headers)
        if not wants_gzip:
            # Answer now; compress for the cache after the response is sent.
            store = BackgroundTask(_store_compressed, cache, key, raw) if cache.max_bytes else None
            return Response(raw, media_type=MVT, headers=headers, background=store)
        body = igzip.compress(raw, compresslevel=GZIP_LEVEL)
        cache.put(key, body)
    if not body:
        return Response(status_code=204, headers=headers)
    if wants_gzip:
        return Response(body, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(igzip.decompress(body), media_type=MVT, headers=headers)


def _store_compressed(cache: TileCache, key: Any, raw: bytes) -> None:
    cache.put(key, igzip.compress(raw, compresslevel=GZIP_LEVEL))


Zoom = Annotated[int, Path(ge=0, le=MAX_ZOOM, description="缩放级别")]
TileIndex = Annotated[int, Path(ge=0, le=TILE_INDEX_MAX, description="瓦片行/列号")]


@router.get(
    "/tiles/{codes}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses=_MVT_RESPONSE,
    summary="矢量瓦片（可多图层，逗号分隔）",
)
async def vector_tile(
    codes: str,
    z: Zoom,
    x: TileIndex,
    y: TileIndex,
    request: Request,
    access: Annotated[Deferred, Depends(READ_LAYERS)],
) -> Response:
    """All requested layers of one XYZ tile in a single MVT (layers below their minimum zoom are left out).

    Well-formed requests are answered by :mod:`app.tiles.fast_path` with the same function before they
    reach this route."""
    async with gate_of(request).admitted():
        return await run_in_threadpool(serve_tile, request, access, codes, z, x, y)


def serve_tile(request: Request, access: Deferred, codes: str, z: int, x: int, y: int) -> Response:
    """Authorise, then render, on one pooled connection in one worker-thread hop (tiles come by the dozen).

    Autocommit: the tile's statements only read (each in its own snapshot; a tile's features and the
    version check share one statement), so no transaction is opened and none has to be committed."""
    pool = request.app.state.pool
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            grant = access.grant(request, conn)
            entries = _entries(request, grant, codes)
            return render_tile(request, conn, entries, z, x, y, live_tile_layers(conn, grant, entries, z))
        finally:
            if not conn.broken:  # a broken connection is replaced by the pool anyway
                conn.autocommit = False


@router.get("/tiles/{codes}/tilejson.json", response_model=dict[str, Any], summary="TileJSON 3.0")
def vector_tilejson(
    codes: str, request: Request, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> dict[str, Any]:
    """TileJSON 3.0.0 for a layer or a comma list of layers."""
    entries = _entries(request, grant, codes)
    url = str(request.base_url).rstrip("/") + f"/tiles/{codes}/{{z}}/{{x}}/{{y}}.mvt"
    return tilejson(entries, [url], _bounds(conn, entries))


@router.get("/tiles/style.json", response_model=dict[str, Any], summary="MapLibre 样式（由图层目录生成）")
def style(
    request: Request, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> dict[str, Any]:
    """A MapLibre style: one source for all visible vector layers, one style layer per catalog layer."""
    return maplibre_style(visible_layers(request, grant), str(request.base_url).rstrip("/"))


def glyph_store(request: Request) -> GlyphStore:
    """The application's glyph ranges (built by set-up; a missing range is built on first request)."""
    store: GlyphStore | None = getattr(request.app.state, "glyph_store", None)
    if store is None:
        settings = request.app.state.settings
        store = request.app.state.glyph_store = GlyphStore(settings.glyph_dir, font_dir(settings.web_dir))
    return store


@router.get(
    "/tiles/fonts/{fontstack}/{glyph_range}.pbf",
    response_class=Response,
    responses={
        200: {"content": {"application/x-protobuf": {}}, "description": "Glyph PBF (gzip when accepted)"},
        304: {"description": "Not modified"},
    },
    summary="地图字形（Noto Sans SC 的 SDF 字形，每 256 个码位一组）",
)
def glyphs(
    request: Request,
    fontstack: Annotated[str, Path(max_length=200, description=f"字体名（{FONTSTACK}），逗号分隔")],
    glyph_range: Annotated[
        str, Path(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$", description="码位范围，如 19968-20223")
    ],
    # The connection goes back before the range is read (or built on first use: CPU work that needs none).
    grant: Annotated[Grant, Depends(AllowBriefly(Action.LAYERS_READ))],
) -> Response:
    """The signed-distance-field glyphs of one range, the same on every client (no local font needed)."""
    start = parse_range(glyph_range)
    if start is None:
        raise NotFound(f"字形范围无效：{glyph_range}", "Invalid glyph range (start-end, 256 codepoints).")
    if FONTSTACK not in fontstack.split(","):
        raise NotFound(
            f"没有字体“{fontstack}”，请使用 {FONTSTACK}。", f"Unknown font stack; use {FONTSTACK}."
        )
    store = glyph_store(request)
    headers = {
        # Weak: the gzip and identity encodings are the same glyphs. The fingerprint changes with the font.
        "ETag": f'W/"{store.fingerprint}-{start}"',
        "Cache-Control": "private, max-age=86400",
        "Vary": "Accept-Encoding, Authorization",
    }
    if headers["ETag"][2:] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = store.compressed(start)
    if body is None:  # no glyph of the font there (or no font installed): a valid empty range
        return Response(encode_glyphs(fontstack, glyph_range, []), media_type=GLYPHS, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body, media_type=GLYPHS, headers={**headers, "Content-Encoding": "gzip"})
    return Response(igzip.decompress(body), media_type=GLYPHS, headers=headers)


def _bounds(conn: Conn, entries: list[LayerEntry]) -> list[float] | None:
    row = conn.execute(
        """
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (SELECT ST_Transform(ST_SetSRID(ST_Extent(v.extent), %s), 4326)::box2d AS e
              FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version
              WHERE l.code = ANY(%s)) s
        """,
        (STORAGE_SRID, [e.code for e in entries]),
    ).fetchone()
    return [round(float(v), 6) for v in row] if row and row[0] is not None else None


# OGC API – Tiles (WebMercatorQuad) for each collection.
@router.get(
    "/ogc/collections/{code}/tiles",
    response_model=dict[str, Any],
    tags=["ogc-tiles"],
    summary="集合瓦片集列表",
)
def ogc_tilesets(
    code: str, request: Request, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> dict[str, Any]:
    """The vector tilesets of a collection (WebMercatorQuad only)."""
    entry = _entries(request, grant, code)[0]
    base = str(request.base_url).rstrip("/") + f"/ogc/collections/{entry.code}/tiles/WebMercatorQuad"
    return {
        "tilesets": [
            {
                "title": entry.name_zh,
                "dataType": "vector",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
                "links": [
                    {"rel": "self", "href": base, "type": "application/json"},
                    {
                        "rel": "item",
                        "href": base + "/{tileMatrix}/{tileRow}/{tileCol}",
                        "type": MVT,
                        "templated": True,
                    },
                ],
            }
        ]
    }


@router.get(
    "/ogc/collections/{code}/tiles/WebMercatorQuad",
    response_model=dict[str, Any],
    tags=["ogc-tiles"],
    summary="瓦片集（TileJSON）",
)
def ogc_tileset(
    code: str, request: Request, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> dict[str, Any]:
    """The collection's WebMercatorQuad tileset as TileJSON 3.0.0."""
    entries = _entries(request, grant, code)
    url = (
        str(request.base_url).rstrip("/") + f"/ogc/collections/{code}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    )
    return tilejson(entries, [url], _bounds(conn, entries))


@router.get(
    "/ogc/collections/{code}/tiles/WebMercatorQuad/{z}/{y}/{x}",
    response_class=Response,
    responses=_MVT_RESPONSE,
    tags=["ogc-tiles"],
    summary="OGC 瓦片（tileMatrix/tileRow/tileCol）",
)
async def ogc_tile(
    code: str,
    z: Zoom,
    y: TileIndex,
    x: TileIndex,
    request: Request,
    access: Annotated[Deferred, Depends(READ_LAYERS)],
) -> Response:
    """One vector tile of a collection (OGC order: zoom, row, column)."""
    async with gate_of(request).admitted():
        return await run_in_threadpool(serve_tile, request, access, code, z, x, y)
