"""The backup drill, in a throwaway cluster of its own (initdb in tmp, its own port, WAL archiving on).

Point-in-time recovery returns exactly the state of the chosen moment (layers, stored reports, audit rows,
calendar), a `duogui backup` restores into a fresh database with the same state, and a corrupt, truncated
or missing file is named by the manifest before anything is restored. The expected states are read straight
from the source database with plain SQL at the moment itself, not through the code under test.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
from alembic import command
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from analysis.checkindex import catch_up
from analysis.checkplan import get_check_plan
from analysis.engine import evaluate
from analysis.footprint import Footprint
from app import migrate
from app.audit.chain import seal_all
from app.audit.chain import verify as verify_chain
from app.auth import users
from app.auth.policy import Role
from app.backup.dump import create_backup
from app.backup.manifest import MANIFEST, BackupError, verify
from app.backup.pitr import recover_to, take_base_backup
from app.backup.restore import restore_backup
from app.calendar.store import CalendarDay, CalendarYearInput, replace_year
from app.localdb import PG_BIN, LocalCluster
from app.orgs.service import seed_organisations
from app.preevaluation.store import insert_report
from app.settings import Settings
from layers.audit import Actor, record
from layers.catalog.model import get_catalog
from layers.ingest.load import import_file
from layers.store.versions import register_layers

pytestmark = pytest.mark.skipif(not (PG_BIN / "pg_basebackup").exists(), reason="PostgreSQL 15 is missing")

# The `duogui` command of this checkout (the installed script may belong to another one).
DUOGUI = [sys.executable, "-c", "from app.cli import main; main()"]
PROJECT = Path(__file__).resolve().parents[2]
ACTOR = Actor.system("drill")
X0, Y0 = 521_000.0, 2_509_000.0
PARK, UNITS, SHADE = "eco_forest_park", "cdp_unit", "base_hillshade"


@dataclass
class Drill:
    """The throwaway cluster, settings bound to its database, and a scratch folder."""

    cluster: LocalCluster
    settings: Settings
    work: Path
    user_id: int
    org_id: int

    def connect(self, dbname: str = "duogui") -> psycopg.Connection[Any]:
        """An owner connection to a database of the drill cluster."""
        return psycopg.connect(self.cluster.dsn(dbname=dbname), autocommit=True)

    def env(self) -> dict[str, str]:
        """Environment for the `duogui` command bound to the drill cluster."""
        return {
            **os.environ,
            "DUOGUI_DATA_DIR": str(self.cluster.data_dir),
            "DUOGUI_LOCAL_PG_PORT": str(self.cluster.port),
            "DATABASE_URL": self.cluster.dsn(),
        }


def _free_port() -> int:
    # The cluster listens on a socket only; the port names the socket and keys shared memory.
    return random.randint(55_000, 59_000)


@pytest.fixture(scope="module")
def drill() -> Iterator[Drill]:
    """A fresh cluster with archiving on, migrated, with layers, a report, calendar and audit rows."""
    # Not under pytest's tmp_path: the server's OS user must traverse its parents, and concurrent pytest
    # sessions reset /tmp/pytest-of-<user> to 0700.
    work = Path(tempfile.mkdtemp(prefix="duogui-drill-"))
    cluster = LocalCluster(work / "data", _free_port())
    cluster.ensure_running(quiet=True)
    cluster.ensure_database("duogui", "duogui_app")
    settings = _settings(cluster, cluster.dsn(), cluster.data_dir)
    try:
        migrate.upgrade(settings)
        with psycopg.connect(settings.owner_dsn) as conn:
            seed_organisations(conn, ACTOR)
            register_layers(conn, get_catalog())
            user, _ = users.create_user(
                conn,
                ACTOR,
                users.UserCreate(username="drill", role=Role.PLANNER, org_code="pnr"),
            )
        drill = Drill(cluster, settings, work, user.id, user.org_id)
        _import(drill, PARK, 2)
        _import(drill, UNITS, 4)
        _import_raster(drill)
        _store_report(drill, 0.0)
        _set_year(drill, 2030, "2030-10-01")
        yield drill
    finally:
        cluster.stop()
        LocalCluster(work / "pitr", cluster.port + 1).stop()
        shutil.rmtree(work, ignore_errors=True)


def _settings(cluster: LocalCluster, dsn: str, data_dir: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        local_pg_port=cluster.port,
        database_url=SecretStr(dsn),
        demo_scale="none",
    )


def _import(drill: Drill, code: str, n: int) -> None:
    boxes = [shapely.box(X0 + i * 300, Y0, X0 + i * 300 + 200, Y0 + 200) for i in range(n)]
    frame = gpd.GeoDataFrame({"name": [f"{code}-{i}" for i in range(n)]}, geometry=boxes, crs=4547)
    path = drill.work / f"{code}-{n}.gpkg"
    frame.to_file(path, driver="GPKG")
    with psycopg.connect(drill.settings.owner_dsn) as conn:
        import_file(conn, get_catalog().get(code), path, path.name, ACTOR, drill.settings.data_dir)
        catch_up(conn, get_check_plan(), [code])


def _import_raster(drill: Drill) -> None:
    import rasterio
    from rasterio.transform import from_origin

    path = drill.work / "shade.tif"
    data = np.arange(400, dtype=np.uint8).reshape(20, 20)
    profile = {"driver": "GTiff", "width": 20, "height": 20, "count": 1, "dtype": "uint8", "crs": "EPSG:4547"}
    with rasterio.open(path, "w", transform=from_origin(X0, Y0 + 200, 10, 10), **profile) as out:
        out.write(data, 1)
    with psycopg.connect(drill.settings.owner_dsn) as conn:
        import_file(conn, get_catalog().get(SHADE), path, path.name, ACTOR, drill.settings.data_dir)


def _store_report(drill: Drill, dx: float) -> None:
    footprint = shapely.box(X0 + dx, Y0, X0 + dx + 150, Y0 + 150)
    with psycopg.connect(drill.settings.owner_dsn) as conn:
        report = evaluate(conn, Footprint(footprint, footprint.area), "housing", plan=get_check_plan())
        with conn.transaction():
            report_id, _ = insert_report(conn, drill.user_id, drill.org_id, None, footprint, report)
            record(conn, ACTOR, "pre_evaluation.create", "pre_evaluation", report_id, after={"dx": dx})


def _set_year(drill: Drill, year: int, holiday: str) -> None:
    data = CalendarYearInput(
        source="drill", holidays=[CalendarDay(date=date.fromisoformat(holiday), name="假日")]
    )
    with psycopg.connect(drill.settings.owner_dsn) as conn:
        replace_year(conn, ACTOR, year, data)


def _state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """What the drill compares, read with plain SQL: current layers and their feature counts, the SHA-256
    of every stored report's JSON, every audit row, the calendar."""
    layers = conn.execute(
        """
        SELECT l.code, v.number, (SELECT count(*) FROM basemap.feature f WHERE f.version_id = v.id)
        FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version ORDER BY l.code
        """
    ).fetchall()
    reports = {
        r[0]: hashlib.sha256(r[1].encode()).hexdigest()
        for r in conn.execute("SELECT id, report::text FROM project.pre_evaluation ORDER BY id")
    }
    audit = conn.execute(
        "SELECT id, at, actor_username, action, object_type, object_id, before::text, after::text,"
        " chain_seq, row_hash FROM audit.event ORDER BY id"
    ).fetchall()
    years = conn.execute("SELECT year, source, status FROM approval.calendar_year ORDER BY year").fetchall()
    days = conn.execute("SELECT day, working, name FROM approval.calendar_day ORDER BY day").fetchall()
    return {"layers": layers, "reports": reports, "audit": audit, "years": years, "days": days}


