"""Project footprints for pre-evaluation: GeoJSON in, a valid storage-CRS (multi)polygon or a 422 out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyproj
import shapely
from shapely.geometry import shape

from layers.district import DISTRICT
from layers.ingest.crs import check_in_district, resolve_crs, transformer_to_storage
from layers.ingest.errors import IngestError
from layers.ingest.geometry_input import check_finite, check_geojson_geometry, invalid_geometry

MAX_VERTICES = 100_000
MAX_PARTS = 1_000
MAX_AREA_M2 = 100_000_000  # 100 km²
# The smallest site worth a check: a footprint of less than a square metre is a slip of the pen (a
# degenerate or doubly drawn outline), not a site, and would be graded on slivers.
MIN_AREA_M2 = 1.0
# A repair may take area away (a bow-tie's overlap), never add it: anything beyond this, outside the
# outlines as drawn, means the geometry meant something else (a hole outside its shell).
_REPAIR_SLACK_M2 = 0.01
# A document's (pre-RFC 7946) ``crs`` member naming the storage CRS, as messages show it.
_CRS_MEMBER = json.dumps({"type": "name", "properties": {"name": DISTRICT.storage_crs.label}})


@dataclass
class Footprint:
    """A checked footprint in the storage CRS, with what intake had to repair."""

    geometry: shapely.Geometry
    area_m2: float
    repairs: list[str] = field(default_factory=list)


def _refuse(zh: str, en: str, code: str = "invalid_footprint") -> IngestError:
    return IngestError(zh, en, code=code)


def _geometries(document: Any, field: str, level: int = 0) -> list[tuple[Any, str]]:
    """The geometry objects of a GeoJSON geometry, Feature or FeatureCollection, with their paths.

    ``level`` keeps the nesting GeoJSON's: a collection holds features (or bare geometries), a feature a
    geometry — a feature inside a feature's geometry is refused (endless nesting would exhaust the stack).
    """
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise _refuse(
            "请提交 GeoJSON 几何、要素或要素集合。", "Send a GeoJSON geometry, Feature or FeatureCollection."
        )
    kind = document["type"]
    if kind in ("FeatureCollection", "Feature") and level >= (1 if kind == "FeatureCollection" else 2):
        raise invalid_geometry(
            f"{field}.type",
            f"此处不能是 {kind}，应为几何对象。",
            f"cannot be a {kind} here: expected a geometry.",
            "invalid_footprint",
        )
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise _refuse("要素集合为空。", "The FeatureCollection is empty.", "empty_footprint")
        return [g for i, f in enumerate(features) for g in _geometries(f, f"{field}.features[{i}]", 1)]
    if kind == "Feature":
        geometry = document.get("geometry")
        if geometry is None:
            raise _refuse("要素缺少几何。", "A feature has no geometry.", "empty_footprint")
        return _geometries(geometry, f"{field}.geometry", 2)
    return [(document, field)]


def parse_footprint(document: Any, crs: str | None = None, field: str = "footprint") -> Footprint:
    """Parse, reproject, validate and repair a footprint; refuse what cannot be a site.

    ``field`` names the footprint in the request, for the messages (e.g. ``footprint.coordinates[0][3]``).
    """
    parts = _parts(document, field)
    merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    if shapely.get_num_coordinates(merged) > MAX_VERTICES or len(shapely.get_parts(merged)) > MAX_PARTS:
        raise _refuse(
            f"用地范围过于复杂（顶点不超过 {MAX_VERTICES:,}，部件不超过 {MAX_PARTS}）。",
            f"The footprint is too complex (at most {MAX_VERTICES:,} vertices and {MAX_PARTS} parts).",
            "footprint_too_complex",
        )
    source = _source_crs(document, crs, field)
    check_in_district(tuple(shapely.bounds(merged)), source)
    geom = shapely.force_2d(merged)
    geom = shapely.transform(
        geom, lambda x, y: transformer_to_storage(source).transform(x, y), interleaved=False
    )
    check_finite(geom, field)
    repairs: list[str] = []
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        repaired = _repaired(geom)
        _check_repair_adds_no_area(geom, repaired, reason, field)
        repairs.append(f"几何无效（{reason}），已修复")
        geom = repaired
    _check_area(geom, field)
    return Footprint(geom, float(geom.area), repairs)


def _parts(document: Any, field: str) -> list[shapely.Geometry]:
    """The (multi)polygons of a footprint document, each checked as GeoJSON first."""
    parts = []
    for raw, path in _geometries(document, field):
        check_geojson_geometry(raw, path, max_positions=MAX_VERTICES, code="invalid_footprint")
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
    return parts


def _check_area(geom: shapely.Geometry, field: str) -> None:
    """Refuse a footprint without area, under the minimum or over the maximum."""
    if geom.is_empty or geom.area <= 0:
        raise _refuse("用地范围面积为零。", "The footprint has no area.", "empty_footprint")
    if geom.area < MIN_AREA_M2:
        raise invalid_geometry(
            field,
            f"用地范围面积 {geom.area:.3g} m² 小于 {MIN_AREA_M2:g} m² 下限，请检查坐标。",
            f"the footprint's area of {geom.area:.3g} m² is below the {MIN_AREA_M2:g} m² minimum; check the "
            "coordinates.",
            "footprint_too_small",
        )
    if geom.area > MAX_AREA_M2:
        raise _refuse(
            f"用地范围超过 {MAX_AREA_M2 / 1e6:.0f} km² 上限。",
            f"The footprint exceeds {MAX_AREA_M2 / 1e6:.0f} km².",
            "footprint_too_large",
        )


def _source_crs(document: Any, crs: str | None, field: str) -> pyproj.CRS:
    """The footprint's CRS: the request's, or the document's (pre-RFC 7946) ``crs`` member, or CRS84."""
    member = document.get("crs") if isinstance(document, dict) else None
    if member is None:
        return resolve_crs(None, crs or "OGC:CRS84")
    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str):
        raise invalid_geometry(
            f"{field}.crs",
            f"应为 {_CRS_MEMBER}（或省略，默认 CRS84）。",
            f"must be {_CRS_MEMBER} (or left out for CRS84).",
            "bad_crs",
        )
    named = resolve_crs(None, name)
    if crs is not None and not resolve_crs(None, crs).equals(named):
        raise invalid_geometry(
            f"{field}.crs",
            f"与请求的坐标系 {crs[:80]} 不一致。",
            f"contradicts the request's CRS {crs[:80]}.",
            "bad_crs",
        )
    return named


