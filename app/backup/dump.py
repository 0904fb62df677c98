"""``duogui backup``: the database dumped from one snapshot, the raster and stored files, and a manifest."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from app.backup.manifest import (
    DUMP,
    BackupError,
    FileEntry,
    HashingWriter,
    Manifest,
    count_rows,
    sha256_of,
    write_manifest,
)
from app.localdb import PG_BIN
from app.settings import Settings

# Folder names inside a backup; the restore puts each back where the settings say.
RASTERS = "rasters"
FILES = "files"


def tool_command(dsn: str) -> tuple[str, dict[str, str]]:
    """A connection string for a PostgreSQL tool without its password, and the environment carrying it
    (a password on the command line would show in the process list)."""
    params = conninfo_to_dict(dsn)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def file_trees(settings: Settings) -> dict[str, Path]:
    """The folders of files a backup holds, by their name inside the backup."""
    return {RASTERS: settings.raster_dir, FILES: settings.stored_files_dir}


def create_backup(settings: Settings, out: Path) -> Manifest:
    """Take a backup into ``out`` (a new or empty folder) and return its manifest."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} 不是空目录。", f"{out} is not empty; choose a new folder.")
    out.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(settings.owner_dsn) as conn:
        # One snapshot for the counts, the raster references and pg_dump: they describe the same moment.
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            snapshot = _one(conn, "SELECT pg_export_snapshot()")
            counts = count_rows(conn)
            head = _head(conn)
            rasters = [r[0] for r in conn.execute(_RASTER_PATHS).fetchall()] if head else []
            server_version = _one(conn, "SHOW server_version")
            database = _one(conn, "SELECT current_database()")
            _pg_dump(settings.owner_dsn, snapshot, out / DUMP)
    size, digest = sha256_of(out / DUMP)
    entries = [FileEntry(path=DUMP, size=size, sha256=digest)]
    for name, source in file_trees(settings).items():
        entries += _copy_tree(source, out, name)
    copied = {e.path for e in entries}
    missing = [p for p in rasters if f"{p}" not in copied]
    if missing:
        raise BackupError(
            f"数据库引用的栅格文件缺失：{', '.join(missing)}",
            f"Raster files the database refers to are missing under {settings.data_dir}.",
            missing,
        )
    manifest = Manifest(
        created_at=datetime.now(UTC),
        database=database,
        server_version=server_version,
        migration_head=head,
        app_role=settings.app_role,
        counts=counts,
        files=entries,
    )
    write_manifest(out, manifest)
    return manifest


# Raster versions store their file's path relative to the data directory ("rasters/<code>/v….tif").
_RASTER_PATHS = "SELECT DISTINCT raster_path FROM basemap.layer_version WHERE raster_path IS NOT NULL"


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _head(conn: psycopg.Connection[Any]) -> str | None:
    if not _one(conn, "SELECT to_regclass('public.alembic_version') IS NOT NULL"):
        return None
    row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
    return str(row[0]) if row else None


def _pg_dump(dsn: str, snapshot: str, target: Path) -> None:
    conninfo, env = tool_command(dsn)
    argv = [str(PG_BIN / "pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--file", str(target)]
    result = subprocess.run([*argv, "--dbname", conninfo], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BackupError("数据库转储失败。", f"pg_dump failed: {result.stderr.strip()}")


def _copy_tree(source: Path, out: Path, name: str) -> list[FileEntry]:
    """Copy every regular file under ``source`` into ``out/name``, hashing as it copies."""
    if not source.is_dir():
        return []
    entries = []
    for path in sorted(source.rglob("*")):
        # Half-written files of an import in progress (".….partial.tif") are not data yet.
        if not path.is_file() or path.is_symlink() or path.name.startswith("."):
            continue
        relative = Path(name) / path.relative_to(source)
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = HashingWriter()
        writer.copy(path, target)
        entries.append(
            FileEntry(path=relative.as_posix(), size=writer.size, sha256=writer.digest.hexdigest())
        )
    return entries