def test_point_in_time_recovery_returns_exactly_the_state_of_that_moment(drill: Drill) -> None:
    take_base_backup(drill.cluster, keep=2)
    # Change set A: a new layer version, a second report, a calendar year.
    _import(drill, PARK, 3)
    _store_report(drill, 400.0)
    _set_year(drill, 2031, "2031-10-01")
    with drill.connect() as conn:
        seal_all(conn)  # the sealed chain up to the target must come back, hashes and all
        target = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        at_target = _state(conn)
        conn.execute("SELECT pg_switch_wal()")
    # Change set B, after the target time.
    _import(drill, UNITS, 5)
    _store_report(drill, 800.0)
    _set_year(drill, 2031, "2031-10-02")
    _set_year(drill, 2032, "2032-10-01")
    with drill.connect() as conn:
        after_b = _state(conn)

    recovered = LocalCluster(drill.work / "pitr", drill.cluster.port + 1)
    recover_to(drill.cluster, target, recovered)
    with psycopg.connect(recovered.dsn(), autocommit=True) as conn:
        state = _state(conn)
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        chain = verify_chain(conn)  # seals nothing new (the target's rows were sealed) and proves them
    recovered.stop()

    assert state == at_target
    assert chain.verified and chain.rows_checked == len(state["audit"])
    assert chain.head_hash == bytes(state["audit"][-1][-1]).hex()
    assert {c: n for c, _, n in state["layers"]}[PARK] == 3  # A is there
    assert {c: n for c, _, n in state["layers"]}[UNITS] == 4  # B is not
    assert len(state["reports"]) == 2 and len(after_b["reports"]) == 3
    assert [y[0] for y in state["years"] if y[1] == "drill"] == [2030, 2031]
    assert date(2031, 10, 1) in [d[0] for d in state["days"]]
    assert date(2031, 10, 2) not in [d[0] for d in state["days"]]
    assert state["audit"] == after_b["audit"][: len(state["audit"])]
    assert (
        max(row[1] for row in state["audit"])
        <= target
        < min(row[1] for row in after_b["audit"][len(state["audit"]) :])
    )


