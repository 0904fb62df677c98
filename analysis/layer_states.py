"""The layer states a check runs on, the two ways of reading them, and which layers they let answer.

Per layer with a current version: that version's id and number, its extent, whether the check index holds
it, and its raster. Without the check index in memory a check reads them all with :data:`STATE_SQL`. With
it, a check asks only for :data:`CURRENT_SQL` (one text: code, version id and index state per layer) and
takes numbers, extents and rasters from the index's cache of version details (they never change once a
version is current); it sends that query with libpq's asynchronous calls (:class:`CurrentVersions`) and
runs ahead on the states the previous check met while the answer is on its way, with
:data:`NO_DATABASE` standing for the connection (see :func:`analysis.engine.evaluate`). A layer without
a state, out of date or away from the footprint is not checkable (:func:`unavailable`).
"""

from __future__ import annotations

import select
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NamedTuple, cast

import psycopg
import shapely
from psycopg import Connection, pq

from layers.catalog.model import LayerEntry

Extent = tuple[float, float, float, float]


class LayerState(NamedTuple):
    """One layer's current version as a check sees it."""

    version_id: int
    number: int
    extent: Extent | None  # xmin, ymin, xmax, ymax (None: the version has no extent)
    indexed: bool | None  # whether the check index holds this version (None: no index row for the layer)


class VersionDetails(NamedTuple):
    """What never changes of a layer version once it is current."""

    number: int
    extent: Extent | None
    raster_path: str | None


class LayerStates:
    """The layer states a check runs on, by layer code in code order (the order reports record).
    Read-only once made (checks on several threads share the last one)."""

    __slots__ = ("by_layer", "current", "ids", "numbers", "rasters")

    def __init__(self, by_layer: dict[str, LayerState], rasters: dict[str, str], current: str = "") -> None:
        # The text of ``CURRENT_SQL`` these states were read for ("" when read by ``STATE_SQL``).
        self.current = current
        self.by_layer = by_layer
        self.rasters = rasters
        self.numbers = {code: state.number for code, state in by_layer.items()}
        self.ids = {code: state.version_id for code, state in by_layer.items()}

    @classmethod
    def read(cls, conn: Connection[Any]) -> LayerStates:
        """Every layer's state, read by :data:`STATE_SQL`."""
        rows = conn.execute(STATE_SQL).fetchall()
        by_layer = {
            code: LayerState(version, number, (x0, y0, x1, y1) if x0 is not None else None, indexed)
            for code, version, number, x0, y0, x1, y1, indexed, _ in rows
        }
        return cls(by_layer, {row[0]: row[8] for row in rows if row[8]})

    @classmethod
    def of_current(
        cls, current: str, details_of: Callable[[list[int]], Mapping[int, VersionDetails]]
    ) -> LayerStates:
        """The states of ``current`` (the text of :data:`CURRENT_SQL`); ``details_of(ids)`` gives the
        details of the versions it names (from a cache: they never change once a version is current)."""
        layers = current_versions(current)
        details = details_of([version for _, version, _ in layers])
        by_layer: dict[str, LayerState] = {}
        rasters: dict[str, str] = {}
        for code, version, indexed in layers:
            number, extent, raster_path = details[version]
            by_layer[code] = LayerState(version, number, extent, indexed)
            if raster_path:
                rasters[code] = raster_path
        return cls(by_layer, rasters, current)


def current_versions(current: str) -> list[tuple[str, int, bool | None]]:
    """The layers of a :data:`CURRENT_SQL` text: code, current version id, whether the index holds it."""
    layers = []
    for item in current.split(",") if current else []:
        code, version, indexed = item.split(" ")
        layers.append((code, int(version), {"t": True, "f": False}.get(indexed)))
    return layers


def read_current(conn: Connection[Any]) -> str:
    """The text of :data:`CURRENT_SQL`, asked the usual way."""
    row = conn.execute(CURRENT_SQL).fetchone()
    return row[0] if row and row[0] else ""


