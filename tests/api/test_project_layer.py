"""The project library as a live map layer (proj_library): tiles, identify, OGC API, by organisation.

A hand-made arrangement in one z16 tile: project A (unit A, owned by department D) has two footprint
versions side by side, the first superseded; project B (unit B) has one. Unit A must see exactly A's current
footprint, never B's nor A's old one; department D sees A (it owns it); a planner sees both. Attributes are
the projects' own (status and tier as set through the API), and the superseded footprint is in the history.
"""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from app.auth.policy import Role
from app.orgs.service import OrgKind
from layers.tiles.grid import lonlat_to_tile

CODE = "proj_library"
EPSG4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"
SIDE = 0.0002
# Lower-left corners (lon, lat): A's first footprint, A's current one, B's. One z16 tile holds all three.
OLD_A, NEW_A, B = (114.23110, 22.63110), (114.23160, 22.63110), (114.23210, 22.63110)


def square(corner: tuple[float, float]) -> dict[str, Any]:
    lon, lat = corner
    ring = [[lon, lat], [lon + SIDE, lat], [lon + SIDE, lat + SIDE], [lon, lat + SIDE], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def centre(corner: tuple[float, float]) -> tuple[float, float]:
    return corner[0] + SIDE / 2, corner[1] + SIDE / 2


def new_project(client: TestClient, admin: Any, unit_code: str, dept_code: str, name: str) -> dict[str, Any]:
    body = {
        "name": name,
        "project_type": "house_building",
        "investment_wan": "1200",
        "funding_source": "区财政",
        "owner_dept_code": dept_code,
        "unit_org_code": unit_code,
    }
    r = client.post("/api/projects", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def add_footprint(client: TestClient, acct: Any, project_id: int, corner: tuple[float, float]) -> None:
    r = client.post(
        f"/api/projects/{project_id}/footprints",
        json={"footprint": square(corner), "note": f"{corner}"},
        headers=acct.headers,
    )
    assert r.status_code == 201, r.text


@pytest.fixture
def world(client: TestClient, make_account: Any, make_org: Any) -> dict[str, Any]:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    _, unit_a_code = make_org(OrgKind.PROJECT_UNIT)
    _, unit_b_code = make_org(OrgKind.PROJECT_UNIT)
    _, dept_code = make_org(OrgKind.DEPARTMENT)
    a = new_project(client, admin, unit_a_code, dept_code, "甲单位学校")
    b = new_project(client, admin, unit_b_code, "education", "乙单位公园")
    unit_a = make_account(Role.PROJECT_UNIT, unit_a_code)
    add_footprint(client, unit_a, a["id"], OLD_A)
    add_footprint(client, unit_a, a["id"], NEW_A)
    add_footprint(client, admin, b["id"], B)
    # A moves on: 前期 in the 前期库 (versioned change through the API).
    r = client.patch(
        f"/api/projects/{a['id']}",
        json={"version": a["version"], "status": "preparation", "tier": "preparation"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    return {
        "a": r.json(),
        "b": b,
        "unit_a": unit_a,
        "unit_b": make_account(Role.PROJECT_UNIT, unit_b_code),
        "dept": make_account(Role.REVIEWER, dept_code),
        "planner": make_account(Role.PLANNER),
        "admin": admin,
    }


def tile(client: TestClient, acct: Any, codes: str = CODE) -> tuple[Any, dict[int, dict[str, Any]]]:
    x, y = lonlat_to_tile(*centre(NEW_A), 16)
    assert (x, y) == lonlat_to_tile(*centre(OLD_A), 16) == lonlat_to_tile(*centre(B), 16)
    r = client.get(f"/tiles/{codes}/16/{x}/{y}.mvt", headers=acct.headers)
    assert r.status_code in (200, 204), r.text
    if r.status_code == 204:
        return r, {}
    layer = mapbox_vector_tile.decode(r.content).get(CODE, {"features": []})
    return r, {f["id"]: f["properties"] for f in layer["features"]}


def identify(client: TestClient, acct: Any, corner: tuple[float, float]) -> list[dict[str, Any]]:
    lon, lat = centre(corner)
    r = client.get(
        "/api/identify",
        params={"lon": lon, "lat": lat, "zoom": 18, "tolerance_px": 0, "layers": CODE},
        headers=acct.headers,
    )
    assert r.status_code == 200, r.text
    return list(r.json())


def ogc_ids(client: TestClient, acct: Any) -> list[int]:
    box = f"{OLD_A[0] - 0.001},{OLD_A[1] - 0.001},{B[0] + 0.001},{B[1] + 0.001}"
    r = client.get(f"/ogc/collections/{CODE}/items", params={"bbox": box}, headers=acct.headers)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return [f["id"] for f in r.json()["features"]]


def test_a_unit_sees_its_own_project_only(client: TestClient, world: dict[str, Any]) -> None:
    a, b, unit_a = world["a"], world["b"], world["unit_a"]
    r, features = tile(client, unit_a)
    assert list(features) == [a["id"]]
    # The tile follows the library: status and tier as set, the code and name of the project.
    props = features[a["id"]]
    assert (props["status"], props["tier"], props["name"]) == ("preparation", "preparation", "甲单位学校")
    # One URL answers differently for different callers: never stored by any cache.
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    # Below the layer's minimum zoom (10) it is not drawn.
    low = client.get(
        f"/tiles/{CODE}/9/{{}}/{{}}.mvt".format(*lonlat_to_tile(*NEW_A, 9)), headers=unit_a.headers
    )
    assert low.status_code == 204
    _, theirs = tile(client, world["unit_b"])
    assert list(theirs) == [b["id"]] and theirs[b["id"]]["status"] == "reserve"
    assert theirs[b["id"]]["tier"] == "reserve"
    # In a composite with a stored layer (the map asks for all ticked layers in one URL), the same answer.
    _, composite = tile(client, unit_a, f"admin_district,{CODE}")
    assert composite == features
    _, everyone = tile(client, world["planner"])
    assert {a["id"], b["id"]} <= set(everyone)
    _, dept = tile(client, world["dept"])
    assert a["id"] in dept and b["id"] not in dept
    # Identify: A's current footprint answers with A; B's spot and A's superseded one answer nothing.
    found = identify(client, unit_a, NEW_A)
    assert [(f["layer"], f["fid"]) for f in found] == [(CODE, a["id"])]
    labels = {x["name"]: x["text_zh"] for x in found[0]["attributes"]}
    assert labels["status"] == "前期" and labels["tier"] == "前期库" and labels["project_code"] == a["code"]
    assert identify(client, unit_a, B) == []
    assert identify(client, unit_a, OLD_A) == []
    assert identify(client, world["planner"], OLD_A) == []
    # (Each test arranges its own world on the same spots: a planner sees them all.)
    assert b["id"] in [f["fid"] for f in identify(client, world["planner"], B)]
    # OGC API: the same rule.
    assert ogc_ids(client, unit_a) == [a["id"]]
    assert ogc_ids(client, world["unit_b"]) == [b["id"]]
    assert ogc_ids(client, world["dept"]) == [a["id"]]
    assert {a["id"], b["id"]} <= set(ogc_ids(client, world["planner"]))
    r = client.get(f"/ogc/collections/{CODE}/items/{b['id']}", headers=unit_a.headers)
    assert r.status_code == 404
    r = client.get(f"/ogc/collections/{CODE}/items/{a['id']}", headers=unit_a.headers)
    assert r.status_code == 200 and r.json()["properties"]["status"] == "preparation"
    page = client.get(f"/ogc/collections/{CODE}/items", params={"f": "html"}, headers=unit_a.headers)
    assert page.status_code == 200 and "甲单位学校" in page.text and "乙单位公园" not in page.text
    collection = client.get(f"/ogc/collections/{CODE}", headers=unit_a.headers).json()
    assert collection["extent"]["spatial"]["bbox"][0] == pytest.approx(
        [NEW_A[0], NEW_A[1], NEW_A[0] + SIDE, NEW_A[1] + SIDE], abs=1e-6
    )


def test_ogc_storage_crs_is_northing_first(client: TestClient, world: dict[str, Any]) -> None:
    a = world["a"]
    r = client.get(
        f"/ogc/collections/{CODE}/items/{a['id']}", params={"crs": EPSG4547}, headers=world["unit_a"].headers
    )
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{EPSG4547}>"
    easting, northing = Transformer.from_crs(4326, 4547, always_xy=True).transform(*NEW_A)
    ring = r.json()["geometry"]["coordinates"][0]
    assert [northing, easting] in [pytest.approx(p, abs=0.01) for p in ring]


def test_superseded_footprint_is_history_not_map(client: TestClient, world: dict[str, Any]) -> None:
    a, unit_a = world["a"], world["unit_a"]
    history = client.get(f"/api/projects/{a['id']}/footprints", headers=unit_a.headers).json()
    assert len(history) == 2
    current, old = history
    assert current["superseded_at"] is None and old["superseded_at"] is not None
    assert current["geometry"]["coordinates"][0][0] == pytest.approx(list(NEW_A), abs=1e-7)
    assert old["geometry"]["coordinates"][0][0] == pytest.approx(list(OLD_A), abs=1e-7)


def test_layer_list_follows_what_the_caller_sees(client: TestClient, world: dict[str, Any]) -> None:
    unit_a, a = world["unit_a"], world["a"]

    def listed(acct: Any) -> dict[str, Any]:
        r = client.get("/api/layers", params={"group": "19"}, headers=acct.headers)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        return next(x for x in r.json() if x["code"] == CODE)

    mine = listed(unit_a)
    assert mine["feature_count"] == 1 and mine["restricted"] is True and mine["live"] is True
    assert mine["extent"] == pytest.approx([NEW_A[0], NEW_A[1], NEW_A[0] + SIDE, NEW_A[1] + SIDE], abs=1e-6)
    # Another unit's change leaves unit A's view (and its mark) alone; A's own change moves it.
    r = client.patch(
        f"/api/projects/{world['b']['id']}",
        json={"version": 1, "name": "乙单位公园（改）"},
        headers=world["admin"].headers,
    )
    assert r.status_code == 200
    assert listed(unit_a)["current_version"] == mine["current_version"]
    r = client.patch(
        f"/api/projects/{a['id']}",
        json={"version": a["version"], "tier": "implementation"},
        headers=unit_a.headers,
    )
    assert r.status_code == 200, r.text
    assert listed(unit_a)["current_version"] != mine["current_version"]
    _, features = tile(client, unit_a)
    assert features[a["id"]]["tier"] == "implementation"
    style = client.get("/tiles/style.json", headers=unit_a.headers).json()
    paint = {x["id"]: x["paint"] for x in style["layers"] if x.get("source-layer") == CODE}
    assert paint[CODE]["fill-color"][:4] == ["match", ["to-string", ["get", "status"]], "reserve", "#FFF176"]
    assert paint[f"{CODE}-outline"]["line-color"] == [
        "match",
        ["to-string", ["get", "tier"]],
        "reserve",
        "#1E88E5",
        "preparation",
        "#8E24AA",
        "implementation",
        "#212121",
        "#1E88E5",
    ]
    legend = client.get("/api/layers/legend", headers=unit_a.headers).json()
    item = next(x for x in legend if x["code"] == CODE)
    assert [c["label_zh"] for c in item["categories"]] == ["储备", "前期", "在建", "竣工", "终止"]
    assert [c["label_en"] for c in item["line_categories"]] == [
        "Reserve tier",
        "Preparation tier",
        "Implementation tier",
    ]


def test_live_layer_cannot_be_imported(client: TestClient, world: dict[str, Any]) -> None:
    geojson = b'{"type": "FeatureCollection", "features": []}'
    r = client.post(
        f"/api/layers/{CODE}/versions",
        files={"file": ("p.geojson", geojson, "application/geo+json")},
        headers=world["planner"].headers,
    )
    assert r.status_code == 409 and r.json()["code"] == "live_layer"
