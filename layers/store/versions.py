"""Layer versions in PostGIS: atomic loads, history, rollback and diffs.

A version is written in ONE transaction: the version row, a fresh partition loaded by binary COPY,
its indexes and subdivided copy, the switch of ``basemap.layer.current_version`` and the audit row.
Readers keep seeing the previous version until that transaction commits; an error, a killed process
or a database restart rolls all of it back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import Connection, sql
from psycopg.copy import QueuedLibpqWriter
from psycopg.rows import dict_row

from layers.audit import Actor, record
from layers.catalog.model import Catalog, LayerEntry
from layers.district import STORAGE_SRID
from layers.ingest.errors import IngestError
from layers.ingest.prepare import FeatureBatches, PreparedFeatures
from layers.store.coverage import COVERAGE_SQL, Coverage, default_coverage
from layers.store.payload import COLUMNS, COPY_HEADER, COPY_TRAILER, copy_rows

SUBDIVIDE_ABOVE = 256  # features with more vertices get ST_Subdivide parts for footprint checks


@dataclass(frozen=True)
class SourceMeta:
    """Where a version came from."""

    name: str
    sha256: str
    size: int
    driver: str | None = None
    crs: str | None = None
    encoding: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    """A stored version."""

    id: int
    layer_code: str
    number: int
    feature_count: int
    part_count: int
    created_at: datetime


def register_layers(conn: Connection[Any], catalog: Catalog) -> int:
    """Make sure every catalog layer has its state row; return how many were added."""
    added = 0
    with conn.transaction():
        for entry in catalog.layers.values():
            cur = conn.execute(
                "INSERT INTO basemap.layer (code, kind) VALUES (%s, %s) ON CONFLICT (code) DO NOTHING",
                (entry.code, entry.kind.value),
            )
            added += cur.rowcount
    return added


def lock_layer(conn: Connection[Any], entry: LayerEntry) -> int | None:
    """Lock the layer's state row for a version change (409 when another change holds it)."""
    conn.execute(
        "INSERT INTO basemap.layer (code, kind) VALUES (%s, %s) ON CONFLICT (code) DO NOTHING",
        (entry.code, entry.kind.value),
    )
    try:
        row = conn.execute(
            "SELECT current_version FROM basemap.layer WHERE code = %s FOR UPDATE NOWAIT", (entry.code,)
        ).fetchone()
    except psycopg.errors.LockNotAvailable as exc:
        raise IngestError(
            f"图层“{entry.name_zh}”正在导入或回退，请稍后再试。",
            f"Layer '{entry.code}' is being imported or rolled back; try again shortly.",
            code="layer_busy",
            status=409,
        ) from exc
    return row[0] if row else None


def _copy_features(
    conn: Connection[Any], table: str, version_id: int, batches: Iterable[PreparedFeatures]
) -> None:
    """Stream the prepared batches into the load table by binary COPY.

    Batches are prepared and encoded in this thread while psycopg's queued writer sends the previous
    one from a worker thread, so the server parses one batch while the next is being prepared.
    """
    schema, name = table.split(".", 1)
    statement = sql.SQL("COPY {} (" + COLUMNS + ") FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(schema, name.strip('"'))
    )
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(COPY_HEADER)
        for batch in batches:
            copy.write(copy_rows(version_id, batch))
        copy.write(COPY_TRAILER)


