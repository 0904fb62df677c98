"""Retention, archive and prune on a database of their own: rows made old by the owner (trigger disabled)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from app import migrate
from app.audit.chain import verify
from app.cli import cli
from app.deps import today
from app.settings import Settings
from layers.audit import Actor, record
from tests.conftest import cluster_lock, create_throwaway_database, drop_database


@pytest.fixture(scope="module")
def aged() -> Iterator[tuple[Settings, psycopg.Connection[Any]]]:
    """A database whose first five events are 400 days old and the next three new, all sealed."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_archive")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            for i in range(5):
                record(conn, Actor.system("old"), "test.old", "test", i, None, {"i": i})
            # Age them before they are sealed (the hash covers `at`): the owner, trigger disabled.
            conn.execute("ALTER TABLE audit.event DISABLE TRIGGER event_append_only")
            conn.execute("UPDATE audit.event SET at = at - interval '400 days' WHERE action = 'test.old'")
            conn.execute("ALTER TABLE audit.event ENABLE TRIGGER event_append_only")
            for i in range(3):
                record(conn, Actor.system("new"), "test.new", "test", i)
            assert verify(conn).rows_checked == 8
            yield settings, conn
    finally:
        drop_database(name)


@pytest.fixture
def runner(aged: tuple[Settings, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DUOGUI_DATABASE_URL", aged[0].owner_dsn)
    return CliRunner()


def test_archive_then_prune_keeps_a_verifiable_chain(
    aged: tuple[Settings, psycopg.Connection[Any]], runner: CliRunner, tmp_path: Path
) -> None:
    _, conn = aged
    latest = today() - timedelta(days=180)
    out = tmp_path / "audit-archive.jsonl"
    # Nothing may be archived that is younger than 180 days: refused, no file.
    day_after = str(latest + timedelta(days=1))
    too_new = runner.invoke(cli, ["audit", "archive", "--before", day_after, "--out", str(out)])
    assert too_new.exit_code == 1 and "180" in too_new.output and not out.exists()
    # Old rows not (yet) archived cannot be deleted either.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not in a pruned archive"):
        conn.execute("DELETE FROM audit.event WHERE action = 'test.old'")

    made = runner.invoke(cli, ["audit", "archive", "--before", str(latest), "--out", str(out)])
    assert made.exit_code == 0, made.output
    lines = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert [(r["chain_seq"], r["action"]) for r in lines] == [(str(i), "test.old") for i in range(1, 6)]
    signature = hashlib.sha256(out.read_bytes()).hexdigest()
    assert signature in made.output
    # The signature is in the chain: an audit.archive event, sealed, naming the range and both hashes.
    seq, event = conn.execute(
        "SELECT chain_seq, after FROM audit.event WHERE action = 'audit.archive'"
    ).fetchone()
    assert seq == 9 and event["file_sha256"] == signature
    assert (event["first_seq"], event["last_seq"], event["rows"]) == (1, 5, 5)
    assert event["last_hash"] == lines[-1]["row_hash"] and event["first_prev_hash"] == "00" * 32
    assert not list(tmp_path.glob("*.partial"))

    # A file that differs by one byte is no recorded archive: nothing pruned.
    forged = tmp_path / "forged.jsonl"
    forged.write_bytes(out.read_bytes().replace(b"test.old", b"test.odd", 1))
    refused = runner.invoke(cli, ["audit", "prune", "--archive", str(forged)])
    assert refused.exit_code == 1 and "SHA-256" in refused.output
    assert conn.execute("SELECT count(*) FROM audit.event WHERE action = 'test.old'").fetchone()[0] == 5

    pruned = runner.invoke(cli, ["audit", "prune", "--archive", str(out)])
    assert pruned.exit_code == 0 and "pruned 5" in pruned.output, pruned.output
    assert conn.execute("SELECT count(*) FROM audit.event WHERE action = 'test.old'").fetchone()[0] == 0
    # The chain now starts after the archive's last hash, and still proves to its head.
    report = verify(conn)
    assert report.verified and report.starts_after_archive is not None and report.first_seq == 6
    first_prev = conn.execute("SELECT prev_hash FROM audit.event WHERE chain_seq = 6").fetchone()[0]
    assert bytes(first_prev).hex() == lines[-1]["row_hash"]
    again = runner.invoke(cli, ["audit", "prune", "--archive", str(out)])
    assert again.exit_code == 1


def test_young_rows_survive_even_a_recorded_archive(aged: tuple[Settings, psycopg.Connection[Any]]) -> None:
    """An archive record covering young rows (forged by the owner) still deletes nothing."""
    _, conn = aged
    seq = conn.execute("SELECT min(chain_seq) FROM audit.event WHERE action = 'test.new'").fetchone()[0]
    with conn.transaction(force_rollback=True):
        archive_id = conn.execute(
            "INSERT INTO audit.archive (before_date, first_seq, last_seq, first_id, last_id, row_count,"
            " first_prev_hash, last_hash, file_sha256, file_name)"
            " VALUES (current_date, %s, %s, 1, 1, 1, sha256(''), sha256(''), sha256('x'), 'x') RETURNING id",
            (seq, seq),
        ).fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="younger than 180 days"):
            conn.execute("SELECT audit.prune(%s)", (archive_id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="TRUNCATE"):
        conn.execute("TRUNCATE audit.event")
    assert verify(conn).verified
