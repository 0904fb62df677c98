"""The leaders' overview (领导驾驶舱) in headless Chromium: charts from the app's own ECharts, every figure
and bar opening its list (equal to the API's ids), in both languages, and on a 390 px screen.

Its own database: the overview is district-wide, so its figures are those of this test's projects only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app import migrate
from app.auth.policy import Role
from app.main import create_app
from app.orgs import service as orgs
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.store.versions import register_layers
from tests.api.test_supervision import log
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import sign_in as sign_in_page
from tests.browser.mapapp import text
from tests.browser.scan import scan
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import Account, signed_in_account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
PAGE = "document.getElementById('overview-page')"


@dataclass
class World:
    url: str
    leader: Account
    overview: dict[str, Any]


def _square(west: float, south: float) -> dict[str, Any]:
    ring = [[west, south], [west + 0.002, south], [west + 0.002, south + 0.002], [west, south + 0.002]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _project(client: TestClient, unit: Account, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "龙岗测试学校",
        "project_type": "house_building",
        "investment_wan": "800",
        "funding_source": "区财政",
        "owner_dept_code": "education",
        **extra,
    }
    r = client.post("/api/projects", json=body, headers=unit.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """Two projects with dated approval events and a demolition ledger, served live."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_weboverview")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
        with (
            TestClient(create_app(settings)) as client,
            psycopg.connect(settings.owner_dsn, autocommit=True) as owner,
        ):
            unit = signed_in_account(owner, client, Role.PROJECT_UNIT, "works")
            leader = signed_in_account(owner, client, Role.LEADER, "drc")
            a = _project(client, unit)
            b = _project(client, unit, name="龙岗测试道路", investment_wan="1200", funding_source="专项债")
            for p, west in ((a, 114.20), (b, 114.21)):
                r = client.post(
                    f"/api/projects/{p['id']}/footprints",
                    json={"footprint": _square(west, 22.70)},
                    headers=unit.headers,
                )
                assert r.status_code == 201, r.text
            owner.execute("UPDATE project.project SET status = 'construction' WHERE id = %s", (b["id"],))
            r = client.post(f"/api/projects/{a['id']}/plan", headers=unit.headers)
            assert r.status_code == 201, r.text
            items = {i["item_code"]: i["id"] for i in r.json()}
            for status, day in (
                ("submitted", "2025-03-03"),
                ("accepted", "2025-03-03"),
                ("approved", "2025-03-10"),
            ):
                log(owner, items["land_pre_review"], status, day)
            for status, day in (("submitted", "2025-06-09"), ("accepted", "2025-06-09")):
                log(owner, items["environmental_impact"], status, day)
            owner.execute(
                "INSERT INTO demolition.unit (project_id, unit_code, status, floor_area_m2, source)"
                " VALUES (%s, 'U1', 'demolished', 100, 'manual'), (%s, 'U2', 'surveyed', 300, 'manual')",
                (b["id"], b["id"]),
            )
            overview = client.get("/api/overview", headers=leader.headers).json()
            with live_server(create_app(settings)) as url:
                yield World(url, leader, overview)
    finally:
        drop_database(name)


def _open(page: Page, world: World, lang: str) -> None:
    page.goto(world.url)
    if lang == "en":
        page.js("localStorage.setItem('duogui.lang', 'en')")
    sign_in_page(page, world.url, world.leader)
    page.wait_for(
        "!document.getElementById('views').hidden && !document.getElementById('view-overview').hidden"
    )
    page.js("document.getElementById('view-overview').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true'", timeout_s=60)


def _list_count(page: Page) -> int:
    return int(page.wait_for("document.getElementById('ov-list').dataset.count"))


def _landed(page: Page, view: str, counter: str) -> int:
    """The count shown by the list page a link opened."""
    page.wait_for(f"document.body.dataset.view === '{view}'")
    return int(page.wait_for(f"document.getElementById('{counter}')?.dataset.count", timeout_s=30))


def _back(page: Page) -> None:
    """Back to the overview (the link's hash cleared, so the same link can be followed again)."""
    page.js(
        "history.replaceState(null, '', '#');"
        " ['pj-count', 'pj-items-count'].forEach(id => document.getElementById(id)?.remove());"
        " document.getElementById('view-overview').click()"
    )
    page.wait_for(f"document.body.dataset.view === 'overview' && {PAGE}.dataset.ready === 'true'")


