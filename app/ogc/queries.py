"""Database access of the OGC API: collection state, feature counts and pages of GeoJSON features.

The SQL lives in ``*.sql`` files next to this module, read once at import. Every value is bound; the
only names that reach the database are catalog attribute names, and those travel as bound text
arrays and jsonb keys, never as SQL identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from app.ogc.params import BBox, FeatureFilter, OutputCrs
from layers.district import STORAGE_SRID

_SQL_DIR = Path(__file__).parent


def _load(name: str) -> sql.SQL:
    """A static query shipped with the package (never built from request input)."""
    # mypy treats LiteralString as str; the text is a file of this package, never request input.
    return sql.SQL((_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


COLLECTION_STATES = _load("collection_states")
COUNT_FEATURES = _load("count_features")
SELECT_FEATURES = _load("select_features")
_STORED = "basemap.feature f"


def _over(query: sql.SQL, source: sql.Composable | None) -> sql.SQL | sql.Composed:
    """``query`` reading a live layer's subquery (with a partition's columns, version_id 0) instead of
    the stored features; unchanged without one."""
    if source is None:
        return query
    head, found, tail = query.as_string().partition(_STORED)
    assert found, "the feature queries read basemap.feature f"
    return sql.Composed([sql.SQL(head), sql.SQL("("), source, sql.SQL(") f"), sql.SQL(tail)])


# Densify a CRS84 bbox every 0.001° (about 100 m) before transforming it, so the transformed box covers
# the curved image of its edges; a bbox already in the storage CRS needs no densifying.
_DENSIFY_STEP = {4326: 0.001, STORAGE_SRID: 1e12}


@dataclass(frozen=True, slots=True)
class CollectionState:
    """The stored state of a layer: its current version, feature count and CRS84 extent."""

    version_id: int | None
    feature_count: int | None
    bbox: tuple[float, float, float, float] | None


@dataclass(frozen=True, slots=True)
class FeatureSelection:
    """Which properties a feature carries and in which CRS its geometry is written."""

    names: list[str]
    all_names: list[str]
    with_extra: bool
    crs: OutputCrs


def collection_states(conn: Connection[Any], codes: list[str]) -> dict[str, CollectionState]:
    """The current version and extent of each named layer (layers never loaded have no version)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(COLLECTION_STATES, {"codes": codes}).fetchall()
    states: dict[str, CollectionState] = {}
    for row in rows:
        box = (row["x0"], row["y0"], row["x1"], row["y1"])
        states[row["code"]] = CollectionState(
            version_id=row["version_id"],
            feature_count=row["feature_count"],
            bbox=None if row["x0"] is None else cast(tuple[float, float, float, float], box),
        )
    return states


def _filter_params(version_id: int, where: FeatureFilter) -> dict[str, Any]:
    box: BBox | None = where.bbox
    return {
        "version": version_id,
        "x0": box.x0 if box else None,
        "y0": box.y0 if box else None,
        "x1": box.x1 if box else None,
        "y1": box.y1 if box else None,
        "bbox_srid": box.srid if box else 4326,
        "step": _DENSIFY_STEP[box.srid] if box else 1.0,
        "srid": STORAGE_SRID,
        "match": Jsonb(where.match) if where.match else None,
    }


def _selection_params(selection: FeatureSelection) -> dict[str, Any]:
    return {
        "names": selection.names,
        "all_names": selection.all_names,
        "with_extra": selection.with_extra,
        "northing_first": selection.crs.northing_first,
        "digits": selection.crs.digits,
    }


def count_features(
    conn: Connection[Any], version_id: int, where: FeatureFilter, source: sql.Composable | None = None
) -> int:
    """How many features of a version (or of a live layer's ``source``) pass the filters (exact)."""
    row = conn.execute(_over(COUNT_FEATURES, source), _filter_params(version_id, where)).fetchone()
    return int(row[0]) if row else 0


def select_features(
    conn: Connection[Any],
    version_id: int,
    where: FeatureFilter,
    selection: FeatureSelection,
    limit: int,
    offset: int,
    source: sql.Composable | None = None,
) -> list[str]:
    """One page of features in fid order, each a GeoJSON Feature as JSON text."""
    params = {
        **_filter_params(version_id, where),
        **_selection_params(selection),
        "fid": None,
        "limit": limit,
        "offset": offset,
    }
    return [row[0] for row in conn.execute(_over(SELECT_FEATURES, source), params).fetchall()]


def select_feature(
    conn: Connection[Any],
    version_id: int,
    fid: int,
    selection: FeatureSelection,
    source: sql.Composable | None = None,
) -> str | None:
    """One feature by its id as GeoJSON text, or None."""
    params = {
        **_filter_params(version_id, FeatureFilter()),
        **_selection_params(selection),
        "fid": fid,
        "limit": 1,
        "offset": 0,
    }
    row = conn.execute(_over(SELECT_FEATURES, source), params).fetchone()
    return None if row is None else str(row[0])
