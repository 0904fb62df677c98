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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from psycopg import Connection, sql

from analysis.rules.model import RuleSet
from analysis.rules.schema import RuleKind
from layers.catalog.model import Catalog, LayerEntry, LayerKind

log = logging.getLogger(__name__)

# Rules measured against the footprint's geometry (terrain rules read the slope raster instead).
GEOMETRIC = (RuleKind.OVERLAP, RuleKind.SETBACK, RuleKind.COMPATIBILITY, RuleKind.DEMOLITION)


@dataclass(frozen=True)
class CheckedLayer:
    """A layer some geometric rule reads, and how far from the footprint its rules look."""

    entry: LayerEntry
    reach_m: float


@dataclass(frozen=True)
class Switch:
    """One layer caught up: the versions (ids) the index held before and holds now."""

    layer: str
    from_version: int | None
    to_version: int | None
    stale_reports: int


T = TypeVar("T")
PerRules = dict[tuple[int, int], tuple[Catalog, RuleSet, T]]


def per_rules(cache: PerRules[T], catalog: Catalog, ruleset: RuleSet, build: Callable[[], T]) -> T:
    """``build()`` once per catalog and rule set (the objects themselves), remembered in ``cache``."""
    key = (id(catalog), id(ruleset))
    cached = cache.get(key)
    # The objects are kept in the entry, so an id cannot be reused by another catalog or rule set.
    if cached is not None and cached[0] is catalog and cached[1] is ruleset:
        return cached[2]
    value = build()
    if len(cache) > 8:
        cache.clear()
    cache[key] = (catalog, ruleset, value)
    return value


_CHECKED: PerRules[list[CheckedLayer]] = {}


def checked_layers(catalog: Catalog, ruleset: RuleSet) -> list[CheckedLayer]:
    """The vector pre-evaluation layers with at least one geometric rule, in catalog order (cached)."""

    def build() -> list[CheckedLayer]:
        out = []
        for entry in catalog.pre_evaluation_layers():
            rules = [r for r in ruleset.rules_for_layer(entry.code) if r.kind in GEOMETRIC]
            if rules and entry.kind is not LayerKind.RASTER:
                out.append(CheckedLayer(entry, float(max([r.distance_m or 0.0 for r in rules] + [0.0]))))
        return out

    return per_rules(_CHECKED, catalog, ruleset, build)


def catch_up(
    conn: Connection[Any], catalog: Catalog, ruleset: RuleSet, codes: list[str] | None = None
) -> list[Switch]:
    """Bring the check index up to the current versions (of ``codes``, or every checked layer)."""
    switches = []
    for layer in checked_layers(catalog, ruleset):
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
    other version, within the layer's rule reach of the footprint. Returns how many reports were marked.
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
        WITH latest AS (
          SELECT DISTINCT ON (org_id, project_code) id, footprint FROM project.pre_evaluation
          WHERE project_code IS NOT NULL
            AND footprint && ST_Expand(
                  (SELECT ST_Collect(extent) FROM basemap.layer_version WHERE id IN (%(old)s, %(new)s)),
                  %(reach)s)
          ORDER BY org_id, project_code, id DESC
        ), changed AS (
          SELECT r.id,
                 (SELECT count(*) FROM (({new_near}) EXCEPT ALL ({old_near})) a)
               + (SELECT count(*) FROM (({old_near}) EXCEPT ALL ({new_near})) b) AS n
          FROM latest r
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


def catch_up_later(pool: Any, catalog: Catalog, ruleset: RuleSet, codes: list[str]) -> None:
    """Background form of :func:`catch_up` for a request that has switched versions (own connection)."""
    try:
        with pool.connection() as conn:
            catch_up(conn, catalog, ruleset, codes)
    except Exception:  # noqa: BLE001 - the next catch-up retries; the engine falls back meanwhile
        log.exception("check index catch-up failed for %s; it is retried by the next one", codes)
