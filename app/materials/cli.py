"""``duogui materials …``: the materials store from the command line (owner connection)."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Annotated

import psycopg
import typer

from app.materials.storage import blob_store
from app.materials.sweep import sweep
from app.settings import Settings
from layers.audit import Actor

materials_cli = typer.Typer(help="材料库 The materials store.", no_args_is_help=True)


@materials_cli.command("sweep")
def materials_sweep(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只列出，不删除 List only, remove nothing")
    ] = False,
    min_age_hours: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="只清理早于此小时数的孤立文件（上传中的不删） Minimum age of an orphan, hours",
        ),
    ] = 24.0,
) -> None:
    """Remove stored files that no material.blob row names (orphans) older than --min-age-hours, and
    stale temporary files; report rows whose file is missing (rows are never deleted)."""
    settings = Settings()
    store = blob_store(settings)
    with psycopg.connect(settings.owner_dsn) as conn:
        report = sweep(
            conn,
            store,
            Actor.system(f"cli:{getpass.getuser()}"),
            now=dt.datetime.now(dt.UTC),
            min_age=dt.timedelta(hours=min_age_hours),
            dry_run=dry_run,
        )
    verb = "would remove" if dry_run else "removed"
    for sha256, stamp in report.orphans:
        typer.echo(f"orphan\t{sha256}\t{stamp.isoformat(timespec='seconds')}\t{verb}")
    for path in report.temporaries:
        typer.echo(f"temporary\t{path}\t{verb}")
    for sha256 in report.missing:
        typer.echo(f"missing\t{sha256}\t孤立记录：文件缺失（记录保留） row kept, file missing")
    typer.echo(
        f"{len(report.orphans)} orphan file(s) {verb}, {report.young_orphans} younger than"
        f" {min_age_hours:g} h kept, {len(report.temporaries)} temporary file(s) {verb},"
        f" {len(report.missing)} row(s) with a missing file"
    )
    if report.missing:
        raise typer.Exit(2)
