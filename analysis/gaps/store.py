"""Stored answers, keyed by the facility type, the standards' fingerprint and every input's version id.

An answer is computed once per key (about 1–4 s on the district demo) and then read back; a new version
of any input layer, or a changed standards file, makes a new key. Only the newest answers of each
facility type are kept.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from analysis.gaps.answer import GapAnswer

KEEP_PER_FACILITY = 8


def load(conn: Connection[Any], key: str) -> str | None:
    """The stored answer (JSON text) under ``key``, if any."""
    row = conn.execute("SELECT body::text FROM gap.result WHERE cache_key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def save(conn: Connection[Any], answer: GapAnswer, body: str) -> None:
    """Store an answer (a concurrent identical one wins: same key, same figures) and prune old ones."""
    conn.execute(
        "INSERT INTO gap.result (cache_key, facility, body, compute_ms) VALUES (%s, %s, %s::jsonb, %s)"
        " ON CONFLICT (cache_key) DO NOTHING",
        (answer.cache_key, answer.facility, body, answer.compute_ms),
    )
    conn.execute(
        "DELETE FROM gap.result WHERE facility = %s AND cache_key NOT IN"
        " (SELECT cache_key FROM gap.result WHERE facility = %s ORDER BY computed_at DESC LIMIT %s)",
        (answer.facility, answer.facility, KEEP_PER_FACILITY),
    )


def summaries(conn: Connection[Any], keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per facility type of ``keys`` (facility → the key of its current inputs): the stored answer under
    that key, else the newest stored one, as its small parts only (no cells, facilities or candidates):
    ``cache_key``, ``current`` (stored under the current key), ``computed_at``, ``district``,
    ``subdistricts``, ``standards_version``, ``layers`` and ``network`` (the road layers' versions)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (facility) facility, cache_key, cache_key = %(keys)s::jsonb ->> facility,"
        " computed_at, body -> 'district', body -> 'subdistricts',"
        " body -> 'standard' ->> 'standards_version',"
        " body -> 'layers', body -> 'network' -> 'sources'"
        " FROM gap.result WHERE facility = ANY(%(facilities)s)"
        " ORDER BY facility, cache_key = %(keys)s::jsonb ->> facility DESC, computed_at DESC",
        {"keys": Jsonb(keys), "facilities": list(keys)},
    ).fetchall()
    names = ("cache_key", "current", "computed_at", "district", "subdistricts", "standards_version",
             "layers", "network")  # fmt: skip
    return {r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}
