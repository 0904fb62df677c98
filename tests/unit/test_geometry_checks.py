"""The geometry checks at the edge: strict GeoJSON, finite numbers, the storage CRS's domain, safe text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely

from analysis.footprint import parse_footprint
from layers.ingest.errors import IngestError, safe_text
from layers.ingest.geometry_input import (
    check_finite,
    check_geojson_file,
    check_geojson_geometry,
    check_lonlat_in_domain,
    storage_domain,
)

RING = [[114.25, 22.70], [114.26, 22.70], [114.26, 22.71], [114.25, 22.70]]


def _code(raw: Any, **kw: Any) -> tuple[str, str]:
    with pytest.raises(IngestError) as refused:
        check_geojson_geometry(raw, "g", **kw)
    return refused.value.code, refused.value.details[0]["field"]


def test_well_formed_geometries_pass() -> None:
    for raw in [
        {"type": "Point", "coordinates": [1, 2]},
        {"type": "LineString", "coordinates": [[1, 2], [3, 4.5]]},
        {"type": "Polygon", "coordinates": [RING, RING]},
        {"type": "MultiPolygon", "coordinates": [[RING], [[[*p, 9.0] for p in RING]]]},
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]},
        {"type": "Polygon", "coordinates": []},  # empty: refused later, as empty
    ]:
        check_geojson_geometry(raw, "g")


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ({"type": "polygon", "coordinates": [RING]}, "unknown_geometry_type", "g.type"),
        ({"type": None, "coordinates": [RING]}, "unknown_geometry_type", "g.type"),
        ({"coordinates": [RING]}, "unknown_geometry_type", "g.type"),
        ({"type": "Polygon"}, "invalid_geometry", "g.coordinates"),
        ({"type": "Polygon", "coordinates": RING}, "invalid_geometry", "g.coordinates[0][0]"),
        ({"type": "Polygon", "coordinates": [RING[:-1]]}, "invalid_geometry", "g.coordinates[0]"),
        ({"type": "Polygon", "coordinates": [[*RING[:-1], [114.25, 22.71]]]}, "invalid_geometry",
         "g.coordinates[0]"),
        ({"type": "Polygon", "coordinates": [[RING[0], [float("nan"), 1], *RING[2:]]]},
         "non_finite_coordinate", "g.coordinates[0][1]"),
        ({"type": "Point", "coordinates": [10**400, 1]}, "non_finite_coordinate", "g.coordinates"),
        ({"type": "Point", "coordinates": [1e301, 1]}, "non_finite_coordinate", "g.coordinates"),
        ({"type": "Point", "coordinates": ["1", 1]}, "invalid_geometry", "g.coordinates"),
        ({"type": "Point", "coordinates": [True, 1]}, "invalid_geometry", "g.coordinates"),
        ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "invalid_geometry", "g.coordinates"),
        ({"type": "LineString", "coordinates": [[1, 2]]}, "invalid_geometry", "g.coordinates"),
        ({"type": "GeometryCollection", "geometries": [None]}, "invalid_geometry", "g.geometries[0]"),
    ],
)  # fmt: skip
def test_what_rfc_7946_does_not_allow_is_refused_by_path(raw: Any, code: str, field: str) -> None:
    assert _code(raw) == (code, field)


def test_a_malformed_footprint_keeps_its_own_code() -> None:
    with pytest.raises(IngestError) as refused:
        check_geojson_geometry({"type": "Polygon", "coordinates": "x"}, "f", code="invalid_footprint")
    assert refused.value.code == "invalid_footprint"


def test_deep_collections_and_huge_geometries_are_bounded() -> None:
    nested: dict[str, Any] = {"type": "Point", "coordinates": [1, 2]}
    for _ in range(20):
        nested = {"type": "GeometryCollection", "geometries": [nested]}
    assert _code(nested)[0] == "invalid_geometry"
    many = {"type": "MultiPoint", "coordinates": [[1, 2]] * 11}
    assert _code(many, max_positions=10)[0] == "footprint_too_complex"


def test_a_file_is_checked_like_a_body_and_text_that_is_not_json_is_left_to_gdal(tmp_path: Path) -> None:
    shallow = {"type": "MultiPolygon", "coordinates": [RING, [RING]]}  # GDAL drops the first part
    path = tmp_path / "a.geojson"
    features = [{"type": "Feature", "geometry": None}, {"type": "Feature", "geometry": shallow}]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(IngestError) as refused:
        check_geojson_file(path, "a.geojson")
    assert refused.value.details == [{"field": "a.geojson.features[1].geometry.coordinates[0][0][0]"}]
    path.write_text("not json")
    check_geojson_file(path, "a.geojson")
    path.write_text(json.dumps({"type": "Point", "coordinates": [1, 2, 3, 4]}))
    check_geojson_file(path, "a.geojson", max_numbers=4)  # a layer may carry a measure


def test_the_storage_domain_is_epsg_4547s_area_of_use() -> None:
    assert storage_domain() == (112.5, 21.52, 115.5, 45.45)
    check_lonlat_in_domain(114.25, 22.70, "p")
    check_lonlat_in_domain(112.5, 45.45, "p")  # edges included
    for lon, lat in [(24, 0), (112.49, 30), (114, 21.5), (114, 45.46)]:
        with pytest.raises(IngestError) as refused:
            check_lonlat_in_domain(lon, lat, "lon,lat")
        assert refused.value.code == "outside_crs_domain" and refused.value.status == 422
    with pytest.raises(IngestError):
        check_finite(shapely.LineString([(0, 0), (float("inf"), 1)]), "g")
    check_finite(shapely.box(0, 0, 1, 1), "g")


def test_refusals_quoting_a_file_are_valid_text() -> None:
    assert safe_text('group code "1\udcff0"\x00 at line 23') == 'group code "1\ufffd0" at line 23'
    error = IngestError("坏\udcfe", "bad\x07", details=[{"line": "\udcc3", "n": 1, "nested": ["\udcff"]}])
    assert (error.message_zh, error.message_en) == ("坏\ufffd", "bad")
    assert error.details == [{"line": "\ufffd", "n": 1, "nested": ["\ufffd"]}]
    json.dumps(error.details, ensure_ascii=False).encode("utf-8")  # no lone surrogate left


def test_a_footprint_nests_as_geojson_does_not_endlessly() -> None:
    """Regression: a feature inside a feature's geometry recursed once per level (RecursionError, a 500)."""
    polygon: dict[str, Any] = {"type": "Polygon", "coordinates": [RING]}
    deep = polygon
    for _ in range(5000):
        deep = {"type": "Feature", "geometry": deep}
    for document, field in [
        (deep, "footprint.geometry.type"),
        ({"type": "FeatureCollection", "features": [{"type": "FeatureCollection", "features": [polygon]}]},
         "footprint.features[0].type"),
    ]:  # fmt: skip
        with pytest.raises(IngestError) as refused:
            parse_footprint(document)
        assert refused.value.code == "invalid_footprint" and refused.value.details == [{"field": field}]
    # What GeoJSON allows still reads: a collection of a feature and a bare geometry (the same square twice).
    pair = [polygon, {"type": "Feature", "geometry": polygon}]
    both = parse_footprint({"type": "FeatureCollection", "features": pair})
    assert both.area_m2 == pytest.approx(parse_footprint(polygon).area_m2)
