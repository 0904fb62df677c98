"""The backup commands: ``duogui backup``, ``duogui restore``, ``duogui local basebackup`` and ``pitr``."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from app.backup.dump import create_backup
from app.backup.manifest import BackupError
from app.backup.pitr import recover_to, take_base_backup
from app.backup.restore import restore_backup
from app.localdb import LocalCluster, LocalClusterError
from app.settings import Settings

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _fail(error: BackupError | LocalClusterError) -> None:
    if isinstance(error, BackupError):
        typer.secho(f"duogui: {error.message_zh}\n{error.message_en}", err=True, fg=typer.colors.RED)
        for detail in error.details[:50]:
            typer.echo(f"  - {detail}", err=True)
    else:
        typer.secho(f"duogui: {error}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def backup(
    out: Annotated[Path, typer.Option("--out", help="备份目录（新建或空目录）a new or empty folder")],
) -> None:
    """Back up the database (one consistent snapshot), raster and stored files, with a manifest."""
    started = time.monotonic()
    try:
        manifest = create_backup(Settings(), out)
    except (BackupError, LocalClusterError) as exc:
        _fail(exc)
        return
    size = sum(f.size for f in manifest.files)
    typer.echo(
        f"backup of {manifest.database} at {manifest.migration_head}: {len(manifest.files)} files,"
        f" {size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s → {out}"
    )


def restore(
    source: Annotated[Path, typer.Option("--from", help="备份目录 the backup folder")],
    database: Annotated[str, typer.Option("--database", help="恢复到的数据库名 target database")],
    replace: Annotated[
        bool, typer.Option("--replace", help="覆盖非空数据库和不同的文件 overwrite a non-empty database")
    ] = False,
) -> None:
    """Restore a backup (after checking every file against its manifest) and migrate it to this code."""
    if not _DATABASE_NAME.match(database):
        typer.secho("数据库名无效。 Invalid database name.", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    started = time.monotonic()
    try:
        report = restore_backup(Settings(), source, database, replace=replace)
    except (BackupError, LocalClusterError) as exc:
        _fail(exc)
        return
    migrated = (
        f", migrated {report.revision_before} → {report.revision_after}"
        if report.revision_before != report.revision_after
        else ""
    )
    typer.echo(
        f"restored {report.database}: {sum(report.counts.values()):,} rows in key tables,"
        f" {report.files} files{migrated} in {time.monotonic() - started:.1f} s"
    )


def local_basebackup(
    keep: Annotated[int, typer.Option(min=1, help="保留最近几份基础备份 base backups to keep")] = 3,
) -> None:
    """Take a base backup of the local cluster (pg_basebackup) and start archiving WAL for it."""
    settings = Settings()
    cluster = LocalCluster(settings.data_dir, settings.local_pg_port)
    try:
        taken = take_base_backup(cluster, keep)
    except (BackupError, LocalClusterError) as exc:
        _fail(exc)
        return
    typer.echo(f"base backup {taken.path} (consistent by {taken.finished_at.isoformat()})")


def local_pitr(
    target_time: Annotated[
        str, typer.Option("--target-time", help="恢复到的时刻，带时区 ISO time with offset")
    ],
    into: Annotated[Path, typer.Option("--into", help="新集群的数据目录 data folder of the new cluster")],
    port: Annotated[int, typer.Option(min=1024, max=65535, help="新集群的端口")] = 54330,
) -> None:
    """Recover the local cluster as of a moment into a new cluster folder, and start it promoted."""
    try:
        moment = datetime.fromisoformat(target_time)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        typer.secho(
            "目标时间须为带时区的 ISO 时间。 The target time must be ISO 8601 with an offset (+08:00).",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    settings = Settings()
    source = LocalCluster(settings.data_dir, settings.local_pg_port)
    target = LocalCluster(into, port)
    started = time.monotonic()
    try:
        used = recover_to(source, moment, target)
    except (BackupError, LocalClusterError) as exc:
        _fail(exc)
        return
    typer.echo(
        f"recovered to {moment.isoformat()} from {used.path.name} in {time.monotonic() - started:.1f} s;"
        f" running: {target.dsn()}"
        f"  (stop: DUOGUI_DATA_DIR={into} DUOGUI_LOCAL_PG_PORT={port} duogui local stop)"
    )
