"""Intake of an uploaded layer file: guarded copy or unzip into a work directory, format, layer, encoding.

Zip screening lives in :mod:`layers.ingest.zip_guard`, DBF encoding detection in
:mod:`layers.ingest.dbf_encoding`, limits and messages in :mod:`layers.ingest.intake_refusals`.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyogrio
import pyproj

from layers.ingest.dbf_encoding import requested_encoding, shapefile_encoding
from layers.ingest.intake_refusals import (
    ACCEPTED_FORMATS_EN,
    ACCEPTED_FORMATS_ZH,
    IntakeLimits,
    as_details,
    fail,
    human_size,
    options,
    unreadable,
)
from layers.ingest.zip_guard import CHUNK, GDAL_SYNTAX, UNSAFE_CHARS, Unzipper, screen_zip

__all__ = ["ACCEPTED_FORMATS_EN", "ACCEPTED_FORMATS_ZH", "IntakeLimits", "SourceDataset", "open_upload"]


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


_SINGLE_FILE_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".dxf": "DXF"}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")
_REQUIRED_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")
_SQLITE_MAGIC = b"SQLite format 3\x00"


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
    intake = _Intake(name, dest, layer, requested_encoding(encoding), limits)
    lowered = name.lower()
    suffix = PurePosixPath(lowered).suffix
    if upload.is_dir():
        if suffix != ".gdb":
            raise fail("unsupported", name=name, why_zh="", why_en="")
        return intake.gdb_directory(upload)
    if suffix == ".shp":
        return intake.shapefile_set(upload)
    if suffix != ".zip" and suffix not in _SINGLE_FILE_DRIVERS:
        raise fail("unsupported", name=name, why_zh="", why_en="")
    size = upload.stat().st_size
    intake.checkhuman_size(size)
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

    def checkhuman_size(self, size: int) -> None:
        """Refuse an upload above the size limit."""
        if size > self.limits.max_upload_bytes:
            raise fail(
                "too_large",
                name=self.name,
                size=human_size(size),
                limit=human_size(self.limits.max_upload_bytes),
            )

    def copy(self, source: Path, target: Path, digest: Any) -> str:
        """Copy a file into the work directory, hashing it and counting bytes (the file may grow)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        copied = 0
        with source.open("rb") as handle, target.open("xb") as out:
            while chunk := handle.read(CHUNK):
                copied += len(chunk)
                self.checkhuman_size(copied)
                digest.update(chunk)
                out.write(chunk)
        return str(digest.hexdigest())

    def single_file(self, path: Path, sha: str, size: int) -> SourceDataset:
        """Describe a GeoPackage, GeoJSON or DXF file already inside the work directory."""
        driver = _SINGLE_FILE_DRIVERS[path.suffix.lower()]
        if driver == "GPKG":
            with path.open("rb") as handle:
                if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                    raise fail("not_gpkg", name=self.name)
        # GPKG and GeoJSON are UTF-8 by specification; only DXF takes a requested encoding.
        return self.describe(path, driver, self.requested if driver == "DXF" else None, sha, size)

    def shapefile_set(self, upload: Path) -> SourceDataset:
        """Copy a local .shp and its sidecars into the work directory (CLI use) and describe it."""
        siblings = {path.name.lower(): path for path in upload.parent.iterdir() if path.is_file()}
        parts = {ext: siblings.get((upload.stem + ext).lower()) for ext in _SHAPEFILE_PARTS}
        self.require_parts(upload.stem, {ext for ext, path in parts.items() if path})
        self.checkhuman_size(sum(path.stat().st_size for path in parts.values() if path))
        stem = upload.stem if not UNSAFE_CHARS.search(upload.stem) else "dataset"
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
            raise fail("unsafe_path", text=self.name)
        self.checkhuman_size(self.total_size(files))
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
            raise fail("bad_zip", name=self.name) from exc
        with archive:
            members = screen_zip(archive, self.name, self.limits)
            unzip = Unzipper(archive, self.name, self.dest, self.limits)
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
                raise fail("unsupported", name=self.name, why_zh=why_zh, why_en=why_en)
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
            raise fail("layer_required", as_details(labels), name=self.name, **options(labels))
        chosen = [base for base, label in zip(bases, labels, strict=True) if self.layer in (base, label)]
        if len(chosen) != 1:
            raise fail(
                "unknown_layer", as_details(labels), name=self.name, layer=self.layer, **options(labels)
            )
        return chosen[0]

    def require_parts(self, stem: str, present: set[str]) -> None:
        """Refuse a Shapefile set without its .shp, .shx or .dbf."""
        missing = [ext for ext in _REQUIRED_SHAPEFILE_PARTS if ext not in present]
        if missing:
            raise fail("incomplete_shapefile", name=self.name, stem=stem, **options(missing))

    def shapefile(self, path: Path, sha: str, size: int) -> SourceDataset:
        """Describe an extracted Shapefile with its attribute encoding settled."""
        return self.describe(
            path, "ESRI Shapefile", shapefile_encoding(path, self.requested, self.name), sha, size
        )

    def describe(self, path: Path, driver: str, encoding: str | None, sha: str, size: int) -> SourceDataset:
        """Read the dataset's layer, feature count, CRS and bounds with pyogrio."""
        layer = self.choose_layer(path, driver)
        try:
            info: dict[str, Any] = pyogrio.read_info(
                path, layer=layer, encoding=encoding, force_feature_count=True, force_total_bounds=True
            )
        except Exception as exc:  # GDAL raises many types; none may escape as a 500
            raise unreadable(self.name, exc, path) from exc
        if info.get("driver") != driver:
            raise fail(
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
                raise fail("unknown_layer", name=self.name, layer=self.layer, **options(["entities"]))
            return "entities"
        try:
            listed = pyogrio.list_layers(path)
        except Exception as exc:  # GDAL raises many types; none may escape as a 500
            raise unreadable(self.name, exc, path) from exc
        spatial = [str(row[0]) for row in listed if row[1] is not None]
        if self.layer is not None:
            if self.layer not in spatial:
                raise fail(
                    "unknown_layer",
                    as_details(spatial),
                    name=self.name,
                    layer=self.layer,
                    **options(spatial),
                )
            return self.layer
        if len(spatial) == 1:
            return spatial[0]
        if not spatial:
            raise fail("no_vector_layer", name=self.name)
        raise fail("layer_required", as_details(spatial), name=self.name, **options(spatial))

    @staticmethod
    def total_size(paths: Any) -> int:
        """Total size in bytes of the existing paths among ``paths``."""
        return sum(path.stat().st_size for path in paths if path)


def _display_name(original_name: str) -> str:
    """The file's own name without any client-side folder; GDAL paths and connection strings are refused."""
    text = original_name.strip()
    if GDAL_SYNTAX.search(text):
        raise fail("unsafe_path", text=text[:120])
    base = re.split(r"[\\/]", text)[-1]
    if not base or re.search(r"[\x00-\x1f]", base):
        raise fail("unsupported", name=text[:80], why_zh="", why_en="")
    return base


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
