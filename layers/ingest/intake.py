"""Intake of an uploaded layer file: guarded copy or unzip into a work directory, format, layer, encoding."""

from __future__ import annotations

import codecs
import hashlib
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import pyproj

from layers.ingest.errors import IngestError


@dataclass(frozen=True)
class IntakeLimits:
    """Size limits applied to an upload before anything is handed to GDAL."""

    max_upload_bytes: int = 512 * 1024**2
    max_zip_entries: int = 2000
    max_unzipped_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0  # per-entry uncompressed/compressed


@dataclass(frozen=True)
class SourceDataset:
    """A dataset taken in: a safe path inside the work directory and what the loader needs to read it."""

    path: Path
    layer: str | None
    driver: str
    encoding: str | None
    crs: pyproj.CRS | None
    feature_count: int
    original_name: str
    sha256: str
    size_bytes: int
    bounds: tuple[float, float, float, float] | None = None  # in the file's own CRS; None when unknown


ACCEPTED_FORMATS_ZH = (
    "GeoPackage (.gpkg)、Shapefile 压缩包 (.zip)、GeoJSON (.geojson/.json)、DXF (.dxf)、"
    "FileGDB 压缩包 (.gdb.zip)"
)
ACCEPTED_FORMATS_EN = (
    "GeoPackage (.gpkg), zipped Shapefile (.zip), GeoJSON (.geojson/.json), DXF (.dxf), "
    "zipped FileGDB (.gdb.zip)"
)

