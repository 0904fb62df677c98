"""The layer states a check runs on, the two ways of reading them, and which layers they let answer.

Per layer with a current version: that version's id and number, its coverage (:mod:`analysis.coverage`),
whether the check index holds it, and its raster. Without the check index in memory a check reads them
all with :data:`STATE_SQL`. With it, a check asks only for :data:`CURRENT_SQL` (one text: code, version id
and index state per layer) and takes numbers, coverages and rasters from the index's cache of version
details (they never change once a version is current); it sends that query with libpq's asynchronous
calls (:class:`CurrentVersions`) and runs ahead on the states the previous check met while the answer is
on its way, with :data:`NO_DATABASE` standing for the connection (see :func:`analysis.engine.evaluate`).
A layer without a state, out of date or whose coverage leaves the footprint is not checkable
(:func:`analysis.coverage.unavailable`).
"""

from __future__ import annotations

import select
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, cast

import psycopg
from psycopg import Connection, pq

from analysis.coverage import CoverageArea, coverages_of


class LayerState(NamedTuple):
    """One layer's current version as a check sees it."""

    version_id: int
    number: int
    coverage: CoverageArea  # where the version's data answers
    indexed: bool | None  # whether the check index holds this version (None: no index row for the layer)


class VersionDetails(NamedTuple):
    """What never changes of a layer version once it is current."""

    number: int
    coverage: CoverageArea
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
        coverages = coverages_of(conn, [(version, key) for _, version, _, key, _, _ in rows])
        by_layer = {
            code: LayerState(version, number, coverages[key], indexed)
            for code, version, number, key, indexed, _ in rows
        }
        return cls(by_layer, {row[0]: row[5] for row in rows if row[5]})

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
            number, coverage, raster_path = details[version]
            by_layer[code] = LayerState(version, number, coverage, indexed)
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
    "SELECT l.code, v.id, v.number, v.coverage_key, s.version_id = v.id, v.raster_path"
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