def _repaired(geom: shapely.Geometry) -> shapely.Geometry:
    """GEOS's repair of an invalid (multi)polygon, its polygonal parts only."""
    fixed = shapely.make_valid(geom)
    polygons = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polygons) if polygons else shapely.Polygon()


def _check_repair_adds_no_area(
    geom: shapely.Geometry, repaired: shapely.Geometry, reason: str, field: str
) -> None:
    """Refuse an invalid footprint whose repair would cover ground outside its drawn outer rings."""
    shells = shapely.union_all(
        [shapely.Polygon(shapely.get_exterior_ring(p)) for p in shapely.get_parts(geom)]
    )
    added = shapely.difference(repaired, shapely.make_valid(shells)).area
    if added > _REPAIR_SLACK_M2:
        raise invalid_geometry(
            field,
            f"几何无效且无法自动修复：{_reason_zh(reason)}（{reason}）；修复会在外环以外增加 {added:.3g} m²。"
            "请修正后重新提交。",
            f"the geometry is invalid and cannot be repaired safely: {reason}; a repair would add "
            f"{added:.3g} m² outside its outer rings. Fix it and submit again.",
            "invalid_footprint_geometry",
        )


def _reason_zh(reason: str) -> str:
    """GEOS's reason for invalidity, in Chinese where it is a known one."""
    known = {
        "Hole lies outside shell": "内环（洞）位于外环之外",
        "Self-intersection": "边自相交",
        "Ring Self-intersection": "环自相交",
        "Nested shells": "外环相互嵌套",
        "Interior is disconnected": "内部不连通",
        "Holes are nested": "内环相互嵌套",
        "Nested holes": "内环相互嵌套",
    }
    return next((zh for en, zh in known.items() if reason.startswith(en)), "几何无效")