_SINGLE_FILE_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".dxf": "DXF"}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")
_REQUIRED_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 1024 * 1024
_RATIO_FLOOR_BYTES = 1024 * 1024  # entries expanding to less cannot be bombs; small DBFs compress very well
# GDAL virtual paths (/vsicurl/…), URLs and connection strings (PG:, WFS:, OAPIF:, GPKG:…): never file names.
_GDAL_SYNTAX = re.compile(r"^\s*[/\\]vsi|://|^\s*[A-Za-z][A-Za-z0-9_+-]+:", re.IGNORECASE)
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f!:]")  # control chars; "!" and ":" mean archives/schemes to GDAL
_UNSAFE_WHY = {
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
_GB_LABELS = {"GBK", "936", "CP936", "ANSI936", "WINDOWS936", "GB2312", "EUCCN", "GB18030", "54936"}

# key: (code, HTTP status, Chinese message, English message); str.format fields are filled by _fail.
_MESSAGES: dict[str, tuple[str, int, str, str]] = {
    "unsupported": (
        "unsupported_format", 422,
        "不支持的文件格式：“{name}”{why_zh}。支持的格式：" + ACCEPTED_FORMATS_ZH,
        "Unsupported file format: '{name}'{why_en}. Accepted: " + ACCEPTED_FORMATS_EN + ".",
    ),
    "too_large": (
        "file_too_large", 413,
        "文件“{name}”大小 {size}，超过上限 {limit}",
        "'{name}' is {size}, above the limit of {limit}.",
    ),
    "zip_bomb": (
        "zip_bomb", 413,
        "压缩包“{name}”疑似压缩炸弹，已拒绝：{why_zh}",
        "The archive '{name}' looks like a zip bomb and was refused: {why_en}.",
    ),
    "unsafe_zip_path": (
        "unsafe_zip_path", 422,
        "压缩包“{name}”中的条目“{entry}”路径不安全（{why_zh}），已拒绝",
        "Entry '{entry}' of '{name}' has an unsafe path ({why_en}) and was refused.",
    ),
    "unsafe_path": (
        "unsafe_path", 422,
        "名称“{text}”像是 GDAL 虚拟路径、网址或数据库连接串，已拒绝；请上传文件本身",
        "The name '{text}' looks like a GDAL virtual path, URL or connection string and was refused; "
        "upload the file itself.",
    ),
    "encrypted_zip": (
        "encrypted_zip", 422,
        "压缩包“{name}”中的条目“{entry}”已加密，请上传未加密的压缩包",
        "Entry '{entry}' of '{name}' is encrypted; upload an unencrypted archive.",
    ),
    "bad_zip": (
        "unreadable_file", 422,
        "无法打开压缩包“{name}”：不是有效的 zip 文件",
        "Cannot open '{name}': not a valid zip archive.",
    ),
    "bad_entry": (
        "unreadable_file", 422,
        "压缩包“{name}”中的条目“{entry}”无法解压（已损坏、大小不符或压缩方式不受支持）",
        "Entry '{entry}' of '{name}' cannot be extracted (corrupt, wrong size or unsupported compression).",
    ),
    "not_gpkg": (
        "unreadable_file", 422,
        "文件“{name}”不是有效的 GeoPackage（缺少 SQLite 文件头），可能已损坏",
        "'{name}' is not a valid GeoPackage (no SQLite header); it may be corrupt.",
    ),
    "unreadable": (
        "unreadable_file", 422,
        "无法读取文件“{name}”（文件可能已损坏）：{summary}",
        "Cannot read '{name}' (the file may be corrupt): {summary}",
    ),
    "unknown_layer": (
        "unknown_layer", 422,
        "“{name}”中没有图层“{layer}”，可用的图层：{options_zh}",
        "'{name}' has no layer '{layer}'; available: {options_en}.",
    ),
    "layer_required": (
        "layer_required", 422,
        "“{name}”包含多个图层，请用 --layer 指定其一：{options_zh}",
        "'{name}' holds several layers; choose one with --layer: {options_en}.",
    ),
    "multiple_datasets": (
        "multiple_datasets", 422,
        "压缩包“{name}”包含多个 FileGDB，请每次上传一个：{options_zh}",
        "The archive '{name}' holds several FileGDB folders; upload one at a time: {options_en}.",
    ),
    "no_vector_layer": (
        "no_vector_layer", 422,
        "文件“{name}”中没有含几何的矢量图层",
        "'{name}' holds no vector layer with geometry.",
    ),
    "incomplete_shapefile": (
        "incomplete_shapefile", 422,
        "“{name}”中的 Shapefile“{stem}”不完整，缺少：{options_zh}",
        "The Shapefile '{stem}' in '{name}' is incomplete; missing: {options_en}.",
    ),
    "encoding_mismatch": (
        "encoding_mismatch", 422,
        "“{name}”的 .cpg 声明编码为 {codec}，但属性表 (DBF) 文本无法按此解码，请用 --encoding 指定正确编码",
        "The .cpg of '{name}' declares {codec} but the DBF text does not decode with it; "
        "give the right one with --encoding.",
    ),
    "unknown_encoding": (
        "unknown_encoding", 422,
        "无法识别“{name}”属性表 (DBF) 的字符编码（既不是 UTF-8 也不是 GB18030），"
        "请用 --encoding 指定，例如 --encoding GBK",
        "Cannot tell the character encoding of the DBF of '{name}' (neither UTF-8 nor GB18030); "
        "give it with --encoding, e.g. --encoding GBK.",
    ),
    "bad_encoding": (
        "bad_encoding", 422,
        "不认识的字符编码“{text}”，可用 UTF-8、GBK、GB18030 等",
        "Unknown character encoding '{text}'; use UTF-8, GBK, GB18030 or similar.",
    ),
}  # fmt: skip


def open_upload(
    upload: Path,
    original_name: str,
    workdir: Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    limits: IntakeLimits = IntakeLimits(),  # noqa: B008 - frozen, so a shared default is safe
) -> SourceDataset:
    """Check an uploaded file, copy or extract it into ``workdir`` and describe the dataset inside."""
    name = _display_name(original_name)
    workdir.mkdir(parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix="intake-", dir=workdir))
    intake = _Intake(name, dest, layer, _requested_encoding(encoding), limits)
    lowered = name.lower()
    suffix = PurePosixPath(lowered).suffix
    if upload.is_dir():
        if suffix != ".gdb":
            raise _fail("unsupported", name=name, why_zh="", why_en="")
        return intake.gdb_directory(upload)
    if suffix == ".shp":
        return intake.shapefile_set(upload)
    if suffix != ".zip" and suffix not in _SINGLE_FILE_DRIVERS:
        raise _fail("unsupported", name=name, why_zh="", why_en="")
    size = upload.stat().st_size
    intake.check_size(size)
    if suffix == ".zip":
        return intake.archive(upload, _sha256(upload), size)
    target = dest / f"dataset{suffix}"
    sha = intake.copy(upload, target, hashlib.sha256())
    return intake.single_file(target, sha, size)


