"""Bad input to identify, rollback, import reports, organisations, user reset/unlock, TileJSON and the
audit query: a clear 4xx problem document, Chinese first, and nothing written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from app.auth.policy import Role

LAYER = "cdp_key_area"  # an area layer no other API test imports into
LON, LAT = 114.30, 22.75
HAN = re.compile(r"[\u4e00-\u9fff]")


def refused(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert a problem document with ``status`` (and ``code``), its message in Chinese first."""
    assert r.status_code == status, (r.request.url, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    if code is not None:
        assert body["code"] == code, body
    assert HAN.search(body["message_zh"]) and body["message_en"] and not HAN.search(body["message_en"])
    assert body["detail"] == body["message_zh"]  # the Chinese message is the one shown by default
    keys = list(body)
    assert keys.index("message_zh") < keys.index("message_en")
    return body


def audit_count(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM audit.event").fetchone()[0])


@pytest.fixture
def admin(make_account: Any) -> Any:
    return make_account(Role.SYSTEM_ADMIN, "gov-data")


def _import_square(client: TestClient, headers: dict[str, str], tmp_path: Path, name: str) -> dict[str, Any]:
    """Import one 100 m square as the layer's new version; the import's answer (version, report)."""
    x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(LON, LAT)
    frame = gpd.GeoDataFrame(
        {"name": [name], "level": ["1"]}, geometry=[shapely.box(x - 50, y - 50, x + 50, y + 50)], crs=4547
    )
    path = tmp_path / f"{name}.gpkg"
    frame.to_file(path, driver="GPKG")
    with path.open("rb") as fh:
        r = client.post(f"/api/layers/{LAYER}/versions", headers=headers, files={"file": (path.name, fh)})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_identify_refuses_bad_points_layers_and_ranges(
    client: TestClient, admin: Any, make_account: Any, tmp_path: Path
) -> None:
    h = admin.headers
    base = {"lon": LON, "lat": LAT}
    for params, status, code in [
        ({"lon": "x", "lat": LAT}, 422, "invalid_input"),
        ({"lon": "nan", "lat": LAT}, 422, "invalid_input"),
        ({"lon": 181, "lat": LAT}, 422, "invalid_input"),
        ({"lon": LON, "lat": -91}, 422, "invalid_input"),
        ({"lat": LAT}, 422, "invalid_input"),
        ({**base, "zoom": 23}, 422, "invalid_input"),
        ({**base, "tolerance_px": 51}, 422, "invalid_input"),
        ({**base, "geometry": "maybe"}, 422, "invalid_input"),
        ({"lon": 0, "lat": 0}, 422, "outside_crs_domain"),  # EPSG:4547 is not defined there
        ({**base, "layers": "no_such_layer"}, 404, "not_found"),
        ({**base, "layers": ","}, 422, "invalid_input"),
        ({**base, "layers": "base_dem"}, 422, "invalid_input"),  # a raster: nothing to identify
    ]:
        refused(client.get("/api/identify", params=params, headers=h), status, code)
    viewer = make_account(Role.VIEWER)
    refused(
        client.get("/api/identify", params={**base, "layers": "cur_cadastre"}, headers=viewer.headers), 404
    )
    assert client.get("/api/identify", params=base).status_code == 401
    # A layer named twice is identified once.
    _import_square(client, h, tmp_path, "甲片区")
    found = client.get("/api/identify", params={**base, "layers": f"{LAYER},{LAYER}"}, headers=h)
    assert found.status_code == 200
    assert [(f["layer"], f["distance_m"]) for f in found.json()] == [(LAYER, 0)]


def test_rollback_refuses_bad_versions_and_writes_nothing(
    client: TestClient, admin: Any, make_account: Any, owner_conn: Any, tmp_path: Path
) -> None:
    planner = make_account(Role.PLANNER)
    first = _import_square(client, planner.headers, tmp_path, "乙片区")["version"]
    current = _import_square(client, planner.headers, tmp_path, "丙片区")["version"]
    assert current == first + 1

    def state() -> tuple[Any, int]:
        row = owner_conn.execute(
            "SELECT current_version FROM basemap.layer WHERE code = %s", (LAYER,)
        ).fetchone()
        return row[0], audit_count(owner_conn)

    viewer = make_account(Role.VIEWER)  # (creating and signing in an account is audited)
    before = state()
    url = f"/api/layers/{LAYER}/rollback"
    for params in [{}, {"version": 0}, {"version": -1}, {"version": "x"}, {"version": 10**12}]:
        refused(client.post(url, params=params, headers=planner.headers), 422, "invalid_input")
    refused(
        client.post(url, params={"version": current + 5}, headers=planner.headers), 404, "no_such_version"
    )
    # Rolling back to the version already current would change nothing: refused, not audited.
    body = refused(
        client.post(url, params={"version": current}, headers=planner.headers), 409, "already_current"
    )
    assert f"第 {current} 版已是" in body["message_zh"]
    refused(
        client.post("/api/layers/no_such_layer/rollback", params={"version": 1}, headers=planner.headers), 404
    )
    refused(client.post(url, params={"version": first}, headers=viewer.headers), 403)
    assert client.post(url, params={"version": first}).status_code == 401
    assert state() == before
    # The same route with a good version still works (and is audited).
    assert client.post(url, params={"version": first}, headers=planner.headers).status_code == 200
    assert state()[1] == before[1] + 1


def test_import_reports_refuse_bad_layers_and_versions(
    client: TestClient, admin: Any, make_account: Any, tmp_path: Path
) -> None:
    imported = _import_square(client, admin.headers, tmp_path, "丁片区")
    number = imported["version"]
    ok = client.get(f"/api/layers/{LAYER}/versions/{number}/report", headers=admin.headers)
    assert ok.status_code == 200 and ok.json() == imported["report"]
    for number_text in ("x", "-1", "1.5", str(10**12)):
        r = client.get(f"/api/layers/{LAYER}/versions/{number_text}/report", headers=admin.headers)
        refused(r, 422, "invalid_input")
    refused(client.get(f"/api/layers/{LAYER}/versions/{number + 9}/report", headers=admin.headers), 404)
    refused(client.get("/api/layers/no_such_layer/versions/1/report", headers=admin.headers), 404)
    viewer = make_account(Role.VIEWER)
    refused(client.get("/api/layers/cur_cadastre/versions/1/report", headers=viewer.headers), 404)


def test_organisations_refuse_bad_input_and_write_nothing(
    client: TestClient, admin: Any, make_account: Any, owner_conn: Any
) -> None:
    h = admin.headers
    refused(client.get("/api/orgs", params={"kind": "club"}, headers=h), 422, "invalid_input")
    for org_id in ("0", "-3", "x", str(2**63)):
        refused(client.get(f"/api/orgs/{org_id}", headers=h), 422, "invalid_input")
    refused(client.get("/api/orgs/999999", headers=h), 404, "not_found")

    def state() -> tuple[int, int]:
        return int(owner_conn.execute("SELECT count(*) FROM auth.organisation").fetchone()[0]), audit_count(
            owner_conn
        )

    planner = make_account(Role.PLANNER)  # (creating and signing in an account is audited)
    before = state()
    good = {"code": "new-dept", "name_zh": "新部门", "kind": "department"}
    for body in [
        {},
        [good],
        {**good, "code": ""},
        {**good, "code": "Has Space"},
        {**good, "code": "x" * 64},
        {**good, "name_zh": ""},
        {**good, "name_zh": "   "},  # blanks only: refused, not stored as a nameless organisation
        {**good, "name_zh": "名" * 201},
        {**good, "name_en": "  "},
        {**good, "kind": "club"},
    ]:
        refused(client.post("/api/orgs", json=body, headers=h), 422, "invalid_input")
    refused(client.post("/api/orgs", json={**good, "code": "pnr"}, headers=h), 409)
    refused(client.post("/api/orgs", json=good, headers=planner.headers), 403)
    assert state() == before


def test_user_reset_and_unlock_refuse_bad_targets_and_write_nothing(
    client: TestClient, admin: Any, make_account: Any, owner_conn: Any
) -> None:
    target = make_account(Role.PLANNER)

    def state() -> tuple[Any, ...]:
        row = owner_conn.execute(
            "SELECT password_hash, failed_attempts, locked_until, version FROM auth.user WHERE id = %s",
            (target.id,),
        ).fetchone()
        return (*row, audit_count(owner_conn))

    # Resets are the system administrator's, unlocks the security administrator's.
    acting = {"reset-password": admin, "unlock": make_account(Role.SECURITY_ADMIN, "gov-data")}
    before = state()
    for action, actor in acting.items():
        for user_id in ("0", "-1", "x", str(2**63)):
            refused(
                client.post(f"/api/users/{user_id}/{action}", headers=actor.headers), 422, "invalid_input"
            )
        refused(client.post(f"/api/users/999999/{action}", headers=actor.headers), 404, "not_found")
        for role, org in ((Role.PLANNER, "pnr"), (Role.REVIEWER, "pnr"), (Role.PROJECT_UNIT, "works")):
            caller = make_account(role, org)
            refused(client.post(f"/api/users/{target.id}/{action}", headers=caller.headers), 403)
        refused(client.post(f"/api/users/{target.id}/{action}", headers=target.headers), 403)
        assert client.post(f"/api/users/{target.id}/{action}").status_code == 401
    # make_account signs in (audited): compare only from the last one on.
    assert state()[:4] == before[:4]
    assert client.get("/api/auth/me", headers=target.headers).status_code == 200  # its session lives on


def test_tilejson_refuses_bad_layer_lists(client: TestClient, admin: Any, make_account: Any) -> None:
    h = admin.headers
    # A malformed list is the client's mistake (400); a well-formed one naming no vector layer is a 404.
    for codes, status, code in [
        ("no_such_layer", 404, "not_found"),
        (",", 400, "bad_request"),
        ("sp_parcel,,sp_parcel", 400, "bad_request"),
        ("base_dem", 404, "not_found"),  # a raster has its own TileJSON under /tiles/raster
    ]:
        refused(client.get(f"/tiles/{codes}/tilejson.json", headers=h), status, code)
    refused(client.get("/tiles/raster/no_such_layer/tilejson.json", headers=h), 404)
    refused(client.get("/tiles/raster/sp_parcel/tilejson.json", headers=h), 404)
    viewer = make_account(Role.VIEWER)
    refused(client.get("/tiles/cur_cadastre/tilejson.json", headers=viewer.headers), 404)
    assert client.get("/tiles/sp_parcel/tilejson.json").status_code == 401


def test_audit_query_refuses_bad_filters(client: TestClient, make_account: Any) -> None:
    h = make_account(Role.AUDIT_ADMIN, "gov-data").headers
    for params in [
        {"since": "yesterday"},
        {"until": "2025-02-30T00:00:00"},
        {"limit": 0},
        {"limit": 1001},
        {"actor_id": -1},
        {"actor_id": "x"},
        {"before_id": 0},
        {"object_type": "x" * 65},
        {"action": "a" * 65},
        {"object_id": "o" * 129},
    ]:
        refused(client.get("/api/audit", params=params, headers=h), 422, "invalid_input")
    # A window that ends before (or where) it starts is refused, not answered with an empty page.
    for since, until in [
        ("2025-06-02T00:00:00+08:00", "2025-06-01T00:00:00+08:00"),
        ("2025-06-01T00:00:00+08:00", "2025-06-01T00:00:00+08:00"),
        ("2025-06-01T08:00:00", "2025-06-01T00:00:00Z"),  # the same instant: a naive time is district time
    ]:
        body = refused(client.get("/api/audit", params={"since": since, "until": until}, headers=h), 422)
        assert "since" in body["message_zh"] and "until" in body["message_zh"]
    ok = client.get(
        "/api/audit", params={"since": "2025-06-01T00:00:00", "until": "2025-06-01T00:00:01"}, headers=h
    )
    assert ok.status_code == 200
    refused(client.get("/api/audit", headers=make_account(Role.PLANNER).headers), 403)
