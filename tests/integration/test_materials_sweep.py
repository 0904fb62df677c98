"""`duogui materials sweep`: orphan files (no material.blob row) removed only when old enough, rows whose
file is missing reported and kept, dry run changes nothing."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.materials import service
from app.materials.storage import LocalBlobStore
from app.orgs.service import OrgKind
from app.settings import Settings
from layers.audit import Actor


@pytest.fixture
def runner(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    assert settings.database_url is not None
    monkeypatch.setenv("DUOGUI_DATABASE_URL", settings.database_url.get_secret_value())
    # A store of this test's own: the shared data directory holds other databases' files, which are
    # orphans as far as this throwaway database can tell.
    monkeypatch.setenv("DUOGUI_FILES_DIR", str(tmp_path / "files"))
    return CliRunner()


def _backdate(path: Path, hours: float) -> None:
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))


def test_sweep_lists_then_removes_old_orphans_and_reports_missing_files(
    runner: CliRunner, tmp_path: Path, make_org: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    store = LocalBlobStore(tmp_path / "files")
    org_id, _ = make_org(OrgKind.PROJECT_UNIT)
    # A stored material: a row and its file (older than the limit: age alone never removes a file).
    kept = service.store_generated(
        owner_conn, Actor.system("tests"), org_id, None, "application", "sweep_kept", "kept.txt",
        f"kept {uuid.uuid4()}".encode(), "text/plain", store=store,
    )  # fmt: skip
    _backdate(store.path_of(kept.sha256), 100)
    # Orphans made by hand, as a crash between placing and commit leaves them: one two days old, one
    # just written (an upload in flight), and a stale temporary file of the staging folder.
    old_bytes, young_bytes = os.urandom(100), os.urandom(100)
    old, young = hashlib.sha256(old_bytes).hexdigest(), hashlib.sha256(young_bytes).hexdigest()
    for sha, data in ((old, old_bytes), (young, young_bytes)):
        store.path_of(sha).parent.mkdir(parents=True, exist_ok=True)
        store.path_of(sha).write_bytes(data)
    _backdate(store.path_of(old), 48)
    temporary = store.staging_dir() / ".incoming-crashed"
    temporary.write_bytes(b"half an upload")
    _backdate(temporary, 30)
    # A row whose file is gone (deleted by hand): reported, never deleted.
    gone = hashlib.sha256(os.urandom(100)).hexdigest()
    owner_conn.execute(
        "INSERT INTO material.blob (sha256, size, media_type) VALUES (%s, 100, 'text/plain')", (gone,)
    )
    try:
        r = runner.invoke(cli, ["materials", "sweep", "--dry-run"])
        assert r.exit_code == 2, r.output  # 2: some row's file is missing
        lines = r.output.splitlines()
        assert [ln.split("\t")[2] for ln in lines if ln.startswith(f"orphan\t{old}\t")] != []
        assert f"orphan\t{old}\t" in r.output and "would remove" in r.output
        assert young not in r.output and kept.sha256 not in r.output
        assert f"temporary\t{temporary}\twould remove" in r.output
        assert f"missing\t{gone}\t" in r.output
        # The dry run changed nothing.
        assert store.exists(old) and store.exists(young) and store.exists(kept.sha256) and temporary.exists()

        r = runner.invoke(cli, ["materials", "sweep"])
        assert r.exit_code == 2, r.output
        assert f"orphan\t{old}\t" in r.output and "\tremoved" in r.output
        assert not store.exists(old) and not temporary.exists()
        assert store.exists(young)  # younger than 24 hours: may be an upload in flight
        assert store.exists(kept.sha256)  # named by a row
        rows = owner_conn.execute("SELECT count(*) FROM material.blob WHERE sha256 = %s", (gone,)).fetchone()
        assert rows == (1,)  # reported, kept
        audit = owner_conn.execute(
            "SELECT after FROM audit.event WHERE action = 'material.sweep' AND after->'removed' ? %s", (old,)
        ).fetchall()
        assert len(audit) == 1 and audit[0][0]["removed"] == [old]

        # A lower limit takes the younger one too once it is old enough; the row's file is still served.
        _backdate(store.path_of(young), 2)
        r = runner.invoke(cli, ["materials", "sweep", "--min-age-hours", "1"])
        assert f"orphan\t{young}\t" in r.output and not store.exists(young)
        assert store.exists(kept.sha256)
        r = runner.invoke(cli, ["materials", "sweep", "--min-age-hours", "0"])
        assert r.exit_code != 0  # below the floor of one hour: refused
    finally:
        owner_conn.execute("DELETE FROM material.blob WHERE sha256 = %s", (gone,))