@dataclass
class _Intake:
    """One intake: the user-facing name, the private destination folder and the user's choices."""

    name: str
    dest: Path
    layer: str | None
    requested: str | None
    limits: IntakeLimits

    def check_size(self, size: int) -> None:
        """Refuse an upload above the size limit."""
        if size > self.limits.max_upload_bytes:
            raise _fail(
                "too_large", name=self.name, size=_size(size), limit=_size(self.limits.max_upload_bytes)
            )

    def copy(self, source: Path, target: Path, digest: Any) -> str:
        """Copy a file into the work directory, hashing it and counting bytes (the file may grow)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        copied = 0
        with source.open("rb") as handle, target.open("xb") as out:
            while chunk := handle.read(_CHUNK):
                copied += len(chunk)
                self.check_size(copied)
                digest.update(chunk)
                out.write(chunk)
        return str(digest.hexdigest())

    def single_file(self, path: Path, sha: str, size: int) -> SourceDataset:
        """Describe a GeoPackage, GeoJSON or DXF file already inside the work directory."""
        driver = _SINGLE_FILE_DRIVERS[path.suffix.lower()]
        if driver == "GPKG":
            with path.open("rb") as handle:
                if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                    raise _fail("not_gpkg", name=self.name)
        # GPKG and GeoJSON are UTF-8 by specification; only DXF takes a requested encoding.
        return self.describe(path, driver, self.requested if driver == "DXF" else None, sha, size)

    def shapefile_set(self, upload: Path) -> SourceDataset:
        """Copy a local .shp and its sidecars into the work directory (CLI use) and describe it."""
        siblings = {path.name.lower(): path for path in upload.parent.iterdir() if path.is_file()}
        parts = {ext: siblings.get((upload.stem + ext).lower()) for ext in _SHAPEFILE_PARTS}
        self.require_parts(upload.stem, {ext for ext, path in parts.items() if path})
        self.check_size(sum(path.stat().st_size for path in parts.values() if path))
        stem = upload.stem if not _UNSAFE_CHARS.search(upload.stem) else "dataset"
        digest = hashlib.sha256()
        for ext, path in parts.items():
            if path:
                digest.update(ext.encode())
                self.copy(path, self.dest / f"{stem}{ext}", digest)
        return self.shapefile(self.dest / f"{stem}.shp", digest.hexdigest(), self.total_size(parts.values()))

    def gdb_directory(self, upload: Path) -> SourceDataset:
        """Copy a local FileGDB folder into the work directory (CLI use) and describe it."""
        files = sorted(path for path in upload.rglob("*") if not path.is_dir())
        if any(path.is_symlink() or not path.is_file() for path in files):
            raise _fail("unsafe_path", text=self.name)
        self.check_size(self.total_size(files))
        digest = hashlib.sha256()
        for path in files:
            rel = path.relative_to(upload).as_posix()
            digest.update(rel.encode())
            self.copy(path, self.dest / "dataset.gdb" / rel, digest)
        return self.describe(
            self.dest / "dataset.gdb", "OpenFileGDB", None, digest.hexdigest(), self.total_size(files)
        )

    def archive(self, upload: Path, sha: str, size: int) -> SourceDataset:
        """Screen a zip, extract only the chosen dataset and describe it."""
        try:
            archive = zipfile.ZipFile(upload)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise _fail("bad_zip", name=self.name) from exc
        with archive:
            members = _screen_zip(archive, self.name, self.limits)
            unzip = _Unzipper(archive, self.name, self.dest, self.limits)
            gdb_roots = sorted(
                {str(PurePosixPath(rel).parent) for rel in members if rel.lower().endswith(".gdbtable")}
            )
            if gdb_roots:
                return self.describe(unzip.gdb(members, gdb_roots), "OpenFileGDB", None, sha, size)
            bases = [rel[:-4] for rel in members if rel.lower().endswith(".shp")]
            if bases:
                base = self.choose_shapefile(bases)
                parts = {
                    ext: rel
                    for rel in members
                    for ext in _SHAPEFILE_PARTS
                    if rel.lower() == base.lower() + ext
                }
                self.require_parts(PurePosixPath(base).name, set(parts))
                return self.shapefile(unzip.shapefile(members, parts, PurePosixPath(base).name), sha, size)
            singles = [rel for rel in members if PurePosixPath(rel.lower()).suffix in _SINGLE_FILE_DRIVERS]
            if len(singles) != 1:
                why_zh, why_en = (
                    "（压缩包中没有或有多个可识别的数据集）",
                    " (the archive holds no or several datasets)",
                )
                raise _fail("unsupported", name=self.name, why_zh=why_zh, why_en=why_en)
            target = self.dest / f"dataset{PurePosixPath(singles[0].lower()).suffix}"
            unzip.extract(members[singles[0]], singles[0], target)
            return self.single_file(target, sha, size)

    def choose_shapefile(self, bases: list[str]) -> str:
        """Pick the Shapefile set named by ``layer`` (its stem, or its path when stems repeat)."""
        labels = [PurePosixPath(base).name for base in bases]
        if len(set(labels)) < len(labels):
            labels = bases
        if self.layer is None:
            if len(bases) == 1:
                return bases[0]
            raise _fail("layer_required", _as_details(labels), name=self.name, **_options(labels))
        chosen = [base for base, label in zip(bases, labels, strict=True) if self.layer in (base, label)]
        if len(chosen) != 1:
            raise _fail(
                "unknown_layer", _as_details(labels), name=self.name, layer=self.layer, **_options(labels)
            )
        return chosen[0]

    def require_parts(self, stem: str, present: set[str]) -> None:
        """Refuse a Shapefile set without its .shp, .shx or .dbf."""
        missing = [ext for ext in _REQUIRED_SHAPEFILE_PARTS if ext not in present]
        if missing:
            raise _fail("incomplete_shapefile", name=self.name, stem=stem, **_options(missing))

    def shapefile(self, path: Path, sha: str, size: int) -> SourceDataset:
        """Describe an extracted Shapefile with its attribute encoding settled."""
        return self.describe(
            path, "ESRI Shapefile", _shapefile_encoding(path, self.requested, self.name), sha, size
        )

    def describe(self, path: Path, driver: str, encoding: str | None, sha: str, size: int) -> SourceDataset:
        """Read the dataset's layer, feature count, CRS and bounds with pyogrio."""
        layer = self.choose_layer(path, driver)
        try:
            info: dict[str, Any] = pyogrio.read_info(
                path, layer=layer, encoding=encoding, force_feature_count=True, force_total_bounds=True
            )
        except Exception as exc:  # GDAL raises many types; none may escape as a 500
            raise _unreadable(self.name, exc, path) from exc
        if info.get("driver") != driver:
            raise _fail(
                "unsupported", name=self.name, why_zh=f"（内容不是 {driver}）", why_en=f" (not {driver})"
            )
        crs: pyproj.CRS | None = None
        if info.get("crs"):
            try:
                crs = pyproj.CRS.from_user_input(info["crs"])
            except pyproj.exceptions.CRSError:
                crs = None  # unparseable: treated as absent, so --crs must name it
        box = info.get("total_bounds")
        return SourceDataset(
            path=path,
            layer=layer,
            driver=driver,
            encoding=encoding,
            crs=crs,
            feature_count=max(int(info.get("features") or 0), 0),
            original_name=self.name,
            sha256=sha,
            size_bytes=size,
            bounds=(float(box[0]), float(box[1]), float(box[2]), float(box[3])) if box is not None else None,
        )

    def choose_layer(self, path: Path, driver: str) -> str | None:
        """The layer to read: None for single-layer formats, "entities" for DXF, else the chosen one."""
        if driver in ("ESRI Shapefile", "GeoJSON"):
            return None
        if driver == "DXF":
            if self.layer not in (None, "entities"):
                raise _fail("unknown_layer", name=self.name, layer=self.layer, **_options(["entities"]))
            return "entities"
        try:
            listed = pyogrio.list_layers(path)
        except Exception as exc:  # GDAL raises many types; none may escape as a 500
            raise _unreadable(self.name, exc, path) from exc
        spatial = [str(row[0]) for row in listed if row[1] is not None]
        if self.layer is not None:
            if self.layer not in spatial:
                raise _fail(
                    "unknown_layer",
                    _as_details(spatial),
                    name=self.name,
                    layer=self.layer,
                    **_options(spatial),
                )
            return self.layer
        if len(spatial) == 1:
            return spatial[0]
        if not spatial:
            raise _fail("no_vector_layer", name=self.name)
        raise _fail("layer_required", _as_details(spatial), name=self.name, **_options(spatial))

    @staticmethod
    def total_size(paths: Any) -> int:
        """Total size in bytes of the existing paths among ``paths``."""
        return sum(path.stat().st_size for path in paths if path)


