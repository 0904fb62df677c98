"""`make run` preparation is idempotent: a second run changes nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

from app import bootstrap
from app.migrate import head_revision
from tests.conftest import cluster_lock, create_throwaway_database, drop_database, server_settings

DUOGUI = str(Path(sys.executable).with_name("duogui"))


def _snapshot(dsn: str) -> tuple[int, int, int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            """
            SELECT (SELECT count(*) FROM auth.user), (SELECT count(*) FROM auth.organisation),
                   (SELECT count(*) FROM audit.event),
                   (SELECT count(*) FROM auth.user WHERE role LIKE '%%_admin')
            """
        ).fetchone()
    assert row is not None
    return tuple(int(v) for v in row)  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_check_health(env: dict[str, str]) -> None:
    """`duogui serve` listens on DUOGUI_PORT and answers health from the prepared database."""
    port = _free_port()
    proc = subprocess.Popen(
        [DUOGUI, "serve"],
        env={**env, "DUOGUI_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    body = json.load(r)
                    break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert body is not None, (
            proc.stdout.read() if proc.stdout and proc.poll() is not None else "no answer"
        )
        assert body["status"] == "ok" and body["database"]["revision"] == head_revision()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_setup_twice_changes_nothing_the_second_time() -> None:
    settings, name = create_throwaway_database("duogui_setup")
    try:
        with cluster_lock():
            first = bootstrap.setup(settings, quiet=True)
        assert first.revision_before is None
        assert first.revision_after == head_revision()
        assert first.organisations_added == 27
        # 三员分立: the system, security and audit administrators, each with a one-time password.
        created = {(a.username, a.role.value) for a in first.administrators}
        assert created == {
            ("sysadmin", "system_admin"),
            ("secadmin", "security_admin"),
            ("auditadmin", "audit_admin"),
        }
        assert all(len(a.password) == 16 for a in first.administrators)
        state = _snapshot(settings.owner_dsn)
        assert state[3] == 3

        second = bootstrap.setup(settings, quiet=True)
        assert not second.changed
        assert second.administrators == []
        assert _snapshot(settings.owner_dsn) == state
    finally:
        drop_database(name)


@pytest.mark.skipif(server_settings().database_url is not None, reason="exercises the embedded local cluster")
def test_cli_setup_prints_the_one_time_password_once() -> None:
    db_name = f"duogui_cli_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DUOGUI_DB_NAME": db_name, "DUOGUI_DEMO_SCALE": "none"}
    env.pop("DATABASE_URL", None)
    try:
        with cluster_lock():
            first = subprocess.run([DUOGUI, "setup"], capture_output=True, text=True, env=env, timeout=300)
        assert first.returncode == 0, first.stderr
        assert first.stdout.count("一次性密码 one-time password:") == 3
        password = first.stdout.split("one-time password:")[1].split()[0]
        for label in ("初始系统管理员", "初始安全管理员", "初始安全审计员"):
            assert label in first.stdout

        second = subprocess.run([DUOGUI, "setup"], capture_output=True, text=True, env=env, timeout=300)
        assert second.returncode == 0, second.stderr
        assert "one-time password" not in second.stdout
        assert "nothing changed" in second.stdout

        created = subprocess.run(
            [
                DUOGUI,
                "users",
                "create",
                "cli-planner",
                "--role",
                "planner",
                "--org",
                "pnr",
                "--password-stdin",
            ],
            input="Planner-pass-2026\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        weak = subprocess.run(
            [DUOGUI, "users", "create", "cli-weak", "--role", "viewer", "--org", "pnr", "--password-stdin"],
            input="short\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert weak.returncode == 1
        assert "密码长度" in weak.stderr
        unknown_org = subprocess.run(
            [DUOGUI, "users", "create", "cli-x", "--role", "viewer", "--org", "nowhere"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert unknown_org.returncode == 1 and "nowhere" in unknown_org.stderr
        listed = subprocess.run(
            [DUOGUI, "users", "list"], capture_output=True, text=True, env=env, timeout=120
        )
        lines = [line.split() for line in listed.stdout.splitlines()[1:]]
        assert [(f[1], f[2], f[3], f[4]) for f in lines] == [
            ("auditadmin", "audit_admin", "gov-data", "active"),
            ("cli-planner", "planner", "pnr", "active"),
            ("secadmin", "security_admin", "gov-data", "active"),
            ("sysadmin", "system_admin", "gov-data", "active"),
        ]

        _serve_and_check_health(env)

        from app.settings import Settings

        dsn = Settings(db_name=db_name).owner_dsn
        with psycopg.connect(dsn) as conn:
            hashed = conn.execute(
                "SELECT password_hash FROM auth.user WHERE username = 'sysadmin'"
            ).fetchone()
            assert hashed is not None and hashed[0].startswith("$argon2id$") and password not in hashed[0]
            actors = {r[0] for r in conn.execute("SELECT DISTINCT actor_username FROM audit.event")}
            assert any(a.startswith("setup:") for a in actors) and any(a.startswith("cli:") for a in actors)
    finally:
        drop_database(db_name)
