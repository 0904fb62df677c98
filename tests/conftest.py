"""Test fixtures: a throwaway PostGIS database per test session, migrated by the real migrations."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from app import bootstrap, migrate
from app.auth import users
from app.auth.policy import Role
from app.demo.history import HistoryReport, generate_history
from app.deps import today as district_today
from app.main import create_app
from app.materials.storage import blob_store
from app.orgs import service as orgs
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.demo.loader import load_demo
from layers.store.versions import register_layers
from tests.helpers import Account, sign_in, unique


def server_settings() -> Settings:
    """Settings of the server the suite runs against (the local cluster unless DATABASE_URL is set)."""
    return Settings(environment="test")


_scratch_dirs: dict[str, Path] = {}


def create_throwaway_database(prefix: str = "duogui_test") -> tuple[Settings, str]:
    """Create an empty database on the server; return settings pointing at it and its name."""
    base = server_settings()
    bootstrap.prepare_database(base, quiet=True)  # starts the local cluster; never touches its own db
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    name = f"{prefix}_{worker}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(make_conninfo(base.owner_dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    overrides: dict[str, Any] = {
        "environment": "test",
        "database_url": SecretStr(make_conninfo(base.owner_dsn, dbname=name)),
        "demo_scale": "none",
        "data_dir": _scratch_dirs.setdefault(name, Path(tempfile.mkdtemp(prefix="duogui-test-data-"))),
    }
    if base.database_url is None:
        overrides["app_database_url"] = SecretStr(make_conninfo(base.app_dsn, dbname=name))
    return Settings(**overrides), name


def drop_database(name: str) -> None:
    """Drop a throwaway database, closing whatever still uses it, and its scratch data directory."""
    scratch = _scratch_dirs.pop(name, None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    base = server_settings()
    with psycopg.connect(make_conninfo(base.owner_dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def cluster_lock() -> Iterator[None]:
    """Serialise role and database set-up between pytest-xdist workers (roles are cluster-wide)."""
    path = Path(tempfile.gettempdir()) / "duogui-test-setup.lock"
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """Settings bound to this session's migrated throwaway database."""
    with cluster_lock():
        test_settings, name = create_throwaway_database()
        migrate.upgrade(test_settings)
    try:
        with psycopg.connect(test_settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            # Three failures lock an account in the tests (the shipped policy says five).
            conn.execute("UPDATE auth.security_policy SET lockout_threshold = 3, lockout_minutes = 15")
        yield test_settings
    finally:
        drop_database(name)


@dataclass
class DemoEnv:
    """A separate database holding the `small` demo district, with its own app and client.

    Kept apart from the main test database so that import tests cannot change what map tests read.
    """

    settings: Settings
    client: TestClient

    def account(self, role: Role, org_code: str = "pnr") -> Account:
        """A signed-in user of this database."""
        username = unique(role.value.replace("_", ""))
        password = "Passw0rd-" + uuid.uuid4().hex[:6]
        with psycopg.connect(self.settings.owner_dsn, autocommit=True) as conn:
            user, _ = users.create_user(
                conn,
                Actor.system("tests"),
                users.UserCreate(username=username, role=role, org_code=org_code, password=password),
            )
        return Account(user.id, username, password, user.org_id, sign_in(self.client, username, password))


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoEnv]:
    """The `small` demo district (every catalog layer, rasters too) in its own database."""
    with cluster_lock():
        demo_settings, name = create_throwaway_database("duogui_demo")
        migrate.upgrade(demo_settings)
    try:
        with psycopg.connect(demo_settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            load_demo(conn, get_catalog(), "small", demo_settings.data_dir, progress=lambda _: None)
            catch_up(conn, get_check_plan())
        with TestClient(create_app(demo_settings)) as client:
            yield DemoEnv(demo_settings, client)
    finally:
        drop_database(name)


@dataclass
class HistoryWorld:
    """The small demo district with its two years of history (approvals, demands, ledgers), its own app."""

    settings: Settings
    client: TestClient
    today: date
    report: HistoryReport


@pytest.fixture(scope="session")
def history_world() -> Iterator[HistoryWorld]:
    """A throwaway database with the small demo and the history written by ``generate_history`` up to
    today (the shared ``demo`` database keeps an empty project library)."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_hist")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            load_demo(conn, get_catalog(), "small", settings.data_dir, progress=lambda _: None)
            catch_up(conn, get_check_plan())
            conn.commit()
            day = district_today()
            report = generate_history(
                conn,
                get_catalog(),
                "small",
                2017,
                day,
                progress=lambda _: None,
                store=blob_store(settings),
                data_dir=settings.data_dir,
            )
        with TestClient(create_app(settings)) as client:
            yield HistoryWorld(settings, client, day, report)
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def preeval_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnv]:
    """The hand-made pre-evaluation world of tests/preeval_world.py, in its own database."""
    from tests.preeval_world import build_world

    yield from build_world(tmp_path_factory.mktemp("preeval-world"))


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    """The application under test."""
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: Any) -> Iterator[TestClient]:
    """An HTTP client that runs the app's lifespan (pool open/close)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def owner_conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A connection as the database owner (for arranging and inspecting state)."""
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def make_org(owner_conn: psycopg.Connection[Any]) -> Any:
    """Factory: a new organisation; returns (id, code)."""

    def _make(kind: orgs.OrgKind = orgs.OrgKind.DEPARTMENT) -> tuple[int, str]:
        code = unique("org")
        # A name as people write one (pages scanned for codes show it): the code's hex digits as characters.
        digits = str.maketrans("0123456789abcdef", "零一二三四五六七八九甲乙丙丁戊己")
        name = "测试单位" + code[4:].translate(digits)
        org = orgs.create_org(
            owner_conn, Actor.system("tests"), orgs.OrganisationCreate(code=code, name_zh=name, kind=kind)
        )
        return org.id, code

    return _make


@pytest.fixture
def make_account(owner_conn: psycopg.Connection[Any], client: TestClient) -> Any:
    """Factory: a user with a chosen role and organisation, already signed in."""

    def _make(role: Role, org_code: str = "pnr", *, sign_in_now: bool = True) -> Account:
        username = unique(role.value.replace("_", ""))
        password = "Passw0rd-" + uuid.uuid4().hex[:6]
        user, _ = users.create_user(
            owner_conn,
            Actor.system("tests"),
            users.UserCreate(username=username, role=role, org_code=org_code, password=password),
        )
        token = sign_in(client, username, password) if sign_in_now else ""
        return Account(user.id, username, password, user.org_id, token)

    return _make
