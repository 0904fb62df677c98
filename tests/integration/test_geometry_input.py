"""Geometry entering through the API: refused with a clear 422 that names the field, never a 500.

Each case here was a 500 (or a wrong answer) before the checks at the edge (layers/ingest/geometry_input.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ezdxf
import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project

# A 100 m square in Longgang, at a point no other test puts features at (identify lists every layer there).
LON, LAT, D = 114.3137, 22.6411, 0.001
X0, Y0 = (round(v, 3) for v in Transformer.from_crs(4326, 4547, always_xy=True).transform(LON, LAT))


def _ring(*corners: tuple[float, float]) -> str:
    """A closed ring as JSON text (numbers written as given, so NaN/Infinity/1e400 stay literal)."""
    return "[" + ",".join(f"[{x},{y}]" for x, y in (*corners, corners[0])) + "]"


def _polygon(*rings: str, kind: str = "Polygon") -> str:
    """A polygon's JSON text from its rings' JSON text."""
    return f'{{"type": "{kind}", "coordinates": [{", ".join(rings)}]}}'


def _rect(x0: float, y0: float, width: float, height: float) -> str:
    """A rectangle's ring (EPSG:4547 metres)."""
    return _ring((x0, y0), (x0 + width, y0), (x0 + width, y0 + height), (x0, y0 + height))


SQUARE = ((LON, LAT), (LON + D, LAT), (LON + D, LAT + D), (LON, LAT + D))


@pytest.fixture(scope="module")
def quiet(app: Any, client: TestClient) -> TestClient:
    """A client that answers a server error with the 500 a user would see (instead of raising it)."""
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def planner(make_account: Any) -> Any:
    return make_account(Role.PLANNER)


def _reports(owner_conn: Any) -> int:
    return int(owner_conn.execute("SELECT count(*) FROM project.pre_evaluation").fetchone()[0])


def _post_raw(client: TestClient, headers: dict[str, str], footprint: str, crs: str | None = None) -> Any:
    body = f'{{"footprint": {footprint}, "project_type": "school", "crs": {json.dumps(crs)}}}'
    return client.post(
        "/api/pre-evaluations", content=body, headers={**headers, "content-type": "application/json"}
    )


@pytest.mark.parametrize(
    ("footprint", "code", "field"),
    [
        # JSON's reader takes NaN and Infinity literals, and 1e400 as inf.
        (_polygon(_ring(SQUARE[0], ("NaN", LAT), *SQUARE[2:])),
         "non_finite_coordinate", "footprint.coordinates[0][1]"),
        (_polygon(_ring(SQUARE[0], ("Infinity", LAT), *SQUARE[2:])),
         "non_finite_coordinate", "footprint.coordinates[0][1]"),
        (_polygon(_ring(SQUARE[0], SQUARE[1], ("1e400", LAT + D), SQUARE[3])),
         "non_finite_coordinate", "footprint.coordinates[0][2]"),
        (f'{{"type": "Feature", "geometry": {_polygon(_ring(*SQUARE[:3], ("-Infinity", 1)))}}}',
         "non_finite_coordinate", "footprint.geometry.coordinates[0][3]"),
        (_polygon(_ring(*SQUARE), kind="polygon"), "unknown_geometry_type", "footprint.type"),
        (_polygon(f"[{_ring(*SQUARE)}]", kind="MULTIPOLYGON"), "unknown_geometry_type", "footprint.type"),
        (_polygon(_ring(*SQUARE), kind="Blob"), "unknown_geometry_type", "footprint.type"),
        (f'{{"type": "FeatureCollection", "features": [{{"type": "Feature", '
         f'"geometry": {_polygon(_ring(*SQUARE), kind="Square")}}}]}}',
         "unknown_geometry_type", "footprint.features[0].geometry.type"),
        # Booleans are not coordinates (true/false used to be read as 1/0).
        (_polygon(_ring(SQUARE[0], ("true", "false"), *SQUARE[2:])),
         "invalid_footprint", "footprint.coordinates[0][1]"),
        # A vertex where the projection is not defined (90° from its central meridian on the equator).
        (_polygon(_ring(SQUARE[0], (24, 0), *SQUARE[2:])), "outside_crs_domain", "footprint"),
    ],
    ids=["nan", "infinity", "1e400", "feature_minus_infinity", "lower_case", "upper_case", "unknown",
         "unknown_in_collection", "booleans", "undefined_projection"],
)  # fmt: skip
def test_bad_coordinates_and_types_are_a_422_naming_the_field(
    footprint: str, code: str, field: str, quiet: TestClient, planner: Any, owner_conn: Any
) -> None:
    before = _reports(owner_conn)
    r = _post_raw(quiet, planner.headers, footprint)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == code
    assert body["message_zh"].startswith(f"{field}：") and body["message_en"].startswith(f"{field}: ")
    assert body["detail"] == body["message_zh"]  # Chinese first
    assert body["details"] == [{"field": field}]
    assert _reports(owner_conn) == before


