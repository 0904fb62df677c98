"""The candidates of a check read from the database: one statement for the layers not searched in memory.

The statement is composed here (:func:`candidates_sql`) and rendered once per set of layers
(:func:`candidates_query`, kept in the :class:`~analysis.checkplan.CheckPlan`): it is the same text check
after check, only the footprint's box is bound.
"""

from __future__ import annotations

from typing import Any

import shapely
from psycopg import Connection, sql

from analysis.checkplan import CheckedLayer, CheckPlan, search_reach
from analysis.layer_states import LayerState
from layers.district import STORAGE_SRID

# Rendered statements kept per plan: one per set of layers met, so a handful in practice.
QUERIES_MAX = 64


def candidates_sql(indexed: list[CheckedLayer], fallback: list[tuple[CheckedLayer, int]]) -> sql.Composed:
    """One statement: every feature part whose box comes within its layer's reach of the footprint's box.

    Layers the check index holds at their current version are one probe of ``basemap.check_part``;
    the others (just switched, not yet caught up) are read from their version tables. Each row:
    layer code, fid, attributes and the whole part (WKB). The exact tests and the clipping are done
    by ``engine._measure``, once per part, on geometries decoded once (a server-side overlay converted
    each part to GEOS again for every function it went through).
    """
    box = sql.SQL("ST_MakeEnvelope(%(x0)s - {r}, %(y0)s - {r}, %(x1)s + {r}, %(y1)s + {r}, {srid})")
    srid = sql.Literal(STORAGE_SRID)
    statements = []
    if indexed:
        statements.append(
            sql.SQL(
                # One index probe with the largest reach; the per-layer reach is applied to what it
                # found (materialised, so the planner cannot turn it back into one probe per layer).
                "(WITH c AS MATERIALIZED (SELECT layer_code, fid, props, geom FROM basemap.check_part "
                "WHERE geom && {widest}) "
                "SELECT c.layer_code, c.fid, c.props, ST_AsBinary(c.geom) FROM c "
                "JOIN unnest({codes}::text[], {reaches}::float8[]) r(code, reach) ON r.code = c.layer_code "
                "WHERE c.geom && {own})"
            ).format(
                widest=box.format(r=sql.Literal(max(search_reach(layer) for layer in indexed)), srid=srid),
                own=box.format(r=sql.SQL("r.reach"), srid=srid),
                codes=sql.Literal([layer.entry.code for layer in indexed]),
                reaches=sql.Literal([search_reach(layer) for layer in indexed]),
            )
        )
    for layer, version in fallback:
        statements.append(
            sql.SQL(
                "(SELECT {code}::text, t.fid, t.props, ST_AsBinary(t.geom) "
                "FROM (SELECT fid, props, geom FROM {f} WHERE vertices <= 256 UNION ALL "
                "SELECT p.fid, f.props, p.geom FROM {p} p JOIN {f} f USING (fid)) t WHERE t.geom && {box})"
            ).format(
                code=sql.Literal(layer.entry.code),
                f=sql.Identifier("basemap", f"f_{version}"),
                p=sql.Identifier("basemap", f"p_{version}"),
                box=box.format(r=sql.Literal(search_reach(layer)), srid=srid),
            )
        )
    if indexed:
        # The versions the index held when it was read, in the same snapshot as the parts: a catch-up
        # between the state query and this one would otherwise mix versions (see :func:`evaluate`).
        statements.append(
            sql.SQL(
                "(SELECT NULL, NULL, (SELECT jsonb_object_agg(layer_code, version_id) "
                "FROM basemap.check_state WHERE layer_code = ANY({codes})), NULL)"
            ).format(codes=sql.Literal([layer.entry.code for layer in indexed]))
        )
    return sql.SQL(" UNION ALL ").join(statements)


def candidates_query(
    conn: Connection[Any],
    plan: CheckPlan,
    indexed: list[CheckedLayer],
    fallback: list[tuple[CheckedLayer, int]],
) -> bytes:
    """:func:`candidates_sql` rendered once per set of layers (it is the same text check after check)."""
    # A plan has one CheckedLayer per code, so the codes (and the fallback versions) determine the text.
    key = (*[layer.entry.code for layer in indexed], *[(layer.entry.code, v) for layer, v in fallback])
    query = plan.queries.get(key)
    if query is None:
        if len(plan.queries) > QUERIES_MAX:
            plan.queries.clear()
        query = plan.queries[key] = candidates_sql(indexed, fallback).as_bytes(conn)
    return query


def candidates_found(
    conn: Connection[Any],
    plan: CheckPlan,
    fp: shapely.Geometry,
    indexed: list[CheckedLayer],
    fallback: list[tuple[CheckedLayer, int]],
    state: dict[str, LayerState],
) -> list[Any]:
    """The candidate rows, all read from the versions the report records (``state``).

    The index may have caught up with a newer version after the state was read; such layers are read
    again from their recorded version's tables, so the report never mixes versions.
    """
    x0, y0, x1, y1 = fp.bounds
    box = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
    found = conn.execute(candidates_query(conn, plan, indexed, fallback), box, binary=True).fetchall()
    held = next((row[2] for row in found if row[0] is None), None) or {}
    rows = [row for row in found if row[0] is not None]
    moved = [layer for layer in indexed if held.get(layer.entry.code) != state[layer.entry.code].version_id]
    if not moved:
        return rows
    codes = {layer.entry.code for layer in moved}
    again = [(layer, state[layer.entry.code].version_id) for layer in moved]
    rows = [row for row in rows if row[0] not in codes]
    rows += conn.execute(candidates_query(conn, plan, [], again), box, binary=True).fetchall()
    return rows
