"""The vendored invalid-geometry corpus (tests/data/geojson-invalid-geometry): its cases, and each case
moved into the district so that the geometry checks, not the district check, decide its fate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pyproj import Geod

CORPUS = Path(__file__).resolve().parent / "data" / "geojson-invalid-geometry"
EXPECTED_CASES = 74  # examples/*/*.geojson, counted by hand in the vendored copy
# The cases that are a usable footprint once moved into the district (polygons only, RFC 7946 valid or
# repairable without adding area); every other case, and every case where it lies (outside the district),
# is refused with a 4xx. Winding order is not checked (RFC 7946: parsers SHOULD NOT reject it).
ANSWERED_IN_DISTRICT = {
    "invalid_geometries/invalid_exterior_not_ccw",
    "invalid_geometries/invalid_interior_not_cw",
    "invalid_structure/invalid_feature_no_properties",
    "problematic_geometries/problematic_3d_coordinates",
    "problematic_geometries/problematic_crosses_antimeridian",
    "problematic_geometries/problematic_duplicate_nodes",
    "problematic_geometries/problematic_excessive_coordinate_precision",
    "problematic_geometries/problematic_excessive_vertices",
    "problematic_geometries/problematic_holes",
    "problematic_geometries/problematic_multitype_geometry_with_just_one_geometry",
    "problematic_geometries/problematic_outside_lat_lon_boundaries",
    "problematic_geometries/problematic_self_intersection_large",  # repaired (a bow-tie): area only lost
    "problematic_geometries/problematic_self_intersection_small",
    "problematic_geometries/problematic_wrong_bbox_coordinate_order",
    "problematic_structure/problematic_geometry_not_wrapped",
    "valid/valid_feature_null_properties",
    "valid/valid_featurecollection",
    "valid/valid_featurecollection_bboxes",
    "valid/valid_geometry_bbox",
    "valid/valid_geometry_multipolygon",
    "valid/valid_geometry_polygon",
}
# A layer import is a GIS import: it also takes geometry collections (their polygons), positions with a
# measure, and repairs what a footprint check refuses (a hole crossing its shell), reporting the repair.
LAYER_ANSWERED_IN_DISTRICT = ANSWERED_IN_DISTRICT | {
    "problematic_geometries/problematic_4d_coordinates",
    "problematic_geometries/problematic_inner_and_exterior_ring_intersect",
    "valid/valid_featurecollection_with_geometrycollection",
    "valid/valid_geometry_geometrycollection",
}
# Where relocated cases land: a 300 m box in Longgang (CRS84).
TARGET_LON, TARGET_LAT, TARGET_SPAN = 114.2300, 22.7100, 0.003


def corpus_cases() -> list[Path]:
    """Every example file; fails (at collection) when the corpus is missing or incomplete."""
    cases = sorted((CORPUS / "examples").glob("*/*.geojson"))
    if len(cases) != EXPECTED_CASES or not (CORPUS / "LICENSE").is_file():
        raise RuntimeError(
            f"the invalid-geometry corpus at {CORPUS} has {len(cases)} cases, expected {EXPECTED_CASES} "
            "(with its LICENSE): restore tests/data/geojson-invalid-geometry"
        )
    return cases


def case_id(path: Path) -> str:
    """A readable test id: folder/name."""
    return f"{path.parent.name}/{path.stem}"


def _is_position(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(type(v) in (int, float) for v in value[:2])
        and all(abs(v) < 1e300 for v in value[:2])
    )


def _positions(value: Any) -> list[list[Any]]:
    if _is_position(value):
        return [value]
    if isinstance(value, list):
        return [p for item in value for p in _positions(item)]
    if isinstance(value, dict):
        return [p for key, item in value.items() if key != "bbox" for p in _positions(item)]
    return []


def relocated(document: Any) -> Any:
    """A copy with every position's x/y mapped linearly from the document's extent into the target box:
    structure, ring order, closure, winding and (in)validity stay as they were."""
    moved = copy.deepcopy(document)
    positions = _positions(moved)
    if not positions:
        return moved
    xs, ys = [float(p[0]) for p in positions], [float(p[1]) for p in positions]
    scale = TARGET_SPAN / max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    x0, y0 = min(xs), min(ys)
    for p in positions:
        p[0] = TARGET_LON + (float(p[0]) - x0) * scale
        p[1] = TARGET_LAT + (float(p[1]) - y0) * scale
    return moved


def load(path: Path) -> Any:
    """The case's JSON document (Python's reader, as the API's)."""
    return json.loads(path.read_text(encoding="utf-8"))


def geodesic_area_m2(polygons: list[list[list[list[float]]]]) -> float:
    """Area on the ellipsoid of polygons given as rings of lon/lat positions (holes subtracted), by pyproj's
    Geod: a different computation from the platform's (shapely in EPSG:4547)."""
    geod = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
    total = 0.0
    for rings in polygons:
        for i, ring in enumerate(rings):
            area, _ = geod.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])
            total += abs(area) if i == 0 else -abs(area)
    return total


def polygons_of(document: Any) -> list[Any] | None:
    """The polygons (rings of positions) of a document made only of polygons; None otherwise."""
    if not isinstance(document, dict):
        return None
    kind = document.get("type")
    if kind == "FeatureCollection":
        found = [polygons_of(f) for f in document.get("features") or []]
        return None if not found or any(f is None for f in found) else [p for f in found for p in f or []]
    if kind == "Feature":
        return polygons_of(document.get("geometry"))
    if kind == "Polygon":
        return [document["coordinates"]]
    if kind == "MultiPolygon":
        # A part one level too shallow is a single ring (so GDAL reads it, the JSON path refuses it).
        return [[part] if type(part[0][0]) in (int, float) else part for part in document["coordinates"]]
    return None
