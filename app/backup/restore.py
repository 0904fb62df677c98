"""``duogui restore``: a verified backup into a fresh (or, when asked, replaced) database, then its files."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app import localdb, migrate
from app.backup.dump import file_trees, tool_command
from app.backup.manifest import BackupError, FileEntry, Manifest, count_rows, safe_member, sha256_of, verify
from app.localdb import PG_BIN
from app.settings import Settings

# A database holds nothing of ours when it has no relation outside the system schemas.
_HAS_RELATIONS = """
SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                 AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast_temp%%')
"""


@dataclass
class RestoreReport:
    """What a restore did."""

    database: str
    counts: dict[str, int]
    files: int
    revision_before: str | None
    revision_after: str | None


def restore_backup(
    settings: Settings, source: Path, database: str, *, replace: bool = False
) -> RestoreReport:
    """Verify the backup in ``source``, restore it as ``database`` and put its files back."""
    manifest = verify(source)
    _check_revision(manifest.migration_head)
    placements = _placements(settings, source, manifest, replace=replace)
    if settings.database_url is None:
        localdb.LocalCluster(settings.data_dir, settings.local_pg_port).ensure_running(quiet=True)
    target = make_conninfo(settings.owner_dsn, dbname=database)
    _prepare_database(settings, database, manifest.app_role, replace=replace)
    try:
        _pg_restore(target, source / manifest.dump)
        with psycopg.connect(target) as conn:
            counts = count_rows(conn)
        if counts != manifest.counts:
            raise BackupError(
                "恢复后的行数与清单不符。",
                f"Row counts after the restore differ from the manifest: {counts} != {manifest.counts}",
            )
    except BaseException:
        # Nothing half-restored stays behind: the database goes back to empty.
        _recreate_empty(settings, database)
        raise
    for member, target_path in placements:
        _place(member, target_path)
    before, after = migrate.upgrade(settings, dsn=target)
    return RestoreReport(database, counts, len(placements), before, after)


def _check_revision(head: str | None) -> None:
    """Refuse a backup made by a newer version of the code: it could not serve or migrate it."""
    if head is None:
        return
    script = ScriptDirectory.from_config(migrate.alembic_config("", ""))
    try:
        script.get_revision(head)
    except CommandError as exc:
        raise BackupError(
            f"备份的数据库版本 {head} 比本程序新，请用相应版本的程序恢复。",
            f"The backup's migration {head} is unknown to this code (a newer version made it).",
        ) from exc


def _placements(
    settings: Settings, source: Path, manifest: Manifest, *, replace: bool
) -> list[tuple[Path, Path]]:
    """Where each file of the backup goes; a different file already there is refused unless replacing."""
    trees = file_trees(settings)
    placements = []
    conflicts = []
    for entry in manifest.files:
        if entry.path == manifest.dump:
            continue
        tree, _, rest = entry.path.partition("/")
        if tree not in trees or not rest:
            raise BackupError(
                f"清单中的文件无处可放：{entry.path}", f"Unknown file in the manifest: {entry.path}"
            )
        target = safe_member(trees[tree], rest)
        if target.exists() and not replace and not _same(target, entry):
            conflicts.append(str(target))
        placements.append((safe_member(source, entry.path), target))
    if conflicts:
        raise BackupError(
            f"目标位置已有不同的文件（用 --replace 覆盖）：{', '.join(conflicts)}",
            "Different files already exist where the backup's files go (use --replace).",
            conflicts,
        )
    return placements


def _same(path: Path, entry: FileEntry) -> bool:
    return path.is_file() and (path.stat().st_size, sha256_of(path)[1]) == (entry.size, entry.sha256)


def _admin(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(make_conninfo(settings.owner_dsn, dbname="postgres"), autocommit=True)


def _prepare_database(settings: Settings, database: str, app_role: str, *, replace: bool) -> None:
    """Create ``database`` (and the app role the dump grants to); refuse a non-empty one unless replacing."""
    with _admin(settings) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists and not replace:
            with psycopg.connect(make_conninfo(settings.owner_dsn, dbname=database)) as target:
                row = target.execute(_HAS_RELATIONS).fetchone()
            if row and row[0]:
                raise BackupError(
                    f"数据库 {database} 不是空的；确需覆盖请加 --replace。",
                    f"Database {database} is not empty; add --replace to overwrite it.",
                )
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)).fetchone():
            # The same role the first migration creates: the dump's grants name it.
            conn.execute(
                sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                    sql.Identifier(app_role)
                )
            )
    _recreate_empty(settings, database)


def _recreate_empty(settings: Settings, database: str) -> None:
    with _admin(settings) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _pg_restore(target: str, dump: Path) -> None:
    conninfo, env = tool_command(target)
    # One transaction: a failure leaves the database as empty as it was.
    argv = [str(PG_BIN / "pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner"]
    result = subprocess.run([*argv, "--dbname", conninfo, str(dump)], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BackupError("数据库恢复失败。", f"pg_restore failed: {result.stderr.strip()}")


def _place(member: Path, target: Path) -> None:
    """Copy one file into place atomically (a temporary name, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.partial")
    shutil.copyfile(member, staged)
    staged.replace(target)
