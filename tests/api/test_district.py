"""GET /api/district: the district settings the browser frames its map with."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role


def test_the_district_is_served_to_signed_in_users(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/district", headers=viewer.headers)
    assert r.status_code == 200
    assert r.json() == {
        "code": "440307",
        "name_zh": "龙岗区",
        "name_en": "Longgang",
        "time_zone": "Asia/Shanghai",
        "storage_srid": 4547,
        "storage_crs": "EPSG:4547",
        "storage_crs_name_zh": "CGCS2000 / 3° 高斯-克吕格 114°E",
        "storage_crs_name_en": "CGCS2000 / 3-degree Gauss-Kruger CM 114E",
        "extent": [114.05, 22.55, 114.4, 22.82],
        "centre": [114.225, 22.685],
        "zoom": 11,
    }
    assert client.get("/api/district").status_code == 401
