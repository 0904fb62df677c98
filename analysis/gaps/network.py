"""The walking network: the road layers' current versions noded into a pgRouting edge table, cached.

A network is keyed by the version ids of its source layers (and the node tolerance): the first request
after a road layer gets a new version builds a new network; every other request reuses the stored one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from psycopg import Connection
from pydantic import BaseModel

from analysis.standards.model import Network as NetworkStandard

_BUILD = (Path(__file__).parent / "sql" / "build_network.sql").read_text(encoding="utf-8")
# How many networks to keep: the current one and its predecessor (a request that started on it may still
# be reading it).
KEEP_NETWORKS = 2


class SourceVersion(BaseModel):
    """A source layer and the version id the network was built from."""

    layer: str
    version_id: int
    number: int


class RoutableNetwork(BaseModel):
    """A stored network: its id, key, sources and size."""

    id: int
    source_key: str
    sources: list[SourceVersion]
    edge_count: int
    node_count: int
    length_m: float
    build_ms: int
    built_now: bool = False


def current_sources(conn: Connection[Any], layers: list[str]) -> list[SourceVersion]:
    """The current versions of ``layers`` (layers without data are left out), in the given order."""
    rows = conn.execute(
        "SELECT l.code, v.id, v.number FROM basemap.layer l JOIN basemap.layer_version v"
        " ON v.id = l.current_version WHERE l.code = ANY(%s)",
        (layers,),
    ).fetchall()
    found = {code: SourceVersion(layer=code, version_id=vid, number=num) for code, vid, num in rows}
    return [found[code] for code in layers if code in found]


def source_key(sources: list[SourceVersion], tolerance_m: float) -> str:
    """The cache key of a network: each source's version id and the node tolerance."""
    parts = [f"{s.layer}@{s.version_id}" for s in sources]
    return ",".join(parts) + f"|tol={tolerance_m:g}"


def _stored(conn: Connection[Any], key: str) -> RoutableNetwork | None:
    row = conn.execute(
        "SELECT id, source_key, sources, edge_count, node_count, length_m, build_ms"
        " FROM gap.network WHERE source_key = %s",
        (key,),
    ).fetchone()
    if row is None:
        return None
    return RoutableNetwork(
        id=row[0],
        source_key=row[1],
        sources=row[2],
        edge_count=row[3],
        node_count=row[4],
        length_m=row[5],
        build_ms=row[6],
    )


def ensure_network(conn: Connection[Any], standard: NetworkStandard) -> RoutableNetwork:
    """The network of the road layers' current versions, built (and committed) if not stored yet.

    Two requests that find it missing at once build it once: the builder holds a transaction-level
    advisory lock and the other finds the stored network after waiting for it.
    """
    sources = current_sources(conn, standard.layers)
    tolerance = standard.node_tolerance_m.value
    key = source_key(sources, tolerance)
    found = _stored(conn, key)
    if found is not None:
        return found
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('duogui.gap.network'))")
        found = _stored(conn, key)
        if found is not None:
            return found
        started = time.monotonic()
        row = conn.execute(
            "INSERT INTO gap.network (source_key, sources) VALUES (%s, %s::jsonb) RETURNING id",
            (key, "[" + ",".join(s.model_dump_json() for s in sources) + "]"),
        ).fetchone()
        assert row is not None
        network_id = int(row[0])
        conn.execute(
            _BUILD,
            {"versions": [s.version_id for s in sources], "tolerance": tolerance, "network": network_id},
        )
        build_ms = round((time.monotonic() - started) * 1000)
        conn.execute(
            """
            UPDATE gap.network n SET
              edge_count = s.edges, node_count = s.nodes, length_m = s.length, build_ms = %(ms)s
            FROM (
              SELECT count(*) AS edges, coalesce(sum(length_m), 0) AS length,
                     (SELECT count(*) FROM (SELECT source FROM gap.network_edge WHERE network_id = %(id)s
                      UNION SELECT target FROM gap.network_edge WHERE network_id = %(id)s) q) AS nodes
              FROM gap.network_edge WHERE network_id = %(id)s
            ) s
            WHERE n.id = %(id)s
            """,
            {"id": network_id, "ms": build_ms},
        )
        conn.execute("SELECT gap.analyze_network()")
        conn.execute(
            "DELETE FROM gap.network WHERE id NOT IN (SELECT id FROM gap.network ORDER BY id DESC LIMIT %s)",
            (KEEP_NETWORKS,),
        )
    built = _stored(conn, key)
    assert built is not None
    return built.model_copy(update={"built_now": True})
