"""Creating ledger units: from a pre-evaluation (the demo district), a spreadsheet, a GIS file."""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from pyproj import Transformer

from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project

TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    lonlat = shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)
    return shapely.geometry.mapping(lonlat)  # type: ignore[no-any-return]


def test_units_from_a_pre_evaluation_match_its_buildings(demo: Any) -> None:
    client = demo.client
    admin, coord = demo.account(Role.SYSTEM_ADMIN, "gov-data"), demo.account(Role.COORDINATOR, "land-prep")
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(f.geom) AS c FROM basemap.layer l"
            " JOIN basemap.feature f ON f.version_id = l.current_version WHERE l.code = 'cur_building'"
            " ORDER BY f.fid LIMIT 1) s"
        ).fetchone()
    assert row is not None
    site = shapely.box(row[0] - 120, row[1] - 120, row[0] + 120, row[1] + 120)
    r = client.post(
        "/api/pre-evaluations",
        json={"footprint": _geojson(site), "project_type": "school"},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    report_id, report = r.json()["id"], r.json()["report"]
    finding = next(f for f in report["findings"] if f["rule_id"] == "cur_building.demolition")
    hits = {h["fid"]: h["attributes"] for h in finding["features"]}
    assert len(hits) >= 1

    p = new_project(client, admin)
    url = f"/api/demolition/projects/{p['id']}/units/from-pre-evaluation"
    r = client.post(url, json={"pre_evaluation_id": report_id}, headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == len(hits) and r.json()["skipped"] == []
    units = client.get(f"/api/demolition/projects/{p['id']}/units", headers=coord.headers).json()
    assert sorted(u["source_ref"]["fid"] for u in units) == sorted(hits)
    assert {u["unit_code"] for u in units} == {a["building_code"] for a in hits.values()}
    assert sum(float(u["floor_area_m2"]) for u in units) == pytest.approx(
        report["demolition"]["floor_area_m2"], abs=0.01 * len(units)
    )
    assert sum(u["households"] for u in units) == report["demolition"]["households"]
    assert all(u["status"] == "surveyed" and u["source"] == "pre_evaluation" for u in units)
    # Geometries are the base map's buildings, exactly.
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        unequal = conn.execute(
            "SELECT count(*) FROM demolition.unit u JOIN basemap.layer l ON l.code = 'cur_building'"
            " JOIN basemap.feature f ON f.version_id = l.current_version"
            " AND f.fid = (u.source_ref ->> 'fid')::int"
            " WHERE u.project_id = %s AND NOT ST_Equals(u.geom, f.geom)",
            (p["id"],),
        ).fetchone()
    assert unequal == (0,)
    # Again: nothing new, every building is already in the ledger.
    r = client.post(url, json={"pre_evaluation_id": report_id}, headers=coord.headers)
    assert r.status_code == 201 and r.json()["created"] == 0 and len(r.json()["skipped"]) == len(hits)
    r = client.post(url, json={"pre_evaluation_id": 999999}, headers=coord.headers)
    assert r.status_code == 404


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HEADERS = [
    "单元编号",
    "地址",
    "权属类型",
    "建筑面积（m²）",
    "户数",
    "评估价（元）",
    "责任街道",
    "几何（WKT，EPSG:4547）",
]


def test_spreadsheet_import_is_all_or_nothing(client: TestClient, make_account: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    p = new_project(client, admin)
    url = f"/api/demolition/projects/{p['id']}/units/import"
    r = client.get("/api/demolition/templates/ledger.xlsx", headers=coord.headers)
    assert r.status_code == 200
    template = load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert [c.value for c in template[1]][:3] == ["单元编号", "地址", "权属类型"]

    bad = _xlsx(
        [
            HEADERS,
            [
                "S-1",
                "新南村 1 号",
                "私人",
                120.5,
                2,
                1000000,
                "平湖街道",
                "POLYGON((520000 2510000,520010 2510000,520010 2510010,520000 2510000))",
            ],
            ["S-2", "新南村 2 号", "公司", "abc", 1, None, "火星街道", None],
            ["S-1", "重复", "集体", 10, 0, None, "sd-buji", None],
            [None, "无编号", "国有", 10, 0, None, None, None],
            ["S-3", "坐标错", "国有", 10, 0, None, None, "POLYGON((114 22,114.1 22,114.1 22.1,114 22))"],
        ]
    )
    r = client.post(url, files={"file": ("台账.xlsx", bad)}, headers=coord.headers)
    assert r.status_code == 422 and r.json()["code"] == "import_refused"
    problems = [(p["row"], p["code"]) for p in r.json()["problems"]]
    assert problems == [
        (3, "invalid_cell"),
        (3, "invalid_cell"),
        (3, "invalid_cell"),
        (4, "duplicate_unit_code"),
        (5, "missing_unit_code"),
        (6, "invalid_cell"),
    ]
    assert client.get(f"/api/demolition/projects/{p['id']}/units", headers=coord.headers).json() == []

    good = _xlsx(
        [
            HEADERS,
            [
                "S-1",
                "新南村 1 号",
                "私人",
                120.5,
                2,
                1000000,
                "平湖街道",
                "POLYGON((520000 2510000,520010 2510000,520010 2510010,520000 2510000))",
            ],
            ["S-2", "新南村 2 号", "集体", "80", 1, None, "sd-buji", None],
        ]
    )
    r = client.post(url, files={"file": ("台账.xlsx", good)}, headers=coord.headers)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 2
    units = {
        u["unit_code"]: u
        for u in client.get(f"/api/demolition/projects/{p['id']}/units", headers=coord.headers).json()
    }
    assert units["S-1"]["owner_type"] == "private" and units["S-1"]["subdistrict_code"] == "sd-pinghu"
    assert units["S-1"]["floor_area_m2"] == "120.50" and units["S-1"]["geometry"]["type"] == "Polygon"
    assert units["S-2"]["owner_type"] == "collective" and units["S-2"]["geometry"] is None

    # CSV in GBK with English keys; a code already in the ledger is a problem, not a silent skip.
    csv_text = "unit_code,owner_type,floor_area_m2,subdistrict_code\nS-3,国有,50,坂田\nS-1,国有,1,sd-buji\n"
    r = client.post(url, files={"file": ("ledger.csv", csv_text.encode("gbk"))}, headers=coord.headers)
    assert r.status_code == 422 and [p["code"] for p in r.json()["problems"]] == ["unit_code_taken"]
    only_new = "\n".join(csv_text.splitlines()[:2])
    r = client.post(url, files={"file": ("ledger.csv", only_new.encode("gbk"))}, headers=coord.headers)
    assert r.status_code == 201 and r.json()["unit_codes"] == ["S-3"]
    huge = "unit_code,floor_area_m2,households\nS-9,1e12,1\nS-10,1,99999999999\n"
    r = client.post(url, files={"file": ("ledger.csv", huge.encode())}, headers=coord.headers)
    assert r.status_code == 422 and [p["row"] for p in r.json()["problems"]] == [2, 3]
    r = client.post(url, files={"file": ("ledger.txt", b"x")}, headers=coord.headers)
    assert r.status_code == 422 and r.json()["code"] == "unsupported_sheet"
    r = client.post(url, files={"file": ("ledger.xlsx", b"not a zip")}, headers=coord.headers)
    assert r.status_code == 422 and r.json()["code"] == "unreadable_sheet"


def test_gis_file_import_reprojects_and_maps_columns(client: TestClient, make_account: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    p = new_project(client, admin)
    square = shapely.box(521000, 2511000, 521020, 2511020)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"unit_code": "G-1", "建筑面积": 400, "户数": 4, "权属类型": "私人"},
                "geometry": _geojson(square),
            }
        ],
    }
    url = f"/api/demolition/projects/{p['id']}/units/import-gis"
    r = client.post(url, files={"file": ("units.geojson", json.dumps(doc).encode())}, headers=coord.headers)
    assert r.status_code == 201, r.text
    assert r.json()["unit_codes"] == ["G-1"] and r.json()["source"] == "gis"
    u = client.get(f"/api/demolition/projects/{p['id']}/units", headers=coord.headers).json()[0]
    assert (u["floor_area_m2"], u["households"], u["owner_type"]) == ("400.00", 4, "private")
    lon, lat = TO_LONLAT.transform(521000, 2511000)
    assert min(c[0] for c in u["geometry"]["coordinates"][0]) == pytest.approx(lon, abs=1e-6)
    assert min(c[1] for c in u["geometry"]["coordinates"][0]) == pytest.approx(lat, abs=1e-6)
    far = {
        **doc,
        "features": [{**doc["features"][0], "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}}],
    }
    r = client.post(url, files={"file": ("far.geojson", json.dumps(far).encode())}, headers=coord.headers)
    assert r.status_code == 422 and r.json()["code"] == "outside_district"
