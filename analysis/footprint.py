"""Project footprints for pre-evaluation: GeoJSON in, a valid EPSG:4547 (multi)polygon out, or a clear 422."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import shape

from layers.ingest.crs import check_in_district, resolve_crs, transformer_to_storage
from layers.ingest.errors import IngestError

MAX_VERTICES = 100_000
MAX_PARTS = 1_000
MAX_AREA_M2 = 100_000_000  # 100 km²


@dataclass
class Footprint:
    """A checked footprint in the storage CRS, with what intake had to repair."""

    geometry: shapely.Geometry
    area_m2: float
    repairs: list[str] = field(default_factory=list)


def _refuse(zh: str, en: str, code: str = "invalid_footprint") -> IngestError:
    return IngestError(zh, en, code=code)


def _geometries(document: Any) -> list[Any]:
    """The geometry objects of a GeoJSON geometry, Feature or FeatureCollection."""
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise _refuse(
            "请提交 GeoJSON 几何、要素或要素集合。", "Send a GeoJSON geometry, Feature or FeatureCollection."
        )
    kind = document["type"]
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise _refuse("要素集合为空。", "The FeatureCollection is empty.", "empty_footprint")
        return [g for f in features for g in _geometries(f)]
    if kind == "Feature":
        geometry = document.get("geometry")
        if geometry is None:
            raise _refuse("要素缺少几何。", "A feature has no geometry.", "empty_footprint")
        return _geometries(geometry)
    return [document]


def parse_footprint(document: Any, crs: str | None = None) -> Footprint:
    """Parse, reproject, validate and repair a footprint; refuse what cannot be a site."""
    parts = []
    for raw in _geometries(document):
        try:
            geom = shape(raw)
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
            raise _refuse(f"几何格式错误：{str(exc)[:120]}", f"Malformed geometry: {str(exc)[:120]}") from exc
        if geom.is_empty:
            raise _refuse("几何为空。", "The geometry is empty.", "empty_footprint")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise _refuse(
                f"用地范围须为面（Polygon/MultiPolygon），收到 {geom.geom_type}。",
                f"A footprint must be a Polygon or MultiPolygon, got {geom.geom_type}.",
                "wrong_geometry_kind",
            )
        parts.append(geom)
    merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    if shapely.get_num_coordinates(merged) > MAX_VERTICES or len(shapely.get_parts(merged)) > MAX_PARTS:
        raise _refuse(
            f"用地范围过于复杂（顶点不超过 {MAX_VERTICES:,}，部件不超过 {MAX_PARTS}）。",
            f"The footprint is too complex (at most {MAX_VERTICES:,} vertices and {MAX_PARTS} parts).",
            "footprint_too_complex",
        )
    source = resolve_crs(None, crs or "OGC:CRS84")
    check_in_district(tuple(shapely.bounds(merged)), source)
    geom = shapely.force_2d(merged)
    geom = shapely.transform(
        geom, lambda x, y: transformer_to_storage(source).transform(x, y), interleaved=False
    )
    repairs: list[str] = []
    if not geom.is_valid:
        repairs.append(f"几何无效（{shapely.is_valid_reason(geom)}），已修复")
        geom = shapely.make_valid(geom)
        polygons = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        geom = shapely.union_all(polygons) if polygons else shapely.Polygon()
    if geom.is_empty or geom.area <= 0:
        raise _refuse("用地范围面积为零。", "The footprint has no area.", "empty_footprint")
    if geom.area > MAX_AREA_M2:
        raise _refuse(
            f"用地范围超过 {MAX_AREA_M2 / 1e6:.0f} km² 上限。",
            f"The footprint exceeds {MAX_AREA_M2 / 1e6:.0f} km².",
            "footprint_too_large",
        )
    return Footprint(geom, float(geom.area), repairs)