def insert_version(
    conn: Connection[Any],
    entry: LayerEntry,
    source: SourceMeta,
    actor: Actor,
    *,
    bounds: tuple[float, float, float, float],
    report: dict[str, Any],
    feature_count: int = 0,
    area_m2: float | None = None,
    length_m: float | None = None,
    raster_path: str | None = None,
    coverage: Coverage | None = None,
) -> tuple[int, int, datetime]:
    """Add the next version row of a layer (inside the caller's transaction); return id, number, time.

    ``coverage`` is where its data answers (None: the layer's default, see :mod:`layers.store.coverage`)."""
    coverage = coverage or default_coverage(entry)
    row = conn.execute(
        """
        INSERT INTO basemap.layer_version
          (layer_code, number, created_by_id, created_by_username, source_name, source_sha256,
           source_size, source_driver, source_crs, source_encoding, feature_count, repaired_count,
           skipped_count, total_area_m2, total_length_m, extent, raster_path, report, note,
           coverage, coverage_source)
        SELECT %(code)s, coalesce(max(number), 0) + 1, %(uid)s, %(uname)s, %(name)s, %(sha)s, %(size)s,
               %(driver)s, %(crs)s, %(enc)s, %(count)s, %(repaired)s, %(skipped)s, %(area)s, %(length)s,
               ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, %(srid)s), %(raster)s, %(report)s::jsonb,
               %(note)s, """
        + COVERAGE_SQL
        + """, %(coverage_source)s
        FROM basemap.layer_version WHERE layer_code = %(code)s
        RETURNING id, number, created_at
        """,
        {
            **coverage.params(),
            "coverage_source": coverage.source,
            "code": entry.code,
            "uid": actor.user_id,
            "uname": actor.username,
            "name": source.name,
            "sha": source.sha256,
            "size": source.size,
            "driver": source.driver,
            "crs": source.crs,
            "enc": source.encoding,
            "count": feature_count,
            "repaired": report.get("repaired_count", 0),
            "skipped": report.get("skipped_count", 0),
            "area": area_m2,
            "length": length_m,
            "x0": bounds[0],
            "y0": bounds[1],
            "x1": bounds[2],
            "y1": bounds[3],
            "srid": STORAGE_SRID,
            "raster": raster_path,
            "report": _json(report),
            "note": source.note,
        },
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), row[2]


def make_current(
    conn: Connection[Any],
    entry: LayerEntry,
    version_id: int,
    previous: int | None,
    actor: Actor,
    after: dict[str, Any],
) -> None:
    """Switch the layer to a stored version and audit the import (inside the caller's transaction)."""
    conn.execute(
        "UPDATE basemap.layer SET current_version = %s, updated_at = now() WHERE code = %s",
        (version_id, entry.code),
    )
    record(
        conn,
        actor,
        "layer.import",
        "layer",
        entry.code,
        before={"current_version": previous},
        after={"current_version": version_id, **after},
    )


def write_version(
    conn: Connection[Any],
    entry: LayerEntry,
    features: FeatureBatches,
    source: SourceMeta,
    actor: Actor,
    coverage: Coverage | None = None,
) -> VersionInfo:
    """Store ``features`` as the layer's new current version, atomically, and audit it.

    The version row is written first (its id names the load table), the batches are prepared while
    they are copied, and the row gets its counts, extent and report once all are in. Any error —
    refused features included — rolls the whole transaction back.
    """
    with conn.transaction():
        previous = lock_layer(conn, entry)
        version_id, number, created_at = insert_version(
            conn, entry, source, actor, bounds=(0.0, 0.0, 0.0, 0.0), report={}, coverage=coverage
        )
        table = conn.execute("SELECT basemap.begin_version(%s)", (version_id,)).fetchone()
        assert table is not None
        _copy_features(conn, table[0], version_id, features)
        report = features.report
        x0, y0, x1, y1 = features.bounds
        conn.execute(
            """
            UPDATE basemap.layer_version
            SET feature_count = %s, repaired_count = %s, skipped_count = %s, total_area_m2 = %s,
                total_length_m = %s, extent = ST_MakeEnvelope(%s, %s, %s, %s, %s), report = %s::jsonb
            WHERE id = %s
            """,
            (
                features.count,
                report.get("repaired_count", 0),
                report.get("skipped_count", 0),
                features.area_m2,
                features.length_m,
                x0,
                y0,
                x1,
                y1,
                STORAGE_SRID,
                _json(report),
                version_id,
            ),
        )
        parts_row = conn.execute(
            "SELECT basemap.finish_version(%s, %s, %s)",
            (version_id, SUBDIVIDE_ABOVE, features.max_vertices > SUBDIVIDE_ABOVE),
        ).fetchone()
        make_current(
            conn,
            entry,
            version_id,
            previous,
            actor,
            {
                "number": number,
                "features": features.count,
                "source": source.name,
                "sha256": source.sha256,
                "repaired": report.get("repaired_count", 0),
                "skipped": report.get("skipped_count", 0),
            },
        )
    return VersionInfo(
        version_id, entry.code, number, features.count, int(parts_row[0]) if parts_row else 0, created_at
    )


