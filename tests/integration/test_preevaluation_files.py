"""Footprints from files: uploads through the layer intake (files made by ogr2ogr, ezdxf), `duogui check`."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import ezdxf
import pytest
import shapely
from typer.testing import CliRunner

from app.auth.policy import Role
from app.cli import cli
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, WX0, WY0, geojson


def _planar_geojson(path: Path, names: list[str], geoms: list[shapely.Geometry] | None = None) -> Path:
    """A GeoJSON file in EPSG:4547 (no CRS member): ogr2ogr assigns the CRS when converting."""
    geoms = geoms or [CANDIDATES[n] for n in names]
    features = [
        {"type": "Feature", "properties": {"name": n}, "geometry": shapely.geometry.mapping(g)}
        for n, g in zip(names, geoms, strict=True)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _ogr2ogr(*args: str) -> None:
    subprocess.run(["ogr2ogr", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sites 甲 and 乙 as GeoPackage, zipped Shapefile and DXF, made by the real tools."""
    tmp = tmp_path_factory.mktemp("footprint-files")
    source = _planar_geojson(tmp / "sites.geojson", ["甲", "乙"])
    gpkg = tmp / "sites.gpkg"
    _ogr2ogr("-f", "GPKG", "-a_srs", "EPSG:4547", str(gpkg), str(source))
    shp_dir = tmp / "shp"
    shp_dir.mkdir()
    _ogr2ogr(
        "-f",
        "ESRI Shapefile",
        "-a_srs",
        "EPSG:4547",
        "-lco",
        "ENCODING=UTF-8",
        str(shp_dir / "sites.shp"),
        str(source),
    )
    shp_zip = tmp / "sites.zip"
    with zipfile.ZipFile(shp_zip, "w") as archive:
        for part in sorted(shp_dir.iterdir()):
            archive.write(part, part.name)
    dxf = tmp / "red_line.dxf"
    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    x0, y0, x1, y1 = shapely.bounds(CANDIDATES["甲"])
    msp.add_lwpolyline([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], close=True, dxfattribs={"layer": "红线"})
    msp.add_text("用地红线", dxfattribs={"layer": "标注", "insert": (x0 + 10, y0 + 10)})
    msp.add_line((x0 - 50, y0 - 50), (x0 - 10, y0 - 10), dxfattribs={"layer": "标注"})
    doc.saveas(dxf)
    points = tmp / "points.gpkg"
    point_src = tmp / "points.geojson"
    point_src.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [WX0, WY0]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    _ogr2ogr("-f", "GPKG", "-a_srs", "EPSG:4547", str(points), str(point_src))
    beijing = tmp / "beijing.gpkg"
    far = _planar_geojson(tmp / "far.geojson", ["远"], [shapely.box(440000, 4420000, 440100, 4420100)])
    _ogr2ogr("-f", "GPKG", "-a_srs", "EPSG:4547", str(beijing), str(far))
    garbage = tmp / "broken.zip"
    garbage.write_bytes(b"this is not a zip archive")
    text = tmp / "notes.txt"
    text.write_text("用地范围见附件", encoding="utf-8")
    return {
        "gpkg": gpkg,
        "shp": shp_zip,
        "dxf": dxf,
        "points": points,
        "beijing": beijing,
        "garbage": garbage,
        "text": text,
        "geojson": source,
    }


def _upload(world: DemoEnv, path: Path, route: str = "upload", **form: str) -> Any:
    unit = world.account(Role.PROJECT_UNIT, "works")
    with path.open("rb") as fh:
        return world.client.post(
            f"/api/pre-evaluations/{route}",
            headers=unit.headers,
            files={"file": (path.name, fh)},
            data={"project_type": "school", **form},
        )


@pytest.mark.parametrize("kind", ["gpkg", "shp"])
def test_an_uploaded_file_is_one_footprint(preeval_world: DemoEnv, files: dict[str, Path], kind: str) -> None:
    r = _upload(preeval_world, files[kind])
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    # 甲 ∪ 乙: 20,000 m²; the grade Ⅰ half of 甲 (5000 m²) is prohibited, 乙's 5000 m² grade Ⅲ conditional.
    assert report["footprint_area_m2"] == pytest.approx(20_000, rel=1e-9)
    findings = {f["rule_id"]: f for f in report["findings"]}
    assert findings["forest_land.grade_i"]["overlap_m2"] == pytest.approx(5000, rel=1e-9)
    assert findings["forest_land.grade_ii_iv"]["overlap_m2"] == pytest.approx(5000, rel=1e-9)
    assert report["verdict"] == "不通过" and report["buildable"]["area_m2"] == pytest.approx(15_000, rel=1e-9)