@pytest.mark.parametrize(("lang", "width"), [("zh", 1400), ("en", 1400), ("zh", 390)])
def test_the_overview_figures_open_their_lists(world: World, lang: str, width: int) -> None:
    with Page(width=width, height=900) as page:
        _open(page, world, lang)
        if lang == "en" and page.js("document.documentElement.lang") != "en":
            page.js("document.getElementById('lang').click()")
            page.wait_for(f"{PAGE}.querySelector('h2')?.textContent === \"Leaders' overview\"")
        title = "领导驾驶舱" if lang == "zh" else "Leaders' overview"
        assert text(page, "#overview-page h2") == title
        ov = world.overview
        # The charts are drawn (ECharts from /vendor/echarts, no CDN): a canvas in each chart box.
        assert page.js("document.querySelectorAll('#overview-page .ov-chart canvas').length") >= 9
        # A number is a link to the list behind it: the project library, filtered, as long as the figure.
        assert page.js("document.getElementById('ov-projects').getAttribute('href')") == "#/projects"
        assert text(page, "#ov-projects .ov-tile-value") == "2"
        page.js("document.getElementById('ov-projects').click()")
        assert _landed(page, "projects", "pj-count") == ov["projects"]["count"] == 2
        _back(page)
        page.js("document.getElementById('ov-overdue').click()")
        assert _landed(page, "projects", "pj-items-count") == ov["approvals"]["overdue"]["count"] == 1
        overdue = page.js("document.querySelector('#pj-items tbody tr').textContent")
        assert ("环境影响" if lang == "zh" else "nvironmental") in overdue, overdue
        href = page.js("document.querySelector('#pj-items tbody tr a').getAttribute('href')")
        assert href.startswith("#/project/"), href
        _back(page)
        # A bar of a chart (clicked as ECharts reports it): the library filtered by that status.
        statuses = ov["by_status"]
        page.js(f"{PAGE}.ovCharts.status.trigger('click', {{dataIndex: 1}}) && true")
        assert _landed(page, "projects", "pj-count") == statuses[1]["count"]
        listed = page.js("[...document.querySelectorAll('#pj-projects tbody tr')].map(tr => tr.textContent)")
        assert len(listed) == statuses[1]["count"] and all("龙岗测试" in r for r in listed)
        assert page.js("document.getElementById('pj-link-filter') !== null")
        _back(page)
        # A demolition row: that project's ledger.
        page.js("document.querySelector('#ov-chart-demolition + .ov-bars a').click()")
        page.wait_for("document.body.dataset.view === 'demolition'")
        b_id = ov["demolition"][0]["project_id"]
        page.wait_for(f"localStorage.getItem('duogui.demolition.project') === '{b_id}'")
        _back(page)
        # Gaps: none stored in this world — every facility type "not computed", linking to the gaps page.
        hrefs = page.js(
            "[...document.querySelectorAll('#ov-gaps tbody tr')]"
            ".map(tr => tr.querySelector('a').getAttribute('href'))"
        )
        assert hrefs == [f"#/gaps?facility={g['facility']}" for g in ov["gaps"]]
        assert {g["state"] for g in ov["gaps"]} == {"not_computed"}
        # The map: both footprints; a click on B's (in construction) opens B alone.
        assert [p["project_id"] for p in ov["places"]] == sorted([p["project_id"] for p in ov["places"]])
        assert len(ov["places"]) == 2
        page.wait_for(f"{PAGE}.dataset.mapReady === 'true'", timeout_s=60)
        page.js("document.getElementById('ov-map').scrollIntoView()")
        b_id = next(p["project_id"] for p in ov["places"] if p["status"] == "construction")
        point = page.wait_for(
            f"(() => {{ const m = {PAGE}.ovMap; if (!m.loaded()) return null;"
            " const r = document.getElementById('ov-map').getBoundingClientRect();"
            " const p = m.project([114.211, 22.701]);"
            " return m.queryRenderedFeatures(p, {layers: ['ov-places-fill']}).length"
            " ? [r.left + p.x, r.top + p.y] : null; })()",
            timeout_s=60,
        )
        page.js("(l => { l.dataset.count = ''; l.replaceChildren(); })(document.getElementById('ov-list'))")
        page.click_at(point[0], point[1])
        page.wait_for("document.getElementById('ov-list').dataset.count === '1'")
        listed = page.js("[...document.querySelectorAll('#ov-list-rows li')].map(li => li.textContent)")
        assert "龙岗测试道路" in listed[0], (listed, b_id)
        assert scan(page, "领导驾驶舱" if lang == "zh" else "leaders' overview", lang) == []
        if width <= 400:
            # Nothing wider than the screen.
            assert page.js(f"{PAGE}.scrollWidth <= {PAGE}.clientWidth + 1")
            assert page.js("document.documentElement.scrollWidth") <= width + 1
        assert json.dumps(page.console_errors) == "[]"
