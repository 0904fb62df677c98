"""Archiving the oldest part of the audit chain to a signed file, and only then pruning it.

An archive is a JSON Lines file of sealed rows (their canonical text fields and both hashes), a prefix of
the chain whose rows are all older than a day at least 180 days back. Its SHA-256 — the signature — is
recorded in ``audit.archive`` and in the chain itself, as an ``audit.archive`` event. Pruning takes the file
again, checks its hash against the record and the chain inside it, and has ``audit.prune`` (SECURITY
DEFINER) delete the rows; the database refuses to delete any row younger than 180 days whatever happens.
Verification then starts from the archive's last hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import Connection

from app.audit.chain import BATCH, ChainChecker, SealedRow, seal_all, sealed_rows, start_of
from app.errors import Conflict, Unprocessable
from layers.audit import Actor, record
from layers.district import DISTRICT

RETENTION_DAYS = 180
# The names of a row's canonical fields in an archive line (app.audit.chain.CANONICAL_COLUMNS' order).
FIELD_NAMES = (
    "chain_seq",
    "id",
    "at_us",
    "actor_id",
    "actor_username",
    "actor_org_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "client_ip",
)
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    """A recorded archive: the chain range it holds and its file's SHA-256."""

    id: int
    first_seq: int
    last_seq: int
    rows: int
    last_hash: str
    file_sha256: str


def _line(row: SealedRow) -> bytes:
    body: dict[str, Any] = dict(zip(FIELD_NAMES, row.fields, strict=True))
    body |= {"prev_hash": row.prev_hash.hex(), "row_hash": row.row_hash.hex()}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _row_of(line: bytes) -> SealedRow:
    body = json.loads(line)
    fields = tuple(body[name] for name in FIELD_NAMES)
    return SealedRow(
        int(body["chain_seq"]), int(body["id"]), bytes.fromhex(body["prev_hash"]),
        bytes.fromhex(body["row_hash"]), fields,
    )  # fmt: skip


def _range(conn: Connection[Any], checker: ChainChecker, before: date) -> tuple[int, int]:
    """The chain prefix whose rows are all older than ``before`` (district midnight)."""
    cutoff = datetime.combine(before, time(), tzinfo=DISTRICT.tz)
    row = conn.execute(
        "SELECT (SELECT min(chain_seq) FROM audit.event WHERE chain_seq >= %(start)s AND at >= %(cutoff)s),"
        " (SELECT max(chain_seq) FROM audit.event)",
        {"start": checker.next_seq, "cutoff": cutoff},
    ).fetchone()
    assert row is not None
    stop, head = row
    last = (stop - 1) if stop is not None else head
    if last is None or last < checker.next_seq:
        raise Unprocessable(
            f"{before.isoformat()} 之前没有可归档的审计记录。",
            f"No audit rows before {before.isoformat()} to archive.",
        )
    return checker.next_seq, last


@dataclass
class _Written:
    """What was written to an archive file: its chain range, ids, end hashes and SHA-256."""

    first_seq: int
    first_prev: bytes
    checker: ChainChecker
    digest: Any = field(default_factory=hashlib.sha256)
    first_id: int = 2**63  # ids need not follow the chain's order: the lowest and highest seen
    last_id: int = 0

    def summary(self, before: date, name: str) -> dict[str, Any]:
        """The archive's description as its audit event records it."""
        return {
            "before": before.isoformat(),
            "first_seq": self.first_seq,
            "last_seq": self.checker.next_seq - 1,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "rows": self.checker.rows,
            "first_prev_hash": self.first_prev.hex(),
            "last_hash": self.checker.head_hash.hex(),
            "file_sha256": self.digest.hexdigest(),
            "file_name": name,
        }


def archive(conn: Connection[Any], actor: Actor, before: date, out: Path, today: date) -> ArchiveRecord:
    """Write the sealed rows older than ``before`` to ``out`` and record the file's SHA-256 in the chain.

    ``conn`` is in autocommit mode: the record commits before the file takes its name.
    """
    assert conn.autocommit, "archive() commits its own transactions"
    latest = today - timedelta(days=RETENTION_DAYS)
    if before > latest:
        raise Unprocessable(
            f"审计记录须保留至少 {RETENTION_DAYS} 天：归档截止日期不得晚于 {latest.isoformat()}。",
            f"Audit rows are kept at least {RETENTION_DAYS} days:"
            f" archive before {latest.isoformat()} at the latest.",
        )
    if out.exists():
        raise Conflict(f"文件 {out} 已存在。", f"The file {out} exists already.")
    seal_all(conn)
    checker = start_of(conn)
    first_seq, last_seq = _range(conn, checker, before)
    partial = out.with_name(out.name + ".partial")
    try:
        written = _write(conn, partial, _Written(first_seq, checker.head_hash, checker), last_seq)
        made = _record(conn, actor, written.summary(before, out.name))
    except BaseException:
        partial.unlink(missing_ok=True)  # nothing recorded: no file that looks like an archive is left
        raise
    partial.rename(out)
    return made


