"""Composite Mapbox Vector Tiles from PostGIS: one statement returns every requested layer of a tile.

Each layer of the tile reads its current version's partition (``basemap.f_<version id>``), filters on the
stored geometry with the tile envelope transformed to the storage CRS (plus a buffer), simplifies the
prepared EPSG:3857 geometry to about a pixel at low zooms, and encodes it with ``ST_AsMVTGeom`` /
``ST_AsMVT``. The per-layer MVT blobs are concatenated, which is itself a valid MVT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from layers.catalog.model import Attribute, AttributeType, LayerEntry, LayerKind
from layers.district import DISTRICT, STORAGE_SRID
from layers.tiles.grid import WORLD

EXTENT = 4096
BUFFER = 64
# Below this zoom, geometry is simplified to about half a tile pixel before encoding.
SIMPLIFY_BELOW_ZOOM = 15
# A safety cap on features per layer per tile (not sorted: sorting every candidate costs more than it
# saves; the minimum-area filter below already drops what would be invisible).
MAX_FEATURES_PER_LAYER = 20_000
# A tile's byte budget (uncompressed), and how far a layer may be generalised to meet it.
TILE_BUDGET = 480 * 1024
MAX_LEVEL = 6
# An over-budget tile's first plan aims this far under the budget (the plan is an estimate).
PLAN_TARGET = 0.75
PLAN_ROUNDS = 3


@dataclass(frozen=True)
class TileLayer:
    """A layer to put into a tile: its catalog entry and the version to read.

    A live layer (``entry.live``) gives instead a ``source``: a subquery with the columns of a version's
    partition (fid, geom, geom_3857, area_m2, length_m, vertices, props), ``version_id`` a mark of its
    data and ``source_key`` what the subquery's text depends on (who is asking)."""

    entry: LayerEntry
    version_id: int
    source: sql.Composable | None = None
    source_key: Any = None

    def table(self) -> sql.Composable:
        """What the layer's features are read from: its partition, or the live subquery."""
        if self.source is not None:
            return sql.SQL("({}) AS live").format(self.source)
        return sql.Identifier("basemap", f"f_{self.version_id}")


def pixel_size(z: int) -> float:
    """Size of one MVT grid unit (EXTENT per tile) in EPSG:3857 metres at zoom ``z``."""
    return WORLD / (EXTENT * 2**z)


def label_code(entry: LayerEntry) -> Attribute | None:
    """The code attribute naming a base-map layer's features when it has no name attribute (e.g. 街道).

    Its labels come from the catalog's code list, so the tiles carry only the short code.
    """
    if not entry.base_map or any(a.name == "name" or a.name.endswith("_name") for a in entry.attributes):
        return None
    return next((a for a in entry.attributes if a.codes), None)


def tile_attributes(entry: LayerEntry) -> list[str]:
    """The attributes a tile carries: what the style needs and the feature's name or code.

    Everything else stays in the database, one identify request away; this keeps dense tiles small.
    """
    names: list[str] = []
    for by in (entry.style.by, entry.style.line_by):
        if by and by not in names:
            names.append(by)
    label = next(
        (a.name for a in entry.attributes if a.name == "name" or a.name.endswith("_name")),
        next((a.name for a in entry.attributes if a.required and a.type.value == "text"), None),
    )
    if label and label not in names:
        names.append(label)
    code = label_code(entry)
    if code is not None and code.name not in names:
        names.append(code.name)
    # The feature id and the geometry have these column names in the tile statement.
    return [n for n in names if n not in ("fid", "geom")]


