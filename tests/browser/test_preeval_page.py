"""The pre-evaluation (预评价) tab in headless Chromium, over the hand-made world of tests/preeval_world."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pytest
import shapely

from app.auth.policy import Role
from app.main import create_app
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import assert_offline, open_map, text
from tests.browser.pixels import save_screenshot
from tests.conftest import DemoEnv
from tests.helpers import Account
from tests.preeval_world import CANDIDATES, TO_LONLAT, WX0, WY0, geojson

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
ZOOM = 17
TILE_SIZE = 512  # MapLibre's world is 512 px wide at zoom 0
VERDICT = "document.getElementById('preeval-verdict')?.textContent"


@pytest.fixture(scope="module")
def server(preeval_world: DemoEnv) -> Iterator[tuple[str, RequestLog]]:
    """The world's app served by uvicorn, with the log of every request it answered."""
    log = RequestLog(create_app(preeval_world.settings))
    with live_server(log) as url:
        yield url, log


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=900) as p:
        yield p


@pytest.fixture
def unit(preeval_world: DemoEnv) -> Account:
    """A new project unit of 建筑工务署 (it sees its organisation's reports, other tests' too)."""
    return preeval_world.account(Role.PROJECT_UNIT, "works")


def lonlat(x: float, y: float) -> tuple[float, float]:
    """World metres → (lon, lat)."""
    lon, lat = TO_LONLAT.transform(WX0 + x, WY0 + y)
    return float(lon), float(lat)


