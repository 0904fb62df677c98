"""Refusals of an upload: size limits and the bilingual messages of every intake error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.ingest.errors import IngestError

_SOURCE_LOCATION = re.compile(r"\S+\.(?:cpp|c|h), \d+: ")


@dataclass(frozen=True)
class IntakeLimits:
    """Size limits applied to an upload before anything is handed to GDAL."""

    max_upload_bytes: int = 512 * 1024**2
    max_zip_entries: int = 2000
    max_unzipped_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0  # per-entry uncompressed/compressed


ACCEPTED_FORMATS_ZH = (
    "GeoPackage (.gpkg)、Shapefile 压缩包 (.zip)、GeoJSON (.geojson/.json)、DXF (.dxf)、"
    "FileGDB 压缩包 (.gdb.zip)"
)
ACCEPTED_FORMATS_EN = (
    "GeoPackage (.gpkg), zipped Shapefile (.zip), GeoJSON (.geojson/.json), DXF (.dxf), "
    "zipped FileGDB (.gdb.zip)"
)


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


def human_size(n: int) -> str:
    """A byte count for people, e.g. "1.5 MB"."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def fail(key: str, details: list[dict[str, Any]] | None = None, /, **values: Any) -> IngestError:
    """The intake error ``key`` of :data:`_MESSAGES`, its message fields filled from ``values``."""
    code, status, message_zh, message_en = _MESSAGES[key]
    return IngestError(
        message_zh.format(**values), message_en.format(**values), code=code, status=status, details=details
    )


def options(items: list[str]) -> dict[str, str]:
    """A list of choices as the ``options_zh`` / ``options_en`` message fields."""
    return {"options_zh": "、".join(items) or "（无）", "options_en": ", ".join(items) or "(none)"}


def as_details(items: list[str]) -> list[dict[str, Any]]:
    """Layer choices as problem details."""
    return [{"layer": item} for item in items]


def unreadable(name: str, exc: BaseException, path: Path) -> IngestError:
    """A GDAL or OS error as a 422 naming the user's file, never the server's paths."""
    lines = str(exc).strip().splitlines()
    # First line, first clause: GDAL appends hints ("prefix the path with '<DRIVER>:'") meant for developers.
    summary = (lines[0] if lines else type(exc).__name__).split("; ")[0].replace(str(path), name)
    summary = _SOURCE_LOCATION.sub("", summary)  # GDAL's own source file and line: no use to the user
    return fail("unreadable", name=name, summary=summary.replace(str(path.parent), "…")[:200])
