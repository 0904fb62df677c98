"""Migration 0011 on a database of its own: today's administrators become system administrators (said and
audited), set-up adds the missing security and audit administrators, and a trigger keeps administrator roles
fixed for life."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from alembic import command

from app import bootstrap
from app.auth.passwords import character_classes
from app.migrate import alembic_config
from app.orgs import service as orgs
from layers.audit import Actor
from tests.conftest import cluster_lock, create_throwaway_database, drop_database


def _roles(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return dict(conn.execute("SELECT username, role FROM auth.user").fetchall())


def test_admins_become_system_administrators_and_setup_adds_the_other_two(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, name = create_throwaway_database("duogui_threeadmins")
    cfg = alembic_config(settings.owner_dsn, settings.app_role)
    try:
        with cluster_lock():
            command.upgrade(cfg, "0010_layer_coverage")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            for username, role in (("admin", "admin"), ("ops", "admin"), ("wang", "planner")):
                conn.execute(
                    "INSERT INTO auth.user (username, role, org_id, password_hash)"
                    " SELECT %s, %s, id, 'x' FROM auth.organisation WHERE code = 'gov-data'",
                    (username, role),
                )
        capsys.readouterr()
        with cluster_lock():
            command.upgrade(cfg, "0011_three_administrators")
        said = capsys.readouterr().out
        assert "'admin' is now a system administrator" in said and "'ops' is now" in said
        assert "wang" not in said
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            assert _roles(conn) == {"admin": "system_admin", "ops": "system_admin", "wang": "planner"}
            events = conn.execute(
                "SELECT e.actor_username, u.username, e.before->>'role', e.after->>'role' FROM audit.event e"
                " JOIN auth.user u ON u.id::text = e.object_id WHERE e.action = 'user.role_migrated'"
                " ORDER BY u.username"
            ).fetchall()
            assert events == [
                ("migration:0011_three_administrators", "admin", "admin", "system_admin"),
                ("migration:0011_three_administrators", "ops", "admin", "system_admin"),
            ]
            # A system administrator exists: set-up creates only the two missing ones, once.
            created = bootstrap.ensure_administrators(conn, Actor.system("tests"))
            assert {(a.username, a.role.value) for a in created} == {
                ("secadmin", "security_admin"),
                ("auditadmin", "audit_admin"),
            }
            assert all(len(a.password) >= 12 and character_classes(a.password) == 4 for a in created)
            assert bootstrap.ensure_administrators(conn, Actor.system("tests")) == []

            # The trigger: no change to or from an administrator role, even by the owner.
            for username, role in (
                ("admin", "security_admin"),
                ("admin", "planner"),
                ("wang", "audit_admin"),
            ):
                with pytest.raises(psycopg.errors.CheckViolation) as refused:
                    conn.execute("UPDATE auth.user SET role = %s WHERE username = %s", (role, username))
                assert refused.value.diag.constraint_name == "user_administrator_role_fixed"
            conn.execute(
                "UPDATE auth.user SET role = 'viewer' WHERE username = 'wang'"
            )  # business roles: fine
            assert _roles(conn)["admin"] == "system_admin"
            policy = conn.execute(
                "SELECT password_min_length, password_min_classes, password_max_age_days, password_history,"
                " lockout_threshold, lockout_minutes, idle_timeout_minutes FROM auth.security_policy"
            ).fetchall()
            assert policy == [(12, 3, 90, 5, 5, 15, 30)]
        with cluster_lock():
            command.downgrade(cfg, "0010_layer_coverage")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            roles = _roles(conn)
            assert roles["admin"] == "admin" and roles["ops"] == "admin"
            assert roles["secadmin"] == "viewer" and roles["auditadmin"] == "viewer"
    finally:
        drop_database(name)
