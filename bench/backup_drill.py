"""The backup drill on a loaded database (the `district` demo of `make run`): how long each step takes.

    DUOGUI_DATA_DIR=… .venv/bin/python -m bench.backup_drill [--keep]

Backs up the configured database (`duogui backup`), restores it into a throwaway cluster with WAL archiving
(`duogui restore`), takes a base backup there, makes change A, notes the time, makes change B and recovers
to that time into a second throwaway cluster (`duogui local pitr`), checking that A is there and B is not.
Prints one line per step. The source database is only read.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg
from pydantic import SecretStr

from app.backup.dump import create_backup
from app.backup.pitr import recover_to, take_base_backup
from app.backup.restore import restore_backup
from app.calendar.store import CalendarDay, CalendarYearInput, replace_year
from app.localdb import LocalCluster
from app.settings import Settings
from layers.audit import Actor

ACTOR = Actor.system("bench")


def _size(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _year(dsn: str, year: int) -> None:
    data = CalendarYearInput(source="bench", holidays=[CalendarDay(date=date(year, 10, 1), name="假日")])
    with psycopg.connect(dsn) as conn:
        replace_year(conn, ACTOR, year, data)


def main() -> None:
    """Run the drill once and print the durations."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    source = Settings()
    work = Path(tempfile.mkdtemp(prefix="duogui-drill-bench-"))
    port = random.randint(55_000, 59_000)
    restored = LocalCluster(work / "restored", port)
    recovered = LocalCluster(work / "recovered", port + 1)
    rows: list[tuple[str, float, str]] = []

    def step(name: str, started: float, note: str = "") -> None:
        rows.append((name, time.monotonic() - started, note))

    try:
        started = time.monotonic()
        manifest = create_backup(source, work / "backup")
        step("duogui backup", started, f"{_size(work / 'backup'):.0f} MB, {len(manifest.files)} files")
        restored.ensure_running(quiet=True)
        restored.ensure_database("duogui", source.app_role)
        target = Settings(data_dir=restored.data_dir, database_url=SecretStr(restored.dsn()))
        started = time.monotonic()
        restore_backup(target, work / "backup", "duogui", replace=True)
        step("duogui restore (verify, pg_restore, files)", started, f"{sum(manifest.counts.values()):,} rows")
        started = time.monotonic()
        base = take_base_backup(restored, keep=1)
        step("duogui local basebackup", started, f"{_size(base.path):.0f} MB")
        _year(restored.dsn(), 2090)
        with psycopg.connect(restored.dsn()) as conn:
            moment = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        _year(restored.dsn(), 2091)
        started = time.monotonic()
        recover_to(restored, moment, recovered)
        step("duogui local pitr (copy, replay, promote)", started)
        with psycopg.connect(recovered.dsn()) as conn:
            years = [r[0] for r in conn.execute("SELECT year FROM approval.calendar_year WHERE year >= 2090")]
        assert years == [2090], years
    finally:
        recovered.stop()
        restored.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:7.1f} s  {note}")
    print(f"{'whole drill':<{width}}  {sum(r[1] for r in rows):7.1f} s")


if __name__ == "__main__":
    main()
