"""Layer diffs under load: a version against itself is answered from its count, and diffs are costly
work that waits in its own small gate rather than taking the pool's connections."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx2 as httpx
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from app.auth.policy import Role
from app.settings import Settings
from tests.integration.test_admission import run_against, tight

X0, Y0 = (round(v, 3) for v in Transformer.from_crs(4326, 4547, always_xy=True).transform(114.26, 22.71))


TWIN = shapely.box(X0, Y0, X0 + 50, Y0 + 40)  # 2,000 m²


def _upload_parcels(
    client: TestClient,
    headers: dict[str, str],
    tmp_path: Path,
    rows: list[tuple[str, str, Any]] | None = None,
) -> int:
    """Parcels (default: three, two on the very same ground — a split lease recorded twice); the version."""
    rows = rows or [
        ("D-01", "甲", TWIN),
        ("D-02", "乙", TWIN),
        ("D-03", "丙", shapely.box(X0 + 100, Y0, X0 + 130, Y0 + 30)),
    ]
    frame = gpd.GeoDataFrame(
        {"parcel_code": [r[0] for r in rows], "备注": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=4547,
    )
    base = tmp_path / "dup.base.gpkg"
    frame.to_file(base, driver="GPKG")
    path = tmp_path / "dup.gpkg"
    subprocess.run(["/usr/bin/ogr2ogr", "-f", "GPKG", str(path), str(base)], check=True, capture_output=True)
    with path.open("rb") as fh:
        r = client.post("/api/layers/cur_idle/versions", headers=headers, files={"file": (path.name, fh)})
    assert r.status_code == 201, r.text
    version: int = client.get("/api/layers/cur_idle", headers=headers).json()["current_version"]
    return version


def test_a_version_against_itself_is_all_unchanged(
    client: TestClient, make_account: Any, owner_conn: Any, tmp_path: Path
) -> None:
    """Three features, two with the same geometry and other attributes: 3 unchanged, nothing changed
    (the general comparison paired the twins crosswise and reported 2 changed and 3 unchanged)."""
    planner = make_account(Role.PLANNER)
    version = _upload_parcels(client, planner.headers, tmp_path)
    stored = owner_conn.execute(
        """
        SELECT count(*) FROM basemap.feature f JOIN basemap.layer_version v ON v.id = f.version_id
        WHERE v.layer_code = 'cur_idle' AND v.number = %s
        """,
        (version,),
    ).fetchone()
    assert stored == (3,)
    d = client.get(
        "/api/layers/cur_idle/diff", params={"from": version, "to": version}, headers=planner.headers
    )
    assert d.status_code == 200, d.text
    body = d.json()
    assert (body["added"], body["removed"], body["changed"], body["unchanged"]) == (0, 0, 0, 3)
    assert (body["added_area_m2"], body["removed_area_m2"], body["within_tolerance"]) == (0, 0, 0)
    missing = client.get(
        "/api/layers/cur_idle/diff",
        params={"from": version + 50, "to": version + 50},
        headers=planner.headers,
    )
    assert missing.status_code == 404


def test_twins_pair_with_twins_between_versions(
    client: TestClient, make_account: Any, tmp_path: Path
) -> None:
    """v1: twins A (甲) and B (乙) on one lot, C elsewhere; v2: A as it was, B re-noted 丁, C gone, D new.
    By hand: unchanged 1 (A), changed 1 (B), removed 1 (C, 900 m²), added 1 (D, 1,200 m²) — four
    features each side counted once. Pairing by geometry alone counted A–B' and B–A' too: 3 changed."""
    planner = make_account(Role.PLANNER)
    c = shapely.box(X0 + 100, Y0, X0 + 130, Y0 + 30)
    d = shapely.box(X0 + 200, Y0, X0 + 240, Y0 + 30)
    v1 = _upload_parcels(
        client, planner.headers, tmp_path, [("A", "甲", TWIN), ("B", "乙", TWIN), ("C", "丙", c)]
    )
    (tmp_path / "dup.gpkg").unlink()
    (tmp_path / "dup.base.gpkg").unlink()
    v2 = _upload_parcels(
        client, planner.headers, tmp_path, [("A", "甲", TWIN), ("B", "丁", TWIN), ("D", "戊", d)]
    )
    for tolerance in (0, 0.01):
        r = client.get(
            "/api/layers/cur_idle/diff",
            params={"from": v1, "to": v2, "tolerance_m": tolerance},
            headers=planner.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["unchanged"], body["changed"], body["removed"], body["added"]) == (1, 1, 1, 1)
        assert body["removed_area_m2"] == pytest.approx(900, abs=0.01)
        assert body["added_area_m2"] == pytest.approx(1200, abs=0.01)


def test_diffs_wait_in_their_own_gate_and_leave_the_pool_to_others(
    settings: Settings, make_account: Any
) -> None:
    """With the costly-work gate full, a diff is refused after the wait (503 busy) while cheap requests
    are served meanwhile: diffs can never hold every connection."""
    planner = make_account(Role.PLANNER)

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        app = client._transport.app  # type: ignore[attr-defined]
        async with app.state.heavy_gate.admitted():
            params = {"from": 1, "to": 1}
            diff = asyncio.ensure_future(
                client.get("/api/layers/cur_idle/diff", params=params, headers=planner.headers)
            )
            cheap = await asyncio.gather(
                *(client.get("/api/auth/me", headers=planner.headers) for _ in range(6))
            )
            return [await diff, *cheap]

    _, (diff, *cheap) = run_against(tight(settings, heavy_capacity=1, pool_timeout_s=1.0), burst)
    assert diff.status_code == 503
    assert diff.json()["code"] == "busy" and diff.headers["retry-after"] == "5"
    assert [r.status_code for r in cheap] == [200] * 6