@pytest.fixture(scope="module")
def backup(drill: Drill) -> Path:
    """A `duogui backup` of the drill database."""
    out = drill.work / "backup"
    result = subprocess.run(
        [*DUOGUI, "backup", "--out", str(out)], env=drill.env(), capture_output=True, text=True, cwd=PROJECT
    )
    assert result.returncode == 0, result.stderr
    return out


def test_backup_restores_into_a_fresh_database_with_the_same_state(drill: Drill, backup: Path) -> None:
    manifest = verify(backup)
    rasters = [f for f in manifest.files if f.path.startswith("rasters/")]
    assert rasters, "the raster layer's file is in the backup"
    with drill.connect() as conn:
        expected = _state(conn)
        assert manifest.counts["audit.event"] == len(expected["audit"])
    restored_files = drill.work / "restored-data"
    settings = _settings(drill.cluster, drill.cluster.dsn(), restored_files)
    report = restore_backup(settings, backup, "restored")
    with drill.connect("restored") as conn:
        assert _state(conn) == expected
        assert verify_chain(conn).verified
    for entry in rasters:
        path = restored_files / entry.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    assert report.revision_after == migrate.head_revision()

    # A non-empty database is not overwritten unless asked.
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(settings, backup, "restored")
    restore_backup(settings, backup, "restored", replace=True)


def _restore_cli(drill: Drill, source: Path, database: str, files: Path) -> subprocess.CompletedProcess[str]:
    argv = [*DUOGUI, "restore", "--from", str(source), "--database", database]
    env = {**drill.env(), "DUOGUI_DATA_DIR": str(files)}
    return subprocess.run(argv, env=env, capture_output=True, text=True, cwd=PROJECT)


def _database_exists(drill: Drill, name: str) -> bool:
    with drill.connect("postgres") as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_a_corrupt_or_missing_file_is_named_and_nothing_is_restored(drill: Drill, backup: Path) -> None:
    corrupt = drill.work / "corrupt"
    shutil.copytree(backup, corrupt)
    dump = corrupt / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    files = drill.work / "untouched"
    result = _restore_cli(drill, corrupt, "from_corrupt", files)
    assert result.returncode == 1
    assert "database.dump: SHA-256 differs" in result.stderr
    assert not _database_exists(drill, "from_corrupt")
    assert not files.exists()

    missing = drill.work / "missing"
    shutil.copytree(backup, missing)
    raster = next(p for p in missing.rglob("*.tif"))
    raster.unlink()
    with pytest.raises(BackupError) as caught:
        restore_backup(drill.settings, missing, "from_missing")
    assert caught.value.details == [f"{raster.relative_to(missing).as_posix()}: missing"]
    assert not _database_exists(drill, "from_missing")

    truncated = drill.work / "truncated"
    shutil.copytree(backup, truncated)
    with (truncated / "database.dump").open("r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(BackupError) as caught:
        restore_backup(drill.settings, truncated, "from_truncated")
    assert caught.value.details[0].startswith("database.dump: 1000 bytes")
    assert not _database_exists(drill, "from_truncated")
    assert (backup / MANIFEST).exists()


def test_a_backup_of_an_older_schema_is_migrated_after_the_restore(drill: Drill) -> None:
    with drill.connect("postgres") as conn:
        conn.execute("CREATE DATABASE older")
    older = make_conninfo(drill.cluster.dsn(), dbname="older")
    command.upgrade(migrate.alembic_config(older, "duogui_app"), "0009_item_english_names")
    settings = _settings(drill.cluster, older, drill.cluster.data_dir)
    out = drill.work / "older-backup"
    assert create_backup(settings, out).migration_head == "0009_item_english_names"
    report = restore_backup(settings, out, "older_restored")
    assert (report.revision_before, report.revision_after) == (
        "0009_item_english_names",
        migrate.head_revision(),
    )
    assert migrate.current_revision(make_conninfo(older, dbname="older_restored")) == migrate.head_revision()
