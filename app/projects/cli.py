"""``duogui projects …`` and ``duogui calendar …``: the tracker from the command line (owner connection)."""

from __future__ import annotations

import getpass
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from app.auth.deps import Grant, Principal
from app.auth.policy import Action, Role, Scope
from app.calendar import store
from app.calendar.provisional import note
from app.calendar.workdays import WorkCalendar
from app.calendar.yearfile import parse_year_file
from app.deps import today
from app.errors import DuoguiError
from app.projects import plan, service, supervision
from app.projects.code import validate_code
from app.projects.kpis import GroupBy
from app.settings import Settings
from layers.audit import Actor

projects_cli = typer.Typer(
    help="项目库与审批跟踪 Project library and approval tracker.", no_args_is_help=True
)
calendar_cli = typer.Typer(help="工作日历 Working-day calendar.", no_args_is_help=True)


def _conn() -> psycopg.Connection[Any]:
    return psycopg.connect(Settings().owner_dsn, autocommit=True)


def _actor() -> Actor:
    return Actor.system(f"cli:{getpass.getuser()}")


def _reader(action: Action) -> Grant:
    """A read-everything grant for the operator at the console."""
    principal = Principal(0, "cli", Role.SYSTEM_ADMIN, 0, False, 0, datetime.now())
    return Grant(principal, action, Scope.ANY, _actor())


def _run(fn: Any) -> None:
    try:
        fn()
    except DuoguiError as exc:
        typer.secho(f"{exc.message_zh} {exc.message_en}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc


@calendar_cli.command("years")
def calendar_years() -> None:
    """List the loaded years, each official (正式) or provisional (暂定), with its source."""
    with _conn() as conn:
        calendars = store.list_statuses(conn)
    for c in calendars:
        typer.echo(f"{c.year}  {'暂定' if c.status == 'provisional' else '正式'}  {c.status:<11}  {c.source}")
    if not calendars:
        typer.echo("(none)")


def _warn_provisional(cal: WorkCalendar) -> None:
    """Say on stderr that an answer rests on provisional years."""
    warning = note(cal.provisional_years_used())
    if warning:
        typer.secho(f"{warning[0]} {warning[1]}", err=True, fg=typer.colors.YELLOW)


@calendar_cli.command("show")
def calendar_show(year: int) -> None:
    """Print a year's holidays (off) and 调休 make-up working days (on)."""

    def show() -> None:
        with _conn() as conn:
            data = store.get_year(conn, year)
        for d in data.holidays:
            typer.echo(f"{d.date}  休  {d.name}")
        for d in data.makeup_working_days:
            typer.echo(f"{d.date}  班  {d.name}")
        if data.note_zh:
            typer.secho(f"{data.note_zh} {data.note_en}", err=True, fg=typer.colors.YELLOW)

    _run(show)


@calendar_cli.command("seed")
def calendar_seed() -> None:
    """Load the shipped years that have no calendar: official 2024-2026, then the provisional ones."""
    with _conn() as conn:
        added = store.seed_years(conn, _actor())
    typer.echo(f"loaded {added}" if added else "every shipped year is already loaded")


@calendar_cli.command("load")
def calendar_load(year: int, file: Path) -> None:
    """Load or replace a year from JSON {"holidays": [...], "makeup_working_days": [...]} (audited); a file
    with problems is refused whole, each named by its line."""

    def load() -> None:
        data = parse_year_file(file.read_bytes(), year, default_source=f"文件 {file.name}")
        with _conn() as conn:
            result = store.replace_year(conn, _actor(), year, data)
        typer.echo(f"{year}: {len(result.holidays)} holidays, {len(result.makeup_working_days)} make-up days")

    _run(load)


@calendar_cli.command("working-days")
def calendar_working_days(start: datetime, end: datetime) -> None:
    """Working days from START to END, both included."""
    with _conn() as conn:
        cal = store.load_calendar(conn)
        _run(lambda: typer.echo(cal.working_days(start.date(), end.date())))
        _warn_provisional(cal)


@calendar_cli.command("add")
def calendar_add(start: datetime, days: int) -> None:
    """The DAYS-th working day after START (START itself not counted; 0: START or the next working day)."""
    with _conn() as conn:
        cal = store.load_calendar(conn)
        _run(lambda: typer.echo(cal.add_working_days(start.date(), days).isoformat()))
        _warn_provisional(cal)


@projects_cli.command("check-code")
def projects_check_code(code: str) -> None:
    """Validate a national project code (format and check character)."""
    _run(lambda: typer.echo(f"{validate_code(code)} ok"))


@projects_cli.command("list")
def projects_list(status: Annotated[str | None, typer.Option(help="reserve/preparation/…")] = None) -> None:
    """List the project library."""
    with _conn() as conn:
        for p in service.list_projects(conn, _reader(Action.PROJECTS_READ), None, None):
            if status is None or p.status.value == status:
                typer.echo(f"{p.id:>6}  {p.code}  {p.status.value:<12} {p.tier.value:<14} {p.name}")


@projects_cli.command("plan")
def projects_plan(
    project_id: int,
    target_start: Annotated[datetime | None, typer.Option(help="目标开工日期")] = None,
    as_of: Annotated[datetime | None, typer.Option(help="计算日期")] = None,
) -> None:
    """Print a project's back-scheduled plan: latest start/finish, float, critical items (*)."""

    def show() -> None:
        with _conn() as conn:
            view = plan.plan_view(
                conn,
                _reader(Action.PROJECTS_READ),
                project_id,
                target_start.date() if target_start else None,
                as_of.date() if as_of else today(),
            )
        typer.echo(
            f"target {view.target_start}  feasible {view.feasible}  float {view.float_days}"
            f"  forecast start {view.forecast_start}"
        )
        for i in view.items:
            s = i.schedule
            dates = f"{s.latest_start} → {s.latest_finish}  float {s.float_days:>4}" if s else "-"
            typer.echo(f"{'*' if s and s.critical else ' '} {i.item_code:<28} {i.status:<20} {dates}")
        if view.calendar_note_zh:
            typer.secho(f"{view.calendar_note_zh} {view.calendar_note_en}", err=True, fg=typer.colors.YELLOW)

    _run(show)


@projects_cli.command("warnings")
def projects_warnings(
    department: Annotated[str | None, typer.Option(help="部门代码")] = None,
    as_of: Annotated[datetime | None, typer.Option(help="计算日期")] = None,
) -> None:
    """E-supervision warnings of every project."""
    day: date = as_of.date() if as_of else today()
    with _conn() as conn:
        for w in supervision.warnings(conn, _reader(Action.SUPERVISION_READ), day, None, department):
            typer.echo(f"{w.level:<6} {w.department_code:<10} {w.project_code}  {w.message_zh}")


@projects_cli.command("kpis")
def projects_kpis(
    by: Annotated[GroupBy, typer.Option(help="total/department/item/month")] = GroupBy.TOTAL,
) -> None:
    """KPIs from the event log."""
    with _conn() as conn:
        rows = supervision.kpis(conn, _reader(Action.SUPERVISION_READ), by, today(), None, None)
    for r in rows:
        typer.echo(json.dumps(r.model_dump(), ensure_ascii=False))
