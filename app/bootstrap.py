"""First-run and every-run preparation behind ``make run``: database, migrations, seed, administrator."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Connection

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from analysis.rules.loader import get_ruleset
from app import localdb, migrate
from app.audit.rules import record_activation
from app.auth.passwords import hash_password, one_time_password
from app.orgs.service import ADMIN_ORG, seed_organisations
from app.settings import Settings
from layers.audit import Actor, record
from layers.catalog.model import get_catalog
from layers.demo.loader import demo_loaded, load_demo
from layers.store.versions import register_layers

ADMIN_USERNAME = "admin"


@dataclass
class SetupReport:
    """What one set-up run changed (all empty/None on a repeated run)."""

    revision_before: str | None
    revision_after: str | None
    organisations_added: int
    admin_password: str | None
    demo_features: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return (
            self.revision_before != self.revision_after
            or self.organisations_added > 0
            or self.admin_password is not None
            or self.demo_features > 0
        )


def prepare_database(settings: Settings, *, quiet: bool = False) -> None:
    """Start the local cluster and create the database when no DATABASE_URL is configured."""
    if settings.database_url is not None:
        return
    cluster = localdb.LocalCluster(settings.data_dir, settings.local_pg_port)
    cluster.ensure_running(quiet=quiet)
    cluster.ensure_database(settings.db_name, settings.app_role)


def setup(settings: Settings, *, quiet: bool = False) -> SetupReport:
    """Bring the database to a servable state; idempotent."""
    prepare_database(settings, quiet=quiet)
    before, after = migrate.upgrade(settings)
    actor = Actor.system(f"setup:{_os_user()}")
    with psycopg.connect(settings.owner_dsn) as conn:
        added = seed_organisations(conn, actor)
        password = ensure_admin(conn, actor)
        register_layers(conn, get_catalog())
        demo = 0
        if settings.demo_scale != "none" and not demo_loaded(conn):
            if not quiet:
                print(
                    f"duogui: loading the demo district ({settings.demo_scale}) once; it takes a few minutes"
                )
            report = load_demo(
                conn,
                get_catalog(),
                settings.demo_scale,
                settings.data_dir,
                progress=(lambda _: None) if quiet else print,
            )
            demo = report.features
        # Catch the footprint-check index up (after the demo, or after a crash between a switch and its
        # catch-up); a no-op when every layer is current.
        catch_up(conn, get_check_plan())
        # The rule set in force is part of the audit trail (recorded once per change of the rule files).
        record_activation(conn, get_ruleset(), actor)
    return SetupReport(before, after, added, password, demo)


def ensure_admin(conn: Connection[Any], actor: Actor) -> str | None:
    """Create the initial administrator with a one-time password when no administrator exists."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('duogui.ensure_admin'))")
        exists = conn.execute("SELECT 1 FROM auth.user WHERE role = 'admin' LIMIT 1").fetchone()
        if exists:
            return None
        taken = conn.execute("SELECT 1 FROM auth.user WHERE username = %s", (ADMIN_USERNAME,)).fetchone()
        username = ADMIN_USERNAME if not taken else f"{ADMIN_USERNAME}-{os.urandom(2).hex()}"
        password = one_time_password()
        row = conn.execute(
            """
            INSERT INTO auth.user (username, display_name, role, org_id, password_hash, must_change_password)
            SELECT %s, '系统管理员', 'admin', id, %s, true FROM auth.organisation WHERE code = %s
            RETURNING id
            """,
            (username, hash_password(password), ADMIN_ORG),
        ).fetchone()
        assert row is not None, "the seed organisation of the administrator is missing"
        record(
            conn,
            actor,
            "user.create",
            "user",
            row[0],
            after={"username": username, "role": "admin", "must_change_password": True},
        )
    return password


def _os_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return "unknown"
