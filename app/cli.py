"""The ``duogui`` command line."""

from __future__ import annotations

import getpass
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from app import bootstrap, localdb, migrate
from app.audit.cli import audit_cli
from app.auth import users as user_service
from app.auth.policy import ROLE_LABELS, Role
from app.auth.service_accounts_cli import service_accounts_cli
from app.backup.cli import backup, local_basebackup, local_pitr, restore
from app.demo import history
from app.demolition.cli import demolition_cli
from app.errors import DuoguiError
from app.gaps.cli import gaps_cli
from app.materials.cli import materials_cli
from app.materials.storage import blob_store
from app.orgs.service import seed_organisations
from app.preevaluation.cli import check
from app.projects.cli import calendar_cli, projects_cli
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import LayerEntry, LayerKind, get_catalog
from layers.demo.loader import load_demo
from layers.district import DISTRICT
from layers.ingest.coverage_file import coverage_option
from layers.ingest.errors import IngestError
from layers.ingest.load import import_file
from layers.store.versions import register_layers, rollback
from layers.tiles.glyphs import GlyphStore, font_dir

cli = typer.Typer(help="多规合一平台 Duogui：服务、数据库与账户管理。", no_args_is_help=True)
db_cli = typer.Typer(help="数据库迁移 Database migrations.", no_args_is_help=True)
users_cli = typer.Typer(help="用户管理 User accounts.", no_args_is_help=True)
local_cli = typer.Typer(help="项目内置 PostGIS 集群 The project-local PostGIS cluster.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
layers_cli = typer.Typer(help="图层管理 Base-map layers.", no_args_is_help=True)
demo_cli = typer.Typer(help="演示辖区 The demo district.", no_args_is_help=True)
cli.add_typer(demo_cli, name="demo")
cli.add_typer(local_cli, name="local")
cli.add_typer(layers_cli, name="layers")
cli.command("check")(check)
cli.add_typer(projects_cli, name="projects")
cli.add_typer(calendar_cli, name="calendar")
cli.add_typer(demolition_cli, name="demolition")
cli.command("backup")(backup)
cli.command("restore")(restore)
local_cli.command("basebackup")(local_basebackup)
local_cli.command("pitr")(local_pitr)
cli.add_typer(audit_cli, name="audit")
cli.add_typer(service_accounts_cli, name="service-accounts")
cli.add_typer(materials_cli, name="materials")
cli.add_typer(gaps_cli, name="gaps")


def _settings() -> Settings:
    return Settings()


def _cli_actor() -> Actor:
    return Actor.system(f"cli:{getpass.getuser()}")


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (迁移到最新版本)."""
    settings = _settings()
    bootstrap.prepare_database(settings, quiet=True)
    before, after = migrate.upgrade(settings)
    typer.echo(f"database at {after} (was {before})" if before != after else f"database already at {after}")


@db_cli.command("current")
def db_current() -> None:
    """Print the database's migration revision."""
    typer.echo(migrate.current_revision(_settings().owner_dsn) or "(none)")


@local_cli.command("start")
def local_start() -> None:
    """Initialise (first time) and start the local cluster."""
    settings = _settings()
    cluster = localdb.LocalCluster(settings.data_dir, settings.local_pg_port)
    cluster.ensure_running()
    cluster.ensure_database(settings.db_name, settings.app_role)
    typer.echo(f"local cluster running; socket directory {cluster.socket_dir}, port {cluster.port}")


@local_cli.command("stop")
def local_stop() -> None:
    """Stop the local cluster."""
    settings = _settings()
    stopped = localdb.LocalCluster(settings.data_dir, settings.local_pg_port).stop()
    typer.echo("local cluster stopped" if stopped else "local cluster was not running")


@local_cli.command("status")
def local_status() -> None:
    """Tell whether the local cluster runs, and its connection string."""
    settings = _settings()
    cluster = localdb.LocalCluster(settings.data_dir, settings.local_pg_port)
    state = (
        "running" if cluster.is_running() else ("stopped" if cluster.is_initialised() else "not initialised")
    )
    typer.echo(f"{state}: {cluster.dsn()}")


@cli.command("setup")
def setup() -> None:
    """Prepare everything `make run` needs; prints new administrators' one-time passwords once."""
    try:
        report = bootstrap.setup(_settings())
    except localdb.LocalClusterError as exc:
        _fail(f"duogui: {exc}")
        return
    if report.revision_before != report.revision_after:
        typer.echo(f"duogui: database migrated {report.revision_before} → {report.revision_after}")
    if report.demo_features:
        typer.echo(f"duogui: demo district loaded ({report.demo_features:,} features)")
    if report.demo_projects:
        typer.echo(f"duogui: demo history written ({report.demo_projects} projects)")
    if report.organisations_added:
        typer.echo(f"duogui: {report.organisations_added} organisations seeded")
    for admin in report.administrators:
        zh, en = ROLE_LABELS[admin.role]
        typer.secho(
            f"\n  初始{zh} Initial {en.lower()}\n"
            f"    用户名 username: {admin.username}\n"
            f"    一次性密码 one-time password: {admin.password}\n"
            "  此密码只显示这一次，首次登录后须修改。 Shown only this once; change it at first sign-in.\n",
            fg=typer.colors.YELLOW,
        )
    if not report.changed:
        typer.echo("duogui: set-up already complete; nothing changed")
    build_glyphs()


@cli.command("glyphs")
def build_glyphs() -> None:
    """Build the map's glyph ranges from the bundled Noto Sans SC (only those not built yet)."""
    settings = _settings()
    store = GlyphStore(settings.glyph_dir, font_dir(settings.web_dir))
    if not store.available:
        typer.echo("duogui: web/node_modules has no Noto Sans SC; map labels fall back to empty glyphs")
        return
    started = time.monotonic()
    report = store.build()
    if report.built:
        took = time.monotonic() - started
        typer.echo(
            f"duogui: {report.built} of {report.ranges} glyph ranges built in {took:.0f} s"
            f" ({report.bytes / 1e6:.1f} MB, {store.directory})"
        )


@users_cli.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help=" / ".join(r.value for r in Role))],
    org: Annotated[str, typer.Option(help="组织代码 organisation code, e.g. pnr")],
    display_name: Annotated[str, typer.Option(help="显示名")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False,
) -> None:
    """Create a user; without --password-stdin a one-time password is generated and printed."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    data = user_service.UserCreate(
        username=username, role=role, org_code=org, display_name=display_name, password=password
    )
    with psycopg.connect(_settings().owner_dsn) as conn:
        try:
            user, generated = user_service.create_user(conn, _cli_actor(), data)
        except DuoguiError as exc:
            _fail(f"{exc.message_zh} {exc.message_en}")
            return
    typer.echo(f"created user {user.username} (id {user.id}, role {user.role.value}, org {user.org_code})")
    if generated:
        typer.echo(f"one-time password (shown once): {generated}")


@users_cli.command("list")
def users_list() -> None:
    """List every user."""
    with psycopg.connect(_settings().owner_dsn) as conn:
        rows = user_service.list_users(conn, limit=10_000)
    typer.echo(f"{'id':>5}  {'username':<24} {'role':<15} {'org':<14} state")
    for u in rows:
        state = "disabled" if u.disabled else ("locked" if u.locked else "active")
        typer.echo(f"{u.id:>5}  {u.username:<24} {u.role.value:<15} {u.org_code:<14} {state}")


@users_cli.command("reset-password")
def users_reset_password(username: str) -> None:
    """Give a user a new one-time password (also unlocks the account)."""
    with psycopg.connect(_settings().owner_dsn) as conn:
        row = conn.execute("SELECT id FROM auth.user WHERE username = %s", (username.lower(),)).fetchone()
        if row is None:
            _fail(f"用户“{username}”不存在。 No such user.")
            return
        _, password = user_service.reset_password(conn, _cli_actor(), row[0])
    typer.echo(f"one-time password for {username} (shown once): {password}")


def _entry(code: str) -> LayerEntry:
    try:
        return get_catalog().get(code)
    except KeyError:
        _fail(f"图层“{code}”不在目录中。 No layer '{code}' in the catalog.")
        raise


@layers_cli.command("list")
def layers_list() -> None:
    """List every catalog layer with its current version and feature count."""
    with psycopg.connect(_settings().owner_dsn) as conn:
        state = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT l.code, v.number, v.feature_count FROM basemap.layer l"
                " LEFT JOIN basemap.layer_version v ON v.id = l.current_version"
            )
        }
    typer.echo(f"{'code':<28} {'kind':<7} {'version':>7} {'features':>9}  name")
    for entry in get_catalog().layers.values():
        number, count = state.get(entry.code, (None, None))
        typer.echo(
            f"{entry.code:<28} {entry.kind.value:<7} {number or '-':>7} {'-' if count is None else count:>9}"
            f"  {entry.name_zh}"
        )


@layers_cli.command("import")
def layers_import(
    file: Annotated[
        Path,
        typer.Argument(exists=True, help="GeoPackage / Shapefile (.shp or .zip) / GeoJSON / DXF / FileGDB"),
    ],
    layer: Annotated[str, typer.Option("--layer", help="目标图层代码 target layer code")],
    crs: Annotated[
        str | None, typer.Option(help=f"文件无坐标系时指定 e.g. {DISTRICT.storage_crs.label}")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="属性编码 e.g. GBK")] = None,
    source_layer: Annotated[str | None, typer.Option(help="多图层文件中的图层名")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="跳过无法修复的要素")] = False,
    note: Annotated[str | None, typer.Option(help="版本说明")] = None,
    coverage: Annotated[
        str | None,
        typer.Option(help="数据覆盖范围 coverage: 'district' 或覆盖范围文件 a polygon file (partial survey)"),
    ] = None,
) -> None:
    """Import a file as a layer's new version (atomic, audited)."""
    entry = _entry(layer)
    settings = _settings()
    options: dict[str, Any] = {"crs": crs, "note": note}
    if entry.kind is not LayerKind.RASTER:
        options.update(encoding=encoding, source_layer=source_layer, skip_invalid=skip_invalid)
    with psycopg.connect(settings.owner_dsn) as conn:
        try:
            if coverage is not None and coverage != "district":
                options["coverage"] = coverage_option(None, Path(coverage), Path(coverage).name)
            else:
                options["coverage"] = coverage_option(coverage)
            number, count, report = import_file(
                conn, entry, file, file.name, _cli_actor(), settings.data_dir, **options
            )
        except IngestError as exc:
            for d in exc.details[:20]:
                typer.echo(f"  - {d}", err=True)
            _fail(f"{exc.message_zh}\n{exc.message_en}")
            return
        catch_up(conn, get_check_plan(), [entry.code])
    typer.echo(
        f"{entry.code}: version {number} with {count} features "
        f"({report.get('repaired_count', 0)} repaired, {report.get('skipped_count', 0)} skipped)"
    )


