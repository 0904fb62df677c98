"""Point-in-time recovery of the local cluster: base backups (``pg_basebackup``) and recovery into a new
cluster from them and the WAL archive (``restore_command`` + ``recovery_target_time``)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from app.backup.manifest import BackupError
from app.localdb import ARCHIVE_MARKER, OWNER_ROLE, PG_BIN, LocalCluster, LocalClusterError, conf_quote

BASE_BACKUPS = "base-backups"
# backup_label names the first WAL segment a base backup needs: "START WAL LOCATION: 0/2000028 (file 0…02)".
_START_WAL = re.compile(r"^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$", re.MULTILINE)


@dataclass(frozen=True)
class BaseBackup:
    """One base backup: its folder and the server time when it had finished (it is consistent by then)."""

    path: Path
    finished_at: datetime

    @property
    def start_wal(self) -> str:
        """The oldest WAL segment the backup needs."""
        found = _START_WAL.search((self.path / "backup_label").read_text(encoding="utf-8"))
        if found is None:
            raise BackupError(f"{self.path} 缺少 backup_label。", f"{self.path}: no usable backup_label.")
        return found.group(1)


def base_backups(cluster: LocalCluster) -> list[BaseBackup]:
    """The base backups of a cluster, oldest first."""
    folder = cluster.data_dir / BASE_BACKUPS
    found = []
    for meta in sorted(folder.glob("*.json")):
        finished = datetime.fromisoformat(json.loads(meta.read_text(encoding="utf-8"))["finished_at"])
        if meta.with_suffix("").is_dir():
            found.append(BaseBackup(meta.with_suffix(""), finished))
    return sorted(found, key=lambda b: b.finished_at)


def take_base_backup(cluster: LocalCluster, keep: int) -> BaseBackup:
    """Take a base backup of the running cluster; keep the newest ``keep`` and the WAL they need."""
    if not cluster.is_running():
        raise BackupError("本地集群未运行。", "The local cluster is not running: `duogui local start`.")
    _require_archiving(cluster)
    # From now on every finished segment is archived (before it, none could ever be replayed).
    marker = cluster.wal_archive / ARCHIVE_MARKER
    marker.touch()
    folder = cluster.data_dir / BASE_BACKUPS
    folder.mkdir(exist_ok=True)
    cluster.own(folder)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / name
    argv = [str(PG_BIN / "pg_basebackup"), "-D", str(target), "-X", "stream", "--checkpoint=fast"]
    argv += ["-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", OWNER_ROLE, "--no-password"]
    try:
        cluster.run_as_owner(argv)
    except LocalClusterError as exc:
        raise BackupError("基础备份失败。", f"pg_basebackup failed: {exc}") from exc
    with psycopg.connect(cluster.dsn(dbname="postgres")) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    backup = BaseBackup(target, row[0])
    meta = folder / f"{name}.json"
    meta.write_text(json.dumps({"finished_at": backup.finished_at.isoformat()}) + "\n", encoding="utf-8")
    _prune(cluster, keep)
    return backup


def _require_archiving(cluster: LocalCluster) -> None:
    with psycopg.connect(cluster.dsn(dbname="postgres")) as conn:
        row = conn.execute("SHOW archive_mode").fetchone()
    if row is None or row[0] == "off":
        raise BackupError(
            "WAL 归档尚未生效，请重启本地集群。",
            "WAL archiving is not on yet; restart the cluster: `duogui local stop && duogui local start`.",
        )


def _prune(cluster: LocalCluster, keep: int) -> None:
    """Remove base backups beyond the newest ``keep`` and the archived WAL only they needed."""
    backups = base_backups(cluster)
    for old in backups[: max(0, len(backups) - keep)]:
        shutil.rmtree(old.path)
        old.path.with_suffix(".json").unlink()
    kept = base_backups(cluster)
    if kept:
        cluster.run_as_owner([str(PG_BIN / "pg_archivecleanup"), str(cluster.wal_archive), kept[0].start_wal])


def recover_to(
    source: LocalCluster, target_time: datetime, into: LocalCluster, *, timeout_s: float = 300
) -> BaseBackup:
    """Restore the newest base backup finished before ``target_time`` into ``into`` (a new cluster folder),
    replay archived WAL up to that time, promote it and wait until it accepts writes."""
    if into.pgdata.exists() and any(into.pgdata.iterdir()):
        raise BackupError(f"{into.pgdata} 不是空目录。", f"{into.pgdata} is not empty; choose a new folder.")
    usable = [b for b in base_backups(source) if b.finished_at <= target_time]
    if not usable:
        raise BackupError(
            "目标时间之前没有基础备份。", f"No base backup finished before {target_time.isoformat()}."
        )
    backup = usable[-1]
    if source.is_running():
        _archive_current_segment(source, target_time)
    into.prepare_dirs()
    source.run_as_owner([str(PG_BIN / "pg_verifybackup"), str(backup.path)])
    source.run_as_owner(["cp", "-a", f"{backup.path}/.", str(into.pgdata)])
    restore = f"cp {shlex.quote(str(source.wal_archive))}/%f %p"
    into.configure_archiving(
        "# Point-in-time recovery (ignored once promoted: recovery.signal is gone).\n"
        f"restore_command = {conf_quote(restore)}\n"
        f"recovery_target_time = '{target_time.isoformat()}'\n"
        "recovery_target_action = 'promote'\n"
    )
    signal = into.pgdata / "recovery.signal"
    signal.touch()
    into.own(signal)
    into.start()
    _wait_promoted(into, timeout_s)
    return backup


def _archive_current_segment(cluster: LocalCluster, target_time: datetime) -> None:
    """Close the current WAL segment and wait until it is archived, so the latest commits are reachable."""
    with psycopg.connect(cluster.dsn(dbname="postgres"), autocommit=True) as conn:
        now = conn.execute("SELECT now()").fetchone()
        if now is not None and target_time >= now[0]:
            raise BackupError("目标时间尚未到来。", f"The target time is not in the past ({now[0]}).")
        # A commit after the target: recovery stops at the first one it meets (else it finds no end).
        conn.execute("SELECT txid_current()")
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        wanted = str(row[0])
        for _ in range(600):
            if (cluster.wal_archive / wanted).exists():
                return
            time.sleep(0.1)
    raise BackupError("WAL 归档超时。", f"WAL segment {wanted} was not archived within a minute.")


def _wait_promoted(cluster: LocalCluster, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(cluster.dsn(dbname="postgres"), connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                return
        except psycopg.OperationalError:
            if not cluster.is_running():
                break
        time.sleep(0.2)
    raise BackupError("时间点恢复未完成。", f"Point-in-time recovery did not finish:\n{cluster.log_tail()}")
