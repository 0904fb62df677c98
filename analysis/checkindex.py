"""The footprint-check index: what the engine probes, and catching it up after a layer version switch.

``basemap.check_part`` (migration 0005) holds the current version of every layer a geometric rule
reads, in one table with one GiST index. A version switch (import, rollback) commits first; then
:func:`catch_up` replaces the switched layers' rows, each layer in its own transaction, and in that
same transaction marks the stored reports whose footprints met changed features as stale. Until a
layer is caught up the engine reads it from its version tables instead, so an answer is never
taken from a stale index; a crash between the switch and the catch-up only costs speed until the
next catch-up (``duogui setup`` runs one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from analysis.checkplan import CheckedLayer, CheckPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Switch:
    """One layer caught up: the versions (ids) the index held before and holds now."""

    layer: str
    from_version: int | None
    to_version: int | None
    stale_reports: int


def catch_up(conn: Connection[Any], plan: CheckPlan, codes: list[str] | None = None) -> list[Switch]:
    """Bring the check index up to the current versions (of ``codes``, or every layer ``plan`` checks)."""
    switches = []
    for layer in plan.checked_layers:
        if codes is not None and layer.entry.code not in codes:
            continue
        with conn.transaction():
            row = conn.execute("SELECT basemap.refresh_check(%s)", (layer.entry.code,)).fetchone()
            held = row[0] if row else None
            if held == -1:
                continue
            current = conn.execute(
                "SELECT current_version FROM basemap.layer WHERE code = %s", (layer.entry.code,)
            ).fetchone()
            new = current[0] if current else None
            stale = mark_stale(conn, layer, held, new) if held is not None and new is not None else 0
        switches.append(Switch(layer.entry.code, held, new, stale))
    if switches:
        log.info("check index caught up: %s", ", ".join(s.layer for s in switches))
    return switches


def mark_stale(conn: Connection[Any], layer: CheckedLayer, old: int, new: int) -> int:
    """Mark the latest report of every project whose footprint meets features changed from ``old`` to ``new``.

    A feature counts as changed when no feature with the same geometry and attributes exists in the
    other version, within the layer's rule reach of the footprint; a coverage that leaves a different
    part of the footprint uncovered counts as one change. Returns how many reports were marked.
    """
    old_t, new_t = sql.Identifier("basemap", f"f_{old}"), sql.Identifier("basemap", f"f_{new}")
    if not _exists(conn, f"f_{old}") or not _exists(conn, f"f_{new}"):
        return 0
    near = sql.SQL(
        "SELECT md5(ST_AsBinary(geom) || convert_to(props::text || coalesce(extra::text, ''), 'UTF8')) AS h "
        "FROM {t} WHERE ST_DWithin(geom, r.footprint, %(reach)s)"
    )
    query = sql.SQL(
        """
        WITH cov AS (
          SELECT o.coverage AS old_c, n.coverage AS new_c, o.coverage_key <> n.coverage_key AS moved
          FROM basemap.layer_version o, basemap.layer_version n WHERE o.id = %(old)s AND n.id = %(new)s
        ), latest AS (
          SELECT DISTINCT ON (org_id, project_code) id, footprint FROM project.pre_evaluation, cov
          WHERE project_code IS NOT NULL
            AND (footprint && ST_Expand(
                  (SELECT ST_Collect(extent) FROM basemap.layer_version WHERE id IN (%(old)s, %(new)s)),
                  %(reach)s)
                 OR (cov.moved AND NOT (ST_Covers(cov.old_c, footprint) AND ST_Covers(cov.new_c, footprint))))
          ORDER BY org_id, project_code, id DESC
        ), changed AS (
          SELECT r.id,
                 (SELECT count(*) FROM (({new_near}) EXCEPT ALL ({old_near})) a)
               + (SELECT count(*) FROM (({old_near}) EXCEPT ALL ({new_near})) b)
               + CASE WHEN cov.moved AND abs(ST_Area(ST_Difference(r.footprint, cov.old_c))
                                             - ST_Area(ST_Difference(r.footprint, cov.new_c))) > 0.01
                      THEN 1 ELSE 0 END AS n
          FROM latest r, cov
        )
        INSERT INTO project.pre_evaluation_stale (report_id, layer_code, from_version, to_version, changed)
        SELECT c.id, %(code)s,
               (SELECT number FROM basemap.layer_version WHERE id = %(old)s),
               (SELECT number FROM basemap.layer_version WHERE id = %(new)s), c.n
        FROM changed c WHERE c.n > 0
        ON CONFLICT (report_id, layer_code, to_version) DO NOTHING
        """
    ).format(new_near=near.format(t=new_t), old_near=near.format(t=old_t))
    cur = conn.execute(
        query, {"old": old, "new": new, "reach": max(layer.reach_m, 0.0), "code": layer.entry.code}
    )
    return cur.rowcount


def _exists(conn: Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"basemap.{table}",)).fetchone()
    return bool(row and row[0])


def catch_up_later(pool: Any, plan: CheckPlan, codes: list[str]) -> None:
    """Background form of :func:`catch_up` for a request that has switched versions (own connection)."""
    try:
        with pool.connection() as conn:
            catch_up(conn, plan, codes)
    except Exception:  # noqa: BLE001 - the next catch-up retries; the engine falls back meanwhile
        log.exception("check index catch-up failed for %s; it is retried by the next one", codes)
