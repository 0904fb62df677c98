"""Upload guards of the materials store: size, type by content, zip bombs and traversal, file names.

An upload is streamed to a temporary file in the store's staging folder, counted and hashed on the way
(never read whole into memory), then told by its bytes and checked. A refused upload leaves nothing:
the temporary file is removed before the error is raised. Zip screening is the layer intake's
(:mod:`layers.ingest.zip_guard`: entry count, declared total, per-entry ratio, absolute paths, ``..``,
symbolic links, encryption), followed here by a real decompression count so that an archive lying
about its sizes is refused too.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.errors import DuoguiError, PayloadTooLarge, Unprocessable
from app.materials.sniff import EXTENSIONS, KINDS, MEDIA_TYPES, head_of, labels, sniff_head, zip_kind
from app.materials.storage import CHUNK, BlobStore, new_temp_file
from layers.ingest.intake_refusals import IntakeLimits, fail, human_size
from layers.ingest.zip_guard import screen_zip

# Archives: many scanned pages are fine, a bomb is not. The ratio applies to entries over 1 MiB.
ZIP_LIMITS = IntakeLimits(
    max_upload_bytes=2 * 1024**3, max_zip_entries=5000, max_unzipped_bytes=1024**3, max_ratio=200.0
)
MAX_NAME_CHARS = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


class UnsupportedMaterialType(DuoguiError):
    """The file's content is not one of the types this material accepts."""

    status, code = 415, "unsupported_material_type"
    message_zh, message_en = "不支持的文件类型。", "Unsupported file type."


@dataclass
class Staged:
    """An upload that passed every guard, waiting in the staging folder to be stored."""

    path: Path
    sha256: str
    size: int
    kind: str
    media_type: str
    file_name: str
    #: Set by :func:`app.materials.service.upload_ahead` for stores that upload before the transaction:
    #: "new" when this call stored the object, "existing" when the same bytes were already there.
    ahead: str | None = None

    def discard(self) -> None:
        """Remove the temporary file (nothing when it was already moved into the store)."""
        self.path.unlink(missing_ok=True)


def _recover_gbk(name: str) -> str:
    """A GBK/GB18030 file name that arrived decoded as Latin-1 (Starlette's fallback when the bytes are
    not UTF-8, as old Windows browsers and tools send them), decoded again; others unchanged."""
    if not name or max(map(ord, name)) > 0xFF or max(map(ord, name)) < 0x80:
        return name
    raw = name.encode("latin-1")
    try:
        raw.decode("utf-8")
        return name  # valid UTF-8 would not have fallen back: a genuine Latin-1 name
    except UnicodeDecodeError:
        pass
    try:
        decoded = raw.decode("gb18030")
    except UnicodeDecodeError:
        return name
    return decoded if _CJK.search(decoded) else name


def clean_file_name(raw: str | None, kind: str) -> str:
    """The name to store: UTF-8 (GBK recovered), without folders, NFC; refused with control characters.

    An empty name becomes ``material.<ext>``; a name over 255 characters is refused.
    """
    name = _recover_gbk(raw or "")
    if _CONTROL.search(name):
        raise Unprocessable(
            "文件名含有控制字符（如 NUL），已拒绝。",
            "The file name holds a control character (e.g. NUL) and was refused.",
            code="bad_file_name",
        )
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        name = f"material.{EXTENSIONS.get(kind, kind)}"
    if len(name) > MAX_NAME_CHARS:
        raise Unprocessable(
            f"文件名过长（{len(name)} 个字符，上限 {MAX_NAME_CHARS}）。",
            f"The file name is too long ({len(name)} characters; at most {MAX_NAME_CHARS}).",
            code="bad_file_name",
        )
    return name


def too_large(limit: int) -> PayloadTooLarge:
    """The refusal of a file over the materials size limit."""
    return PayloadTooLarge(
        f"文件超过材料大小上限 {human_size(limit)}。",
        f"The file exceeds the materials size limit of {human_size(limit)}.",
        code="file_too_large",
    )


def check_zip(path: Path, name: str, limits: IntakeLimits = ZIP_LIMITS) -> str:
    """Screen an archive (bomb, traversal, encryption) and decompress-count it; return its kind."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise fail("bad_zip", name=name) from exc
    with archive:
        members = screen_zip(archive, name, limits)
        total = 0
        for info in archive.infolist():
            if info.is_dir():
                continue
            entry_bytes = 0
            try:
                with archive.open(info) as source:
                    while chunk := source.read(CHUNK):
                        entry_bytes += len(chunk)
                        total += len(chunk)
                        if entry_bytes > info.file_size or total > limits.max_unzipped_bytes:
                            limit = human_size(limits.max_unzipped_bytes)
                            raise fail(
                                "zip_bomb",
                                name=name,
                                why_zh=f"条目解压后超过声明大小或总上限 {limit}",
                                why_en=f"an entry expands beyond its declared size or the total of {limit}",
                            )
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
                raise fail("bad_entry", name=name, entry=info.filename[:120]) from exc
    return zip_kind(members)


def check_kind(path: Path, name: str, allowed: set[str] | None) -> str:
    """The file's kind by content; 415 when unknown or not allowed (naming both), zip guards applied."""
    kind = sniff_head(head_of(path))
    if kind == "zip":
        kind = check_zip(path, name)
    accepted = KINDS if allowed is None else KINDS & allowed
    if kind is None:
        raise UnsupportedMaterialType(
            f"无法识别文件“{name}”的类型；此材料接受：{labels(accepted)}。",
            f"The type of '{name}' is not recognised; this material accepts: {labels(accepted, ', ')}.",
            detected=None,
            allowed=[k for k in MEDIA_TYPES if k in accepted],
        )
    if kind not in accepted:
        detected = labels([kind])
        raise UnsupportedMaterialType(
            f"文件“{name}”的内容是 {detected}，此材料只接受：{labels(accepted)}。",
            f"'{name}' is a {detected} file; this material accepts only: {labels(accepted, ', ')}.",
            detected=kind,
            allowed=[k for k in MEDIA_TYPES if k in accepted],
        )
    return kind


def stage_stream(
    store: BlobStore, source: BinaryIO, raw_name: str | None, limit: int, allowed: set[str] | None
) -> Staged:
    """Copy ``source`` to a temporary file (counted against ``limit``, hashed, fsync'ed) and check it.

    Runs in a worker thread, holding no database connection. Any refusal removes the temporary file.
    """
    out, path = new_temp_file(store)
    try:
        digest, size = hashlib.sha256(), 0
        with out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        provisional = _recover_gbk(raw_name or "") or "upload"
        kind = check_kind(path, provisional[:120], allowed)
        name = clean_file_name(raw_name, kind)
        return Staged(path, digest.hexdigest(), size, kind, MEDIA_TYPES[kind], name)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def stage_bytes(store: BlobStore, data: bytes, file_name: str, media_type: str) -> Staged:
    """A generated document (minutes) staged like an upload; its media type is the generator's."""
    out, path = new_temp_file(store)
    try:
        with out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        kind = sniff_head(data[:4096]) or "generated"
        return Staged(
            path,
            hashlib.sha256(data).hexdigest(),
            len(data),
            kind,
            media_type,
            clean_file_name(file_name, kind),
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