def _attrs(entry: LayerEntry) -> sql.Composable:
    """The tile attributes as typed columns named after them: ST_AsMVT encodes a text or number column
    about a sixth faster per feature than one jsonb column it must walk, and a null is left out just
    the same. Values that do not match the catalog type (a schema edited after the data) are left out
    rather than breaking the tile."""
    columns: list[sql.Composable] = []
    column: sql.Composable
    for name in tile_attributes(entry):
        attr = entry.attribute(name)
        kind = attr.type if attr is not None else AttributeType.TEXT
        value = sql.SQL("props -> {}").format(sql.Literal(name))
        if kind in (AttributeType.INTEGER, AttributeType.NUMBER):
            cast = sql.SQL("::float8::int8" if kind is AttributeType.INTEGER else "::float8")
            column = sql.SQL("CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v}){cast} END").format(
                v=value, cast=cast
            )
        elif kind is AttributeType.BOOLEAN:
            boolean = sql.SQL("CASE WHEN jsonb_typeof({v}) = 'boolean' THEN ({v})::boolean END")
            column = boolean.format(v=value)
        else:
            column = sql.SQL("props ->> {}").format(sql.Literal(name))
        columns.append(sql.SQL("{} AS {}").format(column, sql.Identifier(name)))
    return sql.SQL("").join(sql.SQL(", ") + c for c in columns)


def _level_filters(kind: LayerKind, z: int, level: int) -> list[sql.Composable]:
    """What a layer's features must pass at generalisation ``level`` (see :func:`_layer_sql`)."""
    size = pixel_size(z) * 4 * 2**level if (z < SIMPLIFY_BELOW_ZOOM or level) else 0.0
    filters: list[sql.Composable] = []
    if kind is LayerKind.AREA and size:
        filters.append(sql.SQL("coalesce(area_m2, 1e12) >= {}").format(sql.Literal(size * size)))
    if kind is LayerKind.LINE and level:
        filters.append(sql.SQL("coalesce(length_m, 1e12) >= {}").format(sql.Literal(size)))
    if kind is LayerKind.POINT and level:
        filters.append(sql.SQL("mod(fid, {}) = 0").format(sql.Literal(2**level)))
    return filters


def _weights_sql(layer: TileLayer, z: int) -> sql.Composable:
    """An array, level 0 to :data:`MAX_LEVEL`, of the layer's expected weight in the tile at each level.

    Read from stored columns only (no geometry is decoded): each feature that passes the level's filter
    counts four, plus its vertices up to a cap that halves with every level (64 at level 0, where only
    geometries above 64 vertices are simplified; each level doubles the simplification tolerance). A
    layer of small cells thus shows its plateau (nothing changes until the cells fall under the minimum
    size, then everything goes), and a layer of large, detailed polygons shrinks level by level.
    """
    weights = []
    for level in range(MAX_LEVEL + 1):
        passes = sql.SQL(" AND ").join(_level_filters(layer.entry.kind, z, level) or [sql.SQL("true")])
        cap = sql.Literal(max(1, 64 >> level))
        weights.append(
            sql.SQL(
                "coalesce(sum(4 + least(coalesce(vertices, 1), {cap})) FILTER (WHERE {passes}), 0)"
            ).format(cap=cap, passes=passes)
        )
    return sql.SQL("(SELECT ARRAY[{weights}]::float8[] FROM {table} WHERE geom && b.env_stored)").format(
        weights=sql.SQL(", ").join(weights), table=layer.table()
    )


