"""First-run and every-run preparation behind ``make run``: database, migrations, seed, administrators."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import Connection

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from analysis.gaps.refresh import refresh
from analysis.rules.loader import get_ruleset
from analysis.standards.model import get_standards
from app import localdb, migrate
from app.audit.rules import record_activation
from app.auth.passwords import hash_password, one_time_password
from app.auth.policy import Role
from app.auth.security_policy import get_policy
from app.demo import history
from app.materials.storage import blob_store
from app.orgs.service import ADMIN_ORG, seed_organisations
from app.settings import Settings
from layers.audit import Actor, record
from layers.catalog.model import get_catalog
from layers.demo.loader import demo_loaded, load_demo
from layers.store.versions import register_layers

# The three administrators (三员分立) the first set-up creates: role → (username, display name).
ADMINISTRATORS: dict[Role, tuple[str, str]] = {
    Role.SYSTEM_ADMIN: ("sysadmin", "系统管理员"),
    Role.SECURITY_ADMIN: ("secadmin", "安全管理员"),
    Role.AUDIT_ADMIN: ("auditadmin", "安全审计员"),
}


@dataclass
class SetupReport:
    """What one set-up run changed (all empty/None on a repeated run)."""

    revision_before: str | None
    revision_after: str | None
    organisations_added: int
    administrators: list[NewAdministrator] = field(default_factory=list)
    demo_features: int = 0
    demo_projects: int = 0  # projects of the demo history written (first set-up only)

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return (
            self.revision_before != self.revision_after
            or self.organisations_added > 0
            or bool(self.administrators)
            or self.demo_features > 0
            or self.demo_projects > 0
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
        administrators = ensure_administrators(conn, actor)
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
        conn.commit()
        projects = 0
        # The demo's facility gaps (stored answers, deficit layers), once, on their own connection while
        # the history is written: the history waits on database round trips, the gaps on CPU.
        gaps = None
        if settings.demo_scale != "none" and demo_loaded(conn) and not _gaps_computed(conn):
            gaps = _GapRefresh(settings, actor, quiet)
            gaps.start()
        # The demo's two years of history, once: after the demo layers, into an empty project library.
        if settings.demo_scale != "none" and history.refusal(conn) is None:
            made = history.generate_history(
                conn,
                get_catalog(),
                settings.demo_scale,
                2017,
                progress=(lambda _: None) if quiet else print,
                store=blob_store(settings),
                data_dir=settings.data_dir,
            )
            projects = made.projects
        if gaps is not None:
            gaps.finish()
        # The rule set in force is part of the audit trail (recorded once per change of the rule files).
        record_activation(conn, get_ruleset(), actor)
    return SetupReport(before, after, added, administrators, demo, projects)


def _gaps_computed(conn: Connection[Any]) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM gap.result)").fetchone()
    conn.commit()
    return bool(row and row[0])


class _GapRefresh(threading.Thread):
    """``duogui gaps refresh`` for every facility type, in the background; :meth:`finish` re-raises."""

    def __init__(self, settings: Settings, actor: Actor, quiet: bool) -> None:
        super().__init__(name="demo-gaps", daemon=True)
        self.settings, self.actor, self.quiet = settings, actor, quiet
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            standards = get_standards()
            with psycopg.connect(self.settings.owner_dsn, autocommit=True) as conn:
                done = refresh(conn, get_catalog(), standards, standards.facilities, self.actor)
            if not self.quiet:
                cells = sum(d.deficit_cells for d in done)
                print(f"duogui: facility gaps computed ({len(done)} types, {cells:,} deficit cells)")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by finish()
            self.error = exc

    def finish(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


@dataclass(frozen=True)
class NewAdministrator:
    """An administrator account created by set-up, with its one-time password (shown once)."""

    username: str
    role: Role
    password: str


def ensure_administrators(conn: Connection[Any], actor: Actor) -> list[NewAdministrator]:
    """Create each of the three administrators that has no account yet, with a one-time password."""
    created = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('duogui.ensure_admin'))")
        length = get_policy(conn).one_time_length()
        for role, (username, display_name) in ADMINISTRATORS.items():
            exists = conn.execute("SELECT 1 FROM auth.user WHERE role = %s LIMIT 1", (role.value,)).fetchone()
            if exists:
                continue
            taken = conn.execute("SELECT 1 FROM auth.user WHERE username = %s", (username,)).fetchone()
            name = username if not taken else f"{username}-{os.urandom(2).hex()}"
            password = one_time_password(length)
            row = conn.execute(
                """
                INSERT INTO auth.user
                  (username, display_name, role, org_id, password_hash, must_change_password)
                SELECT %s, %s, %s, id, %s, true FROM auth.organisation WHERE code = %s
                RETURNING id
                """,
                (name, display_name, role.value, hash_password(password), ADMIN_ORG),
            ).fetchone()
            assert row is not None, "the seed organisation of the administrators is missing"
            record(
                conn,
                actor,
                "user.create",
                "user",
                row[0],
                after={"username": name, "role": role.value, "must_change_password": True},
            )
            created.append(NewAdministrator(name, role, password))
    return created


def _os_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return "unknown"