def test_projected_metres_sent_as_crs84_are_refused_with_the_likely_crs(
    quiet: TestClient, planner: Any
) -> None:
    metres = (
        f'{{"type": "Polygon", "coordinates": [{_ring((X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100))}]}}'
    )
    r = _post_raw(quiet, planner.headers, metres)
    assert r.status_code == 422 and r.json()["code"] == "outside_district"
    assert r.json()["details"][0]["suggested_crs"] == "EPSG:4547"
    degrees = _polygon(_ring(*SQUARE))
    r = _post_raw(quiet, planner.headers, degrees, "EPSG:4547")
    assert r.status_code == 422 and r.json()["code"] == "outside_district"


def test_a_footprint_under_one_square_metre_is_refused_and_one_above_is_measured(
    quiet: TestClient, planner: Any, owner_conn: Any
) -> None:
    # Three positions on one parallel: 0.036 m² once projected (it used to be graded 有条件通过).
    sliver = _polygon(_ring(SQUARE[0], SQUARE[1], (LON + 2 * D, LAT)))
    before = _reports(owner_conn)
    r = _post_raw(quiet, planner.headers, sliver)
    assert r.status_code == 422 and r.json()["code"] == "footprint_too_small", r.text
    assert "1 m²" in r.json()["message_zh"] and _reports(owner_conn) == before
    # Known answers in EPSG:4547: 0.9 m x 1 m is refused, 2 m x 2 m is 4 m².
    small = _polygon(_rect(X0, Y0, 0.9, 1))
    assert _post_raw(quiet, planner.headers, small, "EPSG:4547").json()["code"] == "footprint_too_small"
    r = _post_raw(quiet, planner.headers, _polygon(_rect(X0, Y0, 2, 2)), "EPSG:4547")
    assert r.status_code == 201, r.text
    assert r.json()["report"]["footprint_area_m2"] == 4.0