def _layer_sql(layer: TileLayer, z: int, level: int = 0) -> sql.Composable:
    """The MVT of one layer for the tile in ``b``, generalised at ``level`` (0: the normal rendering).

    Level 0 simplifies to two grid units below z15 and drops areas under 4 x 4 grid units (a quarter
    of a screen pixel). Each level above doubles the tolerance and the minimum size, drops lines
    shorter than the minimum size, and keeps every 2^level-th point: what a tile over its byte budget
    gives up first (see :func:`render_composite`).
    """
    table = layer.table()
    kind = layer.entry.kind
    low = z < SIMPLIFY_BELOW_ZOOM
    unit = pixel_size(z)
    tolerance = unit * 2 * 2**level if (low or level) else 0.0
    geom: sql.Composable = sql.SQL("geom_3857")
    if tolerance and kind is not LayerKind.POINT:
        # Only geometries with many vertices gain from it; a 5-vertex building is left as it is.
        geom = sql.SQL(
            "CASE WHEN vertices > {} THEN ST_Simplify(geom_3857, {}, true) ELSE geom_3857 END"
        ).format(sql.Literal(64 if level == 0 else 4), sql.Literal(tolerance))
    where = sql.SQL("").join(sql.SQL(" AND ") + f for f in _level_filters(kind, z, level))
    return sql.SQL(
        """
        coalesce((SELECT ST_AsMVT(t, {name}, {extent}, 'geom', 'fid') FROM (
           SELECT fid, ST_AsMVTGeom({geom}, b.env, {extent}, {buffer}, true) AS geom{attrs}
           FROM {table}
           WHERE geom && b.env_stored{where}
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
        where=where,
        limit=sql.Literal(MAX_FEATURES_PER_LAYER),
    )


def _region_3857() -> tuple[float, float, float, float]:
    """The district's region (beyond which no stored feature lies) in Web Mercator metres."""

    def merc(lon: float, lat: float) -> tuple[float, float]:
        return (
            math.radians(lon) * 6378137.0,
            math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * 6378137.0,
        )

    west, south, east, north = DISTRICT.region
    (x0, y0), (x1, y1) = merc(west, south), merc(east, north)
    return x0, y0, x1, y1


def tile_query(
    layers: list[TileLayer], z: int, levels: list[int] | None = None, *, verify: list[str] | None = None
) -> sql.Composed:
    """One statement returning one row with the MVT of each of ``layers`` for tile z/%(x)s/%(y)s.

    The tile column and row are parameters, so the statement of a layer set at a zoom is the same for
    every tile and the connection prepares it once (planning costs more than a small tile's query).
    With ``verify`` (layer codes), the row starts with those layers' current version ids (in order), read
    in the same snapshot as the features: the caller learns in the same round trip whether it read
    current data.
    """
    levels = levels or [0] * len(layers)
    columns = [_layer_sql(layer, z, level) for layer, level in zip(layers, levels, strict=True)]
    return _in_tile(z, columns, verify)


def _in_tile(z: int, columns: list[sql.Composable], verify: list[str] | None = None) -> sql.Composed:
    """``SELECT columns`` with ``b`` (the tile envelope and the search box) in scope."""
    if verify is not None:
        columns.insert(
            0,
            sql.SQL(
                "ARRAY(SELECT l.current_version FROM unnest({codes}::text[]) WITH ORDINALITY u(code, n)"
                " LEFT JOIN basemap.layer l ON l.code = u.code ORDER BY u.n)"
            ).format(codes=sql.Literal(verify)),
        )
    if not columns:
        return sql.SQL("SELECT ''::bytea WHERE %(x)s::int IS NOT NULL AND %(y)s::int IS NOT NULL").format()
    x0, y0, x1, y1 = _region_3857()
    return sql.SQL(
        """
        WITH b AS (
          -- The search box in the storage CRS: the buffered tile, clipped to the region around the
          -- district first (a Gauss-Kruger projection of a whole-world tile would be meaningless).
          SELECT ST_TileEnvelope({z}, %(x)s::int, %(y)s::int) AS env,
                 ST_Transform(ST_Intersection(
                   ST_TileEnvelope({z}, %(x)s::int, %(y)s::int, margin => {margin}),
                   ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 3857)), {srid}) AS env_stored
        )
        SELECT {columns} FROM b
        """
    ).format(
        z=sql.Literal(z),
        margin=sql.Literal(BUFFER / EXTENT),
        x0=sql.Literal(round(x0, 3)),
        y0=sql.Literal(round(y0, 3)),
        x1=sql.Literal(round(x1, 3)),
        y1=sql.Literal(round(y1, 3)),
        srid=sql.Literal(STORAGE_SRID),
        columns=sql.SQL(", ").join(columns),
    )


def statement(
    layers: list[TileLayer], z: int, levels: list[int] | None = None, *, verify: list[str] | None = None
) -> bytes:
    """:func:`tile_query` as the bytes sent to the server, remembered per layer set, zoom and levels.

    A map asks for the same few statements tile after tile; composing one again costs about a tenth
    of a millisecond, which at high zooms is a fifth of the database's own time for the tile. The key
    holds everything the text depends on (codes, versions, kinds, tile attributes, levels, zoom), so an
    edited catalog or a new version is a new key.
    """
    levels = levels or [0] * len(layers)
    key = tuple(
        (t.entry.code, t.version_id, t.source_key, t.entry.kind, tuple(tile_attributes(t.entry)), level)
        for t, level in zip(layers, levels, strict=True)
    )
    full_key = (key, z, tuple(verify) if verify is not None else None)
    return _remembered(full_key, lambda: tile_query(layers, z, levels, verify=verify))


def weights_statement(layers: list[TileLayer], z: int) -> bytes:
    """The statement of :func:`_weights_sql` for ``layers`` at zoom ``z`` (remembered like tiles)."""
    key = ("weights", tuple((t.entry.code, t.version_id, t.source_key, t.entry.kind) for t in layers), z)
    return _remembered(key, lambda: _in_tile(z, [_weights_sql(t, z) for t in layers]))


def _remembered(key: Any, compose: Callable[[], sql.Composable]) -> bytes:
    text = _STATEMENTS.get(key)
    if text is None:
        if len(_STATEMENTS) >= MAX_STATEMENTS:
            _STATEMENTS.clear()  # rare (a catalog's layer sets x zooms x levels); simpler than an LRU
        text = _STATEMENTS[key] = compose().as_bytes(None)
    return text


def plan_levels(sizes: list[int], weights: list[list[float]], levels: list[int], budget: float) -> list[int]:
    """Levels expected to bring a tile to ``budget`` bytes, from each layer's size at its current level
    and its weights per level (:func:`_weights_sql`).

    Greedy and deterministic: repeatedly take the raise (one layer to any higher level) with the largest
    expected saving per level, until the expected total fits. Layers are only raised.
    """
    new = list(levels)

    def expected(i: int, level: int) -> float:
        base = weights[i][levels[i]]
        return sizes[i] * (weights[i][level] / base) if base > 0 else float(sizes[i])

    total = float(sum(sizes))
    while total > budget:
        best: tuple[float, int, int] | None = None
        for i in range(len(sizes)):
            now = expected(i, new[i])
            for level in range(new[i] + 1, MAX_LEVEL + 1):
                gain = (now - expected(i, level)) / (level - new[i])
                if gain > 0 and (best is None or gain > best[0]):
                    best = (gain, i, level)
        if best is None:
            break
        _, i, level = best
        total -= expected(i, new[i]) - expected(i, level)
        new[i] = level
    return new


MAX_STATEMENTS = 4096
_STATEMENTS: dict[Any, bytes] = {}


class StaleVersions(Exception):
    """The layers' current versions are not the ones the tile was asked for."""

    def __init__(self, current: dict[str, int | None]) -> None:
        super().__init__("layer versions changed")
        self.current = current


@dataclass(frozen=True)
class RenderedTile:
    """A composite tile and the generalisation level each layer needed to fit the budget."""

    data: bytes
    levels: dict[str, int]


def render_composite(
    conn: Connection[Any],
    layers: list[TileLayer],
    z: int,
    x: int,
    y: int,
    budget: int = TILE_BUDGET,
    *,
    expect: dict[str, int | None] | None = None,
) -> RenderedTile:
    """The composite MVT of ``layers``: one round trip when it fits ``budget`` bytes (the usual case).

    Over budget, the large layers are generalised to planned levels (:func:`plan_levels`), then the
    largest ones further, and rendered again, until the tile fits or every layer is at :data:`MAX_LEVEL`
    (like tippecanoe's drop-densest-as-needed, but the choice depends only on the data, so a tile is
    always rendered the same way). With ``expect`` (layer
    code → version id or None), raises :class:`StaleVersions` when a current version differs (checked in
    the same round trip).
    """
    if not layers and not expect:
        return RenderedTile(b"", {})
    tile = {"x": x, "y": y}
    codes = list(expect) if expect is not None else None
    # Binary results: the tiles arrive as raw bytes, not as hex text to decode.
    row = conn.execute(statement(layers, z, verify=codes), tile, binary=True).fetchone()
    assert row is not None
    if codes is not None and expect is not None:
        current = dict(zip(codes, row[0], strict=True))
        if current != expect:
            raise StaleVersions(current)
        row = row[1:]
    parts = [bytes(v) if v else b"" for v in row]
    levels = [0] * len(layers)
    if sum(map(len, parts)) > budget:
        # Over budget (dense tiles at low zooms): plan each large layer's level from cheap per-level
        # weights (stored vertex counts and sizes, no geometry read), render the planned levels in one
        # round, and plan again from the sizes that came back; the loop below only corrects what the
        # plans missed. Without plans, a layer whose size does not change over several levels cost one
        # round per level.
        big = [i for i in range(len(layers)) if len(parts[i]) * 50 > budget]
        rows = conn.execute(weights_statement([layers[i] for i in big], z), tile).fetchone() or []
        weights = [list(w or [0.0] * (MAX_LEVEL + 1)) for w in rows]
        for _ in range(PLAN_ROUNDS):
            if sum(map(len, parts)) <= budget:
                break
            planned = plan_levels(
                [len(parts[i]) for i in big], weights, [levels[i] for i in big], budget * PLAN_TARGET
            )
            chosen = [i for i, level in zip(big, planned, strict=True) if level != levels[i]]
            if not chosen:
                break
            for i, level in zip(big, planned, strict=True):
                levels[i] = level
            _render_again(conn, layers, chosen, levels, parts, z, tile)
    while (excess := (total := sum(map(len, parts))) - budget) > 0:
        # Each level roughly halves a layer: far over budget, take two or three levels at once; raise the
        # largest layers until their expected saving covers the excess, and render them again together
        # (one round trip per round, usually one round).
        step = 1 if total <= 2 * budget else 2 if total <= 4 * budget else 3
        open_ = sorted(
            (i for i in range(len(layers)) if levels[i] < MAX_LEVEL and parts[i]),
            key=lambda k: -len(parts[k]),
        )
        if not open_:
            break
        chosen, covered = [], 0.0
        for i in open_:
            chosen.append(i)
            covered += len(parts[i]) * (1 - 0.5 ** min(step, MAX_LEVEL - levels[i]))
            if covered >= excess:
                break
        for i in chosen:
            levels[i] = min(MAX_LEVEL, levels[i] + step)
        _render_again(conn, layers, chosen, levels, parts, z, tile)
    used = {layer.entry.code: level for layer, level in zip(layers, levels, strict=True) if level}
    return RenderedTile(b"".join(parts), used)


def _render_again(
    conn: Connection[Any],
    layers: list[TileLayer],
    chosen: list[int],
    levels: list[int],
    parts: list[bytes],
    z: int,
    tile: dict[str, int],
) -> None:
    """Render the ``chosen`` layers at their ``levels`` in one round trip, replacing their ``parts``."""
    again = conn.execute(
        statement([layers[i] for i in chosen], z, [levels[i] for i in chosen]), tile, binary=True
    ).fetchone()
    for i, value in zip(chosen, again or [b""] * len(chosen), strict=True):
        parts[i] = bytes(value) if value else b""
