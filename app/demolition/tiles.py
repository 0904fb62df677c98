"""Vector tiles of a project's ledger units coloured by status, through the base map's tile cache.

``/tiles/demolition/{project_id}/{z}/{x}/{y}.mvt`` — one MVT layer ``demolition_unit`` with the unit's code,
status, Chinese status label and map colour. The cache key and the ETag carry the ledger's last event id,
so any change of a unit (status, attributes, a new unit) makes a new tile; nothing stale is served.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from psycopg import sql

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.demolition.ledger import ledger_mark, visible_project
from app.demolition.models import STATUS_COLOURS, STATUS_LABELS
from app.edge.params import TILE_INDEX_MAX, RowId
from app.errors import NotFound
from app.tiles.vector_routes import MVT, tile_cache
from layers.district import DISTRICT, STORAGE_SRID
from layers.tiles.grid import tile_in_range
from layers.tiles.mvt import BUFFER, EXTENT

router = APIRouter(tags=["tiles"])
LAYER_NAME = "demolition_unit"


def _case(values: dict[Any, str]) -> sql.Composable:
    whens = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(k.value), sql.Literal(v)) for k, v in values.items()
    )
    return sql.SQL("CASE u.status {} END").format(whens)


def unit_tile_query(z: int, x: int, y: int) -> sql.Composed:
    """The MVT of one project's units (parameter ``%(project_id)s``) for tile z/x/y."""
    return sql.SQL(
        """
        WITH b AS (
          SELECT ST_TileEnvelope({z}, {x}, {y}) AS env,
                 ST_Transform(ST_Intersection(
                   ST_TileEnvelope({z}, {x}, {y}, margin => {margin}),
                   ST_Transform(ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326), 3857)), {srid}) AS env_stored
        )
        SELECT coalesce((SELECT ST_AsMVT(t, {name}, {extent}, 'geom', 'id') FROM (
          SELECT u.id, u.unit_code, u.status, {label} AS status_zh, {colour} AS colour,
                 u.floor_area_m2::float8 AS floor_area_m2, u.households,
                 ST_AsMVTGeom(ST_Transform(u.geom, 3857), b.env, {extent}, {buffer}, true) AS geom
          FROM demolition.unit u, b
          WHERE u.project_id = %(project_id)s AND u.geom && b.env_stored
        ) t WHERE geom IS NOT NULL), ''::bytea)
        """
    ).format(
        z=sql.Literal(z),
        x=sql.Literal(x),
        y=sql.Literal(y),
        margin=sql.Literal(BUFFER / EXTENT),
        w=sql.Literal(DISTRICT.region[0]),
        s=sql.Literal(DISTRICT.region[1]),
        e=sql.Literal(DISTRICT.region[2]),
        n=sql.Literal(DISTRICT.region[3]),
        srid=sql.Literal(STORAGE_SRID),
        name=sql.Literal(LAYER_NAME),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        label=_case({k: v[0] for k, v in STATUS_LABELS.items()}),
        colour=_case(STATUS_COLOURS),
    )


Zoom = Annotated[int, Path(ge=0, le=22, description="缩放级别")]
TileIndex = Annotated[int, Path(ge=0, le=TILE_INDEX_MAX, description="瓦片行/列号")]


@router.get(
    "/tiles/demolition/{project_id}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "Mapbox Vector Tile, layer demolition_unit"},
        204: {"description": "No unit in this tile"},
        304: {"description": "Not modified"},
    },
    summary="征拆单元矢量瓦片（按状态着色）",
)
def demolition_tile(
    project_id: RowId,
    z: Zoom,
    x: TileIndex,
    y: TileIndex,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.DEMOLITION_READ))],
) -> Response:
    """The project's units in one XYZ tile, with status, label and colour; ETag follows the ledger."""
    visible_project(conn, grant, project_id)
    if not tile_in_range(z, x, y):
        raise NotFound("瓦片行列号超出范围。", "Tile coordinates out of range.")
    key = ("demolition", project_id, ledger_mark(conn, project_id), z, x, y)
    etag = '"' + hashlib.sha1(repr(key).encode()).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60", "Vary": "Accept-Encoding, Authorization"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    cache = tile_cache(request)
    body = cache.get(key)
    if body is None:
        row = conn.execute(unit_tile_query(z, x, y), {"project_id": project_id}).fetchone()
        raw = bytes(row[0]) if row and row[0] else b""
        body = gzip.compress(raw, compresslevel=5) if raw else b""
        cache.put(key, body)
    if not body:
        return Response(status_code=204, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(body), media_type=MVT, headers=headers)


@router.get(
    "/tiles/demolition/{project_id}/style.json",
    response_model=dict[str, Any],
    summary="征拆单元 MapLibre 样式（按状态着色）",
)
def demolition_style(
    project_id: RowId,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.DEMOLITION_READ))],
) -> dict[str, Any]:
    """A MapLibre style with the project's unit tiles, filled by each unit's status colour."""
    visible_project(conn, grant, project_id)
    url = str(request.base_url).rstrip("/") + f"/tiles/demolition/{project_id}/{{z}}/{{x}}/{{y}}.mvt"
    return {
        "version": 8,
        "name": f"征拆单元 {project_id}",
        "sources": {"demolition": {"type": "vector", "tiles": [url], "minzoom": 0, "maxzoom": 22}},
        "layers": [
            {
                "id": "demolition-unit-fill",
                "type": "fill",
                "source": "demolition",
                "source-layer": LAYER_NAME,
                "paint": {"fill-color": ["get", "colour"], "fill-opacity": 0.8},
            },
            {
                "id": "demolition-unit-line",
                "type": "line",
                "source": "demolition",
                "source-layer": LAYER_NAME,
                "paint": {"line-color": "#333333", "line-width": 0.6},
            },
        ],
    }
