"""Run the Alembic migrations in ``migrations/`` programmatically."""

from __future__ import annotations

from functools import cache

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.settings import PROJECT_ROOT, Settings

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(dsn: str, app_role: str) -> Config:
    """An Alembic config bound to ``dsn``; no ini file is needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["dsn"] = dsn
    cfg.attributes["app_role"] = app_role
    return cfg


@cache
def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("", "")).get_current_head()


def current_revision(dsn: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
        return row[0] if row else None


def upgrade(settings: Settings, dsn: str | None = None) -> tuple[str | None, str | None]:
    """Upgrade to head; return (revision before, revision after)."""
    target = dsn or settings.owner_dsn
    # Two set-ups started at once (two `make run`s) must not migrate concurrently.
    with psycopg.connect(target, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext('duogui.migrate'))")
        before = current_revision(target)
        if before != head_revision():
            command.upgrade(alembic_config(target, settings.app_role), "head")
        return before, current_revision(target)
