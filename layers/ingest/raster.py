"""Raster layers (DEM, slope, hillshade): GeoTIFFs stored as Cloud-Optimized GeoTIFFs under the data dir.

Each version is its own file, ``rasters/<code>/v<sha12>.tif``; the version row (in one transaction with
the switch of the layer's current version and the audit row) points at it. A failed transaction removes
the file it wrote, so no half-imported raster is ever current.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import rasterio
from psycopg import Connection
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import calculate_default_transform, reproject

from layers.audit import Actor
from layers.catalog.model import LayerEntry, LayerKind
from layers.district import DISTRICT
from layers.ingest.crs import STORAGE_CRS, check_in_district, resolve_crs
from layers.ingest.errors import IngestError
from layers.store.coverage import Coverage
from layers.store.versions import SourceMeta, insert_version, lock_layer, make_current

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _to_cog(source: Path, target: Path, crs_override: str | None, name: str) -> dict[str, Any]:
    """Reproject (when needed) to the storage CRS and write a tiled, compressed COG with overviews."""
    try:
        with rasterio.open(source) as src:
            crs = resolve_crs(_pyproj(src.crs), crs_override)
            check_in_district(tuple(src.bounds), crs)
            if crs.equals(STORAGE_CRS):
                transform, width, height = src.transform, src.width, src.height
            else:
                transform, width, height = calculate_default_transform(
                    crs.to_wkt(), STORAGE_CRS.to_wkt(), src.width, src.height, *src.bounds
                )
            profile = {
                "driver": "COG",
                "dtype": src.dtypes[0],
                "count": src.count,
                "width": width,
                "height": height,
                "crs": DISTRICT.storage_crs.label,
                "transform": transform,
                "nodata": src.nodata,
                "compress": "DEFLATE",
                "blocksize": 512,
                "overview_resampling": "average",
            }
            with tempfile.TemporaryDirectory() as tmp:
                staged = Path(tmp) / "staged.tif"
                with rasterio.open(
                    staged,
                    "w",
                    **{**profile, "driver": "GTiff", "tiled": True, "blockxsize": 512, "blockysize": 512},
                ) as dst:
                    for band in range(1, src.count + 1):
                        reproject(
                            rasterio.band(src, band),
                            rasterio.band(dst, band),
                            src_crs=crs.to_wkt(),
                            dst_crs=DISTRICT.storage_crs.label,
                            dst_transform=transform,
                            resampling=Resampling.bilinear,
                        )
                with rasterio.open(staged) as staged_src:
                    data = staged_src.read()
                with rasterio.open(target, "w", **profile) as dst:
                    dst.write(data)
            with rasterio.open(target) as out:
                return {
                    "width": out.width,
                    "height": out.height,
                    "bounds": list(out.bounds),
                    "resolution": list(out.res),
                    "source_crs": crs.to_string(),
                    "dtype": out.dtypes[0],
                }
    except RasterioError as exc:
        raise IngestError(
            f"无法读取栅格文件“{name}”：{str(exc)[:160]}",
            f"Cannot read the raster '{name}': {str(exc)[:160]}",
            code="unreadable_file",
        ) from exc


def _pyproj(crs: Any) -> Any:
    from pyproj import CRS

    return None if crs is None else CRS.from_wkt(crs.to_wkt())


def import_raster(
    conn: Connection[Any],
    entry: LayerEntry,
    upload: Path,
    original_name: str,
    actor: Actor,
    data_dir: Path,
    *,
    crs: str | None = None,
    note: str | None = None,
    coverage: Coverage | None = None,
) -> tuple[int, dict[str, Any]]:
    """Store a GeoTIFF as the raster layer's new current version; return (version number, report)."""
    if entry.kind is not LayerKind.RASTER:
        raise IngestError(
            "矢量图层不能导入栅格文件。", "A vector layer cannot take a raster file.", code="wrong_layer_kind"
        )
    with upload.open("rb") as fh:
        if fh.read(4) not in _TIFF_MAGIC:
            raise IngestError(
                "栅格图层只接受 GeoTIFF 文件。",
                "Raster layers accept GeoTIFF files only.",
                code="unsupported_format",
            )
    sha = _sha256(upload)
    folder = data_dir / "rasters" / entry.code
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"v{sha[:12]}.tif"
    created = not target.exists()
    staged = folder / f".{sha[:12]}.partial.tif"
    try:
        report = _to_cog(upload, staged, crs, original_name)
        shutil.move(staged, target)
        x0, y0, x1, y1 = report["bounds"]
        relative = str(target.relative_to(data_dir))
        source = SourceMeta(
            original_name, sha, upload.stat().st_size, "GTiff", report["source_crs"], None, note
        )
        with conn.transaction():
            previous = lock_layer(conn, entry)
            version_id, number, _ = insert_version(
                conn,
                entry,
                source,
                actor,
                bounds=(x0, y0, x1, y1),
                report=report,
                raster_path=relative,
                coverage=coverage,
            )
            make_current(
                conn,
                entry,
                version_id,
                previous,
                actor,
                {"number": number, "source": original_name, "sha256": sha, "raster_path": relative},
            )
    except BaseException:
        staged.unlink(missing_ok=True)
        if created:
            target.unlink(missing_ok=True)
        raise
    return number, report