@layers_cli.command("rollback")
def layers_rollback(code: str, version: int) -> None:
    """Make an older version of a layer current again (audited)."""
    entry = _entry(code)
    with psycopg.connect(_settings().owner_dsn) as conn:
        try:
            rollback(conn, entry, version, _cli_actor())
        except IngestError as exc:
            _fail(f"{exc.message_zh} {exc.message_en}")
            return
        catch_up(conn, get_check_plan(), [entry.code])
    typer.echo(f"{code}: version {version} is current again")


def _write_history(
    conn: psycopg.Connection[Any], settings: Settings, scale: str, seed: int
) -> history.HistoryReport:
    """The demo history on ``conn``, after the organisations it acts in (the departments, the window)."""
    seed_organisations(conn, _cli_actor())
    conn.commit()
    return history.generate_history(
        conn,
        get_catalog(),
        scale,  # type: ignore[arg-type]
        seed,
        store=blob_store(settings),
        data_dir=settings.data_dir,
    )


@demo_cli.command("generate")
def demo_generate(
    scale: Annotated[str, typer.Option(help="small（测试）/ district（默认）/ full（基准）")] = "district",
    seed: Annotated[int, typer.Option(help="随机种子（相同种子生成相同数据）")] = 2017,
    with_history: Annotated[
        bool, typer.Option("--history/--no-history", help="同时写入两年的演示历史（项目、审批、需求、征拆）")
    ] = True,
) -> None:
    """Generate the demo district and load every catalog layer through the import path (new versions), then
    its two years of history (into an empty project library)."""
    if scale not in ("small", "district", "full"):
        _fail("scale 须为 small、district 或 full。 scale must be small, district or full.")
    settings = _settings()
    bootstrap.prepare_database(settings, quiet=True)
    with psycopg.connect(settings.owner_dsn) as conn:
        register_layers(conn, get_catalog())
        try:
            report = load_demo(conn, get_catalog(), scale, settings.data_dir, seed=seed)  # type: ignore[arg-type]
        except IngestError as exc:
            _fail(f"{exc.message_zh}\n{exc.message_en}")
            return
        catch_up(conn, get_check_plan())
        typer.echo(
            f"demo district ({scale}): {report.layers} layers, {report.features:,} features"
            f" in {report.seconds:.0f}s"
        )
        conn.commit()
        if not with_history:
            return
        if history.refusal(conn) is not None:  # a library with projects keeps them: no second history
            typer.echo("demo history: the project library is not empty; not written again")
            return
        typer.echo(_write_history(conn, settings, scale, seed).summary())


