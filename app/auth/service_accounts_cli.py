"""``duogui service-accounts …``: list, create and revoke machine clients, read their usage (as the owner).

Changes are audited with a system actor (``cli:<OS user>``), as every command-line change is. Usage is read
from the table the servers write to every ``usage_flush_seconds``: a running server's last few seconds of
counts may not be there yet.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import psycopg
import typer
from pydantic import ValidationError

from app.auth import service_accounts as accounts
from app.deps import today
from app.errors import DuoguiError
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.district import DISTRICT

service_accounts_cli = typer.Typer(help="服务账户（机器客户端）Service accounts.", no_args_is_help=True)


@contextmanager
def _conn() -> Iterator[psycopg.Connection[Any]]:
    """An owner connection on the district's clock (expiry dates and usage days are the district's)."""
    with psycopg.connect(Settings().owner_dsn) as conn:
        conn.execute("SELECT set_config('TimeZone', %s, false)", (DISTRICT.time_zone,))
        yield conn


def _actor() -> Actor:
    return Actor.system(f"cli:{getpass.getuser()}")


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def _state(account: accounts.ServiceAccount) -> str:
    if account.revoked_at is not None:
        return "revoked"
    return "active" if account.active else "expired"


def _find(conn: psycopg.Connection[Any], name: str) -> accounts.ServiceAccount:
    row = conn.execute("SELECT id FROM auth.service_account WHERE name = %s", (name,)).fetchone()
    if row is None:
        _fail(f"服务账户“{name}”不存在。 No service account '{name}'.")
    assert row is not None
    return accounts.get_account(conn, row[0])


@service_accounts_cli.command("list")
def list_command() -> None:
    """List every service account: organisation, state, expiry, last use, requests in 30 days, layers."""
    with _conn() as conn:
        listed = accounts.list_accounts(conn)
    head = f"{'name':<24} {'org':<12} {'state':<8} {'expires':<10} {'last used':<10} {'30 days':>8}"
    typer.echo(f"{head}  layers")
    for a in listed:
        layers = "all public" if a.layers is None else ",".join(a.layers)
        expires = a.expires_at.astimezone(DISTRICT.tz).date()
        typer.echo(
            f"{a.name:<24} {a.org_code:<12} {_state(a):<8} {expires!s:<10} {a.last_used_on or '-'!s:<10}"
            f" {a.requests_30d:>8}  {layers}"
        )


@service_accounts_cli.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="HTTP Basic 用户名：小写字母、数字、. _ -")],
    org: Annotated[str, typer.Option("--org", help="所属组织代码 organisation code")],
    expires: Annotated[str, typer.Option("--expires", help="到期日 YYYY-MM-DD（一年之内）")],
    layer: Annotated[
        list[str] | None, typer.Option("--layer", help="可读图层代码，可重复；缺省为全部非受限图层")
    ] = None,
    description: Annotated[str, typer.Option(help="说明")] = "",
) -> None:
    """Create a service account and print its API key (shown only this once)."""
    try:
        data = accounts.ServiceAccountCreate(
            name=name,
            org_code=org,
            layers=layer or None,
            expires_on=date.fromisoformat(expires),
            description=description,
        )
    except ValueError as exc:  # a malformed date, or a field the model refuses (ValidationError)
        _fail(_invalid(exc))
        return
    with _conn() as conn:
        try:
            account, key = accounts.create_account(conn, _actor(), data, get_catalog(), today())
        except DuoguiError as exc:
            _fail(f"{exc.message_zh} {exc.message_en}")
            return
    scope = "all public layers" if account.layers is None else ", ".join(account.layers)
    typer.echo(f"created service account {account.name} (id {account.id}, org {account.org_code}, {scope})")
    typer.echo(f"expires {account.expires_at.astimezone(DISTRICT.tz):%Y-%m-%d %H:%M} (district time)")
    typer.secho(
        f"API 密钥 API key (HTTP Basic password; shown only this once): {key}", fg=typer.colors.YELLOW
    )


def _invalid(exc: ValueError) -> str:
    """A refused field or date, named, in Chinese and English."""
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"输入有误 Invalid input — {fields}"
    return f"到期日须为 YYYY-MM-DD。 The expiry date must be YYYY-MM-DD ({exc})."


@service_accounts_cli.command("revoke")
def revoke_command(name: str) -> None:
    """Revoke a service account's key at once (its next request is refused)."""
    with _conn() as conn:
        account = _find(conn, name)
        if account.revoked_at is not None:
            typer.echo(f"{name}: already revoked at {account.revoked_at:%Y-%m-%d %H:%M}")
            return
        accounts.revoke_account(conn, _actor(), account.id)
    typer.echo(f"{name}: revoked")


@service_accounts_cli.command("usage")
def usage_command(
    name: str, days: Annotated[int, typer.Option(min=1, max=366, help="最近天数 last days")] = 30
) -> None:
    """Requests, bytes and layers read per day (district time), newest first."""
    with _conn() as conn:
        account = _find(conn, name)
        used = accounts.usage(conn, account, days)
    typer.echo(f"{used.name}: {used.requests} requests, {used.bytes} bytes in the last {days} days")
    for d in used.days:
        layers = ", ".join(f"{code} {n}" for code, n in sorted(d.layers.items()))
        typer.echo(f"{d.day}\t{d.requests}\t{d.bytes}\t{layers}")
