"""Importing real files (written by GDAL's ogr2ogr) into versioned layers in PostGIS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from app.auth.policy import Role
from app.settings import Settings
from tests.geometry_corpus import (
    LAYER_ANSWERED_IN_DISTRICT,
    case_id,
    corpus_cases,
    geodesic_area_m2,
    load,
    polygons_of,
    relocated,
)

OGR2OGR = "/usr/bin/ogr2ogr"
DUOGUI = str(Path(sys.executable).with_name("duogui"))

# A point in Longgang (lon 114.25, lat 22.70) in EPSG:4547, and a 100 m x 200 m parcel south-west of it.
X0, Y0 = Transformer.from_crs(4326, 4547, always_xy=True).transform(114.25, 22.70)
X0, Y0 = round(X0, 3), round(Y0, 3)

pytestmark = pytest.mark.skipif(not Path(OGR2OGR).exists(), reason="gdal-bin (ogr2ogr) is not installed")


def _parcels(n: int = 3, prefix: str = "P") -> gpd.GeoDataFrame:
    boxes = [shapely.box(X0 + i * 150, Y0, X0 + i * 150 + 100, Y0 + 200) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "parcel_code": [f"{prefix}-{i + 1:02d}" for i in range(n)],
            "land_use": ["R2", "GIC5", "G1", "C1", "M1"][:n],
            "far": [2.5, 1.2, 0.1, 4.0, 2.0][:n],
            "height_limit": [60, 24, 10, 100, 50][:n],
            "备注": ["一类", "二类", "三类", "四类", "五类"][:n],
        },
        geometry=boxes,
        crs=4547,
    )


def _write(frame: gpd.GeoDataFrame, path: Path, crs: int | None = None, driver: str = "GPKG") -> Path:
    base = path.with_suffix(".base.gpkg")
    frame.to_file(base, driver="GPKG")
    args = [OGR2OGR, "-f", driver, str(path), str(base)]
    if crs is not None:
        args[1:1] = ["-t_srs", f"EPSG:{crs}"]
    subprocess.run(args, check=True, capture_output=True)
    return path


def _upload(client: TestClient, headers: dict[str, str], code: str, path: Path, **form: Any) -> Any:
    with path.open("rb") as fh:
        return client.post(
            f"/api/layers/{code}/versions",
            headers=headers,
            files={"file": (path.name, fh)},
            data={k: str(v) for k, v in form.items()},
        )


@pytest.fixture
def planner(make_account: Any) -> Any:
    return make_account(Role.PLANNER)


@pytest.mark.parametrize("epsg", [4490, 4547, 2383, 4326, 3857])
def test_files_in_each_crs_land_on_the_right_coordinates(
    epsg: int, client: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    path = _write(_parcels(), tmp_path / f"parcels_{epsg}.gpkg", crs=epsg)
    r = _upload(client, planner.headers, "sp_parcel", path)
    assert r.status_code == 201, r.text
    corners = owner_conn.execute(
        """
        SELECT ST_XMin(geom), ST_YMin(geom), ST_Area(geom), props->>'parcel_code', props->>'land_use'
        FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id
        WHERE l.code = 'sp_parcel' ORDER BY f.fid
        """
    ).fetchall()
    assert len(corners) == 3
    for i, (xmin, ymin, area, code, _) in enumerate(corners):
        assert abs(xmin - (X0 + i * 150)) < 0.05 and abs(ymin - Y0) < 0.05
        assert abs(area - 20_000) / 20_000 < 1e-6
        assert code == f"P-{i + 1:02d}"
    assert [c[4] for c in corners] == ["R2", "GIC5", "G1"]


def test_zipped_gbk_shapefile_without_cpg_keeps_its_chinese(
    client: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    base = tmp_path / "p.gpkg"
    _parcels().to_file(base, driver="GPKG")
    subprocess.run(
        [OGR2OGR, "-f", "ESRI Shapefile", "-lco", "ENCODING=GBK", str(shp_dir / "地块.shp"), str(base)],
        check=True,
        capture_output=True,
    )
    (shp_dir / "地块.cpg").unlink(missing_ok=True)
    archive = tmp_path / "parcels.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    r = _upload(client, planner.headers, "sp_parcel", archive)
    assert r.status_code == 201, r.text
    assert r.json()["report"]["source"]["encoding"].upper().replace("-", "") in {"GB18030", "GBK", "CP936"}
    rows = owner_conn.execute(
        """
        SELECT f.extra->>'备注' FROM basemap.feature f
        JOIN basemap.layer l ON l.current_version = f.version_id
        WHERE l.code = 'sp_parcel' ORDER BY f.fid
        """
    ).fetchall()
    assert [r[0] for r in rows] == ["一类", "二类", "三类"]


def test_versions_diff_and_rollback_restore_the_exact_feature_set(
    client: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    first = _parcels(3)
    assert (
        _upload(client, planner.headers, "cur_idle", _write(first, tmp_path / "v1.gpkg")).status_code == 201
    )
    v1 = client.get("/api/layers/cur_idle", headers=planner.headers).json()["current_version"]
    snapshot = _feature_hashes(owner_conn, "cur_idle")
    second = _parcels(4, prefix="Q").iloc[1:].copy()  # drop the first, keep two, add one
    second.loc[second.index[0], "备注"] = "改"  # same geometry, other attributes
    assert (
        _upload(client, planner.headers, "cur_idle", _write(second, tmp_path / "v2.gpkg")).status_code == 201
    )
    d = client.get("/api/layers/cur_idle/diff", params={"from": v1, "to": v1 + 1}, headers=planner.headers)
    assert d.status_code == 200
    body = d.json()
    assert (body["added"], body["removed"], body["changed"], body["unchanged"]) == (1, 1, 2, 0)
    assert body["added_area_m2"] == pytest.approx(20_000) and body["removed_area_m2"] == pytest.approx(20_000)

    r = client.post("/api/layers/cur_idle/rollback", params={"version": v1}, headers=planner.headers)
    assert r.status_code == 200 and r.json()["current_version"] == v1
    assert _feature_hashes(owner_conn, "cur_idle") == snapshot
    audit = owner_conn.execute(
        "SELECT after->>'number' FROM audit.event WHERE action = 'layer.rollback' AND object_id = 'cur_idle'"
    ).fetchall()
    assert audit[-1][0] == str(v1)


def _feature_hashes(conn: Any, code: str) -> list[tuple[int, str, str]]:
    return conn.execute(
        """
        SELECT f.fid, md5(ST_AsBinary(f.geom)), md5(f.props::text || coalesce(f.extra::text, ''))
        FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id
        WHERE l.code = %s ORDER BY f.fid
        """,
        (code,),
    ).fetchall()


def test_invalid_geometry_is_repaired_and_reported(client: TestClient, planner: Any, tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)])
    frame = gpd.GeoDataFrame({"name": ["领结"]}, geometry=[bowtie], crs=4547)
    r = _upload(client, planner.headers, "cur_site", _write(frame, tmp_path / "bowtie.gpkg"))
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report["repaired_count"] == 1 and report["repaired"][0]["feature"] == 1
    assert "Self-intersection" in report["repaired"][0]["reason_en"]


def _holes(n: int, per_row: int = 100) -> list[shapely.LinearRing]:
    """``n`` holes of 1 m x 1 m on a 10 m grid from (X0, Y0), ``per_row`` to a row."""
    xs = X0 + np.arange(n) % per_row * 10 + 1
    ys = Y0 + np.arange(n) // per_row * 10 + 1
    return list(shapely.get_exterior_ring(shapely.box(xs, ys, xs + 1, ys + 1)))


def test_parts_with_many_holes_import_with_the_right_area_and_vertices(
    client: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    """Regression: a non-last part with more than 64 holes crashed the import (IndexError, a 500)."""
    shell = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000).exterior
    east = shapely.box(X0 + 2000, Y0, X0 + 2100, Y0 + 100)
    geoms = [
        shapely.MultiPolygon([shapely.Polygon(shell, _holes(90)), east]),  # the demo's cdp_unit shape
        shapely.Polygon(shell, _holes(10_000)),
    ]
    frame = gpd.GeoDataFrame({"name": ["九十孔", "万孔"]}, geometry=geoms, crs=4547)
    r = _upload(client, planner.headers, "cur_landuse", _write(frame, tmp_path / "holes.gpkg"))
    assert r.status_code == 201, r.text
    rows = owner_conn.execute(
        """
        SELECT f.area_m2, ST_Area(f.geom), f.vertices, ST_NPoints(f.geom), ST_NumInteriorRings(
                 ST_GeometryN(f.geom, 1)),
               ST_Area(ST_Transform(f.geom_3857, 4547)), ST_NPoints(f.geom_3857)
        FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id
        WHERE l.code = 'cur_landuse' ORDER BY f.fid
        """
    ).fetchall()
    # By hand: a 1000 m square less 1 m² per hole, plus the 100 m square; 5 positions per ring.
    areas = [1_000_000 - 90 + 10_000, 1_000_000 - 10_000]
    assert [round(row[0], 6) for row in rows] == areas and [round(row[1], 6) for row in rows] == areas
    assert [(row[2], row[3], row[4]) for row in rows] == [
        (5 * 92, 5 * 92, 90),
        (5 * 10_001, 5 * 10_001, 10_000),
    ]
    for row, area in zip(rows, areas, strict=True):
        assert abs(row[5] - area) < 1e-3 and row[6] == row[3]  # the web-map copy is the same shape


def test_wrong_kind_is_refused_with_feature_number_unless_skipped(
    client: TestClient, planner: Any, tmp_path: Path
) -> None:
    geoms = [shapely.box(X0, Y0, X0 + 10, Y0 + 10), shapely.LineString([(X0, Y0), (X0 + 50, Y0)])]
    path = _write(gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=geoms, crs=4547), tmp_path / "mixed.gpkg")
    r = _upload(client, planner.headers, "cur_site", path)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_features"
    assert r.json()["details"][0]["feature"] == 2
    ok = _upload(client, planner.headers, "cur_site", path, skip_invalid="true")
    assert ok.status_code == 201
    assert ok.json()["feature_count"] == 1
    assert ok.json()["report"]["skipped"][0]["feature"] == 2


@pytest.mark.parametrize("moved", [False, True], ids=["as_is", "in_district"])
@pytest.mark.parametrize("sample", corpus_cases(), ids=case_id)
def test_invalid_geojson_corpus_never_causes_a_500(
    sample: Path, moved: bool, app: Any, client: TestClient, planner: Any, owner_conn: Any
) -> None:
    """Each case of the vendored corpus, as it is (outside the district) and moved into the district: a
    version with the right area, or a 4xx and no version; never a 500."""
    quiet = TestClient(app, raise_server_exceptions=False)
    document = relocated(load(sample)) if moved else load(sample)
    before = owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0]
    r = quiet.post(
        "/api/layers/cur_site/versions",
        headers=planner.headers,
        files={"file": (sample.name, json.dumps(document).encode())},
    )
    answered = moved and case_id(sample) in LAYER_ANSWERED_IN_DISTRICT
    assert (r.status_code == 201) if answered else (r.status_code in (413, 422)), r.text
    assert r.headers["content-type"] in ("application/json", "application/problem+json")
    after = owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0]
    assert after == before + (1 if r.status_code == 201 else 0)
    polygons = polygons_of(document) if answered else None
    if polygons and not r.json()["report"]["repaired_count"]:
        stored = owner_conn.execute(
            "SELECT sum(f.area_m2) FROM basemap.feature f JOIN basemap.layer l"
            " ON l.current_version = f.version_id WHERE l.code = 'cur_site'"
        ).fetchone()[0]
        assert stored == pytest.approx(geodesic_area_m2(polygons), rel=1e-4)


def test_concurrent_import_of_the_same_layer_is_409(
    client: TestClient, planner: Any, settings: Settings, tmp_path: Path
) -> None:
    import psycopg

    path = _write(_parcels(), tmp_path / "p.gpkg")
    with psycopg.connect(settings.owner_dsn) as holder:
        holder.execute("SELECT 1 FROM basemap.layer WHERE code = 'cur_approved' FOR UPDATE")
        r = _upload(client, planner.headers, "cur_approved", path)
    assert r.status_code == 409
    assert r.json()["code"] == "layer_busy"


def test_viewer_cannot_import_and_restricted_layers_are_hidden(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    codes = {layer["code"] for layer in client.get("/api/layers", headers=viewer.headers).json()}
    assert "forest_land" in codes and "cur_cadastre" not in codes
    assert client.get("/api/layers/cur_cadastre", headers=viewer.headers).status_code == 404
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    listed = client.get("/api/layers", headers=admin.headers).json()
    # 172 imported layers, the live project library (proj_library) and the seven deficit layers of the gap
    # analysis (gap_*, one per facility type of analysis/standards/facilities.yaml).
    assert len(listed) == 180


def test_killed_import_leaves_the_current_version_intact(
    client: TestClient, planner: Any, settings: Settings, owner_conn: Any, tmp_path: Path
) -> None:
    assert (
        _upload(client, planner.headers, "cur_supplied", _write(_parcels(), tmp_path / "v1.gpkg")).status_code
        == 201
    )
    before = _feature_hashes(owner_conn, "cur_supplied")
    versions_before = owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0]
    i = np.arange(300_000)
    xs, ys = X0 + (i % 500) * 6, Y0 + (i // 500) * 6
    big = gpd.GeoDataFrame(
        {"name": [f"b{k}" for k in i]}, geometry=shapely.box(xs, ys, xs + 5, ys + 5), crs=4547
    )
    path = tmp_path / "big.gpkg"
    big.to_file(path, driver="GPKG")
    env = {**os.environ, "DATABASE_URL": settings.owner_dsn}
    proc = subprocess.Popen(
        [DUOGUI, "layers", "import", str(path), "--layer", "cur_supplied"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Wait until the import's transaction is inside the database (it holds the layer's row lock).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = owner_conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY %%' AND state = 'active'"
                " AND datname = current_database()"
            ).fetchone()[0]
            if busy:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    owner_conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query ILIKE 'COPY %%' AND pid <> pg_backend_pid() AND datname = current_database()"
    )
    time.sleep(0.5)
    assert _feature_hashes(owner_conn, "cur_supplied") == before
    assert owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0] == versions_before
    leftovers = owner_conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'basemap' AND tablename ~ '^[fp]_[0-9]+$'"
        " AND NOT EXISTS (SELECT 1 FROM basemap.layer_version v"
        " WHERE tablename IN ('f_' || v.id, 'p_' || v.id))"
    ).fetchone()[0]
    assert leftovers == 0
    # The old version is still fully readable through the API: its three parcels, with their attributes.
    served = client.get("/api/layers/cur_supplied/features", headers=planner.headers)
    assert served.status_code == 200
    features = served.json()["features"]
    assert [f["properties"]["parcel_code"] for f in features] == ["P-01", "P-02", "P-03"]
    assert [f["id"] for f in features] == [fid for fid, _, _ in before]


def test_older_versions_stay_queryable_as_geojson(client: TestClient, planner: Any, tmp_path: Path) -> None:
    assert (
        _upload(
            client, planner.headers, "cur_old_industrial", _write(_parcels(2), tmp_path / "a.gpkg")
        ).status_code
        == 201
    )
    assert (
        _upload(
            client, planner.headers, "cur_old_industrial", _write(_parcels(3), tmp_path / "b.gpkg")
        ).status_code
        == 201
    )
    history = client.get("/api/layers/cur_old_industrial/versions", headers=planner.headers).json()
    newest, older = history[0]["number"], history[1]["number"]
    assert history[0]["current"] and not history[1]["current"]
    current = client.get("/api/layers/cur_old_industrial/features", headers=planner.headers)
    assert current.headers["content-type"] == "application/geo+json"
    assert current.json()["numberReturned"] == 3
    old = client.get(
        "/api/layers/cur_old_industrial/features", params={"version": older}, headers=planner.headers
    )
    assert old.json()["numberReturned"] == 2
    ring = old.json()["features"][0]["geometry"]["coordinates"][0]
    lon, lat = min(c[0] for c in ring), min(c[1] for c in ring)
    # CRS84, lon first (CGCS2000 and WGS 84 may differ by a few decimetres between PROJ pipelines).
    assert abs(lon - 114.25) < 1e-5 and abs(lat - 22.70) < 1e-5
    east = client.get(
        "/api/layers/cur_old_industrial/features",
        params={"version": newest, "bbox": "114.2512,22.69,114.3,22.71"},
        headers=planner.headers,
    ).json()
    assert [f["id"] for f in east["features"]] == [2, 3]
    bad = client.get(
        "/api/layers/cur_old_industrial/features", params={"bbox": "1,2,3"}, headers=planner.headers
    )
    assert bad.status_code == 422
    missing = client.get(
        "/api/layers/cur_old_industrial/features", params={"version": 99}, headers=planner.headers
    )
    assert missing.status_code == 404


def test_dxf_keeps_cad_layer_names_and_colours(
    client: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    import ezdxf

    doc = ezdxf.new("R2013")
    doc.layers.add("规划地块", color=3)  # ACI 3 = green
    msp = doc.modelspace()
    msp.add_lwpolyline(
        [(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 200), (X0, Y0 + 200)],
        close=True,
        dxfattribs={"layer": "规划地块"},
    )
    msp.add_lwpolyline(
        [(X0 + 150, Y0), (X0 + 250, Y0), (X0 + 250, Y0 + 200), (X0 + 150, Y0 + 200)],
        close=True,
        dxfattribs={"layer": "规划地块", "color": 1},  # red, overriding the layer colour
    )
    path = tmp_path / "地块.dxf"
    doc.saveas(path)
    r = _upload(client, planner.headers, "cur_site", path, crs="EPSG:4547")
    assert r.status_code == 201, r.text
    rows = owner_conn.execute(
        """
        SELECT f.extra->>'cad_layer', f.extra->>'cad_color_index', f.extra->>'cad_color', round(f.area_m2)
        FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id
        WHERE l.code = 'cur_site' ORDER BY f.fid
        """
    ).fetchall()
    assert rows == [("规划地块", "3", "#00FF00", 20000), ("规划地块", "1", "#FF0000", 20000)]


def test_zipped_filegdb_imports(client: TestClient, planner: Any, tmp_path: Path) -> None:
    gdb = _write(_parcels(), tmp_path / "parcels.gdb", crs=4490, driver="OpenFileGDB")
    archive = tmp_path / "parcels.gdb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in gdb.rglob("*"):
            zf.write(f, f.relative_to(tmp_path))
    r = _upload(client, planner.headers, "cur_approved", archive)
    assert r.status_code == 201, r.text
    assert r.json()["feature_count"] == 3 and r.json()["report"]["source"]["driver"] == "OpenFileGDB"


def test_missing_crs_is_refused_unless_given(client: TestClient, planner: Any, tmp_path: Path) -> None:
    shp_dir = tmp_path / "noprj"
    _write(_parcels(), shp_dir, driver="ESRI Shapefile")
    for prj in shp_dir.glob("*.prj"):
        prj.unlink()
    archive = tmp_path / "noprj.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    r = _upload(client, planner.headers, "cur_approved", archive)
    assert r.status_code == 422 and r.json()["code"] == "no_crs"
    assert "坐标系" in r.json()["detail"]
    ok = _upload(client, planner.headers, "cur_approved", archive, crs="EPSG:4547")
    assert ok.status_code == 201, ok.text


def test_swapped_coordinates_are_refused_with_the_likely_cause(
    client: TestClient, planner: Any, owner_conn: Any, tmp_path: Path
) -> None:
    swapped = gpd.GeoDataFrame(
        {"name": ["x"]}, geometry=[shapely.box(22.70, 114.25, 22.701, 114.251)], crs=4490
    )
    path = tmp_path / "swapped.gpkg"
    swapped.to_file(path, driver="GPKG")
    before = owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0]
    r = _upload(client, planner.headers, "cur_site", path)
    assert r.status_code == 422
    assert r.json()["code"] == "outside_district"
    assert "颠倒" in r.json()["detail"]
    en = client.post(
        "/api/layers/cur_site/versions",
        headers={**planner.headers, "Accept-Language": "en"},
        files={"file": (path.name, path.read_bytes())},
    )
    assert "swapped" in en.json()["detail"]
    assert owner_conn.execute("SELECT count(*) FROM basemap.layer_version").fetchone()[0] == before


def test_zip_bomb_is_refused_before_extraction(
    client: TestClient, planner: Any, settings: Settings, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("huge.shp", b"\0" * (60 * 1024 * 1024))
    r = _upload(client, planner.headers, "cur_site", bomb)
    assert r.status_code == 413
    assert r.json()["code"] == "zip_bomb"
    assert not list((settings.data_dir / "tmp").glob("upload-*"))  # the upload scratch space is cleaned


def test_a_rounded_round_trip_is_not_a_change_within_the_diff_tolerance(
    client: TestClient, planner: Any, tmp_path: Path
) -> None:
    first = _parcels(3)
    assert (
        _upload(client, planner.headers, "cur_idle", _write(first, tmp_path / "r1.gpkg")).status_code == 201
    )
    v1 = client.get("/api/layers/cur_idle", headers=planner.headers).json()["current_version"]
    # The same parcels back from GeoJSON in CRS84 with 7 decimals (positions rounded by up to ~6 mm);
    # the second with another land use; the third moved 1 m east (a real correction).
    second = first.copy()
    second.loc[second.index[1], "land_use"] = "GIC2"
    second.loc[second.index[2], "geometry"] = shapely.affinity.translate(second.geometry.iloc[2], 1.0, 0.0)
    geojson = tmp_path / "r2.geojson"
    subprocess.run(
        [
            OGR2OGR,
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:4326",
            "-lco",
            "COORDINATE_PRECISION=7",
            str(geojson),
            str(_write(second, tmp_path / "r2-base.gpkg")),
        ],
        check=True,
        capture_output=True,
    )
    assert _upload(client, planner.headers, "cur_idle", geojson).status_code == 201

    def diff(**params: Any) -> Any:
        r = client.get(
            "/api/layers/cur_idle/diff", params={"from": v1, "to": v1 + 1, **params}, headers=planner.headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return body["added"], body["removed"], body["changed"], body["unchanged"], body["within_tolerance"]

    # Exact to the last coordinate: every rounded parcel counts as removed and added again.
    assert diff(tolerance_m=0) == (3, 3, 0, 0, 0)
    # The default 1 cm: the two rounded parcels match (one with another land use); the parcel moved
    # 1 m is still a removal and an addition.
    assert diff() == (1, 1, 1, 1, 2)
    assert diff(tolerance_m=0.99) == (1, 1, 1, 1, 2)
    # From a tolerance past the 1 m move (plus rounding) it matches too, with its attributes unchanged.
    assert diff(tolerance_m=1.01) == (0, 0, 1, 2, 3)
    r = client.get(
        "/api/layers/cur_idle/diff",
        params={"from": v1, "to": v1 + 1, "tolerance_m": 11},
        headers=planner.headers,
    )
    assert r.status_code == 422
