"""Attribute encoding of a Shapefile: as requested, its .cpg, or detected from the DBF's text bytes."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from layers.ingest.intake_refusals import fail, unreadable
from layers.ingest.zip_guard import CHUNK

_GB_LABELS = {"GBK", "936", "CP936", "ANSI936", "WINDOWS936", "GB2312", "EUCCN", "GB18030", "54936"}


def shapefile_encoding(shp: Path, requested: str | None, name: str) -> str:
    """Attribute encoding of a Shapefile: as requested, else its .cpg, else detected from the DBF bytes."""
    if requested:
        return requested
    dbf, cpg = shp.with_suffix(".dbf"), shp.with_suffix(".cpg")
    declared = codec_name(cpg.read_bytes()[:64].decode("ascii", "ignore")) if cpg.is_file() else None
    try:
        usable = _decodable(dbf, [declared] if declared else ["UTF-8", "GB18030"])
    except OSError as exc:
        raise unreadable(name, exc, dbf) from exc
    if usable:
        return usable[0]
    if declared:
        raise fail("encoding_mismatch", name=name, codec=declared)
    raise fail("unknown_encoding", name=name)


def codec_name(label: str) -> str | None:
    """Map a .cpg or --encoding label to a codec name both Python and GDAL know; None if unknown."""
    key = re.sub(r"[\s_-]+", "", label.strip().upper())
    if key in ("UTF8", "65001"):
        return "UTF-8"
    if key in _GB_LABELS:
        return "GB18030"  # a superset of GB2312 and GBK: decodes whatever they encode
    number = re.fullmatch(r"(?:ANSI|CP|WINDOWS)?(\d{3,5})", key)
    candidate = f"CP{number[1]}" if number else label.strip()
    try:
        return codecs.lookup(candidate).name.upper() if candidate else None
    except LookupError:
        return None


def requested_encoding(encoding: str | None) -> str | None:
    """The codec of an ``--encoding`` option (None when not given); an unknown one is refused."""
    if encoding is None or not encoding.strip():
        return None
    codec = codec_name(encoding)
    if codec is None:
        raise fail("bad_encoding", text=encoding[:40])
    return codec


def _decodable(dbf: Path, candidates: list[str]) -> list[str]:
    """The candidate codecs that decode every character field of the DBF."""
    usable = dict.fromkeys(candidates, True)
    for block in _dbf_text_blocks(dbf):
        for codec in candidates:
            if usable[codec]:
                try:
                    block.decode(codec)
                except UnicodeDecodeError:
                    usable[codec] = False
        if not any(usable.values()):
            break
    return [codec for codec in candidates if usable[codec]]


def _dbf_text_blocks(dbf: Path) -> Iterator[bytes]:
    """Bytes of the character (C) fields of a DBF, block by block, a newline after each value."""
    with dbf.open("rb") as handle:
        header = handle.read(32)
        if len(header) < 32:
            return
        records = int.from_bytes(header[4:8], "little")
        header_len = int.from_bytes(header[8:10], "little")
        record_len = int.from_bytes(header[10:12], "little")
        fields = _dbf_text_fields(handle.read(max(header_len - 32, 0)), record_len)
        handle.seek(header_len)
        while fields and records > 0:
            data = handle.read(min(max(1, CHUNK // record_len), records) * record_len)
            count = len(data) // record_len
            if count == 0:
                return
            rows = np.frombuffer(data, dtype=np.uint8, count=count * record_len).reshape(count, record_len)
            newline = np.full((count, 1), 0x0A, dtype=np.uint8)
            columns = [part for start, width in fields for part in (rows[:, start : start + width], newline)]
            yield np.concatenate(columns, axis=1).tobytes()
            records -= count


def _dbf_text_fields(descriptors: bytes, record_len: int) -> list[tuple[int, int]]:
    """(offset, width) of each character field; offsets count the leading deletion flag."""
    fields: list[tuple[int, int]] = []
    offset = 1
    for pos in range(0, len(descriptors) - 31, 32):
        descriptor = descriptors[pos : pos + 32]
        if descriptor[0] == 0x0D or offset + descriptor[16] > record_len:
            break
        if descriptor[11] in (ord("C"), ord("c")):
            fields.append((offset, descriptor[16]))
        offset += descriptor[16]
    return fields