def test_a_hole_outside_its_shell_is_refused_not_turned_into_area(
    quiet: TestClient, planner: Any, owner_conn: Any
) -> None:
    shell = _ring((X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100))
    hole = _ring((X0 + 200, Y0), (X0 + 200, Y0 + 50), (X0 + 250, Y0 + 50), (X0 + 250, Y0))
    before = _reports(owner_conn)
    r = _post_raw(
        quiet, planner.headers, f'{{"type": "Polygon", "coordinates": [{shell}, {hole}]}}', "EPSG:4547"
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_footprint_geometry"
    assert (
        "内环（洞）位于外环之外" in r.json()["message_zh"]
        and "Hole lies outside shell" in r.json()["message_en"]
    )
    assert "2.5e+03 m²" in r.json()["message_en"]  # the 50 m x 50 m a repair would have added
    assert _reports(owner_conn) == before
    # A bow-tie is still repaired (its repair only removes area): two 50 m x 100 m / 2 triangles = 5000 m².
    bowtie = _ring((X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100))
    r = _post_raw(quiet, planner.headers, _polygon(bowtie), "EPSG:4547")
    assert r.status_code == 201 and r.json()["report"]["footprint_area_m2"] == 5000.0
    assert r.json()["report"]["repairs"]


def test_batch_and_comparison_name_the_bad_footprint(quiet: TestClient, planner: Any) -> None:
    good = json.loads(_polygon(_ring(*SQUARE)))
    bad = _polygon(_ring(SQUARE[0], ("NaN", LAT), *SQUARE[2:]))
    batch = (
        '{"project_type": "school", "footprints": {"type": "FeatureCollection", "features": ['
        f'{{"type": "Feature", "properties": {{"name": "好"}}, "geometry": {json.dumps(good)}}},'
        f'{{"type": "Feature", "properties": {{"name": "坏"}}, "geometry": {bad}}}]}}}}'
    )
    headers = {**planner.headers, "content-type": "application/json"}
    r = quiet.post("/api/pre-evaluations/batch", content=batch, headers=headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["error"] is None and items[1]["error"]["code"] == "non_finite_coordinate"
    assert items[1]["error"]["message_zh"].startswith("footprints.features[1].geometry.coordinates[0][1]：")
    compare = (
        '{"project_type": "school", "candidates": ['
        f'{{"name": "甲", "footprint": {json.dumps(good)}}}, {{"name": "乙", "footprint": {bad}}}]}}'
    )
    r = quiet.post("/api/pre-evaluations/compare", content=compare, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "non_finite_coordinate", r.text
    assert r.json()["message_zh"].startswith("方案“乙”：candidates[1].footprint.coordinates[0][1]：")


@pytest.mark.parametrize(("lon", "lat"), [(24, 0), (24.0001, 0.0001), (-156, 0), (-66, 0), (0, 0), (114, 89)])
def test_identify_where_the_projection_is_undefined_is_a_422(
    lon: float, lat: float, quiet: TestClient, planner: Any
) -> None:
    r = quiet.get("/api/identify", params={"lon": lon, "lat": lat}, headers=planner.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "outside_crs_domain" and r.json()["details"] == [{"field": "lon,lat"}]


def test_identify_outside_the_district_but_inside_the_projection_is_empty(
    quiet: TestClient, planner: Any, tmp_path: Path
) -> None:
    _upload_square(quiet, planner, tmp_path)
    point = {"lon": LON + D / 2, "lat": LAT + D / 2}
    # Other tests of the session may put features of other layers here; this test owns cur_illegal's.
    everything = quiet.get("/api/identify", params=point, headers=planner.headers)
    assert "cur_illegal" in [f["layer"] for f in everything.json()]
    here = quiet.get("/api/identify", params={**point, "layers": "cur_illegal"}, headers=planner.headers)
    assert [(f["layer"], f["fid"]) for f in here.json()] == [("cur_illegal", 1)]
    guangzhou = quiet.get("/api/identify", params={"lon": 113.26, "lat": 23.13}, headers=planner.headers)
    assert guangzhou.status_code == 200 and guangzhou.json() == []


def _upload_square(client: TestClient, planner: Any, tmp_path: Path) -> None:
    """One 100 m x 100 m feature (EPSG:4547) as the current version of cur_illegal."""
    x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(LON, LAT)
    path = tmp_path / "square.gpkg"
    gpd.GeoDataFrame({"name": ["方"]}, geometry=[shapely.box(x, y, x + 100, y + 100)], crs=4547).to_file(path)
    with path.open("rb") as fh:
        r = client.post(
            "/api/layers/cur_illegal/versions", headers=planner.headers, files={"file": (path.name, fh)}
        )
    assert r.status_code == 201, r.text


def test_a_whole_world_bbox_finds_the_features_and_a_far_one_none(
    quiet: TestClient, planner: Any, tmp_path: Path
) -> None:
    _upload_square(quiet, planner, tmp_path)

    def ids(bbox: str) -> list[int]:
        r = quiet.get("/api/layers/cur_illegal/features", params={"bbox": bbox}, headers=planner.headers)
        assert r.status_code == 200, r.text
        return [f["id"] for f in r.json()["features"]]

    assert ids("-180,-90,180,90") == [1]  # projecting the whole world used to select nothing
    assert ids("114,22,115,23") == [1]
    assert ids("0,0,1,1") == [] and ids("-170,-80,-160,-70") == []


def _dxf_with_a_bad_byte(tmp_path: Path, where: str) -> bytes:
    doc = ezdxf.new("R2010")
    doc.modelspace().add_lwpolyline([(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100)], close=True)
    path = tmp_path / "red_line.dxf"
    doc.saveas(path)
    lines = path.read_bytes().split(b"\n")
    if where == "group_code":  # ezdxf quotes the bad line in its error: an undecodable byte in the message
        at = next(i for i, line in enumerate(lines) if line.strip() == b"10")
        lines[at] = b"1\xff0"
    elif where == "handle":  # raised as a plain ValueError
        at = next(i for i, line in enumerate(lines) if line.strip() == b"LWPOLYLINE")
        lines[at + 2] = b"\xfe\xff\xc3"
    else:  # a bad first byte: StopIteration from ezdxf's reader
        return b"\xff\xfe" + path.read_bytes()[:200]
    return b"\n".join(lines)


@pytest.mark.parametrize("where", ["group_code", "handle", "head"])
@pytest.mark.parametrize("route", ["/api/layers/cur_site/versions", "/api/pre-evaluations/upload"])
def test_a_dxf_with_a_bad_byte_is_a_clean_422(
    route: str, where: str, quiet: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    versions = owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0]
    reports = _reports(owner_conn)
    r = quiet.post(
        route,
        headers=planner.headers,
        files={"file": ("红线.dxf", _dxf_with_a_bad_byte(tmp_path, where))},
        data={"crs": "EPSG:4547", "project_type": "school"},
    )
    assert r.status_code == 422, r.text
    body = json.loads(r.content.decode("utf-8"))  # strict UTF-8: no raw byte echoed
    assert body["code"] == "unreadable_file" and "红线.dxf" in body["message_zh"]
    assert "vcpkg" not in r.text and ".cpp" not in r.text  # nor GDAL's own source paths
    assert owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0] == versions
    assert _reports(owner_conn) == reports


def test_demolition_units_with_non_finite_geometry_are_refused(quiet: TestClient, make_account: Any) -> None:
    """The ledger's spreadsheet (WKT column) and GIS imports: a NaN/inf coordinate is a 422, none stored."""
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    project = new_project(quiet, admin)
    units = f"/api/demolition/projects/{project['id']}/units"
    for bad in ("NaN", "inf", "1e400"):
        wkt = f"POLYGON(({X0} {Y0},{bad} {Y0},{X0 + 10} {Y0 + 10},{X0} {Y0}))"
        sheet = "单元编号,地址,权属类型,建筑面积（m²）,户数,评估价（元）,责任街道,几何（WKT，EPSG:4547）\n"
        sheet += f'S-1,新南村 1 号,私人,120.5,2,,,"{wkt}"\n'
        files = {"file": ("台账.csv", sheet.encode())}
        r = quiet.post(f"{units}/import", files=files, headers=coord.headers)
        assert r.status_code == 422 and r.json()["code"] == "import_refused", r.text
        assert [(p["row"], p["code"]) for p in r.json()["problems"]] == [(2, "invalid_cell")]
    # A NaN literal; a vertex where EPSG:4547 is undefined.
    for vertex, code in (("NaN", "non_finite_coordinate"), (24, "outside_crs_domain")):
        polygon = _polygon(_ring(SQUARE[0], (vertex, 0 if vertex == 24 else LAT), *SQUARE[2:]))
        feature = f'{{"type": "Feature", "properties": {{"unit_code": "G-1"}}, "geometry": {polygon}}}'
        doc = f'{{"type": "FeatureCollection", "features": [{feature}]}}'.encode()
        r = quiet.post(f"{units}/import-gis", files={"file": ("units.geojson", doc)}, headers=coord.headers)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert quiet.get(units, headers=coord.headers).json() == []
