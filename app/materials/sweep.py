"""Sweeping the materials store: files no catalogue row names (orphans), and rows whose file is gone.

A file can outlive its row: a crash between placing the file and the commit, a caller's transaction
rolled back after :func:`app.materials.service.store_generated`, an S3 upload (sent before its transaction)
whose transaction then failed. Orphans are never served (every download goes through a row), but they take
space. :func:`sweep` removes those older than ``min_age`` (younger ones may be uploads in flight: an S3
upload is sent before its row is written) and stale temporary files of the staging folder; it only
*reports* ``material.blob`` rows whose file is missing (a row is never deleted: versions and
applications point at it, and the file may be restored from a backup).

Each removal holds the blob's advisory lock and re-checks that no row names it, the same lock a storing
transaction holds from inserting its row to its commit (see :mod:`app.materials.service`), so a sweep
never removes a file a concurrent upload is about to record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import Connection

from app.materials.storage import BlobStore
from layers.audit import Actor, record


@dataclass
class SweepReport:
    """What a sweep found (and, unless a dry run, removed)."""

    orphans: list[tuple[str, dt.datetime]] = field(default_factory=list)
    young_orphans: int = 0
    missing: list[str] = field(default_factory=list)
    temporaries: list[Path] = field(default_factory=list)
    removed: bool = False


def _lock(conn: Connection[Any], sha256: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"duogui.material.blob:{sha256}",))


def _has_row(conn: Connection[Any], sha256: str) -> bool:
    return conn.execute("SELECT 1 FROM material.blob WHERE sha256 = %s", (sha256,)).fetchone() is not None


def sweep(
    conn: Connection[Any],
    store: BlobStore,
    actor: Actor,
    *,
    now: dt.datetime,
    min_age: dt.timedelta,
    dry_run: bool,
) -> SweepReport:
    """Find (and unless ``dry_run`` remove) stored files without a ``material.blob`` row older than
    ``min_age``, and stale temporary files; report rows whose file is missing. Removals are audited
    (one ``material.sweep`` event naming every removed digest)."""
    report = SweepReport()
    stored = dict(store.list_blobs())  # listed before the rows are read: a row seen without its file is
    with conn.transaction():  # re-checked below, a file seen without its row is re-checked under its lock
        rows = {str(r[0]) for r in conn.execute("SELECT sha256 FROM material.blob")}
    cutoff = now - min_age
    for sha256, stamp in sorted(stored.items()):
        if sha256 in rows:
            continue
        if stamp > cutoff:
            report.young_orphans += 1
        else:
            report.orphans.append((sha256, stamp))
    report.missing = [sha for sha in sorted(rows - stored.keys()) if not store.exists(sha)]
    staging = store.staging_dir()
    report.temporaries = sorted(
        p
        for p in staging.glob(".incoming-*")
        if p.is_file() and dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC) <= cutoff
    )
    if dry_run:
        return report
    removed: list[str] = []
    for sha256, _ in report.orphans:
        with conn.transaction():
            _lock(conn, sha256)
            if not _has_row(conn, sha256):
                store.delete(sha256)
                removed.append(sha256)
    report.orphans = [(sha, stamp) for sha, stamp in report.orphans if sha in removed]
    for path in report.temporaries:
        path.unlink(missing_ok=True)
    report.removed = True
    if removed or report.temporaries:
        with conn.transaction():
            record(
                conn,
                actor,
                "material.sweep",
                "material_store",
                None,
                after={
                    "removed": removed,
                    "temporaries": [p.name for p in report.temporaries],
                    "min_age_hours": min_age.total_seconds() / 3600,
                    "missing": report.missing,
                },
            )
    return report
