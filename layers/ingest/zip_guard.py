"""Zip screening before anything is extracted: bombs, zip-slip, symlinks, encryption, GDAL syntax."""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from layers.ingest.intake_refusals import IntakeLimits, as_details, fail, human_size, options

CHUNK = 1024 * 1024
_RATIO_FLOOR_BYTES = 1024 * 1024  # entries expanding to less cannot be bombs; small DBFs compress very well
# GDAL virtual paths (/vsicurl/…), URLs and connection strings (PG:, WFS:, OAPIF:, GPKG:…): never file names.
GDAL_SYNTAX = re.compile(r"^\s*[/\\]vsi|://|^\s*[A-Za-z][A-Za-z0-9_+-]+:", re.IGNORECASE)
UNSAFE_CHARS = re.compile(r"[\x00-\x1f!:]")  # control chars; "!" and ":" mean archives/schemes to GDAL
UNSAFE_WHY = {
    "absolute": {"why_zh": "绝对路径", "why_en": "absolute path"},
    "parent": {"why_zh": "包含“..”", "why_en": "contains '..'"},
    "characters": {
        "why_zh": "盘符、冒号、感叹号或控制字符",
        "why_en": "drive letter, colon, '!' or control character",
    },
    "symlink": {"why_zh": "符号链接", "why_en": "symbolic link"},
    "duplicate": {"why_zh": "条目重名", "why_en": "duplicate entry name"},
    "escape": {"why_zh": "超出工作目录", "why_en": "escapes the work folder"},
}


@dataclass
class Unzipper:
    """Extracts chosen entries into the work directory, counting the bytes actually written."""

    archive: zipfile.ZipFile
    name: str
    dest: Path
    limits: IntakeLimits
    written: int = 0

    def extract(self, info: zipfile.ZipInfo, entry: str, target: Path) -> None:
        """Stream one entry to ``target``, stopping as soon as a size limit is crossed."""
        if not target.resolve().is_relative_to(self.dest.resolve()):
            raise fail("unsafe_zip_path", name=self.name, entry=entry, **UNSAFE_WHY["escape"])
        target.parent.mkdir(parents=True, exist_ok=True)
        entry_bytes = 0
        try:
            with self.archive.open(info) as source, target.open("xb") as out:
                while chunk := source.read(CHUNK):
                    entry_bytes += len(chunk)
                    self.written += len(chunk)
                    if entry_bytes > info.file_size or self.written > self.limits.max_unzipped_bytes:
                        limit = human_size(self.limits.max_unzipped_bytes)
                        why_zh = f"条目“{entry}”解压后超过声明大小或总上限 {limit}"
                        why_en = (
                            f"entry '{entry}' expands beyond its declared size or the total limit of {limit}"
                        )
                        raise fail("zip_bomb", name=self.name, why_zh=why_zh, why_en=why_en)
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise fail("bad_entry", name=self.name, entry=entry) from exc

    def gdb(self, members: dict[str, zipfile.ZipInfo], roots: list[str]) -> Path:
        """Extract the one FileGDB folder of the archive; return its path."""
        if len(roots) > 1:
            raise fail("multiple_datasets", as_details(roots), name=self.name, **options(roots))
        root = roots[0]
        folder = PurePosixPath(root).name if root.lower().endswith(".gdb") else "dataset.gdb"
        prefix = "" if root == "." else root + "/"
        for rel, info in members.items():
            if rel.startswith(prefix):
                self.extract(info, rel, self.dest / folder / rel[len(prefix) :])
        return self.dest / folder

    def shapefile(self, members: dict[str, zipfile.ZipInfo], parts: dict[str, str], stem: str) -> Path:
        """Extract one Shapefile set under its stem with lower-case extensions; return the .shp path."""
        for ext, rel in parts.items():
            self.extract(members[rel], rel, self.dest / f"{stem}{ext}")
        return self.dest / f"{stem}.shp"


def screen_zip(archive: zipfile.ZipFile, name: str, limits: IntakeLimits) -> dict[str, zipfile.ZipInfo]:
    """Refuse a hostile archive before extracting anything; return its regular entries by safe path."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_entries:
        why_zh = f"条目数 {len(infos)} 超过上限 {limits.max_zip_entries}"
        why_en = f"{len(infos)} entries exceed the limit of {limits.max_zip_entries}"
        raise fail("zip_bomb", name=name, why_zh=why_zh, why_en=why_en)
    members: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for info in infos:
        entry = _entry_name(info)
        rel = _member_path(entry, name)
        if info.flag_bits & 0x1:
            raise fail("encrypted_zip", name=name, entry=entry)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise fail("unsafe_zip_path", name=name, entry=entry, **UNSAFE_WHY["symlink"])
        if rel is not None and rel in members:  # which of two same-named entries GDAL would see is unclear
            raise fail("unsafe_zip_path", name=name, entry=entry, **UNSAFE_WHY["duplicate"])
        declared += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if declared > limits.max_unzipped_bytes:
            limit = human_size(limits.max_unzipped_bytes)
            raise fail(
                "zip_bomb",
                name=name,
                why_zh=f"解压后总大小超过上限 {limit}",
                why_en=f"it unzips to more than {limit}",
            )
        if info.file_size > _RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            why_zh = f"条目“{entry}”压缩比 {ratio:.0f}:1 超过上限 {limits.max_ratio:.0f}:1"
            why_en = (
                f"entry '{entry}' has a compression ratio of {ratio:.0f}:1, above {limits.max_ratio:.0f}:1"
            )
            raise fail("zip_bomb", name=name, why_zh=why_zh, why_en=why_en)
        if rel is not None and not info.is_dir():
            members[rel] = info
    return members


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Entry name, re-decoded as UTF-8 or GB18030 when the archive (zh-CN Windows) did not flag UTF-8."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def _member_path(entry: str, name: str) -> str | None:
    """Normalised relative path of an entry; None for OS junk; zip-slip and GDAL syntax are refused."""
    if GDAL_SYNTAX.search(entry):
        raise fail("unsafe_path", text=entry[:120])
    parts = entry.replace("\\", "/").split("/")
    why = "absolute" if entry.startswith(("/", "\\")) else "parent" if ".." in parts else None
    why = why or ("characters" if UNSAFE_CHARS.search(entry) else None)
    if why:
        raise fail("unsafe_zip_path", name=name, entry=entry[:120], **UNSAFE_WHY[why])
    clean = [part for part in parts if part not in ("", ".")]
    if not clean or clean[0] == "__MACOSX" or clean[-1].startswith("._") or clean[-1] == ".DS_Store":
        return None
    return "/".join(clean)