def rollback(conn: Connection[Any], entry: LayerEntry, number: int, actor: Actor) -> int:
    """Make version ``number`` current again (audited); return its id."""
    with conn.transaction():
        previous = lock_layer(conn, entry)
        row = conn.execute(
            "SELECT id, raster_path FROM basemap.layer_version WHERE layer_code = %s AND number = %s",
            (entry.code, number),
        ).fetchone()
        if row is None:
            raise IngestError(
                f"图层“{entry.name_zh}”没有第 {number} 版。",
                f"Layer '{entry.code}' has no version {number}.",
                code="no_such_version",
                status=404,
            )
        if row[0] == previous:
            # Nothing would change: refused, so the audit log never shows a rollback that did nothing.
            raise IngestError(
                f"第 {number} 版已是图层“{entry.name_zh}”的当前版本，无需回退。",
                f"Version {number} is already the current version of layer '{entry.code}'.",
                code="already_current",
                status=409,
            )
        conn.execute(
            "UPDATE basemap.layer SET current_version = %s, updated_at = now() WHERE code = %s",
            (row[0], entry.code),
        )
        record(
            conn,
            actor,
            "layer.rollback",
            "layer",
            entry.code,
            before={"current_version": previous},
            after={"current_version": row[0], "number": number},
        )
    return int(row[0])


def version_id(conn: Connection[Any], code: str, number: int | None) -> int | None:
    """The id of version ``number`` of a layer (the current one when None)."""
    if number is None:
        row = conn.execute("SELECT current_version FROM basemap.layer WHERE code = %s", (code,)).fetchone()
    else:
        row = conn.execute(
            "SELECT id FROM basemap.layer_version WHERE layer_code = %s AND number = %s", (code, number)
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def list_versions(conn: Connection[Any], code: str) -> list[dict[str, Any]]:
    """The version history of a layer, newest first (without the full reports)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            SELECT v.id, v.number, v.created_at, v.created_by_username, v.source_name, v.source_sha256,
                   v.source_size, v.source_driver, v.source_crs, v.source_encoding, v.feature_count,
                   v.repaired_count, v.skipped_count, v.total_area_m2, v.total_length_m, v.note,
                   v.id = l.current_version AS current, v.coverage_source,
                   round(ST_Area(v.coverage)::numeric, 2)::float8 AS coverage_area_m2,
                   ST_AsGeoJSON(ST_Transform(v.coverage, 4326), 7)::json AS coverage
            FROM basemap.layer_version v JOIN basemap.layer l ON l.code = v.layer_code
            WHERE v.layer_code = %s ORDER BY v.number DESC
            """,
            (code,),
        ).fetchall()


def diff_versions(
    conn: Connection[Any], code: str, old: int, new: int, tolerance_m: float = 0.0
) -> dict[str, Any]:
    """Features added, removed and changed (same geometry, other attributes) between two versions.

    Geometries are the same when their normalised forms are identical, or — with ``tolerance_m`` — when
    a feature left alone by the exact match lies within that (discrete Hausdorff) distance of one in the
    other version: a file that went through GeoJSON or another CRS comes back with its coordinates
    rounded, and that is not a change. Such pairs are matched one to one, nearest first, and counted in
    ``within_tolerance`` as well as in changed or unchanged.
    """
    old_id, new_id = version_id(conn, code, old), version_id(conn, code, new)
    if old_id is None or new_id is None:
        missing = old if old_id is None else new
        raise IngestError(
            f"没有第 {missing} 版。", f"There is no version {missing}.", code="no_such_version", status=404
        )
    key = (old_id, new_id, tolerance_m)
    cached = _diffs.get(key)
    if cached is None:
        counts = (
            _same_version(conn, old_id) if old_id == new_id else _compare(conn, old_id, new_id, tolerance_m)
        )
        cached = _diffs.put(key, counts)
    return {"layer": code, "from_version": old, "to_version": new, **cached, "tolerance_m": tolerance_m}


