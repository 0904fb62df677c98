"""Whether a layer can answer for a footprint: its data, its age and its coverage.

A layer version stores its coverage (:mod:`layers.store.coverage`): where its survey answers. Inside it,
no feature means "no conflict" (the layer is checked). A footprint wholly outside the coverage, a layer
without data and an out-of-date layer are not checkable; a footprint partly outside is checked on the
covered part and not checkable on the rest, whose area and share are stated. Coverages are read once per
distinct content (keyed by the MD5 of their WKB, ``coverage_key``), prepared, and shared by every check
and every layer with the same coverage (nearly all layers cover the district), so a check tests each
distinct coverage once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple

import shapely
from psycopg import Connection

from layers.catalog.model import LayerEntry

# Distinct coverages kept past this many are dropped and read again: a bound on memory.
COVERAGES_MAX = 1000


class CoverageArea:
    """A stored coverage, prepared for covers/intersects tests (shared; read-only once made)."""

    __slots__ = ("geometry", "key")

    def __init__(self, key: str, geometry: shapely.Geometry) -> None:
        shapely.prepare(geometry)
        self.key = key
        self.geometry = geometry


_coverages: dict[str, CoverageArea] = {}
_lock = threading.Lock()


def coverages_of(conn: Connection[Any], keys: Iterable[tuple[int, str]]) -> dict[str, CoverageArea]:
    """The coverages of (version id, coverage key) pairs, reading only those never seen (one query)."""
    pairs = list(keys)
    missing = [version for version, key in pairs if key not in _coverages]
    if missing:
        rows = conn.execute(
            "SELECT coverage_key, ST_AsBinary(coverage) FROM basemap.layer_version WHERE id = ANY(%s)",
            (missing,),
        ).fetchall()
        with _lock:
            if len(_coverages) + len(rows) > COVERAGES_MAX:
                _coverages.clear()
            for key, wkb in rows:
                _coverages.setdefault(key, CoverageArea(key, shapely.from_wkb(wkb)))
    return {key: _coverages[key] for _, key in pairs}


class Unavailable(NamedTuple):
    """Why a layer cannot answer (all of the footprint, or only its part outside the coverage)."""

    reason_zh: str
    reason_en: str
    reason_code: str  # no_data, out_of_date, outside_coverage or partly_outside_coverage
    uncovered_m2: float | None = None
    uncovered_share_pct: float | None = None

    @property
    def partial(self) -> bool:
        """Whether the layer still answers for the covered part of the footprint."""
        return self.reason_code == "partly_outside_coverage"


NO_DATA = Unavailable("图层无数据", "the layer has no data", "no_data")
OUTSIDE = Unavailable("图层数据未覆盖用地范围", "the layer does not cover the footprint", "outside_coverage")


def unavailable(
    entry: LayerEntry,
    coverage: CoverageArea | None,
    fp: shapely.Geometry,
    max_age: int,
    today: date,
    tested: dict[str, Unavailable | None],
    sliver_m2: float,
) -> Unavailable | None:
    """Why a layer (of this coverage; None: no data) cannot answer for footprint ``fp``, or None when it
    can. ``tested`` remembers each coverage's answer for this footprint; an uncovered part below
    ``sliver_m2`` (the sliver tolerance) does not count."""
    if coverage is None:
        return NO_DATA
    if (today - entry.vintage).days > max_age:
        return Unavailable(
            f"图层现势性过期（{entry.vintage}）", f"the layer is out of date ({entry.vintage})", "out_of_date"
        )
    if coverage.key not in tested:
        tested[coverage.key] = _covers(coverage, fp, sliver_m2)
    return tested[coverage.key]


def _covers(coverage: CoverageArea, fp: shapely.Geometry, sliver_m2: float) -> Unavailable | None:
    """None when ``coverage`` covers the footprint; else what part of it is not covered."""
    if coverage.geometry.covers(fp):
        return None
    if not coverage.geometry.intersects(fp):
        return OUTSIDE
    footprint_m2 = float(fp.area)
    uncovered = min(float(shapely.difference(fp, coverage.geometry).area), footprint_m2)
    if uncovered < sliver_m2:
        return None
    if footprint_m2 - uncovered < sliver_m2:
        return OUTSIDE
    share = 100 * uncovered / footprint_m2
    return Unavailable(
        f"图层数据仅覆盖部分用地：未覆盖 {uncovered:,.2f} m²（占用地 {share:.2f}%），该部分无法评价",
        f"the layer covers only part of the footprint: {uncovered:,.2f} m² ({share:.2f} %) outside its "
        "coverage cannot be checked",
        "partly_outside_coverage",
        round(uncovered, 3),
        round(share, 4),
    )