@dataclass
class _Unzipper:
    """Extracts chosen entries into the work directory, counting the bytes actually written."""

    archive: zipfile.ZipFile
    name: str
    dest: Path
    limits: IntakeLimits
    written: int = 0

    def extract(self, info: zipfile.ZipInfo, entry: str, target: Path) -> None:
        """Stream one entry to ``target``, stopping as soon as a size limit is crossed."""
        if not target.resolve().is_relative_to(self.dest.resolve()):
            raise _fail("unsafe_zip_path", name=self.name, entry=entry, **_UNSAFE_WHY["escape"])
        target.parent.mkdir(parents=True, exist_ok=True)
        entry_bytes = 0
        try:
            with self.archive.open(info) as source, target.open("xb") as out:
                while chunk := source.read(_CHUNK):
                    entry_bytes += len(chunk)
                    self.written += len(chunk)
                    if entry_bytes > info.file_size or self.written > self.limits.max_unzipped_bytes:
                        limit = _size(self.limits.max_unzipped_bytes)
                        why_zh = f"条目“{entry}”解压后超过声明大小或总上限 {limit}"
                        why_en = (
                            f"entry '{entry}' expands beyond its declared size or the total limit of {limit}"
                        )
                        raise _fail("zip_bomb", name=self.name, why_zh=why_zh, why_en=why_en)
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise _fail("bad_entry", name=self.name, entry=entry) from exc

    def gdb(self, members: dict[str, zipfile.ZipInfo], roots: list[str]) -> Path:
        """Extract the one FileGDB folder of the archive; return its path."""
        if len(roots) > 1:
            raise _fail("multiple_datasets", _as_details(roots), name=self.name, **_options(roots))
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


