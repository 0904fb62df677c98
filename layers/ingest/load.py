"""Importing one file into one catalog layer: intake → read → prepare → atomic versioned write."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from psycopg import Connection

from layers.audit import Actor
from layers.catalog.model import LayerEntry, LayerKind
from layers.ingest.cad import dxf_entity_styles
from layers.ingest.crs import check_in_district, resolve_crs, transformer_to_storage
from layers.ingest.errors import IngestError
from layers.ingest.geometry_input import check_geojson_file
from layers.ingest.intake import IntakeLimits, SourceDataset, open_upload
from layers.ingest.prepare import FeatureBatches
from layers.store.coverage import Coverage
from layers.store.versions import SourceMeta, VersionInfo, write_version

# GeoJSON layers up to this size are checked as strictly as a JSON body (structure, finite numbers, closed
# rings) before GDAL reads them; the check parses the whole file in Python (~10x its size in memory), so
# bigger files are left to GDAL's own (more lenient) reader.
CHECKED_GEOJSON_BYTES = 64 * 1024**2
_DXF_OPTIONS = {"DXF_CLOSED_LINE_AS_POLYGON": "TRUE", "DXF_MERGE_BLOCK_GEOMETRIES": "TRUE"}


def read_source(source: SourceDataset, entry: LayerEntry) -> tuple[np.ndarray, Any, np.ndarray]:
    """Read geometry (as WKB bytes), attributes and source ids (UTF-8 bytes) with pyogrio."""
    wkb, attributes, source_fids = read_source_arrow(source, entry)
    return (
        np.asarray(wkb.to_numpy(zero_copy_only=False), dtype=object),
        attributes,
        np.asarray(source_fids.to_numpy(zero_copy_only=False), dtype=object),
    )


def read_source_arrow(source: SourceDataset, entry: LayerEntry) -> tuple[pa.Array, Any, pa.Array]:
    """Read geometry (WKB), attributes and source ids (UTF-8 text) with pyogrio (never from a
    user-given path); geometry and ids stay Arrow large_binary arrays, attributes are a DataFrame."""
    styles: dict[str, tuple[str, int, str]] = {}
    if source.driver == "DXF":
        encoding, styles = dxf_entity_styles(source.path, source.original_name)
        options = {"DXF_ENCODING": encoding}
        if entry.kind is LayerKind.AREA:
            options.update(_DXF_OPTIONS)
        pyogrio.set_gdal_config_options(options)
    try:
        meta, table = pyogrio.read_arrow(
            source.path, layer=source.layer, encoding=source.encoding, return_fids=True
        )
    except Exception as exc:  # GDAL raises many types; none may escape as a 500
        raise IngestError(
            f"无法读取文件“{source.original_name}”：{str(exc)[:200]}",
            f"Cannot read '{source.original_name}': {str(exc)[:200]}",
            code="unreadable_file",
        ) from exc
    finally:
        if source.driver == "DXF":
            pyogrio.set_gdal_config_options(dict.fromkeys([*_DXF_OPTIONS, "DXF_ENCODING"]))
    # Arrow hands over WKB in one buffer; it is parsed batch by batch while the previous batch is copied.
    geometry_column = meta.get("geometry_name") or "wkb_geometry"
    wkb = table.column(geometry_column).combine_chunks().cast(pa.large_binary())
    fid_column = meta.get("fid_column") or "OGC_FID"
    fids = (
        table.column(fid_column)
        if fid_column in table.column_names
        else pa.array(np.arange(len(wkb), dtype=np.int64))
    )
    attributes = table.drop_columns(
        [c for c in (geometry_column, fid_column) if c in table.column_names]
    ).to_pandas()
    if source.driver == "DXF":
        attributes = _with_cad_styles(attributes, styles)
    # Source ids as UTF-8 text, converted in C: they go straight into the COPY rows.
    source_fids = pc.cast(pc.cast(fids, pa.string()), pa.large_binary())
    if isinstance(source_fids, pa.ChunkedArray):
        source_fids = source_fids.combine_chunks()
    return wkb, attributes, source_fids


def read_shapes(source: SourceDataset, entry: LayerEntry) -> tuple[np.ndarray, Any, np.ndarray]:
    """:func:`read_source` with the geometry parsed into shapely objects (None where unreadable), for
    small files read whole (footprints, ledger imports); a layer import keeps the WKB."""
    wkb, attributes, fids = read_source(source, entry)
    return shapely.from_wkb(wkb, on_invalid="ignore"), attributes, fids


def _with_cad_styles(attributes: Any, styles: dict[str, tuple[str, int, str]]) -> Any:
    """Keep the CAD layer name and the entity colour (index and RGB) as attributes."""
    handles = attributes.get("EntityHandle")
    looked_up = [
        styles.get(str(h).upper(), (None, None, None)) for h in (handles if handles is not None else [])
    ]
    attributes = attributes.rename(columns={"Layer": "cad_layer"})
    if looked_up:
        attributes["cad_color_index"] = [s[1] for s in looked_up]
        attributes["cad_color"] = [s[2] for s in looked_up]
    return attributes.drop(columns=[c for c in ("PaperSpace", "SubClasses") if c in attributes.columns])


def import_path(
    conn: Connection[Any],
    entry: LayerEntry,
    upload: Path,
    original_name: str,
    actor: Actor,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    source_layer: str | None = None,
    skip_invalid: bool = False,
    note: str | None = None,
    limits: IntakeLimits | None = None,
    coverage: Coverage | None = None,
) -> tuple[VersionInfo, dict[str, Any]]:
    """Import one uploaded file as the layer's new version; return the version and its report.

    ``coverage`` is where the version's data answers (None: the layer's default coverage)."""
    if entry.live is not None:
        raise IngestError(
            f"图层“{entry.name_zh}”实时来自业务数据，不能导入。",
            f"Layer '{entry.code}' is live from the platform's own records; it cannot be imported.",
            code="live_layer",
            status=409,
        )
    if entry.derived is not None:
        raise IngestError(
            f"图层“{entry.name_zh}”由平台分析生成（设施缺口分析），不能导入；请重新计算该分析。",
            f"Layer '{entry.code}' is written by the platform's analysis (facility gaps); it cannot be"
            " imported. Recompute the analysis instead.",
            code="derived_layer",
            status=409,
        )
    with tempfile.TemporaryDirectory(prefix="duogui-import-") as work:
        source = open_upload(
            upload,
            original_name,
            Path(work),
            layer=source_layer,
            encoding=encoding,
            limits=limits or IntakeLimits(),
        )
        source_crs = resolve_crs(source.crs, crs)
        if source.driver == "GeoJSON" and source.size_bytes <= CHECKED_GEOJSON_BYTES:
            check_geojson_file(source.path, original_name, max_numbers=4)
        wkb, attributes, source_fids = read_source_arrow(source, entry)
        if source.bounds is not None:  # GDAL's extent: checked before anything is written
            check_in_district(source.bounds, source_crs)
        else:
            geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False), on_invalid="ignore")
            present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
            if len(present):
                check_in_district(tuple(shapely.total_bounds(present)), source_crs)
        features = FeatureBatches(
            wkb,
            attributes,
            entry,
            transformer_to_storage(source_crs),
            source_fids=source_fids,
            skip_invalid=skip_invalid,
            # The geometries' own extent is checked too once read (GDAL's may come from a header).
            check_extent=functools.partial(check_in_district, crs=source_crs),
        )
        features.source = {
            "name": original_name,
            "driver": source.driver,
            "layer": source.layer,
            "crs": source_crs.to_string(),
            "encoding": source.encoding,
        }
        meta = SourceMeta(
            name=original_name,
            sha256=source.sha256,
            size=source.size_bytes,
            driver=source.driver,
            crs=source_crs.to_string(),
            encoding=source.encoding,
            note=note,
        )
        info = write_version(conn, entry, features, meta, actor, coverage)
    return info, features.report


def import_file(
    conn: Connection[Any],
    entry: LayerEntry,
    upload: Path,
    original_name: str,
    actor: Actor,
    data_dir: Path,
    **options: Any,
) -> tuple[int, int, dict[str, Any]]:
    """Import a vector or raster file according to the layer's kind; return (version, features, report)."""
    if entry.kind is LayerKind.RASTER:
        from layers.ingest.raster import import_raster

        number, report = import_raster(
            conn,
            entry,
            upload,
            original_name,
            actor,
            data_dir,
            crs=options.get("crs"),
            note=options.get("note"),
            coverage=options.get("coverage"),
        )
        return number, 0, report
    info, report = import_path(conn, entry, upload, original_name, actor, **options)
    return info.number, info.feature_count, report
