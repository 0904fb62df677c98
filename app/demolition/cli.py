"""``duogui demolition …``: the demolition ledger from the command line (owner connection)."""

from __future__ import annotations

import getpass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from app.auth.deps import Grant, Principal
from app.auth.policy import Action, Role, Scope
from app.demolition import blockers, creation, exports, ledger
from app.demolition.disclosure import shown_units
from app.demolition.progress import project_progress
from app.demolition.sheets import subdistrict_names
from app.deps import today
from app.errors import DuoguiError
from app.settings import Settings
from layers.audit import Actor
from layers.ingest.errors import IngestError

demolition_cli = typer.Typer(help="征拆台账 Demolition ledger.", no_args_is_help=True)

SHEET_SUFFIXES = (".xlsx", ".csv")


def _conn() -> psycopg.Connection[Any]:
    return psycopg.connect(Settings().owner_dsn, autocommit=True)


def _grant(action: Action) -> Grant:
    """An administrator's grant for the operator at the console (changes are audited as cli:<user>)."""
    principal = Principal(0, "cli", Role.SYSTEM_ADMIN, 0, False, 0, datetime.now())
    return Grant(principal, action, Scope.ANY, Actor.system(f"cli:{getpass.getuser()}"))


def _run(fn: Any) -> None:
    try:
        fn()
    except (DuoguiError, IngestError) as exc:
        typer.secho(f"{exc.message_zh} {exc.message_en}", err=True, fg=typer.colors.RED)
        for problem in getattr(exc, "extra", {}).get("problems", []):
            typer.secho(f"  第 {problem['row']} 行 {problem['message_zh']}", err=True)
        raise typer.Exit(1) from exc


ProjectId = Annotated[int, typer.Argument(help="项目编号")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="计算日期 YYYY-MM-DD")]


@demolition_cli.command("progress")
def progress(project_id: ProjectId, as_of: AsOf = None) -> None:
    """Units, floor area and households per status; progress and forecast."""

    def go() -> None:
        with _conn() as conn:
            ledger.visible_project(conn, _grant(Action.DEMOLITION_READ), project_id)
            p = project_progress(conn, project_id, date.fromisoformat(as_of) if as_of else today())
        for t in p.total.by_status:
            typer.echo(f"{t.name_zh}\t{t.units}\t{t.floor_area_m2:.2f} m²\t{t.households} 户")
        typer.echo(f"进度 {p.total.progress_pct}%  {p.forecast.message_zh}")

    _run(go)


@demolition_cli.command("import")
def import_units(
    project_id: ProjectId,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".xlsx/.csv 表格或 GIS 文件")],
    crs: Annotated[str | None, typer.Option(help="GIS 文件无坐标系时指定")] = None,
) -> None:
    """Create units from a spreadsheet (template columns) or a GIS file; all-or-nothing."""

    def go() -> None:
        grant = _grant(Action.DEMOLITION_MANAGE)
        with _conn() as conn:
            if file.suffix.lower() in SHEET_SUFFIXES:
                report = creation.import_sheet(conn, grant, project_id, file.read_bytes(), file.name)
            else:
                report = creation.import_gis(conn, grant, project_id, file, file.name, crs)
        typer.echo(f"created {report.created} unit(s)")

    _run(go)


@demolition_cli.command("from-pre-evaluation")
def from_pre_evaluation(
    project_id: ProjectId, report_id: Annotated[int, typer.Argument(help="预评价报告编号")]
) -> None:
    """Create one unit per building a stored pre-evaluation found in the footprint."""

    def go() -> None:
        with _conn() as conn:
            report = creation.from_pre_evaluation(
                conn, _grant(Action.DEMOLITION_MANAGE), project_id, report_id
            )
        typer.echo(f"created {report.created} unit(s), skipped {len(report.skipped)}")

    _run(go)


@demolition_cli.command("blockers")
def list_blockers(
    overdue_on: Annotated[str | None, typer.Option("--overdue-on", help="只列该日已逾期的问题")] = None,
) -> None:
    """Blockers of every project (optionally only those overdue on a day)."""
    with _conn() as conn:
        day = date.fromisoformat(overdue_on) if overdue_on else None
        rows = blockers.list_blockers(conn, _grant(Action.BLOCKERS_WORK), None, None, day)
    for b in rows:
        typer.echo(f"{b.id}\t{b.project_id}\t{b.status}\t{b.deadline}\t{b.department_code}\t{b.title}")


@demolition_cli.command("export")
def export(
    project_id: ProjectId,
    out: Annotated[Path, typer.Argument(help="输出文件：.xlsx（进度报表）或 .html（可打印报告）")],
    as_of: AsOf = None,
) -> None:
    """Write the progress report (XLSX) or the printable summary (HTML)."""

    def go() -> None:
        grant = _grant(Action.DEMOLITION_READ)
        with _conn() as conn:
            project = ledger.visible_project(conn, grant, project_id)
            p = project_progress(conn, project_id, date.fromisoformat(as_of) if as_of else today())
            # The console operator has no case to work: personal values are masked (the XLSX says so).
            shown = shown_units(conn, grant, project_id, ledger.list_units(conn, grant, project_id), "cli")
            if out.suffix.lower() == ".xlsx":
                out.write_bytes(exports.progress_xlsx(project, p, shown, subdistrict_names(conn)))
            else:
                found = blockers.list_blockers(conn, grant, project_id, None, None)
                out.write_text(exports.summary_html(project, p, shown.units, found).html, encoding="utf-8")
        typer.echo(f"wrote {out}")

    _run(go)
