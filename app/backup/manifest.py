"""A backup's manifest: every file with its size and SHA-256, and what the database held when it was taken.

A restore trusts nothing the manifest does not vouch for: a missing, truncated or altered file is named
and the restore stops before it writes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from psycopg import Connection, sql
from pydantic import BaseModel, Field

MANIFEST = "manifest.json"
DUMP = "database.dump"
FORMAT = 1
# Hashing reads in chunks: a dump or a raster may be gigabytes, and memory stays flat.
_CHUNK = 1 << 20
# The tables whose row counts a restore must reproduce (each one a kind of record people rely on).
KEY_TABLES = (
    "auth.organisation",
    "auth.user",
    "audit.event",
    "basemap.layer",
    "basemap.layer_version",
    "basemap.feature",
    "project.pre_evaluation",
    "project.project",
    "approval.item",
    "approval.calendar_year",
    "approval.calendar_day",
    "demolition.unit",
)


class BackupError(RuntimeError):
    """A backup could not be taken or restored; the message (Chinese, then English) says why."""

    def __init__(self, message_zh: str, message_en: str, details: list[str] | None = None) -> None:
        super().__init__(f"{message_zh} {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details or []


class FileEntry(BaseModel):
    """One file of a backup: its path inside the backup folder, size and SHA-256."""

    path: str
    size: int
    sha256: str


class Manifest(BaseModel):
    """What a backup holds (``manifest.json``)."""

    format: int = FORMAT
    created_at: datetime
    database: str
    server_version: str
    migration_head: str | None
    app_role: str
    dump: str = DUMP
    counts: dict[str, int] = Field(description="rows per key table in the dumped snapshot")
    files: list[FileEntry]


class HashingWriter:
    """Copies a stream into a file while hashing it, so a file is read once."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def copy(self, source: Path, target: Path) -> None:
        """Copy ``source`` to ``target`` (a new file), hashing the bytes on the way."""
        with source.open("rb") as src, target.open("xb") as out:
            while chunk := src.read(_CHUNK):
                self.digest.update(chunk)
                self.size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())


def sha256_of(path: Path) -> tuple[int, str]:
    """The size and SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def count_rows(conn: Connection[Any]) -> dict[str, int]:
    """Rows per key table (tables a migration has not created yet are left out)."""
    counts: dict[str, int] = {}
    for name in KEY_TABLES:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        if not found or not found[0]:
            continue
        schema, table = name.split(".")
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        row = conn.execute(query).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` last and atomically: a backup without one is visibly unfinished."""
    staged = directory / f".{MANIFEST}.partial"
    staged.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    staged.replace(directory / MANIFEST)


def read_manifest(directory: Path) -> Manifest:
    """The manifest of a backup folder, or a clear refusal."""
    path = directory / MANIFEST
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise BackupError(
            f"{path} 不存在：这不是完整的备份。", f"{path} is missing: not a complete backup."
        ) from exc
    except ValueError as exc:
        raise BackupError(f"{path} 无法读取。", f"{path} cannot be read: {exc}") from exc


def safe_member(directory: Path, relative: str) -> Path:
    """The path of a manifest entry inside ``directory``; entries pointing outside it are refused."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise BackupError(f"清单中的路径无效：{relative}", f"Invalid path in the manifest: {relative}")
    return directory.joinpath(*parts)


def verify(directory: Path) -> Manifest:
    """Check every file against the manifest; raise naming each missing, truncated or altered file."""
    manifest = read_manifest(directory)
    problems: list[str] = []
    listed = {entry.path for entry in manifest.files}
    if manifest.dump not in listed:
        problems.append(f"{manifest.dump}: not listed in the manifest")
    for entry in manifest.files:
        path = safe_member(directory, entry.path)
        if not path.is_file():
            problems.append(f"{entry.path}: missing")
            continue
        size = path.stat().st_size
        if size != entry.size:
            problems.append(f"{entry.path}: {size} bytes, the manifest says {entry.size} (truncated?)")
            continue
        if sha256_of(path)[1] != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 differs from the manifest (corrupt)")
    if problems:
        raise BackupError(
            f"备份与清单不符（{len(problems)} 个文件）：{'; '.join(problems)}",
            "The backup does not match its manifest.",
            problems,
        )
    return manifest