def mercator(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixels of the whole world at a zoom (MapLibre's 512 px tiles)."""
    size = TILE_SIZE * 2**zoom
    y = (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2
    return (lon + 180) / 360 * size, y * size


def map_view(page: Page) -> tuple[float, float, float]:
    """The map's zoom, lat and lon from its #map= address."""
    zoom, lat, lon = page.js("location.hash.split('=')[1]").split("/")[:3]
    return float(zoom), float(lat), float(lon)


def screen_point(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """Where a place is on the screen (the map is neither rotated nor pitched)."""
    zoom, clat, clon = map_view(page)
    left, top, width, height = page.js(
        "(r => [r.left, r.top, r.width, r.height])(document.getElementById('map').getBoundingClientRect())"
    )
    cx, cy = mercator(clon, clat, zoom)
    px, py = mercator(lon, lat, zoom)
    return left + width / 2 + px - cx, top + height / 2 + py - cy


def open_preeval(page: Page) -> None:
    """Open the 预评价 tab and wait for the project types from the published rules."""
    page.js("document.getElementById('tab-preeval').click()")
    page.wait_for("document.querySelectorAll('#preeval-type option').length > 1")
    # The wider panel has been laid out and the map has followed it.
    page.wait_for("document.getElementById('workspace').classList.contains('wide-panel')")
    page.js("new Promise(r => setTimeout(r, 300))")


def choose_type(page: Page, project_type: str) -> None:
    page.js(f"document.getElementById('preeval-type').value = {json.dumps(project_type)}")


def draw(page: Page, points: list[tuple[float, float]]) -> None:
    """Start drawing, click each (lon, lat) on the map, and finish with the button."""
    page.js("document.getElementById('preeval-draw').click()")
    for lon, lat in points:
        page.click_at(*screen_point(page, lon, lat))
    page.js("document.getElementById('preeval-finish').click()")


def double_click_at(page: Page, x: float, y: float) -> None:
    """A real double-click: two presses, the second with clickCount 2 (the browser then fires dblclick)."""
    page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=page.session)
    for count in (1, 2):
        for kind in ("mousePressed", "mouseReleased"):
            event = {"type": kind, "x": x, "y": y, "button": "left", "clickCount": count}
            page.send("Input.dispatchMouseEvent", event, session=page.session)


def submit(page: Page) -> None:
    page.js("document.getElementById('preeval-form').requestSubmit()")


def findings_of(page: Page, grade: str) -> list[dict[str, Any]]:
    """The findings shown under one grade: layer, heading and facts."""
    return list(
        page.js(
            f"[...document.querySelectorAll('#preeval-report .grade-group[data-grade={grade}] article')]"
            ".map(a => ({layer: a.dataset.layer, title: a.querySelector('h4').textContent,"
            " facts: Object.fromEntries([...a.querySelectorAll('dt')]"
            ".map(d => [d.textContent, d.nextElementSibling.textContent]))}))"
        )
    )


def section_facts(page: Page, selector: str) -> dict[str, str]:
    pairs = page.js(
        f"[...document.querySelectorAll({json.dumps(selector + ' dt')})]"
        ".map(d => [d.textContent, d.nextElementSibling.textContent])"
    )
    return dict(pairs)


def square_metres(shown: str) -> float:
    """'5,000 m²' → 5000."""
    match = re.fullmatch(r"([\d,]+) m²", shown)
    assert match, shown
    return float(match[1].replace(",", ""))


def test_a_project_unit_draws_a_footprint_and_reads_the_report(
    page: Page, server: tuple[str, RequestLog], unit: Account, preeval_world: DemoEnv
) -> None:
    url, log = server
    centre_lon, centre_lat = lonlat(100, 50)
    open_map(page, url, unit, view=f"#map={ZOOM}/{centre_lat:.6f}/{centre_lon:.6f}")
    assert page.js("document.getElementById('tab-preeval').hidden") is False
    open_preeval(page)
    names = page.js("[...document.querySelectorAll('#preeval-type option')].map(o => o.textContent)")
    assert "学校" in names and "道路桥梁" in names
    choose_type(page, "school")
    page.js("document.getElementById('preeval-code').value = 'P-甲-浏览器'")

    # Candidate 甲 = [50,150]×[0,100] m: half on grade Ⅰ forest, building B1 inside.
    draw(page, [lonlat(50, 0), lonlat(150, 0), lonlat(150, 100), lonlat(50, 100)])
    assert text(page, "#preeval-draw-status") == "已绘制用地范围（4 个顶点）。"
    assert page.js("document.getElementById('identify').hidden") is True  # the clicks did not identify
    submit(page)
    assert page.wait_for(VERDICT, timeout_s=60) == "不通过"
    assert "verdict-prohibited" in page.js("document.getElementById('preeval-verdict').className")

    prohibited = findings_of(page, "prohibited")
    assert [f["layer"] for f in prohibited] == ["forest_land"]
    # Clicked corners are within a pixel (≈ 0.6 m at zoom 17) of the true ones: 5,000 m² within 2 %.
    assert square_metres(prohibited[0]["facts"]["重叠面积"]) == pytest.approx(5000, rel=0.02)
    assert prohibited[0]["facts"]["法律依据"] and prohibited[0]["facts"]["责任部门"]
    assert text(page, ".grade-group[data-grade=prohibited] .grade-title") == "禁止（1）"
    demolition = section_facts(page, "#preeval-report .demolition")
    assert demolition["涉及建筑"] == "1 栋"
    assert demolition["户数"] == "10"
    assert demolition["建筑面积"] == "1,200 m²"
    assert demolition["估算补偿"] == "38,400,000 元"  # B1: 1,200 m² × 32,000 元/m² (zone 1, state land)

    # The page shows the report the API stored for this unit, and the map is framed on its footprint.
    stored = preeval_world.client.get("/api/pre-evaluations", headers=unit.headers).json()
    assert stored[0]["project_code"] == "P-甲-浏览器"  # newest first
    assert text(page, "#preeval-report h2") == f"预评价报告 #{stored[0]['id']}"
    page.wait_for(f"parseFloat(location.hash.split('=')[1]) > {ZOOM + 0.3}")
    zoom, lat, lon = map_view(page)
    assert abs(lon - centre_lon) < 2e-4 and abs(lat - centre_lat) < 2e-4
    assert page.js("document.querySelectorAll('#preeval-list tbody tr').length") == len(stored)
    assert text(page, "#preeval-list tbody tr").startswith(f"#{stored[0]['id']}")

    save_screenshot(page, "preeval")  # the README's picture of a pre-evaluation
    # The CSV is fetched with the token (a plain link could not send it).
    page.js("document.querySelector('#preeval-report button[data-download=csv]').click()")
    csv_path = f"/api/pre-evaluations/{stored[0]['id']}/report.csv"
    page.wait_until(lambda: any(p == csv_path and s == 200 for _, p, _, s in log.seen), "the CSV download")

    # English: the verdict, the grade and the money change language.
    page.js("document.getElementById('lang').click()")
    assert text(page, "#preeval-verdict") == "rejected"
    assert text(page, ".grade-group[data-grade=prohibited] .grade-title") == "Prohibited（1）"
    assert section_facts(page, "#preeval-report .demolition")["Estimated compensation"] == "38,400,000 yuan"
    assert text(page, "#preeval-run") == "Run pre-evaluation"
    flag_labels = "[...document.querySelectorAll('#preeval-flags .flag label')].map(l => l.textContent)"
    assert page.js(flag_labels)[2] == "Provincial major project"
    page.js("document.getElementById('lang').click()")
    assert text(page, "#preeval-verdict") == "不通过"
    assert page.js(flag_labels)[2] == "省重大项目"
    assert_offline(page, url)


def test_an_uploaded_geopackage_gives_the_exact_figures(
    page: Page, server: tuple[str, RequestLog], unit: Account, tmp_path: Path
) -> None:
    url, _ = server
    # Candidate 丙 = [380,480]×[0,100] m: 80 m × 100 m inside the heritage control zone, B3 inside.
    path = tmp_path / "丙.gpkg"
    gpd.GeoDataFrame({"name": ["丙"]}, geometry=[CANDIDATES["丙"]], crs=4547).to_file(path, driver="GPKG")
    open_map(page, url, unit)
    open_preeval(page)
    choose_type(page, "school")
    page.js("document.getElementById('preeval-source-file').click()")
    assert page.js("document.getElementById('preeval-draw-tools').hidden") is True
    page.set_files("#preeval-file", str(path))
    submit(page)
    assert page.wait_for(VERDICT, timeout_s=60) == "有条件通过"
    conditional = findings_of(page, "conditional")
    heritage = [f for f in conditional if f["layer"] == "heritage_control_zone"]
    assert len(heritage) == 1
    assert heritage[0]["facts"]["重叠面积"] == "8,000 m²"
    assert heritage[0]["facts"]["占用地比例"] == "80.0%"
    assert findings_of(page, "prohibited") == []
    facts = section_facts(page, "#preeval-report .preeval-report > dl")
    assert facts["用地面积"] == "10,000 m²"
    demolition = section_facts(page, "#preeval-report .demolition")
    assert demolition["估算补偿"] == "6,600,000 元"  # B3: 600 m² × 11,000 元/m² (zone 3, collective)
    assert demolition["户数"] == "4"
    assert_offline(page, url)


def stored_report(world: DemoEnv, unit: Account, candidate: str, **extra: Any) -> dict[str, Any]:
    """A school's pre-evaluation of one of the world's candidate sites, stored through the API."""
    body = {"footprint": geojson(CANDIDATES[candidate]), "project_type": "school", **extra}
    created = world.client.post("/api/pre-evaluations", headers=unit.headers, json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_refused_footprint_shows_the_api_message_and_keeps_the_report_shown(
    page: Page, server: tuple[str, RequestLog], unit: Account, preeval_world: DemoEnv
) -> None:
    url, log = server
    report_id = stored_report(preeval_world, unit, "乙")["id"]
    before = preeval_world.client.get("/api/pre-evaluations", headers=unit.headers).json()
    open_map(page, url, unit)
    open_preeval(page)
    page.js(f"document.querySelector('#preeval-list tr[data-id=\"{report_id}\"] button').click()")
    assert page.wait_for(VERDICT, timeout_s=30) == "有条件通过"
    page.wait_for(f"parseFloat(location.hash.split('=')[1]) > {ZOOM}")  # framed on 乙

    # Nothing drawn: the page's own message, nothing sent.
    choose_type(page, "school")
    posts = len([1 for m, p, _, _ in log.seen if m == "POST" and p == "/api/pre-evaluations"])
    submit(page)
    assert text(page, "#preeval-error") == "请先在地图上绘制用地范围并点“完成”。"

    # A triangle drawn far outside the district (Hangzhou): refused by the API (422) in Chinese.
    page.js("location.hash = '#map=15/30.000000/120.000000'")
    page.wait_for("location.hash.startsWith('#map=15/30')")
    page.js("new Promise(r => setTimeout(r, 300))")
    # This time the ring is closed by double-clicking the last vertex (one vertex, not two).
    page.js("document.getElementById('preeval-draw').click()")
    for lon, lat in [(119.998, 29.998), (120.002, 29.998)]:
        page.click_at(*screen_point(page, lon, lat))
    double_click_at(page, *screen_point(page, 120.0, 30.002))
    assert text(page, "#preeval-draw-status") == "已绘制用地范围（3 个顶点）。"
    page.js("new Promise(r => setTimeout(r, 800))")  # a double-click zoom would be over by now
    assert map_view(page)[0] == pytest.approx(15, abs=0.01)  # no double-click zoom while drawing
    submit(page)
    error = page.wait_for("document.getElementById('preeval-error').textContent", timeout_s=30)
    assert error.startswith("数据不在龙岗区范围内"), error
    refused = [s for m, p, _, s in log.seen if m == "POST" and p == "/api/pre-evaluations"]
    assert len(refused) == posts + 1 and refused[-1] == 422
    # The report shown before is still whole, and nothing was stored.
    assert text(page, "#preeval-verdict") == "有条件通过"
    assert text(page, "#preeval-report h2") == f"预评价报告 #{report_id}"
    assert preeval_world.client.get("/api/pre-evaluations", headers=unit.headers).json() == before
    page.js("document.getElementById('lang').click()")
    assert text(page, "#preeval-error").startswith("The data lies outside Longgang district.")
    assert text(page, "#preeval-verdict") == "conditionally approved"
    assert_offline(page, url)


def test_a_stale_report_is_flagged_and_the_recheck_says_what_changed(
    page: Page, server: tuple[str, RequestLog], unit: Account, preeval_world: DemoEnv
) -> None:
    url, _ = server
    created = stored_report(preeval_world, unit, "丁", project_code="P-丁")
    report_id = created["id"]
    version = created["report"]["layer_versions"]["forest_land"]
    # The mark the check index leaves when a new forest version changes features near the footprint.
    with psycopg.connect(preeval_world.settings.owner_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO project.pre_evaluation_stale"
            " (report_id, layer_code, from_version, to_version, changed)"
            " VALUES (%s, 'forest_land', %s, %s, 1)",
            (report_id, version, version + 1),
        )
    open_map(page, url, unit)
    open_preeval(page)
    row = f"#preeval-list tr[data-id='{report_id}']"
    badge = f"document.querySelector({json.dumps(row + ' .badge.stale')})?.textContent"
    assert page.wait_for(badge) == "报告已过期"
    page.js(f"document.querySelector({json.dumps(row + ' button')}).click()")
    assert page.wait_for(VERDICT, timeout_s=30) == "有条件通过"
    note = text(page, "#preeval-report .stale-note")
    assert f"林地：第 {version} 版 → 第 {version + 1} 版，1 个要素变化" in note

    page.js("document.getElementById('preeval-recheck').click()")
    page.wait_for("document.querySelector('#preeval-report .changes')", timeout_s=60)
    assert text(page, "#preeval-report .changes h3") == f"与报告 #{report_id} 相比的变化"
    # Nothing really changed in the world: the same verdict and findings.
    assert text(page, "#preeval-report .changes .note") == "结论和冲突均无变化。"
    reports = preeval_world.client.get("/api/pre-evaluations", headers=unit.headers).json()
    assert reports[0]["id"] > report_id and reports[1]["id"] == report_id
    assert text(page, "#preeval-report h2") == f"预评价报告 #{reports[0]['id']}"
    assert page.js("document.getElementById('preeval-recheck')") is None  # the new report is not stale
    # The list is refreshed after the new report is shown: wait for the new one to head it.
    page.wait_for(f"document.querySelector('#preeval-list tbody tr')?.dataset.id === '{reports[0]['id']}'")
    rows = page.js("[...document.querySelectorAll('#preeval-list tbody tr')].map(r => Number(r.dataset.id))")
    assert rows == [r["id"] for r in reports]
    assert_offline(page, url)


def test_a_viewer_gets_no_pre_evaluation_tab_or_run_button(
    page: Page, server: tuple[str, RequestLog], preeval_world: DemoEnv
) -> None:
    url, _ = server
    viewer = preeval_world.account(Role.VIEWER)
    open_map(page, url, viewer)
    assert page.js("document.getElementById('tab-preeval').hidden") is True
    assert page.js("document.getElementById('preeval').hidden") is True
    assert page.js("document.getElementById('preeval-run').getClientRects().length") == 0
    assert not [u for u in page.requests if "/api/pre-evaluations" in u]
    # The API agrees: a viewer may not run one.
    refused = preeval_world.client.get("/api/pre-evaluations/rules", headers=viewer.headers)
    assert refused.status_code == 403


def comparison_rows(page: Page) -> dict[str, list[str]]:
    """The comparison table: metric key → the cells of each candidate, in the order added."""
    return dict(
        page.js(
            "[...document.querySelectorAll('#preeval-comparison tbody tr[data-metric]')]"
            ".map(r => [r.dataset.metric, [...r.querySelectorAll('td')].map(d => d.textContent)])"
        )
    )


def test_a_project_unit_compares_drawn_sites_and_gets_the_recommendation(
    page: Page, server: tuple[str, RequestLog], unit: Account, preeval_world: DemoEnv
) -> None:
    url, _ = server
    centre_lon, centre_lat = lonlat(200, 50)
    open_map(page, url, unit, view=f"#map={ZOOM}/{centre_lat:.6f}/{centre_lon:.6f}")
    open_preeval(page)
    choose_type(page, "school")
    before = len(page.js("[...document.querySelectorAll('#preeval-list tbody tr')]") or [])
    # 甲 = [50,150]×[0,100] (half on grade Ⅰ forest, B1) and 乙 = [250,350]×[0,100] (grade Ⅲ forest only).
    for x0 in (50, 250):
        draw(page, [lonlat(x0, 0), lonlat(x0 + 100, 0), lonlat(x0 + 100, 100), lonlat(x0, 100)])
        page.js("document.getElementById('preeval-add-site').click()")
    assert page.js("document.getElementById('preeval-compare').disabled") is False
    # A third site, removed again.
    draw(page, [lonlat(150, 0), lonlat(250, 0), lonlat(250, 100), lonlat(150, 100)])
    page.js("document.getElementById('preeval-add-site').click()")
    sites = "[...document.querySelectorAll('#preeval-site-list li span')].map(s => s.textContent)"
    assert page.js(sites) == ["方案1", "方案2", "方案3"]
    page.js("document.querySelectorAll('#preeval-site-list li button')[2].click()")
    assert page.js(sites) == ["方案1", "方案2"]

    page.js("document.getElementById('preeval-compare').click()")
    page.wait_for("document.querySelector('#preeval-comparison table')", timeout_s=60)
    heads = page.js("[...document.querySelectorAll('#preeval-comparison thead th')].map(h => h.textContent)")
    assert heads == ["", "方案1", "方案2"]
    rows = comparison_rows(page)
    # Conditional before rejected: 乙 is recommended.
    assert rows["rank"] == ["2", "1（推荐）"]
    assert rows["verdict"] == ["不通过", "有条件通过"]
    assert square_metres(rows["prohibitedArea"][0]) == pytest.approx(5000, rel=0.02)
    assert rows["prohibitedArea"][1] == "0 m²"
    assert square_metres(rows["conditionalArea"][1]) == pytest.approx(5000, rel=0.02)
    assert rows["households"] == ["10", "0"]
    assert rows["compensation"][0] == "38,400,000 元"
    assert "推荐顺序" in text(page, "#preeval-comparison p.note")
    # Both candidates were stored as reports and can be opened from the table.
    page.wait_for(f"document.querySelectorAll('#preeval-list tbody tr').length >= {before + 2}", timeout_s=30)
    page.js("document.querySelectorAll('#preeval-comparison tbody tr:last-child button')[1].click()")
    assert page.wait_for(VERDICT, timeout_s=30) == "有条件通过"
    # In English the verdicts follow the switch (site names stay as given).
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.querySelector('#preeval-comparison h3').textContent === 'Site comparison'")
    assert comparison_rows(page)["verdict"] == ["rejected", "conditionally approved"]
    assert_offline(page, url)


def test_a_file_of_several_footprints_is_checked_one_by_one_or_compared(
    server: tuple[str, RequestLog], unit: Account, tmp_path: Path
) -> None:
    """On a phone-sized screen: a batch with one footprint refused, then the same sites as candidates."""
    url, _ = server
    far = shapely.box(440_000, 4_420_000, 440_100, 4_420_100)  # in Beijing: outside the district
    names, geoms = ["甲", "乙", "远"], [CANDIDATES["甲"], CANDIDATES["乙"], far]
    batch = tmp_path / "三处.gpkg"
    gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=4547).to_file(batch, driver="GPKG")
    pair = tmp_path / "两处.gpkg"
    gpd.GeoDataFrame({"name": names[:2]}, geometry=geoms[:2], crs=4547).to_file(pair, driver="GPKG")
    with Page(width=420, height=900) as page:
        open_map(page, url, unit)
        open_preeval(page)
        choose_type(page, "school")
        page.js("document.getElementById('preeval-source-file').click()")
        page.set_files("#preeval-file", str(batch))
        page.js("document.getElementById('preeval-file-batch').click()")
        page.wait_for("document.querySelector('#preeval-batch table')", timeout_s=60)
        assert text(page, "#preeval-batch h3") == "批量评价结果：共 3 个，已评价 2 个，未能评价 1 个"
        rows = page.js(
            "[...document.querySelectorAll('#preeval-batch tbody tr')]"
            ".map(r => [...r.querySelectorAll('td')].map(d => d.textContent))"
        )
        # 甲: half on grade Ⅰ forest (5,000 m² prohibited, B1 with 10 households); 乙: grade Ⅲ forest.
        assert rows[0][:7] == ["1", "甲", "不通过", "5,000 m²", "0 m²", "10", "50.0%"]
        assert rows[1][:7] == ["2", "乙", "有条件通过", "0 m²", "5,000 m²", "0", "100.0%"]
        assert rows[2][:2] == ["3", "远"] and rows[2][2].startswith("未能评价：")
        assert rows[0][7].startswith("#") and rows[1][7].startswith("#")
        # A wide table would scroll inside its box; the page itself never scrolls sideways.
        box = "getComputedStyle(document.querySelector('#preeval-batch .scroll'))"
        assert page.js(f"{box}.overflowX") == "auto"
        assert page.js("document.documentElement.scrollWidth <= window.innerWidth") is True
        # A row opens its stored report.
        page.wait_for("!document.getElementById('preeval-run').disabled")  # the list is refreshed
        page.js("document.querySelectorAll('#preeval-batch tbody button')[1].click()")
        assert page.wait_for(VERDICT, timeout_s=30) == "有条件通过"

        page.set_files("#preeval-file", str(pair))
        page.wait_for("!document.getElementById('preeval-file-compare').disabled")
        page.js("document.getElementById('preeval-file-compare').click()")
        page.wait_for("document.querySelector('#preeval-comparison table')", timeout_s=60)
        heads = "[...document.querySelectorAll('#preeval-comparison thead th')].map(h => h.textContent)"
        assert page.js(heads) == ["", "甲", "乙"]
        compared = comparison_rows(page)
        assert compared["rank"] == ["2", "1（推荐）"]
        assert compared["prohibitedArea"] == ["5,000 m²", "0 m²"]
        # One footprint is no comparison: the API's message, and the table shown stays.
        one = tmp_path / "一处.gpkg"
        gpd.GeoDataFrame({"name": ["甲"]}, geometry=[CANDIDATES["甲"]], crs=4547).to_file(one, driver="GPKG")
        page.set_files("#preeval-file", str(one))
        # The comparison shows before the report list is refreshed; the buttons come back after that.
        page.wait_for("!document.getElementById('preeval-file-compare').disabled")
        page.js("document.getElementById('preeval-file-compare').click()")
        assert page.wait_for("document.getElementById('preeval-error').textContent", timeout_s=30) == (
            "比选方案须为 2–5 个，收到 1 个。"
        )
        assert page.js("document.querySelectorAll('#preeval-comparison thead th').length") == 3  # kept
        page.js("document.getElementById('lang').click()")
        assert text(page, "#preeval-batch h3") == "Batch: 3 footprints, 2 checked, 1 not checked"
        assert text(page, "#preeval-file-batch") == "Check each footprint"
        assert_offline(page, url)
