"""The check index held in memory: the engine's candidate search without a database round trip.

Layer versions are immutable, so a copy of ``basemap.check_part`` taken at known versions stays
correct for as long as those versions are current. The engine reads the current versions on every
check (it must, to record them in the report) and takes from memory only the layers held at exactly
those versions. Every other layer — switched and not reloaded yet, or not caught up into the check
index yet — is read from the database as before, and a reload is asked for in the background. The
exact tests and the clipping are the same function on the same parts either way
(:func:`analysis.engine._measure`), so a report does not depend on which path served it.

A reload reads only the layers whose versions changed, in one snapshot with the versions it records.
The copy costs about 2.5× the table's heap in memory (the full demo: 586 k parts, 263 MB of heap, 650 MB
in the process, loaded in 4–10 s); ``DUOGUI_CHECK_MEMORY_MB`` bounds it, and 0 turns it off.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import shapely
from psycopg import Connection, sql

from analysis.compensation import BUILDING_LAYER
from analysis.coverage import coverages_of
from analysis.layer_states import LayerStates, VersionDetails
from analysis.snapshot import Snapshot

log = logging.getLogger(__name__)

# Bytes of process memory per byte of check_part heap: measured 2.5 on the full demo (653 / 263 MB).
MEMORY_PER_HEAP_BYTE = 2.5
# A check that meets layers not held asks for a reload; at most once per this many seconds.
REFRESH_INTERVAL_S = 1.0
# Layers whose features' interior points are held too: the compensation estimate prices each
# demolished building by the zone and ownership under its point.
ANCHORED_LAYERS = (BUILDING_LAYER,)
# Rows read per round trip while loading.
_CHUNK = 20_000


_EMPTY = Snapshot(
    versions={},
    layers=(),
    layer_of=np.zeros(0, dtype=np.int32),
    fids=np.zeros(0, dtype=np.int64),
    props=np.zeros(0, dtype=object),
    parts=np.zeros(0, dtype=object),
    bounds=np.zeros((0, 4)),
    tree=shapely.STRtree([]),
    anchors={},
)


def _anchors(conn: Connection[Any], version: int) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's fid and interior point (ST_PointOnSurface), in fid order."""
    rows = conn.execute(
        sql.SQL(
            "SELECT fid, ST_X(p), ST_Y(p) FROM (SELECT fid, ST_PointOnSurface(geom) AS p FROM {t}) s"
            " ORDER BY fid"
        ).format(t=sql.Identifier("basemap", f"f_{version}")),
        binary=True,
    ).fetchall()
    rows = [row for row in rows if row[1] is not None]  # an empty geometry has no point
    fids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    xy = np.array([(row[1], row[2]) for row in rows], dtype=float).reshape(-1, 2)
    return fids, xy


