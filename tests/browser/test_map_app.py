"""The planners' map at / in headless Chromium, against the real app with the small demo district."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from app.auth.policy import Role
from app.main import create_app
from app.migrate import head_revision
from layers.catalog.model import Attribute, get_catalog
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import ALL, assert_offline, details_facts, only, open_map, sign_in, text, tick
from tests.conftest import DemoEnv
from tests.helpers import Account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
TWO_LAYERS = ("admin_subdistrict", "water_river")  # both drawn from zoom 8 on


@pytest.fixture(scope="module")
def server(demo: DemoEnv) -> Iterator[tuple[str, RequestLog]]:
    """The demo's app served by uvicorn, with the log of every request it answered."""
    log = RequestLog(create_app(demo.settings))
    with live_server(log) as url:
        yield url, log


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Account:
    return demo.account(Role.PLANNER)


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1280, height=800) as p:
        yield p


def test_sign_in_refuses_a_wrong_password_in_chinese_then_works_and_signs_out(
    page: Page, server: tuple[str, RequestLog], planner: Account
) -> None:
    url, _ = server
    page.goto(url + "/")
    sign_in(page, url, planner, password="not-the-password")
    assert page.wait_for("document.getElementById('sign-in-error').textContent") == "用户名或密码错误。"
    assert page.js("document.getElementById('workspace').hidden") is True
    assert page.js("sessionStorage.getItem('duogui.token')") is None

    sign_in(page, url, planner)
    page.wait_for("document.body.dataset.mapReady === 'true'", timeout_s=60)
    assert page.js("document.getElementById('sign-in-page').hidden") is True
    assert planner.username in text(page, "#user")
    assert page.js("sessionStorage.getItem('duogui.token')")
    # Chinese is drawn with the app's own Noto Sans SC (from web/node_modules), whatever the machine has.
    page.wait_for(
        "[...document.fonts].some(f => f.family.replace(/[\"']/g, '') === 'Noto Sans SC'"
        " && f.status === 'loaded')"
    )
    assert any(u.startswith(url + "/vendor/fonts/noto-sans-sc/files/") for u in page.requests)
    assert "Noto Sans SC" in page.js("getComputedStyle(document.body).fontFamily")

    page.js("document.getElementById('sign-out').click()")
    page.wait_for("!document.getElementById('sign-in-page').hidden")
    assert text(page, "#sign-in-note") == "已退出登录。"
    assert page.js("sessionStorage.getItem('duogui.token')") is None
    assert_offline(page, url)


def test_an_expired_token_brings_back_the_sign_in_form(
    page: Page, server: tuple[str, RequestLog], planner: Account, demo: DemoEnv
) -> None:
    url, _ = server
    open_map(page, url, planner)
    token = page.js("sessionStorage.getItem('duogui.token')")
    revoked = demo.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 204
    only(page, *TWO_LAYERS)  # the tiles now answer 401
    page.wait_for("!document.getElementById('sign-in-page').hidden", timeout_s=30)
    assert text(page, "#sign-in-note") == "登录已过期，请重新登录。"
    assert page.js("document.getElementById('workspace').hidden") is True


