"""A coverage polygon file given at import: read through the footprint-file intake, united, checked.

Bad coverage input is refused (IngestError, 422) before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import pyproj
import shapely

from layers.district import STORAGE_SRID
from layers.ingest.errors import IngestError
from layers.ingest.footprint_file import read_footprint_file
from layers.ingest.intake import IntakeLimits
from layers.store.coverage import Coverage

_TO_STORAGE = pyproj.Transformer.from_crs("OGC:CRS84", pyproj.CRS.from_epsg(STORAGE_SRID), always_xy=True)


def declared_coverage(
    upload: Path, original_name: str, *, crs: str | None = None, limits: IntakeLimits | None = None
) -> Coverage:
    """The polygons of a coverage file (any footprint file format), united, in the storage CRS.

    Refused (422) when the file holds no polygon with area or lies outside the district.
    """
    features = read_footprint_file(upload, original_name, crs=crs, limits=limits or IntakeLimits())
    parts = []
    for feature in features:
        if feature.geometry is None:
            continue
        geom = shapely.geometry.shape(feature.geometry)
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise _refused(original_name, f"含有{geom.geom_type}要素", f"holds a {geom.geom_type}")
        parts.append(shapely.transform(geom, lambda x, y: _TO_STORAGE.transform(x, y), interleaved=False))
    united = shapely.make_valid(shapely.union_all(parts)) if parts else shapely.Polygon()
    polygons = shapely.get_parts(united)
    polygons = [p for p in polygons if p.geom_type in ("Polygon", "MultiPolygon")]
    area = shapely.union_all(polygons) if polygons else shapely.Polygon()
    if area.is_empty or area.area <= 0:
        raise _refused(original_name, "没有面积大于零的面", "holds no polygon with an area")
    return Coverage("declared", wkb=shapely.to_wkb(area))


def _refused(name: str, zh: str, en: str) -> IngestError:
    return IngestError(
        f"覆盖范围文件“{name}”{zh}，应为面（Polygon/MultiPolygon）。",
        f"The coverage file '{name}' {en}; it must hold polygons (Polygon/MultiPolygon).",
        code="invalid_coverage",
    )


def coverage_option(
    keyword: str | None,
    upload: Path | None = None,
    original_name: str = "",
    *,
    crs: str | None = None,
    limits: IntakeLimits | None = None,
) -> Coverage | None:
    """The coverage an import asks for: ``district``, a coverage file, or None (the layer's default).

    Refused (422) for any other keyword, or a keyword together with a file.
    """
    if keyword not in (None, "district") or (keyword is not None and upload is not None):
        raise IngestError(
            "覆盖范围应为 district（全区）或一个覆盖范围文件，二者只能选一。",
            "The coverage is either 'district' (the whole district) or a coverage file, not both.",
            code="invalid_coverage",
        )
    if upload is not None:
        return declared_coverage(upload, original_name, crs=crs, limits=limits)
    return Coverage("district") if keyword == "district" else None
