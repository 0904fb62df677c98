"""A material's type, told from its bytes (never from its name or the client's Content-Type).

Kinds: ``pdf`` (``%PDF-``), ``ofd`` (a zip with ``OFD.xml`` at its root, GB/T 33190), ``jpeg``, ``png``,
``dwg`` (``AC10xx`` version string), ``dxf`` (ASCII ``0 / SECTION`` or the binary DXF sentinel),
``docx`` (a zip with ``word/document.xml``), ``xlsx`` (a zip with ``xl/workbook.xml``) and ``zip`` (any
other zip). Anything else (HTML, SVG, scripts, executables) is unknown and refused by the guards.
Zip-based kinds are told from the archive's member names after the archive passed the zip guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "ofd": "application/ofd",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "dwg": "image/vnd.dwg",
    "dxf": "image/vnd.dxf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}
KINDS = frozenset(MEDIA_TYPES)
EXTENSIONS: dict[str, str] = {kind: kind for kind in MEDIA_TYPES} | {"jpeg": "jpg"}
KIND_LABELS: dict[str, str] = {
    "pdf": "PDF",
    "ofd": "OFD",
    "jpeg": "JPEG",
    "png": "PNG",
    "dwg": "DWG",
    "dxf": "DXF",
    "docx": "DOCX",
    "xlsx": "XLSX",
    "zip": "ZIP",
}

HEAD_BYTES = 4096
_PDF_WINDOW = 1024  # readers accept a few bytes of junk before the header
_DWG = re.compile(rb"^AC(?:10(?:0[0-9]|1[0-9]|2[0-9]|3[0-9])|1\.[0-9]{2}|2\.[0-9]{2})")
_BINARY_DXF = b"AutoCAD Binary DXF\r\n\x1a\x00"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def head_of(path: Path) -> bytes:
    """The first bytes of a file, enough to tell its kind."""
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


def is_zip(head: bytes) -> bool:
    """Whether the bytes start like a zip archive (local file header or an empty archive)."""
    return head.startswith(_ZIP_MAGIC)


def _ascii_dxf(head: bytes) -> bool:
    """An ASCII DXF starts with group-code/value pairs: optional 999 comments, then ``0`` / ``SECTION``."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    lines = [line.strip() for line in text.splitlines()]
    if len(lines) < 2:
        return False
    i = 0
    while i + 1 < len(lines):
        code, value = lines[i], lines[i + 1]
        if code == "999":
            i += 2
            continue
        return code == "0" and value == "SECTION"
    return False


def sniff_head(head: bytes) -> str | None:
    """The kind of a file from its first bytes; ``zip`` for any archive (refined by :func:`zip_kind`)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if is_zip(head):  # before PDF: a zip holding a stored PDF has "%PDF-" near its start too
        return "zip"
    if b"%PDF-" in head[:_PDF_WINDOW]:
        return "pdf"
    if head.startswith(_BINARY_DXF):
        return "dxf"
    if _DWG.match(head):
        return "dwg"
    if _ascii_dxf(head):
        return "dxf"
    return None


def zip_kind(members: Iterable[str]) -> str:
    """The kind of a zip archive from its (decoded, normalised) member paths."""
    names = {m.lower() for m in members}
    if "ofd.xml" in names:
        return "ofd"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return "zip"


def labels(kinds: Iterable[str], separator: str = "、") -> str:
    """Kinds as people name them, in the usual order: ``PDF、OFD`` (``PDF, OFD`` with ``separator=", "``)."""
    order = list(MEDIA_TYPES)
    ranked = sorted(set(kinds), key=lambda k: (order.index(k) if k in order else len(order), k))
    return separator.join(KIND_LABELS.get(k, k) for k in ranked) or "-"