def _screen_zip(archive: zipfile.ZipFile, name: str, limits: IntakeLimits) -> dict[str, zipfile.ZipInfo]:
    """Refuse a hostile archive before extracting anything; return its regular entries by safe path."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_entries:
        why_zh = f"条目数 {len(infos)} 超过上限 {limits.max_zip_entries}"
        why_en = f"{len(infos)} entries exceed the limit of {limits.max_zip_entries}"
        raise _fail("zip_bomb", name=name, why_zh=why_zh, why_en=why_en)
    members: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for info in infos:
        entry = _entry_name(info)
        rel = _member_path(entry, name)
        if info.flag_bits & 0x1:
            raise _fail("encrypted_zip", name=name, entry=entry)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _fail("unsafe_zip_path", name=name, entry=entry, **_UNSAFE_WHY["symlink"])
        if rel is not None and rel in members:  # which of two same-named entries GDAL would see is unclear
            raise _fail("unsafe_zip_path", name=name, entry=entry, **_UNSAFE_WHY["duplicate"])
        declared += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if declared > limits.max_unzipped_bytes:
            limit = _size(limits.max_unzipped_bytes)
            raise _fail(
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
            raise _fail("zip_bomb", name=name, why_zh=why_zh, why_en=why_en)
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
    if _GDAL_SYNTAX.search(entry):
        raise _fail("unsafe_path", text=entry[:120])
    parts = entry.replace("\\", "/").split("/")
    why = "absolute" if entry.startswith(("/", "\\")) else "parent" if ".." in parts else None
    why = why or ("characters" if _UNSAFE_CHARS.search(entry) else None)
    if why:
        raise _fail("unsafe_zip_path", name=name, entry=entry[:120], **_UNSAFE_WHY[why])
    clean = [part for part in parts if part not in ("", ".")]
    if not clean or clean[0] == "__MACOSX" or clean[-1].startswith("._") or clean[-1] == ".DS_Store":
        return None
    return "/".join(clean)


def _shapefile_encoding(shp: Path, requested: str | None, name: str) -> str:
    """Attribute encoding of a Shapefile: as requested, else its .cpg, else detected from the DBF bytes."""
    if requested:
        return requested
    dbf, cpg = shp.with_suffix(".dbf"), shp.with_suffix(".cpg")
    declared = _codec_name(cpg.read_bytes()[:64].decode("ascii", "ignore")) if cpg.is_file() else None
    try:
        usable = _decodable(dbf, [declared] if declared else ["UTF-8", "GB18030"])
    except OSError as exc:
        raise _unreadable(name, exc, dbf) from exc
    if usable:
        return usable[0]
    if declared:
        raise _fail("encoding_mismatch", name=name, codec=declared)
    raise _fail("unknown_encoding", name=name)


def _codec_name(label: str) -> str | None:
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


def _requested_encoding(encoding: str | None) -> str | None:
    if encoding is None or not encoding.strip():
        return None
    codec = _codec_name(encoding)
    if codec is None:
        raise _fail("bad_encoding", text=encoding[:40])
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
            data = handle.read(min(max(1, _CHUNK // record_len), records) * record_len)
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


def _display_name(original_name: str) -> str:
    """The file's own name without any client-side folder; GDAL paths and connection strings are refused."""
    text = original_name.strip()
    if _GDAL_SYNTAX.search(text):
        raise _fail("unsafe_path", text=text[:120])
    base = re.split(r"[\\/]", text)[-1]
    if not base or re.search(r"[\x00-\x1f]", base):
        raise _fail("unsupported", name=text[:80], why_zh="", why_en="")
    return base


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _fail(key: str, details: list[dict[str, Any]] | None = None, /, **values: Any) -> IngestError:
    code, status, message_zh, message_en = _MESSAGES[key]
    return IngestError(
        message_zh.format(**values), message_en.format(**values), code=code, status=status, details=details
    )


def _options(items: list[str]) -> dict[str, str]:
    return {"options_zh": "、".join(items) or "（无）", "options_en": ", ".join(items) or "(none)"}


def _as_details(items: list[str]) -> list[dict[str, Any]]:
    return [{"layer": item} for item in items]


def _unreadable(name: str, exc: BaseException, path: Path) -> IngestError:
    lines = str(exc).strip().splitlines()
    # First line, first clause: GDAL appends hints ("prefix the path with '<DRIVER>:'") meant for developers.
    summary = (lines[0] if lines else type(exc).__name__).split("; ")[0].replace(str(path), name)
    return _fail("unreadable", name=name, summary=summary.replace(str(path.parent), "…")[:200])
