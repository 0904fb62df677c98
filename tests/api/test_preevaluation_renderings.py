"""Renderings of a stored report: HTML (own Leaflet, no CDN), CSV and XLSX of the hits (known answers)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
import shapely
from openpyxl import load_workbook
from pyproj import Transformer

from app.auth.policy import Role
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, geojson

TO_STORAGE = Transformer.from_crs(4326, 4547, always_xy=True)
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
# Resources a browser would load: scripts, styles, images, frames, CSS url()/@import.
EXTERNAL_LOAD = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def stored(preeval_world: DemoEnv) -> tuple[dict[str, Any], dict[str, str]]:
    """Candidate 甲 (half on grade Ⅰ forest, B1 demolished), stored; with its owner's headers."""
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    body = {"footprint": geojson(CANDIDATES["甲"]), "project_type": "school", "project_code": "P-甲"}
    r = preeval_world.client.post("/api/pre-evaluations", headers=unit.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json(), unit.headers


def test_csv_has_chinese_headers_and_the_json_figures(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    report, headers = stored
    r = preeval_world.client.get(f"/api/pre-evaluations/{report['id']}/report.csv", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark for spreadsheet programs
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    forest = [row for row in rows if row["规则代码"] == "forest_land.grade_i"]
    assert len(forest) == 1
    assert forest[0]["等级"] == "禁止" and float(forest[0]["重叠面积（m²）"]) == pytest.approx(5000, abs=0.01)
    assert float(forest[0]["占用地比例（%）"]) == pytest.approx(50, abs=1e-4)
    assert forest[0]["要素编号"] == "1" and forest[0]["主管部门"]
    building = [row for row in rows if row["规则代码"] == "cur_building.demolition"]
    assert [float(b["重叠面积（m²）"]) for b in building] == [400.0]  # B1 is 20 m × 20 m
    # Every finding of the JSON is in the CSV with the same grade.
    json_rules = {f["rule_id"] for f in report["report"]["findings"]}
    assert {row["规则代码"] for row in rows} == json_rules
    english = preeval_world.client.get(
        f"/api/pre-evaluations/{report['id']}/report.csv", headers={**headers, "Accept-Language": "en"}
    )
    assert english.content.decode("utf-8-sig").splitlines()[0].startswith("No.,Layer,Grade,")


def test_xlsx_matches_the_json(preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]) -> None:
    report, headers = stored
    r = preeval_world.client.get(f"/api/pre-evaluations/{report['id']}/report.xlsx", headers=headers)
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["冲突清单"]
    head = [c.value for c in sheet[1]]
    assert head[:5] == ["序号", "图层", "等级", "要素编号", "重叠面积（m²）"]
    assert head[-2:] == ["规则代码", "图层代码"]  # codes only in their own columns, last
    rows = [dict(zip(head, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
    forest = next(row for row in rows if row["规则代码"] == "forest_land.grade_i")
    assert forest["等级"] == "禁止" and forest["重叠面积（m²）"] == pytest.approx(5000, abs=0.01)
    summary = {row[0].value: row[1].value for row in book["概要"].iter_rows()}
    assert summary["结论"] == "不通过" and summary["户数"] == 10
    assert summary["估算补偿（元）"] == 38_400_000  # B1: 1200 m² × 32,000 元/m² (zone 1, state land)


def test_html_report_uses_only_the_apps_own_assets(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    report, headers = stored
    r = preeval_world.client.get(f"/api/pre-evaluations/{report['id']}/report.html", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert '<script src="/vendor/leaflet/leaflet.js">' in page
    assert "项目预评价报告" in page and "不通过" in page and "P-甲" in page
    assert page.count("duogui-conflict") >= 3  # forest, building, ownership, compensation zone…
    assert preeval_world.client.get("/vendor/leaflet/leaflet.js").status_code == 200
    english = preeval_world.client.get(
        f"/api/pre-evaluations/{report['id']}/report.html", params={"lang": "en"}, headers=headers
    )
    assert "Pre-evaluation report" in english.text and "rejected" in english.text
    download = preeval_world.client.get(
        f"/api/pre-evaluations/{report['id']}/report.html", params={"download": 1}, headers=headers
    )
    assert "attachment" in download.headers["content-disposition"]
    assert "/vendor/leaflet/" not in download.text and "L.map(" in download.text  # Leaflet inline
    # Leaflet's own code names its home page in the attribution prefix (a link, never loaded).
    assert not EXTERNAL_LOAD.search(download.text)


def test_renderings_are_private_to_the_organisation(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    report, _ = stored
    other = preeval_world.account(Role.PROJECT_UNIT, "pnr")
    for suffix in ("html", "csv", "xlsx"):
        r = preeval_world.client.get(
            f"/api/pre-evaluations/{report['id']}/report.{suffix}", headers=other.headers
        )
        assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_the_footprint_comes_back_as_crs84_geojson_to_its_organisation_only(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    report, headers = stored
    r = preeval_world.client.get(f"/api/pre-evaluations/{report['id']}/footprint", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feature = r.json()
    assert feature["type"] == "Feature" and feature["properties"] == {"id": report["id"]}
    back = shapely.transform(
        shapely.geometry.shape(feature["geometry"]),
        lambda x, y: TO_STORAGE.transform(x, y),
        interleaved=False,
    )
    # Candidate 甲 is 100 m × 100 m; seven decimals of a degree are about a centimetre.
    assert back.area == pytest.approx(10_000, abs=1.0)
    assert back.symmetric_difference(CANDIDATES["甲"]).area < 1.0
    other = preeval_world.account(Role.PROJECT_UNIT, "pnr")
    hidden = preeval_world.client.get(f"/api/pre-evaluations/{report['id']}/footprint", headers=other.headers)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    missing = preeval_world.client.get("/api/pre-evaluations/987654321/footprint", headers=headers)
    assert missing.status_code == 404


# A code as the engine writes one (forest_land.grade_i, cur_building, eco-env): lower-case words and _ . -
CODE = re.compile(r"^[a-z]+(?:[_.\-][a-z0-9]+)+$")


def test_exports_name_things_and_keep_codes_in_their_own_columns(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    report, headers = stored
    path = f"/api/pre-evaluations/{report['id']}/report"
    r = preeval_world.client.get(f"{path}.csv", headers=headers)
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    read = [(key, value) for row in rows for key, value in row.items() if key not in ("规则代码", "图层代码")]
    assert [cell for cell in read if CODE.match(cell[1])] == []
    forest = next(row for row in rows if row["规则代码"] == "forest_land.grade_i")
    assert (forest["图层"], forest["图层代码"], forest["主管部门"]) == (
        "林地",
        "forest_land",
        "龙岗区城市管理和综合执法局（林业）",  # the rules' name of department "forestry"
    )
    assert forest["占用地比例（%）"] == "50.0"  # 5,000 m² of the 10,000 m² site, two decimals at most
    # XLSX: figures stay numbers, shown grouped with their decimals; the summary names the project type.
    book = load_workbook(io.BytesIO(preeval_world.client.get(f"{path}.xlsx", headers=headers).content))
    sheet = book["冲突清单"]
    head = [c.value for c in sheet[1]]
    cells = [dict(zip(head, row, strict=True)) for row in sheet.iter_rows(min_row=2)]
    cell = next(c for c in cells if c["规则代码"].value == "forest_land.grade_i")
    assert (cell["重叠面积（m²）"].value, cell["重叠面积（m²）"].number_format) == (5000, "#,##0.00")
    summary = {row[0].value: row[1] for row in book["概要"].iter_rows()}
    assert (summary["项目类型"].value, summary["项目类型代码"].value) == ("学校", "school")
    assert summary["估算补偿（元）"].number_format == "#,##0.00"
    assert summary["户数"].number_format == "#,##0"
    # English: English layer, approval item and project type names; the department by its (Chinese) name.
    english = load_workbook(
        io.BytesIO(preeval_world.client.get(f"{path}.xlsx", params={"lang": "en"}, headers=headers).content)
    )
    head = [c.value for c in english["Conflicts"][1]]
    rows_en = [
        dict(zip(head, [c.value for c in row], strict=True))
        for row in english["Conflicts"].iter_rows(min_row=2)
    ]
    forest_en = next(row for row in rows_en if row["Rule code"] == "forest_land.grade_i")
    assert (forest_en["Layer"], forest_en["Department"]) == (
        "Forest land",
        "Longgang District Urban Management and Law Enforcement Bureau (Forestry)",
    )
    assert {row[0].value: row[1].value for row in english["Summary"].iter_rows()}["Project type"] == "School"
