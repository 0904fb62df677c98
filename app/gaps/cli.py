"""``duogui gaps …``: the facility gap analysis from the command line (owner connection)."""

from __future__ import annotations

import getpass
from typing import Annotated

import psycopg
import typer

from analysis.gaps.refresh import refresh
from analysis.standards.model import get_standards
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog

gaps_cli = typer.Typer(help="设施缺口分析 Facility gap analysis.", no_args_is_help=True)


@gaps_cli.command("refresh")
def gaps_refresh(
    facility: Annotated[
        str | None, typer.Option("--facility", help="只计算该设施类型，如 primary_school")
    ] = None,
) -> None:
    """Recompute the answers (all facility types, or one) and write each deficit layer's new version when
    its inputs changed (unchanged inputs keep the version)."""
    standards = get_standards()
    chosen = standards.facilities
    if facility is not None:
        standard = standards.get(facility)
        if standard is None:
            known = ", ".join(f.code for f in standards.facilities)
            typer.secho(
                f"未知的设施类型“{facility}”；可选：{known}。 Unknown facility type; known: {known}.",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(1)
        chosen = [standard]
    actor = Actor.system(f"cli:{getpass.getuser()}")
    with psycopg.connect(Settings().owner_dsn, autocommit=True) as conn:
        for done in refresh(conn, get_catalog(), standards, chosen, actor):
            published = done.published
            layer = "—"
            if published is not None:
                state = "新版本 new version" if published.written else "未变 unchanged"
                layer = f"{published.layer} v{published.number} ({published.features} 格, {state})"
            typer.echo(
                f"{done.facility}: {done.deficit_cells} 个缺口格网 deficit cells, 缺口 shortfall "
                f"{done.shortfall:,.1f}, {done.compute_ms} ms; {layer}"
            )