@demo_cli.command("history")
def demo_history(
    seed: Annotated[int, typer.Option(help="随机种子（相同种子生成相同历史）")] = 2017,
    scale: Annotated[str, typer.Option(help="small / district / full：与已加载的演示底图一致")] = "district",
) -> None:
    """Write the demo district's two years of projects and approvals (needs the demo layers loaded and an
    empty project library)."""
    if scale not in ("small", "district", "full"):
        _fail("scale 须为 small、district 或 full。 scale must be small, district or full.")
    settings = _settings()
    bootstrap.prepare_database(settings, quiet=True)
    with psycopg.connect(settings.owner_dsn) as conn:
        why = history.refusal(conn)
        if why is not None:
            _fail(f"{why[0]}\n{why[1]}")
            return
        typer.echo(_write_history(conn, settings, scale, seed).summary())


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口（默认 DUOGUI_PORT 或 8000）")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="工作进程数（每个进程有自己的连接池和瓦片缓存）")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="逐条记录请求（访问日志）")
    ] = True,
) -> None:
    """Serve the web app and API (one access-log line per request unless --no-access-log)."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    bootstrap.prepare_database(settings, quiet=True)
    host = host or settings.host
    port = port or settings.port
    typer.echo(f"duogui: serving on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)")
    if workers > 1:
        # Each worker process builds its own app (pool, caches) from the same environment.
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=False,
            access_log=access_log,
        )
        return
    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=False, access_log=access_log)


def main() -> None:
    """Entry point of the ``duogui`` script."""
    cli()