class ResidentIndex:
    """The process's copy of the check index, reloaded in the background when versions move.

    ``connect`` lends a database connection (a pool's ``connection``). The engine reads
    :attr:`snapshot` (None until the first load has finished) and calls :meth:`request_refresh`
    when a check met layers the snapshot does not hold at their current version.
    """

    def __init__(self, connect: Callable[[], AbstractContextManager[Connection[Any]]], budget_mb: int):
        self._connect = connect
        self._budget = budget_mb * 1024 * 1024
        self.snapshot: Snapshot | None = None
        self.status = "off" if budget_mb <= 0 else "loading"
        self.loaded_at: float | None = None
        self._lock = threading.Lock()
        self._reloading = threading.Lock()  # one reload at a time, background or not
        self._thread: threading.Thread | None = None
        self._asked = -REFRESH_INTERVAL_S
        self._closed = budget_mb <= 0
        self._versions: dict[int, VersionDetails] = {}
        # The layer states the last check met: the next check runs on them while it asks for the
        # current ones (see engine.evaluate).
        self.last_states: LayerStates | None = None

    def states(self, conn: Connection[Any], current: str) -> LayerStates:
        """The layer states of ``current`` (the text of ``CURRENT_SQL``): only the current version ids
        are read per check, the rest comes from the cache of version details."""
        return LayerStates.of_current(current, lambda ids: self.version_details(conn, ids))

    def version_details(self, conn: Connection[Any], ids: list[int]) -> dict[int, VersionDetails]:
        """Number, coverage and raster path of each layer version in ``ids``, read once per version:
        none of them changes once a version is current."""
        missing = [i for i in ids if i not in self._versions]
        if missing:
            rows = conn.execute(
                "SELECT id, number, coverage_key, raster_path FROM basemap.layer_version WHERE id = ANY(%s)",
                (missing,),
            ).fetchall()
            coverages = coverages_of(conn, [(version, key) for version, _, key, _ in rows])
            for version, number, key, raster_path in rows:
                self._versions[version] = VersionDetails(number, coverages[key], raster_path)
        return self._versions

    def request_refresh(self) -> None:
        """Reload what changed, in a background thread (one at a time, at most once a second)."""
        with self._lock:
            now = time.monotonic()
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            if now - self._asked < REFRESH_INTERVAL_S:
                return
            self._asked = now
            self._thread = threading.Thread(target=self._refresh_logged, name="check-resident", daemon=True)
            self._thread.start()

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
        except Exception:  # noqa: BLE001 - the database path serves meanwhile; the next check retries
            log.exception("the in-memory check index could not be reloaded; checks read the database")
            if self.snapshot is None:
                self.status = "failed"

    def refresh(self) -> None:
        """Bring the snapshot up to the check index's current versions (synchronously)."""
        if self._closed:
            return
        with self._reloading, self._connect() as conn:
            snapshot = self._reload(conn, self.snapshot or _EMPTY)
        if snapshot is None and self.snapshot is None and not self._closed:
            snapshot = _EMPTY  # an empty check index, held
        if snapshot is not None:
            self.snapshot = snapshot
            self.status = "ready"
            self.loaded_at = time.time()
            # Hundreds of thousands of long-lived geometries: out of the collector's sight, or its full
            # passes walk them all (0.2 s each on the full demo) in the middle of some check.
            gc.collect()
            gc.freeze()

    def close(self, timeout: float = 30.0) -> None:
        """Stop reloading; wait for a reload under way to notice."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _reload(self, conn: Connection[Any], old: Snapshot) -> Snapshot | None:
        """A snapshot with the layers whose versions moved read again; None when nothing moved or the
        index is over the memory budget."""
        with conn.transaction():
            # The versions and the parts from one snapshot of the database.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            versions: dict[str, int] = dict(
                conn.execute("SELECT layer_code, version_id FROM basemap.check_state").fetchall()
            )
            moved = sorted(
                code
                for code in versions.keys() | old.versions.keys()
                if versions.get(code) != old.versions.get(code)
            )
            if not moved:
                return None
            if old is _EMPTY:
                row = conn.execute("SELECT pg_relation_size('basemap.check_part')").fetchone()
                need = (row[0] if row else 0) * MEMORY_PER_HEAP_BYTE
                if need > self._budget:
                    log.warning(
                        "the check index needs about %d MB in memory, over DUOGUI_CHECK_MEMORY_MB=%d;"
                        " checks read it from the database",
                        need // 2**20,
                        self._budget // 2**20,
                    )
                    self.status = "off"
                    self._closed = True
                    return None
            started = time.perf_counter()
            loaded = self._read(conn, [code for code in moved if code in versions])
            if loaded is None:
                return None
            anchors = {code: held for code, held in old.anchors.items() if code not in moved}
            for code in ANCHORED_LAYERS:
                if code in moved and code in versions:
                    anchors[code] = _anchors(conn, versions[code])
        # The parts of layers that did not move are kept; their positions renumbered to the new layers.
        keep = ~np.isin(np.asarray(old.layers, dtype=object)[old.layer_of], moved)
        layers = tuple(sorted(versions))
        position = {code: i for i, code in enumerate(layers)}
        renumber = np.array([position.get(code, -1) for code in old.layers], dtype=np.int32)
        codes, fids, props, parts = loaded
        layer_of = np.concatenate(
            [renumber[old.layer_of[keep]], np.array([position[c] for c in codes], dtype=np.int32)]
        )
        all_parts = np.concatenate([old.parts[keep], parts])
        snapshot = Snapshot(
            versions=versions,
            layers=layers,
            layer_of=layer_of,
            fids=np.concatenate([old.fids[keep], fids]),
            props=np.concatenate([old.props[keep], props]),
            parts=all_parts,
            bounds=shapely.bounds(all_parts) if len(all_parts) else np.zeros((0, 4)),
            tree=shapely.STRtree(all_parts),
            anchors=anchors,
        )
        log.info(
            "check index in memory: %d parts of %d layers (%d read again) in %.1f s",
            len(all_parts),
            len(layers),
            len(moved),
            time.perf_counter() - started,
        )
        return snapshot

    def _read(
        self, conn: Connection[Any], codes: list[str]
    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
        """The parts of ``codes``, read in chunks (None when closed meanwhile)."""
        out_codes: list[str] = []
        fids: list[np.ndarray] = []
        props: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        with conn.cursor(name="check_resident", binary=True) as cursor:
            cursor.execute(
                "SELECT layer_code, fid, props::text, ST_AsBinary(geom) FROM basemap.check_part"
                " WHERE layer_code = ANY(%s)",
                (codes,),
            )
            while rows := cursor.fetchmany(_CHUNK):
                if self._closed:
                    return None
                out_codes.extend(row[0] for row in rows)
                fids.append(np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows)))
                text = np.empty(len(rows), dtype=object)
                text[:] = [row[2] for row in rows]
                props.append(text)
                parts.append(shapely.from_wkb([row[3] for row in rows]))
        if not fids:
            return (
                out_codes,
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=object),
                np.zeros(0, dtype=object),
            )
        return out_codes, np.concatenate(fids), np.concatenate(props), np.concatenate(parts)