# Per layer with data, in code order: its code, current version id and whether the check index holds
# that version (t, f, or n without an index row), as one text a check compares with the last one.
# Layer codes are identifiers ([a-z0-9_]), so spaces and commas separate safely.
CURRENT_SQL = (
    "SELECT string_agg(l.code || ' ' || l.current_version || ' ' ||"
    " CASE WHEN s.version_id IS NULL THEN 'n' WHEN s.version_id = l.current_version THEN 't' ELSE 'f' END,"
    " ',' ORDER BY l.code) FROM basemap.layer l"
    " LEFT JOIN basemap.check_state s ON s.layer_code = l.code WHERE l.current_version IS NOT NULL"
)

STATE_SQL = (
    "SELECT l.code, v.id, v.number, ST_XMin(v.extent), ST_YMin(v.extent), ST_XMax(v.extent),"
    " ST_YMax(v.extent), s.version_id = v.id, v.raster_path"
    " FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version"
    " LEFT JOIN basemap.check_state s ON s.layer_code = l.code ORDER BY l.code"
)


class NeedsDatabase(Exception):
    """A check run ahead of its layer states met something only the database can answer."""


class _NoDatabase:
    """Stands for the connection while the layer states are on their way: any use of it gives up."""

    def __getattr__(self, name: str) -> Any:
        raise NeedsDatabase(name)


NO_DATABASE = cast(Connection[Any], _NoDatabase())


class CurrentVersions:
    """``CURRENT_SQL`` sent on the connection without waiting for its answer (libpq's asynchronous
    calls, under psycopg): the check goes on meanwhile, and :meth:`answer` waits for the rows."""

    def __init__(self, pgconn: Any) -> None:
        self._pgconn = pgconn

    @classmethod
    def ask(cls, conn: Connection[Any]) -> CurrentVersions | None:
        """Send the query; None when the connection is not idle (then the caller asks the usual way)."""
        pgconn = conn.pgconn
        if (
            conn.closed
            or pgconn.pipeline_status != pq.PipelineStatus.OFF
            or pgconn.transaction_status not in (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)
        ):
            return None
        pgconn.send_query(CURRENT_SQL.encode())
        while pgconn.flush():  # a non-blocking connection may take the query in more than one go
            select.select([], [pgconn.socket], [])
        return cls(pgconn)

    def answer(self) -> str:
        """The text of ``CURRENT_SQL``; a database error is raised as psycopg's."""
        pgconn = self._pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        (result,) = results
        if result.status != pq.ExecStatus.TUPLES_OK:
            sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
            try:
                error = psycopg.errors.lookup(sqlstate.decode()) if sqlstate else psycopg.DatabaseError
            except KeyError:
                error = psycopg.DatabaseError
            raise error(result.error_message.decode(errors="replace"))
        value = result.get_value(0, 0) if result.ntuples else None
        return value.decode() if value else ""


def unavailable(
    entry: LayerEntry,
    state: LayerState | None,
    fp: shapely.Geometry,
    bounds: tuple[float, float, float, float],
    max_age: int,
    today: date,
    reach: float,
) -> tuple[str, str] | None:
    """Why a layer cannot answer for this footprint (of these bounds), or None when it can."""
    if state is None:
        return "图层无数据", "the layer has no data"
    if (today - entry.vintage).days > max_age:
        return f"图层现势性过期（{entry.vintage}）", f"the layer is out of date ({entry.vintage})"
    extent = state.extent
    # A layer whose data lies nowhere near the footprint cannot say "no conflict" about it.
    if extent is None:
        return "图层数据未覆盖用地范围", "the layer does not cover the footprint"
    margin = max(1.0, reach)
    x0, y0, x1, y1 = extent[0] - margin, extent[1] - margin, extent[2] + margin, extent[3] + margin
    fx0, fy0, fx1, fy1 = bounds
    inside = x0 <= fx0 and y0 <= fy0 and fx1 <= x1 and fy1 <= y1
    if not inside and (
        fx1 < x0 or fx0 > x1 or fy1 < y0 or fy0 > y1 or not shapely.box(x0, y0, x1, y1).intersects(fp)
    ):
        return "图层数据未覆盖用地范围", "the layer does not cover the footprint"
    return None
