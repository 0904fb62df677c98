"""``duogui audit …``: verify the chain, archive its oldest part, prune the archived (owner connection)."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from app.audit import archive as archives
from app.audit.chain import ChainReport, verify
from app.deps import today
from app.errors import DuoguiError
from app.settings import Settings
from layers.audit import Actor

audit_cli = typer.Typer(help="审计日志 Audit log.", no_args_is_help=True)


def _conn() -> psycopg.Connection[Any]:
    return psycopg.connect(Settings().owner_dsn, autocommit=True)


def _actor() -> Actor:
    return Actor.system(f"cli:{getpass.getuser()}")


def _fail(exc: DuoguiError) -> None:
    typer.secho(f"{exc.message_zh} {exc.message_en}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1) from exc


def describe(report: ChainReport) -> str:
    """The verification's outcome in one or two lines (Chinese first)."""
    start = f"，自归档 {report.starts_after_archive} 之后" if report.starts_after_archive else ""
    if report.first_break is None:
        return (
            f"审计链完整：已验证 {report.rows_checked} 条记录{start}，链尾序号 {report.last_seq}，"
            f"链头哈希 {report.head_hash}\nchain verified: {report.rows_checked} rows, last seq "
            f"{report.last_seq}, head hash {report.head_hash}"
        )
    b = report.first_break
    return (
        f"审计链断裂：第一处在记录 {b.id}（链序号 {b.chain_seq}，{b.kind}）："
        f"应为 {b.expected}，实为 {b.found}"
        f"\nchain BROKEN at event {b.id} (chain_seq {b.chain_seq}, {b.kind}): expected {b.expected},"
        f" found {b.found}; {report.rows_checked} rows before it verified"
    )


@audit_cli.command("verify")
def verify_command() -> None:
    """Seal new rows, then prove the chain or name its first broken row (exit code 1 on a break)."""
    with _conn() as conn:
        report = verify(conn)
    typer.echo(describe(report))
    if not report.verified:
        raise typer.Exit(1)


@audit_cli.command("archive")
def archive_command(
    before: Annotated[str, typer.Option("--before", help="归档此日期之前的记录 YYYY-MM-DD（至少 180 天前）")],
    out: Annotated[Path, typer.Option("--out", help="归档文件（JSON Lines）")],
) -> None:
    """Write the rows older than a date to a signed file; its SHA-256 is recorded in the chain."""
    try:
        day = date.fromisoformat(before)
    except ValueError:
        _fail(DuoguiError("日期须为 YYYY-MM-DD。", "The date must be YYYY-MM-DD."))
        return
    try:
        with _conn() as conn:
            made = archives.archive(conn, _actor(), day, out, today())
    except DuoguiError as exc:
        _fail(exc)
        return
    typer.echo(
        f"archive {made.id}: {made.rows} rows (chain_seq {made.first_seq}–{made.last_seq}) → {out}\n"
        f"  SHA-256 {made.file_sha256}\n  last hash {made.last_hash}"
    )


@audit_cli.command("prune")
def prune_command(
    archive_file: Annotated[Path, typer.Option("--archive", exists=True, dir_okay=False, help="归档文件")],
) -> None:
    """Delete the rows an archive holds, after checking the file against its record in the chain."""
    try:
        with _conn() as conn:
            removed = archives.prune(conn, _actor(), archive_file)
    except DuoguiError as exc:
        _fail(exc)
        return
    typer.echo(f"pruned {removed} audit rows held by {archive_file}")
