"""The audit chain checked in Python: the canonical form and SHA-256 recomputed apart from the SQL sealer.

The sealer (``audit.seal`` in migration 0012) writes the chain; this module never trusts it. It reads each
sealed row's fields as the text the database returns, frames them itself (``-`` for NULL, else
``<UTF-8 byte length>:<UTF-8 bytes>``), hashes ``prev_hash || canonical`` with hashlib and walks the chain
in ``chain_seq`` order: the first row whose number, link or content does not hold is the first break.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import Connection
from pydantic import BaseModel, Field

GENESIS = bytes(32)
# The fields of the canonical form, as text, in their order (the sealer's audit.canonical).
CANONICAL_COLUMNS = (
    "chain_seq::text",
    "id::text",
    "(extract(epoch FROM at) * 1000000)::bigint::text",
    "actor_id::text",
    "actor_username",
    "actor_org_id::text",
    "action",
    "object_type",
    "object_id",
    "before::text",
    "after::text",
    "request_id",
    "client_ip::text",
)
# Rows read per round trip.
BATCH = 5000
# Rows sealed per call of audit.seal (one transaction each).
SEAL_BATCH = 5000

_SELECT_SEALED = (
    "SELECT chain_seq, id, prev_hash, row_hash, "
    + ", ".join(CANONICAL_COLUMNS)
    + " FROM audit.event WHERE chain_seq > %s ORDER BY 1 LIMIT %s"
)


@dataclass(frozen=True, slots=True)
class SealedRow:
    """One sealed row: its place in the chain, the stored hashes and its fields as text."""

    chain_seq: int
    id: int
    prev_hash: bytes
    row_hash: bytes
    fields: tuple[str | None, ...]


def canonical(fields: Iterable[str | None]) -> bytes:
    """The canonical bytes of a row's text fields: each one length-prefixed, NULL marked by ``-``."""
    out = bytearray()
    for value in fields:
        if value is None:
            out += b"-"
        else:
            data = value.encode("utf-8")
            out += str(len(data)).encode("ascii") + b":" + data
    return bytes(out)


def row_hash(prev_hash: bytes, fields: Iterable[str | None]) -> bytes:
    """SHA-256 over the previous row's hash and this row's canonical form."""
    return hashlib.sha256(prev_hash + canonical(fields)).digest()


class ChainBreak(BaseModel):
    """The first row where the chain does not hold."""

    id: int = Field(description="审计记录 ID")
    chain_seq: int = Field(description="链序号")
    kind: Literal["gap", "link", "content"] = Field(
        description="gap：序号不连续（有记录被删除）；link：前一哈希不符；content：内容哈希不符（记录被改动）"
    )
    expected: str = Field(description="应为（序号或十六进制哈希）")
    found: str = Field(description="实为")


class ChainReport(BaseModel):
    """What a verification proved: the chain up to its head, or its first break."""

    verified: bool
    rows_checked: int = Field(description="已验证的记录数")
    first_seq: int | None = Field(description="验证起点的链序号")
    last_seq: int | None = Field(description="最后一条已验证记录的链序号")
    head_hash: str = Field(description="链头哈希（十六进制）")
    starts_after_archive: int | None = Field(description="链从此归档（已清理）之后开始；无则从创世开始")
    first_break: ChainBreak | None = None


class ChainChecker:
    """Walks sealed rows in chain order, from a start (the genesis or a pruned archive's last row)."""

    def __init__(
        self, after_seq: int = 0, after_hash: bytes = GENESIS, archive_id: int | None = None
    ) -> None:
        self.next_seq = after_seq + 1
        self.head_hash = after_hash
        self.archive_id = archive_id
        self.first_seq: int | None = None
        self.rows = 0
        self.first_break: ChainBreak | None = None

    def feed(self, rows: Sequence[SealedRow]) -> bool:
        """Check a batch (in chain order); False once a break is found."""
        for row in rows:
            found = self._break_at(row)
            if found is not None:
                self.first_break = found
                return False
            self.first_seq = row.chain_seq if self.first_seq is None else self.first_seq
            self.rows += 1
            self.next_seq = row.chain_seq + 1
            self.head_hash = row.row_hash
        return True

    def _break_at(self, row: SealedRow) -> ChainBreak | None:
        def broken(kind: Literal["gap", "link", "content"], expected: str, found: str) -> ChainBreak:
            return ChainBreak(id=row.id, chain_seq=row.chain_seq, kind=kind, expected=expected, found=found)

        if row.chain_seq != self.next_seq:
            return broken("gap", str(self.next_seq), str(row.chain_seq))
        if row.prev_hash != self.head_hash:
            return broken("link", self.head_hash.hex(), row.prev_hash.hex())
        recomputed = row_hash(row.prev_hash, row.fields)
        if recomputed != row.row_hash:
            return broken("content", recomputed.hex(), row.row_hash.hex())
        return None

    def report(self) -> ChainReport:
        """The outcome so far."""
        return ChainReport(
            verified=self.first_break is None,
            rows_checked=self.rows,
            first_seq=self.first_seq,
            last_seq=self.next_seq - 1 if self.rows else None,
            head_hash=self.head_hash.hex(),
            starts_after_archive=self.archive_id,
            first_break=self.first_break,
        )


def start_of(conn: Connection[Any]) -> ChainChecker:
    """A checker starting where the remaining chain starts: after the last pruned archive, or the genesis."""
    row = conn.execute(
        "SELECT id, last_seq, last_hash FROM audit.archive WHERE pruned_at IS NOT NULL"
        " ORDER BY last_seq DESC LIMIT 1"
    ).fetchone()
    return ChainChecker() if row is None else ChainChecker(row[1], bytes(row[2]), row[0])


def sealed_rows(conn: Connection[Any], after_seq: int, limit: int = BATCH) -> list[SealedRow]:
    """Up to ``limit`` sealed rows after ``after_seq``, in chain order."""
    return [
        SealedRow(r[0], r[1], bytes(r[2]), bytes(r[3]), tuple(r[4:]))
        for r in conn.execute(_SELECT_SEALED, (after_seq, limit)).fetchall()
    ]


def seal_all(conn: Connection[Any]) -> int:
    """Seal every committed unsealed row, a batch per transaction; the number sealed."""
    total = 0
    while True:
        with conn.transaction():
            row = conn.execute("SELECT audit.seal(%s)", (SEAL_BATCH,)).fetchone()
        sealed = int(row[0]) if row else 0
        total += sealed
        if sealed < SEAL_BATCH:
            return total


def verify(conn: Connection[Any]) -> ChainReport:
    """Seal what is committed, then check the whole remaining chain (one connection: the CLI's)."""
    seal_all(conn)
    checker = start_of(conn)
    while True:
        # Rows after the last one checked (or the start): a missing number shows as a gap, not a skip.
        rows = sealed_rows(conn, checker.next_seq - 1)
        if not rows or not checker.feed(rows):
            return checker.report()