def test_the_layer_tree_lists_every_visible_layer_under_its_group(
    page: Page, server: tuple[str, RequestLog], planner: Account
) -> None:
    url, _ = server
    open_map(page, url, planner)
    catalog = get_catalog()
    expected = [
        (group_id, catalog.groups[group_id].name_zh, [e.code for e in entries if e.visible_to("planner")])
        for group_id, entries in catalog.by_group().items()
    ]
    expected = [g for g in expected if g[2]]
    shown = page.js(
        "[...document.querySelectorAll('#tree details')].map(d => [d.dataset.group,"
        " d.querySelector('summary .group-name').textContent,"
        " [...d.querySelectorAll('li input[type=checkbox]')].map(i => i.dataset.code)])"
    )
    assert [tuple(g) for g in shown] == expected
    assert sum(len(g[2]) for g in expected) >= 160
    # The 底图 is on (the catalog's base_map layers); the count says so.
    base = [e.code for e in catalog.layers.values() if e.base_map and e.visible_to("planner")]
    assert {"admin_district", "admin_subdistrict", "trans_expressway", "water_river"} <= {*base}
    checked = page.js(f"[...{ALL}('#tree li input[type=checkbox]:checked')].map(i => i.dataset.code)")
    assert sorted(checked) == sorted(base)
    assert text(page, "#active-count") == f"已选 {len(base)} 个"

    # Search narrows the tree to matching layers (name or code), groups opened.
    search = (
        "(s => {{ s.value = '{}'; s.dispatchEvent(new Event('input')); }})"
        "(document.getElementById('layer-search'))"
    )
    page.js(search.format("林地"))
    found = page.js("[...document.querySelectorAll('#tree li')].map(li => li.dataset.code)")
    visible = [e for e in catalog.layers.values() if e.visible_to("planner")]
    assert found == [e.code for e in visible if "林地" in e.name_zh]
    assert page.js("[...document.querySelectorAll('#tree details')].every(d => d.open)") is True

    # Layers not drawn at the current zoom are greyed out with the zoom they need.
    zoom = page.js("parseFloat(location.hash.split('=')[1])")
    page.js(search.format(""))
    grey = set(page.js("[...document.querySelectorAll('#tree li.out-of-zoom')].map(li => li.dataset.code)"))
    assert grey == {e.code for e in catalog.layers.values() if e.visible_to("planner") and e.min_zoom > zoom}
    assert grey, "the district view should leave some detailed layers out"

    # The service status moved from the old status page into "关于".
    page.js("document.getElementById('about-open').click()")
    status = page.wait_for("document.getElementById('health-db').textContent.startsWith('连接正常') && true")
    assert status is True and page.js("document.getElementById('about').open") is True
    assert text(page, "#health-rev") == head_revision()


def test_two_ticked_layers_come_in_one_composite_tile_request_per_tile(
    page: Page, server: tuple[str, RequestLog], planner: Account
) -> None:
    url, log = server
    open_map(page, url, planner)
    only(page, "base_hillshade")
    before = len(log.seen)  # the log is the module's: earlier tests asked for these layers too
    start = len(page.requests)  # the 底图's own tiles came before
    tick(page, *TWO_LAYERS)
    assert text(page, "#active-count") == "已选 3 个"
    tile = re.compile(r"^/tiles/([^/]+)/(\d+)/(\d+)/(\d+)\.mvt$")

    def answered() -> list[tuple[str, str, int]]:
        seen = log.seen[before:]
        matched = [(tile.match(path), status) for _, path, _, status in seen]
        return [(m[1], f"{m[2]}/{m[3]}/{m[4]}", status) for m, status in matched if m]

    def asked() -> list[str]:
        return [urlsplit(u).path for u in page.requests[start:] if tile.match(urlsplit(u).path)]

    def all_answered() -> bool:
        done = {f"/tiles/{codes}/{zxy}.mvt" for codes, zxy, _ in answered()}
        return bool(asked()) and set(asked()) <= done

    page.wait_until(all_answered, "the composite tiles to be asked for and answered")
    tiles = answered()
    assert tiles
    assert {codes for codes, _, _ in tiles} == {",".join(TWO_LAYERS)}  # never one request per layer
    assert all(status in (200, 204) for _, _, status in tiles), tiles
    assert any(status == 200 for _, _, status in tiles)
    assert len(asked()) == len(set(asked())), "a tile was asked for twice"
    legend = page.js("[...document.querySelectorAll('#legend .legend-item')].map(i => i.dataset.code)")
    # Catalog order; the hillshade has no legend (a shade has no values to read off).
    assert legend == ["admin_subdistrict", "water_river"]
    assert_offline(page, url)