def test_a_dxf_red_line_needs_its_crs_and_ignores_annotations(
    preeval_world: DemoEnv, files: dict[str, Path]
) -> None:
    refused = _upload(preeval_world, files["dxf"])
    assert refused.status_code == 422 and refused.json()["code"] == "no_crs"
    r = _upload(preeval_world, files["dxf"], crs="EPSG:4547")
    assert r.status_code == 201, r.text
    assert r.json()["report"]["footprint_area_m2"] == pytest.approx(10_000, rel=1e-9)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("points", 422, "wrong_geometry_kind"),
        ("beijing", 422, "outside_district"),
        ("garbage", 422, "unreadable_file"),
        ("text", 422, "unsupported_format"),
    ],
)
def test_bad_files_get_a_clear_4xx(
    preeval_world: DemoEnv, files: dict[str, Path], kind: str, status: int, code: str
) -> None:
    r = _upload(preeval_world, files[kind])
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert r.json()["message_zh"] and r.json()["message_en"]


def test_a_file_as_a_batch_keeps_feature_names(preeval_world: DemoEnv, files: dict[str, Path]) -> None:
    r = _upload(preeval_world, files["shp"], route="batch/upload")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["name"] for i in items] == ["甲", "乙"]
    assert [i["summary"]["verdict"] for i in items] == ["不通过", "有条件通过"]


def test_a_file_as_a_site_comparison_ranks_its_features(
    preeval_world: DemoEnv, files: dict[str, Path]
) -> None:
    r = _upload(preeval_world, files["gpkg"], route="compare/upload")
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {c["name"]: c for c in body["candidates"]}
    # 甲: half on grade Ⅰ forest (rejected); 乙: 5,000 m² of grade Ⅲ forest (conditional) → 乙 first.
    assert [c["name"] for c in body["candidates"]] == ["甲", "乙"]
    assert rows["甲"]["prohibited_area_m2"] == pytest.approx(5000, abs=1e-3)
    assert rows["乙"]["conditional_area_m2"] == pytest.approx(5000, abs=1e-3)
    assert body["recommendation"] == [1, 0] and (rows["乙"]["rank"], rows["甲"]["rank"]) == (1, 2)
    assert all(c["report_id"] for c in body["candidates"])


@pytest.mark.parametrize(("kind", "code"), [("dxf", "candidate_count"), ("garbage", "unreadable_file")])
def test_a_comparison_file_needs_two_to_five_areas(
    preeval_world: DemoEnv, files: dict[str, Path], kind: str, code: str
) -> None:
    """A red line of one polygon is no comparison; a broken file is refused (nothing is stored)."""
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    before = len(preeval_world.client.get("/api/pre-evaluations?limit=500", headers=unit.headers).json())
    r = _upload(preeval_world, files[kind], route="compare/upload", crs="EPSG:4547")
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert r.json()["message_zh"] and r.json()["message_en"]
    after = len(preeval_world.client.get("/api/pre-evaluations?limit=500", headers=unit.headers).json())
    assert after == before


@pytest.fixture
def cli_env(preeval_world: DemoEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUOGUI_ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", preeval_world.settings.owner_dsn)
    monkeypatch.setenv("DUOGUI_DATA_DIR", str(preeval_world.settings.data_dir))


def test_duogui_check_prints_one_line_per_footprint(cli_env: None, tmp_path: Path) -> None:
    path = tmp_path / "candidates.geojson"
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": n}, "geometry": geojson(CANDIDATES[n])}
            for n in ("甲", "丙")
        ],
    }
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--type", "school"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["序号", "名称", "结论", "禁止面积(m²)", "有条件面积(m²)", "户数", "审批事项"]
    first, second = lines[1].split(), lines[2].split()
    assert first[:6] == ["1", "甲", "不通过", "5,000.0", "0.0", "10"]
    assert second[:6] == ["2", "丙", "有条件通过", "0.0", "8,000.0", "4"]
    assert second[6].startswith("3：")  # heritage impact, collective land, house expropriation
    as_json = CliRunner().invoke(cli, ["check", str(path), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    items = json.loads(as_json.output)["items"]
    assert items[1]["summary"]["conditional_by_department"][0]["department"] == "culture"
    assert items[0]["summary"]["compensation_yuan"] == 38_400_000


def test_duogui_check_refuses_a_bad_file(cli_env: None, files: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["check", str(files["garbage"])])
    assert result.exit_code == 1 and "无法打开压缩包" in result.output