def _write(conn: Connection[Any], path: Path, written: _Written, last_seq: int) -> _Written:
    """Stream the range to ``path`` as JSON Lines, checking the chain and hashing the bytes as they go."""
    checker = written.checker
    with path.open("wb") as fh:
        while checker.next_seq <= last_seq:
            rows = sealed_rows(conn, checker.next_seq - 1, min(BATCH, last_seq - checker.next_seq + 1))
            if not rows or not checker.feed(rows):
                raise Conflict(
                    "审计链验证未通过，不能归档；请先运行 duogui audit verify。",
                    "The audit chain does not verify; run duogui audit verify first.",
                )
            for row in rows:
                line = _line(row)
                written.digest.update(line)
                fh.write(line)
                written.first_id, written.last_id = (
                    min(written.first_id, row.id),
                    max(written.last_id, row.id),
                )
        fh.flush()
        os.fsync(fh.fileno())
    return written


def _record(conn: Connection[Any], actor: Actor, summary: dict[str, Any]) -> ArchiveRecord:
    """Record the archive and its audit event in one transaction, then seal that event into the chain."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO audit.archive (before_date, first_seq, last_seq, first_id, last_id, row_count,"
            " first_prev_hash, last_hash, file_sha256, file_name)"
            " VALUES (%(before)s, %(first_seq)s, %(last_seq)s, %(first_id)s, %(last_id)s, %(rows)s,"
            " decode(%(first_prev_hash)s, 'hex'), decode(%(last_hash)s, 'hex'),"
            " decode(%(file_sha256)s, 'hex'), %(file_name)s) RETURNING id",
            summary,
        ).fetchone()
        assert row is not None
        record(conn, actor, "audit.archive", "audit_archive", row[0], after=summary)
    seal_all(conn)
    return ArchiveRecord(
        row[0], summary["first_seq"], summary["last_seq"], summary["rows"], summary["last_hash"],
        summary["file_sha256"],
    )  # fmt: skip


def file_sha256(path: Path) -> bytes:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def prune(conn: Connection[Any], actor: Actor, path: Path) -> int:
    """Delete the rows of the archive ``path`` holds, once its hash and contents match the record."""
    assert conn.autocommit, "prune() commits its own transactions"
    signature = file_sha256(path)
    found = conn.execute(
        "SELECT id, first_seq, last_seq, row_count, first_prev_hash, last_hash, pruned_at"
        " FROM audit.archive WHERE file_sha256 = %s",
        (signature,),
    ).fetchone()
    if found is None:
        raise Unprocessable(
            "此文件不是已记录的审计归档（SHA-256 与任何归档记录都不符）。",
            "This file is not a recorded audit archive (its SHA-256 matches no archive record).",
        )
    archive_id, first_seq, last_seq, count, first_prev, last_hash, pruned_at = found
    if pruned_at is not None:
        raise Conflict(
            f"归档 {archive_id} 已于 {pruned_at:%Y-%m-%d} 清理。", f"Archive {archive_id} was pruned already."
        )
    _check_file(path, first_seq, bytes(first_prev), count, bytes(last_hash))
    _check_event(conn, archive_id, signature)
    try:
        with conn.transaction():
            row = conn.execute("SELECT audit.prune(%s)", (archive_id,)).fetchone()
            removed = int(row[0]) if row else 0
            after = {
                "rows": removed,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "file_sha256": signature.hex(),
            }
            record(conn, actor, "audit.prune", "audit_archive", archive_id, after=after)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise Unprocessable(
            f"数据库拒绝删除：{exc.diag.message_primary}",
            f"The database refused the deletion: {exc.diag.message_primary}",
        ) from exc
    seal_all(conn)
    return removed


def _check_file(path: Path, first_seq: int, first_prev: bytes, count: int, last_hash: bytes) -> None:
    """The file's own chain: from the recorded start, every row linked and hashed, up to the recorded end."""
    checker = ChainChecker(first_seq - 1, first_prev)
    with path.open("rb") as fh:
        for line in fh:
            if not checker.feed([_row_of(line)]):
                break
    if checker.first_break is not None or checker.rows != count or checker.head_hash != last_hash:
        raise Unprocessable(
            "归档文件的内容与其记录不符，未清理任何记录。",
            "The archive file's rows do not match its record; nothing was pruned.",
        )


def _check_event(conn: Connection[Any], archive_id: int, signature: bytes) -> None:
    """The archive's signature must also be in the chain (its sealed ``audit.archive`` event)."""
    seal_all(conn)
    found = conn.execute(
        "SELECT 1 FROM audit.event WHERE action = 'audit.archive' AND object_type = 'audit_archive'"
        " AND object_id = %s AND after->>'file_sha256' = %s AND chain_seq IS NOT NULL",
        (str(archive_id), signature.hex()),
    ).fetchone()
    if found is None:
        raise Unprocessable(
            f"审计链中没有归档 {archive_id} 的记录，未清理任何记录。",
            f"The audit chain holds no record of archive {archive_id}; nothing was pruned.",
        )