def _a_building(demo: DemoEnv) -> tuple[int, float, float, dict[str, Any]]:
    """The largest building of the demo: its fid, a point inside it (lon, lat) and its attributes."""
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            """
            SELECT f.fid, ST_X(p), ST_Y(p), f.props
            FROM basemap.layer l JOIN basemap.feature f ON f.version_id = l.current_version,
                 LATERAL (SELECT ST_Transform(ST_PointOnSurface(f.geom), 4326) AS p) s
            WHERE l.code = 'cur_building'
            ORDER BY ST_Area(f.geom) DESC, f.fid LIMIT 1
            """
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1]), float(row[2]), dict(row[3])


def _as_read(attr: Attribute, value: Any, english: bool = False) -> str:
    """An attribute value as a person should read it, written here independently of the app: a code's label,
    a figure with thousands separators (not for years), at most two decimals and its unit."""
    code = next((c for c in attr.codes or [] if c.value == str(value)), None)
    if code:
        return code.label_en if english else code.label_zh
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value in (None, "") else str(value)
    figure = f"{value:{',' if attr.grouped else ''}.2f}".rstrip("0").rstrip(".")
    if not attr.unit:
        return figure
    return f"{figure}{attr.unit}" if attr.unit == "%" else f"{figure} {attr.unit}"


