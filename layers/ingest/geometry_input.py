"""Geometry entering from outside (JSON bodies, query parameters), checked before any library reads it.

GeoJSON parsers are lenient where a product must not be: shapely's ``shape`` takes ``polygon`` for
``Polygon``, closes open rings, and passes ``NaN``/``Infinity`` (which Python's JSON reader accepts, as it
turns ``1e400`` into ``inf``) on to GEOS and PROJ, where they fail deep inside with a 500. Everything here
refuses with an :class:`IngestError` (422) that names the offending member by its path, e.g.
``footprint.coordinates[0][3]``, in Chinese and English.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from layers.district import DISTRICT
from layers.ingest.crs import STORAGE_CRS, describe_crs
from layers.ingest.errors import IngestError

# How deep the coordinates of each GeoJSON geometry type nest (1 = a position).
_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "MultiLineString": 3, "Polygon": 3, "MultiPolygon": 4}
GEOJSON_TYPES = (*_DEPTH, "GeometryCollection")
_MAX_NESTING = 8  # GeometryCollections inside GeometryCollections
_MAX_ABS = 1e300  # larger numbers overflow once squared (areas, distances) even where they are finite
_EXAMPLE = "[{:.2f}, {:.2f}]".format(*DISTRICT.sample_point)  # a position in the district, for messages


def invalid_geometry(field: str, zh: str, en: str, code: str = "invalid_geometry") -> IngestError:
    """A 422 naming the member of the request that holds the problem."""
    return IngestError(f"{field}：{zh}", f"{field}: {en}", code=code, details=[{"field": field}])


def check_geojson_geometry(
    raw: Any, field: str, *, max_positions: int | None = None, code: str = "invalid_geometry"
) -> None:
    """Refuse a GeoJSON geometry object that RFC 7946 does not allow (or that no library can read safely).

    Types are case-sensitive names; coordinates nest as deep as their type says; every position is two
    or three finite numbers (not booleans, not strings; RFC 7946 advises against more); lines have two
    positions or more; polygon rings four or more, closed (first position = last). ``max_positions``
    bounds the walk (too complex → 422). ``code`` is the error code of a malformed geometry (the
    specific ones — unknown type, non-finite number, too complex — keep their own).
    """
    try:
        _Walker(max_positions).geometry(raw, field, 0)
    except IngestError as exc:
        if exc.code == "invalid_geometry":
            exc.code = code
        raise


class _Walker:
    """One walk over a geometry object, counting positions."""

    def __init__(self, max_positions: int | None, max_numbers: int = 3) -> None:
        self.left = max_positions if max_positions is not None else math.inf
        self.max_numbers = max_numbers

    def geometry(self, raw: Any, field: str, nesting: int) -> None:
        if not isinstance(raw, dict):
            raise invalid_geometry(field, "应为 GeoJSON 几何对象。", "must be a GeoJSON geometry object.")
        kind = raw.get("type")
        if kind not in GEOJSON_TYPES:
            raise _bad_type(kind, f"{field}.type")
        if kind == "GeometryCollection":
            members = raw.get("geometries")
            if not isinstance(members, list):
                raise invalid_geometry(
                    f"{field}.geometries", "应为几何对象数组。", "must be an array of geometries."
                )
            if nesting >= _MAX_NESTING:
                raise invalid_geometry(field, "几何集合嵌套过深。", "geometry collections nest too deep.")
            for i, member in enumerate(members):
                self.geometry(member, f"{field}.geometries[{i}]", nesting + 1)
            return
        if "coordinates" not in raw:
            raise invalid_geometry(f"{field}.coordinates", "缺少坐标。", "is missing.")
        self.coordinates(raw["coordinates"], f"{field}.coordinates", _DEPTH[kind], kind)

    def coordinates(self, value: Any, field: str, depth: int, kind: str) -> None:
        if depth == 1:
            self.position(value, field)
            return
        if not isinstance(value, list | tuple):  # tuples: shapely.geometry.mapping of a file's shapes
            raise invalid_geometry(
                field,
                f"{kind} 的坐标嵌套层数不对（应为数组）。",
                f"wrong nesting for a {kind} (expected an array).",
            )
        for i, item in enumerate(value):
            self.coordinates(item, f"{field}[{i}]", depth - 1, kind)
        if depth == 2 and kind in ("LineString", "MultiLineString") and len(value) < 2:
            raise invalid_geometry(field, "线至少需要 2 个点。", "a line needs at least 2 positions.")
        if depth == 2 and kind in ("Polygon", "MultiPolygon"):
            _check_ring(value, field)

    def position(self, value: Any, field: str) -> None:
        self.left -= 1
        if self.left < 0:
            raise invalid_geometry(
                field,
                "几何过于复杂（顶点过多）。",
                "the geometry is too complex (too many positions).",
                "footprint_too_complex",
            )
        if not isinstance(value, list | tuple) or not 2 <= len(value) <= self.max_numbers:
            raise invalid_geometry(
                field,
                f"坐标应为 2–{self.max_numbers} 个数（经度、纬度[、高程]）组成的数组，如 {_EXAMPLE}。",
                f"a position must be 2 to {self.max_numbers} numbers (x, y[, z]), e.g. {_EXAMPLE}.",
            )
        for number in value:
            if type(number) not in (int, float):
                raise invalid_geometry(field, "坐标应为数值。", "coordinates must be numbers.")
            if not -_MAX_ABS < number < _MAX_ABS:  # False for NaN as well
                raise invalid_geometry(
                    field,
                    f"坐标 {_shown(number)} 不是有限数值（NaN、Infinity 或超出范围）。",
                    f"the coordinate {_shown(number)} is not a finite number (NaN, Infinity, out of range).",
                    "non_finite_coordinate",
                )


def _check_ring(ring: list[Any] | tuple[Any, ...], field: str) -> None:
    if len(ring) < 4:
        raise invalid_geometry(
            field,
            "面的环至少需要 4 个点（首尾相同）。",
            "a polygon ring needs at least 4 positions (first = last).",
        )
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise invalid_geometry(
            field,
            "面的环未闭合（首点与末点不同）。",
            "the polygon ring is not closed (first position ≠ last).",
        )


def _bad_type(kind: Any, field: str) -> IngestError:
    names = "、".join(GEOJSON_TYPES)
    if isinstance(kind, str):
        proper = next((t for t in GEOJSON_TYPES if t.lower() == kind.lower()), None)
        if proper is not None:
            return invalid_geometry(
                field,
                f"几何类型区分大小写：应为“{proper}”，收到“{kind[:40]}”。",
                f"geometry types are case-sensitive: expected '{proper}', got '{kind[:40]}'.",
                "unknown_geometry_type",
            )
        return invalid_geometry(
            field,
            f"未知的几何类型“{kind[:40]}”，可选：{names}。",
            f"unknown geometry type '{kind[:40]}'; expected one of {', '.join(GEOJSON_TYPES)}.",
            "unknown_geometry_type",
        )
    return invalid_geometry(
        field,
        f"缺少几何类型（可选：{names}）。",
        "the geometry type is missing or not a string.",
        "unknown_geometry_type",
    )


def _shown(number: float) -> str:
    text = repr(number)
    return text if len(text) <= 24 else text[:21] + "…"


def check_finite(geom: shapely.Geometry, field: str) -> None:
    """Refuse a geometry with a coordinate that is not finite (after a projection: outside its domain)."""
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise invalid_geometry(
            field,
            f"坐标超出坐标系 {describe_crs(STORAGE_CRS)} 的有效范围。",
            f"coordinates are outside the valid range of {describe_crs(STORAGE_CRS)}.",
            "outside_crs_domain",
        )


@functools.cache
def storage_domain() -> tuple[float, float, float, float]:
    """Where the storage CRS is defined (its EPSG area of use), as west, south, east, north in degrees."""
    area = STORAGE_CRS.area_of_use
    assert area is not None  # an EPSG CRS has one
    return area.bounds


def check_lonlat_in_domain(lon: float, lat: float, field: str) -> None:
    """Refuse a longitude/latitude where the storage CRS is not defined (a 422, not an empty answer)."""
    west, south, east, north = storage_domain()
    if not (west <= lon <= east and south <= lat <= north):
        raise invalid_geometry(
            field,
            f"点（{lon:g}, {lat:g}）超出坐标系 {describe_crs(STORAGE_CRS)} 的适用范围"
            f"（{west:g}–{east:g}°E，{south:g}–{north:g}°N）。",
            f"the point ({lon:g}, {lat:g}) is outside the area where {describe_crs(STORAGE_CRS)} is defined "
            f"({west:g}–{east:g}°E, {south:g}–{north:g}°N).",
            "outside_crs_domain",
        )


def check_geojson_file(
    path: Path, name: str, *, max_positions: int | None = None, max_numbers: int = 3
) -> None:
    """Check every geometry of a GeoJSON file as strictly as a JSON body's (GDAL's reader is lenient: it
    drops a malformed part of a MultiPolygon without a word). Text that is not JSON is left to GDAL.

    ``max_numbers`` per position: 3 for footprints, 4 for layers (a measure after the height)."""
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return
    walker = _Walker(max_positions, max_numbers)
    features = document.get("features") if isinstance(document, dict) else None
    if (
        isinstance(document, dict)
        and document.get("type") == "FeatureCollection"
        and isinstance(features, list)
    ):
        found = [
            (f.get("geometry"), f"{name}.features[{i}].geometry")
            for i, f in enumerate(features)
            if isinstance(f, dict)
        ]
    elif isinstance(document, dict) and document.get("type") == "Feature":
        found = [(document.get("geometry"), f"{name}.geometry")]
    else:
        found = [(document, name)]
    for geometry, field in found:
        if geometry is not None:
            walker.geometry(geometry, field, 0)