class _DiffCache:
    """Counts of recent diffs by (old id, new id, tolerance): versions never change once written, and
    version ids are never reused, so an entry can never go stale. Bounded, least recently used out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, int, float], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, float]) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[int, int, float], counts: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._entries[key] = counts
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return counts


_diffs = _DiffCache(256)


def _same_version(conn: Connection[Any], version: int) -> dict[str, Any]:
    """A version compared with itself: every feature unchanged, nothing read but its feature count."""
    row = conn.execute("SELECT feature_count FROM basemap.layer_version WHERE id = %s", (version,)).fetchone()
    assert row is not None
    return {
        "added": 0,
        "added_area_m2": 0.0,
        "removed": 0,
        "removed_area_m2": 0.0,
        "changed": 0,
        "unchanged": int(row[0]),
        "within_tolerance": 0,
    }


def _compare(conn: Connection[Any], old_id: int, new_id: int, tolerance_m: float) -> dict[str, Any]:
    """Counts of added, removed, changed and unchanged features between two different versions.

    Features are paired one to one, so every feature of either version is counted exactly once:
    first same geometry and same attributes (unchanged), then same geometry (changed), then — with a
    tolerance — the nearest within it among those left; the rest are added or removed. Twins (two
    features on the very same ground) pair with twins, never crosswise.
    """
    row = conn.execute(
        """
        WITH a AS MATERIALIZED (SELECT fid, geom, md5(ST_AsBinary(ST_Normalize(geom))) AS g,
                                       md5(props::text || coalesce(extra::text, '')) AS p,
                                       coalesce(area_m2, 0) AS area
                                FROM basemap.feature WHERE version_id = %(old)s),
             b AS MATERIALIZED (SELECT fid, geom, md5(ST_AsBinary(ST_Normalize(geom))) AS g,
                                       md5(props::text || coalesce(extra::text, '')) AS p,
                                       coalesce(area_m2, 0) AS area
                                FROM basemap.feature WHERE version_id = %(new)s),
             same AS MATERIALIZED (
               SELECT x.fid AS af, y.fid AS bf
               FROM (SELECT fid, g, p, row_number() OVER (PARTITION BY g, p ORDER BY fid) AS k FROM a) x
               JOIN (SELECT fid, g, p, row_number() OVER (PARTITION BY g, p ORDER BY fid) AS k FROM b) y
                 USING (g, p, k)),
             edited AS MATERIALIZED (
               SELECT x.fid AS af, y.fid AS bf
               FROM (SELECT fid, g, row_number() OVER (PARTITION BY g ORDER BY fid) AS k
                     FROM a WHERE fid NOT IN (SELECT af FROM same)) x
               JOIN (SELECT fid, g, row_number() OVER (PARTITION BY g ORDER BY fid) AS k
                     FROM b WHERE fid NOT IN (SELECT bf FROM same)) y
                 USING (g, k)),
             la AS MATERIALIZED (SELECT * FROM a WHERE fid NOT IN (SELECT af FROM same)
                                                   AND fid NOT IN (SELECT af FROM edited)),
             lb AS MATERIALIZED (SELECT * FROM b WHERE fid NOT IN (SELECT bf FROM same)
                                                   AND fid NOT IN (SELECT bf FROM edited)),
             near AS (SELECT DISTINCT ON (lb.fid) la.fid AS af, lb.fid AS bf, la.p AS ap, lb.p AS bp,
                             ST_HausdorffDistance(la.geom, lb.geom) AS d
                      FROM lb JOIN la
                        ON la.geom && ST_Expand(lb.geom, %(tol)s)
                       AND ST_HausdorffDistance(la.geom, lb.geom) <= %(tol)s
                      WHERE %(tol)s > 0
                      ORDER BY lb.fid, d, la.fid),
             moved AS MATERIALIZED (SELECT DISTINCT ON (af) * FROM near ORDER BY af, d, bf)
        SELECT (SELECT count(*) FROM lb WHERE fid NOT IN (SELECT bf FROM moved)),
               (SELECT coalesce(sum(area), 0) FROM lb WHERE fid NOT IN (SELECT bf FROM moved)),
               (SELECT count(*) FROM la WHERE fid NOT IN (SELECT af FROM moved)),
               (SELECT coalesce(sum(area), 0) FROM la WHERE fid NOT IN (SELECT af FROM moved)),
               (SELECT count(*) FROM edited) + (SELECT count(*) FROM moved WHERE ap <> bp),
               (SELECT count(*) FROM same) + (SELECT count(*) FROM moved WHERE ap = bp),
               (SELECT count(*) FROM moved)
        """,
        {"old": old_id, "new": new_id, "tol": tolerance_m},
    ).fetchone()
    assert row is not None
    return {
        "added": int(row[0]),
        "added_area_m2": float(row[1]),
        "removed": int(row[2]),
        "removed_area_m2": float(row[3]),
        "changed": int(row[4]),
        "unchanged": int(row[5]),
        "within_tolerance": int(row[6]),
    }


def _nansum(values: Any) -> float | None:
    array = np.asarray(values, dtype=float)
    return None if np.isnan(array).all() else float(np.nansum(array))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)