def click_map_centre(page: Page) -> None:
    """A click in the middle of the map (where the view was centred)."""
    box = page.js(
        "(() => { const r = document.getElementById('map').getBoundingClientRect();"
        " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )
    page.click_at(*box)


def test_clicking_a_building_shows_its_attributes_with_chinese_labels(
    page: Page, server: tuple[str, RequestLog], planner: Account, demo: DemoEnv
) -> None:
    url, _ = server
    fid, lon, lat, props = _a_building(demo)
    open_map(page, url, planner, view=f"#map=18/{lat:.6f}/{lon:.6f}")
    only(page, "cur_building")
    click_map_centre(page)
    found = f"#identify article[data-layer='cur_building'][data-fid='{fid}']"
    page.wait_for(f"document.querySelector({json.dumps(found)})", timeout_s=30)
    assert page.js("document.getElementById('tab-identify').getAttribute('aria-selected')") == "true"
    block = text(page, found)
    assert block.startswith("建筑物")
    labels = page.js(f"[...document.querySelectorAll({json.dumps(found + ' dt')})].map(d => d.textContent)")
    entry = get_catalog().layers["cur_building"]
    assert labels == ["要素编号"] + [a.label_zh for a in entry.attributes if a.name in props]
    assert len(labels) >= 4
    values = page.js(f"[...document.querySelectorAll({json.dumps(found + ' dd')})].map(d => d.textContent)")
    assert values[0] == str(fid)
    # A code value shows its label only (钢混结构, never “钢混结构（3）”); figures have separators and units.
    shown = dict(zip(labels[1:], values[1:], strict=True))
    structure = entry.attribute("structure")
    assert structure is not None and "structure" in props
    code = next(c for c in structure.codes or [] if c.value == str(props["structure"]))
    assert shown[structure.label_zh] == code.label_zh
    assert shown == {a.label_zh: _as_read(a, props[a.name]) for a in entry.attributes if a.name in props}
    assert any(a.unit == "m²" for a in entry.attributes if a.name in props)  # e.g. 建筑面积 12,799.96 m²
    page.js("document.getElementById('lang').click()")
    first_label = f"document.querySelector({json.dumps(found + ' dt:nth-of-type(2)')})?.textContent"
    page.wait_for(f"({first_label} ?? {json.dumps(labels[1])}) !== {json.dumps(labels[1])}")
    pairs = page.js(
        f"[...document.querySelectorAll({json.dumps(found + ' dt')})].slice(1)"
        ".map(d => [d.textContent, d.nextElementSibling.textContent])"
    )
    assert dict(pairs) == {
        a.label_en: _as_read(a, props[a.name], english=True) for a in entry.attributes if a.name in props
    }
    page.js("document.getElementById('lang').click()")
    # The nearest feature is outlined on the map and marked in the panel.
    page.wait_for(f"document.body.dataset.highlight === 'cur_building:{fid}'", timeout_s=10)
    assert page.js(f"document.querySelector({json.dumps(found)}).classList.contains('picked')") is True
    assert_offline(page, url)


def test_picking_another_identified_feature_outlines_it(
    page: Page, server: tuple[str, RequestLog], planner: Account, demo: DemoEnv
) -> None:
    url, _ = server
    fid, lon, lat, _ = _a_building(demo)
    open_map(page, url, planner, view=f"#map=18/{lat:.6f}/{lon:.6f}")
    only(page, "cur_building")
    tick(page, "cur_ownership")
    click_map_centre(page)
    page.wait_for("document.querySelectorAll('#identify article.feature').length >= 2", timeout_s=30)
    first = page.js("document.body.dataset.highlight")
    other = page.js(
        "(() => { const b = [...document.querySelectorAll('#identify article.feature')]"
        ".find(a => !a.classList.contains('picked')); b.click();"
        " return `${b.dataset.layer}:${b.dataset.fid}`; })()"
    )
    assert other != first
    page.wait_for(f"document.body.dataset.highlight === {json.dumps(other)}", timeout_s=10)
    picked = page.js(
        "[...document.querySelectorAll('#identify article.picked')]"
        ".map(a => a.dataset.layer + ':' + a.dataset.fid)"
    )
    assert picked == [other]


def test_the_english_switch_changes_the_interface_and_is_remembered(
    page: Page, server: tuple[str, RequestLog], planner: Account
) -> None:
    url, _ = server
    open_map(page, url, planner)
    assert text(page, "h1") == "多规合一平台 · 一张底图"
    page.js("document.getElementById('lang').click()")
    assert text(page, "h1") == "Duogui · one base map"
    assert page.js("document.documentElement.lang") == "en"
    assert text(page, "#tab-legend") == "Legend"
    base = [e for e in get_catalog().layers.values() if e.base_map and e.visible_to("planner")]
    assert text(page, "#active-count") == f"{len(base)} on"
    group = get_catalog().groups["01"]
    assert text(page, "#tree details[data-group='01'] .group-name") == group.name_en
    hillshade = get_catalog().layers["base_hillshade"]
    assert text(page, "label[for='layer-base_hillshade']") == hillshade.name_en
    assert page.js("localStorage.getItem('duogui.lang')") == "en"
    page.goto(url + "/")  # the same tab keeps its token and its language
    page.wait_for("document.body.dataset.mapReady === 'true'", timeout_s=60)
    assert text(page, "#tab-details") == "Layer details"
    page.js("document.getElementById('lang').click()")
    assert text(page, "#tab-details") == "图层详情"


def test_layer_details_show_versions_and_an_upload_refusal_in_chinese(
    page: Page, server: tuple[str, RequestLog], planner: Account, demo: DemoEnv, tmp_path: Path
) -> None:
    url, log = server
    open_map(page, url, planner)
    page.js("document.querySelector('#tree button[data-details=admin_subdistrict]').click()")
    page.wait_for("document.querySelector('#details table.versions')")
    layer = demo.client.get("/api/layers/admin_subdistrict", headers=planner.headers).json()
    facts = details_facts(page)
    assert facts["要素数量"] == f"{layer['feature_count']:,}"
    assert facts["当前版本"] == str(layer["current_version"])
    assert facts["现势性"].startswith(layer["vintage"])
    rows = page.js(f"[...{ALL}('#details table.versions tbody tr')].map(r => r.textContent)")
    assert len(rows) == len(layer["versions"]) >= 1
    assert layer["versions"][0]["created_by_username"] in rows[0]

    # A file the importer refuses: the problem's Chinese message, and nothing written.
    bad = tmp_path / "道路.txt"
    bad.write_text("这不是地理数据文件", encoding="utf-8")
    page.set_files("#upload-uploadFile", str(bad))
    page.js("document.querySelector('#details form.upload').requestSubmit()")
    error = page.wait_for("document.querySelector('#details .upload-status .error')?.textContent", 30)
    refused = [s for m, p, _, s in log.seen if m == "POST" and p == "/api/layers/admin_subdistrict/versions"]
    assert refused and 400 <= refused[-1] < 500
    assert error.startswith("失败：") and re.search(r"[\u4e00-\u9fff]{4}", error[3:]), error
    after = demo.client.get("/api/layers/admin_subdistrict", headers=planner.headers).json()
    assert after["current_version"] == layer["current_version"]
    assert_offline(page, url)


def test_a_viewer_sees_no_upload_form(page: Page, server: tuple[str, RequestLog], demo: DemoEnv) -> None:
    url, _ = server
    viewer = demo.account(Role.VIEWER)
    open_map(page, url, viewer)
    page.js("document.querySelector('#tree button[data-details=water_river]').click()")
    page.wait_for("document.querySelector('#details table.versions')")
    assert page.js("document.querySelector('#details form.upload')") is None


def test_a_narrow_screen_keeps_the_map_and_opens_the_tree_on_demand(
    server: tuple[str, RequestLog], planner: Account
) -> None:
    url, _ = server
    with Page(width=400, height=780) as page:
        open_map(page, url, planner)
        hidden = "document.getElementById('sidebar').getBoundingClientRect().right <= 0"
        page.wait_for(hidden)
        width = page.js("document.getElementById('map').getBoundingClientRect().width")
        assert width >= 380
        page.js("document.getElementById('toggle-tree').click()")
        page.wait_for("document.getElementById('sidebar').getBoundingClientRect().left >= 0")
        assert page.js("document.getElementById('toggle-tree').getAttribute('aria-expanded')") == "true"


def test_the_header_switches_between_the_map_the_tracker_and_the_ledger_and_remembers_it(
    page: Page, server: tuple[str, RequestLog], planner: Account
) -> None:
    url, _ = server
    open_map(page, url, planner)
    tabs = page.js(f"[...{ALL}('#views [role=tab]')].filter(b => !b.hidden).map(b => b.textContent)")
    # A planner also reads the leaders' overview and the facility gaps.
    assert tabs == ["一张底图", "领导驾驶舱", "项目审批", "征拆协调", "设施缺口"]
    assert page.js("document.body.dataset.view") == "map"
    page.js("document.getElementById('view-projects').click()")
    assert page.js("document.getElementById('workspace').hidden") is True
    assert page.js("document.getElementById('projects-page').hidden") is False
    assert page.js("document.getElementById('view-projects').getAttribute('aria-selected')") == "true"
    assert page.js("document.getElementById('toggle-tree').hidden") is True  # no layer tree off the map
    # The choice outlives a reload; the map comes back on its tab, at its size.
    page.goto(url + "/")
    page.wait_for("document.body.dataset.view === 'projects'", timeout_s=60)
    assert page.js("document.getElementById('workspace').hidden") is True
    page.js("document.getElementById('view-demolition').click()")
    assert page.js("document.getElementById('projects-page').hidden") is True
    assert page.js("document.getElementById('demolition-page').hidden") is False
    page.js("document.getElementById('view-map').click()")
    assert page.js("document.getElementById('workspace').hidden") is False
    assert page.js("document.getElementById('toggle-tree').hidden") is False
    assert page.js("document.getElementById('demolition-page').hidden") is True
    assert page.wait_for("document.querySelector('#map canvas')?.width > 0")
    page.js("document.getElementById('lang').click()")
    assert text(page, "#view-demolition") == "Demolition"
    page.js("document.getElementById('lang').click()")
    assert_offline(page, url)
