"""Composite Mapbox Vector Tiles from PostGIS: one statement returns every requested layer of a tile.

Each layer of the tile reads its current version's partition (``basemap.f_<version id>``), filters on the
stored EPSG:4547 geometry with the tile envelope transformed to EPSG:4547 (plus a buffer), simplifies the
prepared EPSG:3857 geometry to about a pixel at low zooms, and encodes it with ``ST_AsMVTGeom`` /
``ST_AsMVT``. The per-layer MVT blobs are concatenated, which is itself a valid MVT.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from layers.catalog.model import LayerEntry, LayerKind
from layers.tiles.grid import WORLD

EXTENT = 4096
BUFFER = 64
# Below this zoom, geometry is simplified to about half a tile pixel before encoding.
SIMPLIFY_BELOW_ZOOM = 15
# A safety cap on features per layer per tile (not sorted: sorting every candidate costs more than it
# saves; the minimum-area filter below already drops what would be invisible).
MAX_FEATURES_PER_LAYER = 20_000
# Lon/lat box around the district beyond which no stored feature lies (imports refuse such data).
REGION = (113.4, 21.9, 115.1, 23.5)


@dataclass(frozen=True)
class TileLayer:
    """A layer to put into a tile: its catalog entry and the version to read."""

    entry: LayerEntry
    version_id: int


def pixel_size(z: int) -> float:
    """Size of one MVT grid unit (EXTENT per tile) in EPSG:3857 metres at zoom ``z``."""
    return WORLD / (EXTENT * 2**z)


def tile_attributes(entry: LayerEntry) -> list[str]:
    """The attributes a tile carries: what the style needs and the feature's name or code.

    Everything else stays in the database, one identify request away; this keeps dense tiles small.
    """
    names: list[str] = []
    if entry.style.by:
        names.append(entry.style.by)
    label = next(
        (a.name for a in entry.attributes if a.name == "name" or a.name.endswith("_name")),
        next((a.name for a in entry.attributes if a.required and a.type.value == "text"), None),
    )
    if label and label not in names:
        names.append(label)
    return names


def _attrs(entry: LayerEntry) -> sql.Composable:
    names = tile_attributes(entry)
    if not names:
        return sql.SQL("'{}'::jsonb")
    pairs = sql.SQL(", ").join(
        sql.SQL("{}, props -> {}").format(sql.Literal(n), sql.Literal(n)) for n in names
    )
    return sql.SQL("jsonb_strip_nulls(jsonb_build_object({}))").format(pairs)


def _layer_sql(layer: TileLayer, z: int) -> sql.Composable:
    table = sql.Identifier("basemap", f"f_{layer.version_id}")
    # Simplify to two grid units (an eighth of a screen pixel): invisible, but it drops dense vertices.
    tolerance = pixel_size(z) * 2 if z < SIMPLIFY_BELOW_ZOOM else 0.0
    geom: sql.Composable = sql.SQL("geom_3857")
    if tolerance and layer.entry.kind is not LayerKind.POINT:
        # Only geometries with many vertices gain from it; a 5-vertex building is left as it is.
        geom = sql.SQL(
            "CASE WHEN vertices > 64 THEN ST_Simplify(geom_3857, {}, true) ELSE geom_3857 END"
        ).format(sql.Literal(tolerance))
    # Areas under 4 x 4 grid units (a quarter of a screen pixel) vanish at this zoom anyway.
    small = layer.entry.kind is LayerKind.AREA and z < SIMPLIFY_BELOW_ZOOM
    min_area = (pixel_size(z) * 4) ** 2 if small else 0.0
    return sql.SQL(
        """
        coalesce((SELECT ST_AsMVT(t, {name}, {extent}, 'geom', 'fid') FROM (
           SELECT fid, {attrs} AS attrs, ST_AsMVTGeom({geom}, b.env, {extent}, {buffer}, true) AS geom
           FROM {table}
           WHERE geom && b.env_4547 AND coalesce(area_m2, 1e12) >= {min_area}
           LIMIT {limit}
         ) t WHERE geom IS NOT NULL), ''::bytea)
        """
    ).format(
        name=sql.Literal(layer.entry.code),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        geom=geom,
        attrs=_attrs(layer.entry),
        table=table,
        min_area=sql.Literal(min_area),
        limit=sql.Literal(MAX_FEATURES_PER_LAYER),
    )


def tile_query(layers: list[TileLayer], z: int, x: int, y: int) -> sql.Composed:
    """One statement returning the concatenated MVT of ``layers`` for tile z/x/y (empty bytes if none)."""
    if not layers:
        return sql.SQL("SELECT ''::bytea").format()
    concat = sql.SQL(" || ").join(_layer_sql(layer, z) for layer in layers)
    return sql.SQL(
        """
        WITH b AS (
          -- The search box in the storage CRS: the buffered tile, clipped to the region around the
          -- district first (a Gauss-Kruger projection of a whole-world tile would be meaningless).
          SELECT ST_TileEnvelope({z}, {x}, {y}) AS env,
                 ST_Transform(ST_Intersection(
                   ST_TileEnvelope({z}, {x}, {y}, margin => {margin}),
                   ST_Transform(ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326), 3857)), 4547) AS env_4547
        )
        SELECT {concat} FROM b
        """
    ).format(
        z=sql.Literal(z),
        x=sql.Literal(x),
        y=sql.Literal(y),
        margin=sql.Literal(BUFFER / EXTENT),
        w=sql.Literal(REGION[0]),
        s=sql.Literal(REGION[1]),
        e=sql.Literal(REGION[2]),
        n=sql.Literal(REGION[3]),
        concat=concat,
    )
