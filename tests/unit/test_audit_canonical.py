"""The Python side of the audit chain: the canonical framing and the checker, on rows made by hand."""

from __future__ import annotations

import hashlib

from app.audit.chain import GENESIS, ChainChecker, SealedRow, canonical


def test_fields_are_length_prefixed_in_bytes_and_null_is_not_empty() -> None:
    assert canonical(["ab", None, "张", ""]) == b"2:ab-3:\xe5\xbc\xa00:"
    # Framing keeps field boundaries: moving a character between fields changes the bytes.
    assert canonical(["a", "bc"]) != canonical(["ab", "c"])
    assert canonical([None]) != canonical([""]) != canonical(["-"])


def _row(seq: int, prev: bytes, fields: tuple[str | None, ...]) -> SealedRow:
    digest = hashlib.sha256(
        prev + "".join("-" if f is None else f"{len(f.encode())}:{f}" for f in fields).encode()
    )
    return SealedRow(seq, 100 + seq, prev, digest.digest(), fields)


def _chain(n: int) -> list[SealedRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        rows.append(_row(seq, prev, (str(seq), "user.update", None)))
        prev = rows[-1].row_hash
    return rows


def test_the_checker_names_the_first_gap_link_or_content_break() -> None:
    rows = _chain(4)
    whole = ChainChecker()
    assert (
        whole.feed(rows) and whole.report().verified and whole.report().head_hash == rows[-1].row_hash.hex()
    )

    gap = ChainChecker()
    assert not gap.feed([rows[0], rows[2], rows[3]])
    assert gap.first_break is not None and (gap.first_break.id, gap.first_break.kind) == (103, "gap")

    altered = SealedRow(2, 102, rows[1].prev_hash, rows[1].row_hash, ("2", "user.forged", None))
    content = ChainChecker()
    assert not content.feed([rows[0], altered, *rows[2:]])
    assert content.first_break is not None and (content.first_break.id, content.first_break.kind) == (
        102,
        "content",
    )
    assert content.report().rows_checked == 1

    rehashed = _row(2, rows[0].row_hash, ("2", "user.forged", None))
    link = ChainChecker()
    assert not link.feed([rows[0], rehashed, *rows[2:]])
    assert link.first_break is not None and (link.first_break.id, link.first_break.kind) == (103, "link")
