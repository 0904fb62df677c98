"""The local cluster's archive_command: atomic copy, idempotent for the same file, refuses a different one,
and archives nothing before the first base backup."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.localdb import ARCHIVE_MARKER, CONF_INCLUDE, DUOGUI_CONF, LocalCluster

SEGMENT = "000000010000000000000007"


def _cluster(tmp_path: Path) -> LocalCluster:
    cluster = LocalCluster(tmp_path / "data", 55_432)
    cluster.pgdata.mkdir(parents=True)
    (cluster.pgdata / "postgresql.conf").write_text("max_connections = 100\n", encoding="utf-8")
    return cluster


def _archive(cluster: LocalCluster, source: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(cluster.archive_script), str(source), SEGMENT]
    return subprocess.run(argv, capture_output=True, text=True)


def test_configuration_is_included_once_and_names_the_script(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    assert cluster.configure_archiving() is True
    assert cluster.configure_archiving() is False  # unchanged: no reload needed
    main = (cluster.pgdata / "postgresql.conf").read_text(encoding="utf-8")
    assert main.count(CONF_INCLUDE) == 1 and main.startswith("max_connections = 100\n")
    conf = (cluster.pgdata / DUOGUI_CONF).read_text(encoding="utf-8")
    assert "archive_mode = on\n" in conf
    assert f"archive_command = '{cluster.archive_script} %p %f'\n" in conf


def test_segments_are_copied_once_a_base_backup_exists_and_never_overwritten(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    cluster.configure_archiving()
    segment = tmp_path / "segment"
    segment.write_bytes(b"\x01" * 4096)
    archived = cluster.wal_archive / SEGMENT

    assert _archive(cluster, segment).returncode == 0
    assert not archived.exists()  # no base backup yet: nothing could replay it

    (cluster.wal_archive / ARCHIVE_MARKER).touch()
    assert _archive(cluster, segment).returncode == 0
    assert archived.read_bytes() == segment.read_bytes()
    assert sorted(p.name for p in cluster.wal_archive.iterdir()) == [ARCHIVE_MARKER, SEGMENT]
    assert _archive(cluster, segment).returncode == 0  # a retry of the same segment succeeds

    segment.write_bytes(b"\x02" * 4096)
    refused = _archive(cluster, segment)
    assert refused.returncode == 1
    assert "different content" in refused.stderr
    assert archived.read_bytes() == b"\x01" * 4096
