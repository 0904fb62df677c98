"""Project footprints from a file (zipped Shapefile, GeoPackage, GeoJSON, DXF) through the layer intake.

The same guarded intake as layer imports (``intake.open_upload``: size, zip-bomb and zip-slip checks, format
and encoding detection) and the same reader (``load.read_shapes``); the features come back as CRS84
GeoJSON, one per feature, for ``analysis.footprint.parse_footprint`` to check like any drawn footprint.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyproj
import shapely

from layers.catalog.model import LayerEntry, LayerKind
from layers.ingest.crs import check_in_district, resolve_crs
from layers.ingest.errors import IngestError
from layers.ingest.geometry_input import check_geojson_file
from layers.ingest.intake import IntakeLimits, open_upload
from layers.ingest.load import read_shapes

# The reader only asks a layer entry for its kind: footprints are read like an area layer (for DXF this
# turns closed polylines into polygons).
_AREA_LAYER = LayerEntry.model_construct(kind=LayerKind.AREA)
NAME_FIELDS = ("name", "NAME", "Name", "名称", "项目名称", "xmmc", "XMMC")
MAX_FOOTPRINT_FEATURES = 5000
MAX_FOOTPRINT_POSITIONS = 5_000_000  # what MAX_FOOTPRINT_FEATURES footprints of a real size may hold


@dataclass
class FileFootprint:
    """One feature of a footprint file: its name (when the file has one) and CRS84 GeoJSON geometry."""

    name: str | None
    geometry: dict[str, Any] | None


def read_footprint_file(
    upload: Path,
    original_name: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    source_layer: str | None = None,
    name_field: str | None = None,
    limits: IntakeLimits = IntakeLimits(),  # noqa: B008 - frozen, so a shared default is safe
    workdir: Path | None = None,
) -> list[FileFootprint]:
    """Read every feature of a footprint file; refuse unreadable, empty or misplaced files (IngestError)."""
    with tempfile.TemporaryDirectory(prefix="footprint-", dir=workdir) as tmp:
        source = open_upload(
            upload, original_name, Path(tmp), layer=source_layer, encoding=encoding, limits=limits
        )
        count, limit, name = source.feature_count, MAX_FOOTPRINT_FEATURES, source.original_name
        if count > limit:
            raise IngestError(
                f"文件“{name}”有 {count} 个要素，超过 {limit} 个上限。",
                f"'{name}' has {count} features, above the limit of {limit}.",
                code="too_many_footprints",
                status=413,
            )
        file_crs = resolve_crs(source.crs, crs)
        if source.driver == "GeoJSON":
            check_geojson_file(source.path, source.original_name, max_positions=MAX_FOOTPRINT_POSITIONS)
        geoms, attributes, _ = read_shapes(source, _AREA_LAYER)
    if source.driver == "DXF":
        # A drawing carries notes, dimensions and lines besides the red line: keep its closed areas.
        keep = [
            i for i, g in enumerate(geoms) if g is not None and g.geom_type in ("Polygon", "MultiPolygon")
        ]
        geoms, attributes = geoms[keep], attributes.iloc[keep].reset_index(drop=True)
    present = [g for g in geoms if g is not None and not g.is_empty]
    if not present:
        raise IngestError(
            f"文件“{source.original_name}”中没有用地范围（面）。",
            f"'{source.original_name}' holds no footprint (no polygons).",
            code="empty_footprint",
        )
    check_in_district(tuple(shapely.total_bounds(present)), file_crs)
    to_lonlat = pyproj.Transformer.from_crs(file_crs, "OGC:CRS84", always_xy=True)
    column = name_field or next((c for c in NAME_FIELDS if c in attributes.columns), None)
    names = attributes[column].tolist() if column in attributes.columns else [None] * len(geoms)
    out: list[FileFootprint] = []
    for geom, name in zip(geoms, names, strict=True):
        lonlat = None
        if geom is not None:
            flat = shapely.force_2d(geom)
            lonlat = shapely.geometry.mapping(
                shapely.transform(flat, lambda x, y: to_lonlat.transform(x, y), interleaved=False)
            )
        out.append(FileFootprint(None if name is None or name != name else str(name), lonlat))
    return out


def as_feature_collection(footprints: list[FileFootprint]) -> dict[str, Any]:
    """The file's features as one GeoJSON FeatureCollection (CRS84), names in ``properties.name``."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": f.name}, "geometry": f.geometry} for f in footprints
        ],
    }
