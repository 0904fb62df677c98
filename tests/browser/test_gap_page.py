"""The facility gap page (设施缺口) in headless Chromium on the hand-made world of tests/gap_world.py: the
figures it shows equal the hand-computed ones of tests/api/test_gaps.py, the standard and input versions
are named, cells are listed only to roles that may see the population grid, a planner turns a candidate
into a reserve-tier project that opens in the project library or into a demand in the pool (once only),
and the cells in deficit are a layer of the map's layer tree — in Chinese and English, on a 390 px screen,
offline, with no internal codes, untranslated keys or CSP violations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely

from analysis.standards.model import get_standards
from app.auth.policy import Role
from app.main import create_app
from tests.api.test_gaps import SHORT
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import assert_offline, details_facts, sign_in
from tests.browser.scan import scan, visible_text
from tests.conftest import DemoEnv
from tests.gap_world import WX0, WY0, frames
from tests.helpers import Account
from tests.preeval_world import build_world

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
PAGE = "document.getElementById('gaps-page')"
# What the page may show that looks like a code: the plan's land-use class, and the first 12 hex digits of
# the standards file's SHA-256 (named as such on the page).
ALLOWED = frozenset({"GIC5", get_standards().fingerprint.removeprefix("sha256:")[:12]})


def _frames() -> dict[str, Any]:
    """The gap world with a second plan parcel P2 under the planned site K2 (300, 600), so that one
    candidate can become a project and another a demand."""
    world = frames()
    parcels = world["sp_parcel"]
    p2 = parcels.iloc[[0]].copy()
    p2["parcel_code"] = ["P2"]
    p2["area"] = [10000.0]
    p2 = p2.set_geometry([shapely.box(WX0 + 250, WY0 + 550, WX0 + 350, WY0 + 650)], crs=4547)
    world["sp_parcel"] = gpd.GeoDataFrame(pd.concat([parcels, p2], ignore_index=True), crs=4547)
    return world


@dataclass
class World:
    url: str
    env: DemoEnv


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The gap world in its own database, served live."""
    for env in build_world(tmp_path_factory.mktemp("gap-page"), _frames()):
        with live_server(create_app(env.settings)) as url:
            yield World(url, env)


def _open(page: Page, world: World, account: Account, facility: str = "primary_school") -> None:
    """Sign in, open the gap page and choose the facility type."""
    page.goto(world.url)
    sign_in(page, world.url, account)
    page.wait_for("!document.getElementById('views').hidden && !document.getElementById('view-gaps').hidden")
    page.js("document.getElementById('view-gaps').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true'", timeout_s=60)
    page.js(f"{PAGE}.dataset.ready = ''")
    page.js(
        f"(s => {{ s.value = {json.dumps(facility)}; s.dispatchEvent(new Event('change')); }})"
        "(document.getElementById('gp-facility'))"
    )
    page.wait_for(f"{PAGE}.dataset.ready === 'true'", timeout_s=60)


def _table(page: Page, table_id: str) -> list[dict[str, str]]:
    """The rows of a table by column key (td data-col)."""
    return list(
        page.js(
            f"[...document.querySelectorAll('#{table_id} tbody tr')]"
            ".map(r => Object.fromEntries([...r.cells].map(c => [c.dataset.col, c.textContent])))"
        )
    )


def _untranslated(shown: str) -> list[str]:
    return re.findall(r"\bgp[A-Z]\w*|\bview[A-Z]\w*", shown)


def test_figures_standards_and_versions_as_computed_by_hand(world: World) -> None:
    planner = world.env.account(Role.PLANNER)
    with Page(width=1400, height=1000) as page:
        _open(page, world, planner)
        rows = _table(page, "gp-figures")
        district = rows[0]
        assert district["head"] == "全区"
        assert (district["population"], district["covered"], district["not_covered"]) == (
            "12,800",
            "11,500",
            "1,300",
        )
        assert district["unreachable"] == "800"
        assert district["demand"] == "896 学位" and district["met"] == "540 学位"
        shortfall = round(float(sum(SHORT.values())), 1)
        assert shortfall == 356.0 and district["shortfall"] == "356 学位"
        by_name = {r["head"]: r for r in rows[1:]}
        assert set(by_name) == {"布吉街道", "坂田街道"}
        assert (by_name["布吉街道"]["population"], by_name["布吉街道"]["covered"]) == ("5,500", "5,000")
        buji = round(float(SHORT["C1"] + SHORT["C4"] + SHORT["C9"]), 1)
        assert by_name["布吉街道"]["shortfall"] == f"{buji:g} 学位"
        assert (by_name["坂田街道"]["population"], by_name["坂田街道"]["not_covered"]) == ("7,300", "800")
        # The standard (radius 500 m along the roads, 70 seats per 1,000) and the versions it came from.
        standard = page.js("document.getElementById('gp-standard').textContent")
        assert "500 m" in standard and "70 学位" in standard
        versions = page.js("document.getElementById('gp-versions').textContent")
        assert "人口" in versions and "第 1 版" in versions and "SHA-256" in versions
        # The planner may see the population grid: every cell is in deficit (both schools are full).
        cells = {r["label"]: r for r in _table(page, "gp-cells")}
        assert set(cells) == set(SHORT)
        assert cells["C9"]["short"] == "35 学位" and cells["C9"]["cov"] == "否"
        assert cells["C6"]["short"] == f"{round(float(SHORT['C6']), 1):g} 学位"
        # The ranked candidates (K1 on parcel P1 first, K2 on P2); a planner makes projects and demands of
        # them, except of the planned site on no parcel (K4).
        candidates = _table(page, "gp-candidates")
        assert [(c["rank"], c["site"], c["new"]) for c in candidates][:2] == [
            ("1", "P1", "500"),
            ("2", "P2", "500"),
        ]
        assert [c["rank"] for c in candidates] == ["1", "2", "3"]
        enabled = "[...document.querySelectorAll('{}')].map(b => !b.disabled)"
        assert (
            page.js(enabled.format(".gp-make"))
            == page.js(enabled.format(".gp-demand"))
            == [True, True, False]
        )
        # The map draws every deficit cell and every candidate (outlines from the OGC API).
        page.wait_for("document.getElementById('gp-map')?.dataset.loaded === 'true'", timeout_s=60)
        drawn = page.js("(d => [d.cells, d.sites, d.error ?? ''])(document.getElementById('gp-map').dataset)")
        assert drawn == ["7", "3", ""]
        # A sub-district: its own row only, and its candidates.
        page.js(f"{PAGE}.dataset.ready = ''")
        page.js(
            "(s => { s.value = 'buji'; s.dispatchEvent(new Event('change')); })"
            "(document.getElementById('gp-subdistrict'))"
        )
        page.wait_for(f"{PAGE}.dataset.ready === 'true'")
        rows = _table(page, "gp-figures")
        assert [(r["head"], r["population"]) for r in rows] == [("布吉街道", "5,500")]
        assert [c["site"] for c in _table(page, "gp-candidates")] == ["P1"]
        shown = visible_text(page)
        assert _untranslated(shown) == []
        assert scan(page, "设施缺口", "zh", ALLOWED) == []
        page.js("document.getElementById('lang').click()")
        page.wait_for("document.getElementById('gp-figures')?.querySelector('th')?.textContent === 'Area'")
        rows = _table(page, "gp-figures")
        assert rows[0]["head"] == "Buji" and rows[0]["shortfall"].endswith(" seats")
        shown = visible_text(page)
        assert "Facility gaps" in shown and "Candidate sites" in shown
        assert _untranslated(shown) == []
        assert scan(page, "facility gaps", "en", ALLOWED) == []
        page.js("document.getElementById('lang').click()")  # back to Chinese for the next test
        assert_offline(page, world.url)


def test_a_department_sees_figures_but_makes_no_projects(world: World) -> None:
    reviewer = world.env.account(Role.REVIEWER, "education")
    with Page(width=1400, height=1000) as page:
        _open(page, world, reviewer)
        # The population grid is restricted: figures only, no cells.
        assert page.js("document.getElementById('gp-cells')") is None
        assert "仅显示合计" in visible_text(page)
        assert _table(page, "gp-figures")[0]["shortfall"] == "356 学位"
        page.wait_for("document.getElementById('gp-map')?.dataset.loaded === 'true'", timeout_s=60)
        assert page.js("(d => [d.cells, d.sites])(document.getElementById('gp-map').dataset)") == ["0", "3"]
        # Generating projects from the map is the planners' (gaps:propose).
        assert page.js("document.querySelectorAll('.gp-make, .gp-demand, #gp-unit').length") == 0


def test_a_candidate_becomes_a_project_and_opens(world: World) -> None:
    planner = world.env.account(Role.PLANNER)
    with Page(width=1400, height=1000) as page:
        _open(page, world, planner)
        # The unit and the department default to the facility type's; the planner picks the unit here.
        page.js(
            "(s => { s.value = 'works'; s.dispatchEvent(new Event('change')); })"
            "(document.getElementById('gp-unit'))"
        )
        page.js(
            "(i => { i.value = '12000'; i.dispatchEvent(new Event('input')); })"
            "(document.getElementById('gp-investment'))"
        )
        page.js("document.querySelector('#gp-candidates tbody tr .gp-make').click()")
        page.wait_for(
            "document.getElementById('pj-project-name')?.textContent === '小学（P1）'", timeout_s=60
        )
        assert page.js("document.body.dataset.view") == "projects"
        made = int(page.js(f"{PAGE}.dataset.made"))
        with psycopg.connect(world.env.settings.owner_dsn) as conn:
            row = conn.execute(
                "SELECT p.tier, p.investment_wan, p.plan_link->>'layer', o.code FROM project.project p"
                " JOIN auth.organisation o ON o.id = p.owner_dept_id WHERE p.id = %s",
                (made,),
            ).fetchone()
        assert row is not None and (row[0], float(row[1]), row[2], row[3]) == (
            "reserve",
            12000.0,
            "sp_parcel",
            "education",
        )
        # Back on the page: the planned site on no parcel keeps its buttons disabled.
        page.js("document.getElementById('view-gaps').click()")
        page.wait_for(f"{PAGE}.dataset.ready === 'true' && !!document.getElementById('gp-candidates')")
        buttons = page.js(
            "[...document.querySelectorAll('#gp-candidates tbody tr')].map(r => [r.cells[1].textContent,"
            " r.querySelector('.gp-make')?.disabled ?? null,"
            " r.querySelector('.gp-taken')?.textContent ?? null,"
            " r.querySelector('a.gp-taken')?.getAttribute('href') ?? null])"
        )
        # P1 became the project: its row names it and links to it instead of offering it again.
        code = world.env.client.get(f"/api/projects/{made}", headers=planner.headers).json()["code"]
        assert buttons[0] == ["P1", None, f"已生成项目 {code}", f"#/project/{made}"]
        assert buttons[2][1] is True
        assert_offline(page, world.url)


def test_a_candidate_becomes_a_demand_once(world: World) -> None:
    planner = world.env.account(Role.PLANNER)
    with Page(width=1400, height=1000) as page:
        _open(page, world, planner)
        page.js("document.querySelectorAll('#gp-candidates tbody tr')[1].querySelector('.gp-demand').click()")
        page.wait_for(f"!!{PAGE}.dataset.madeDemand", timeout_s=60)
        made = int(page.js(f"{PAGE}.dataset.madeDemand"))
        notice = page.js("document.getElementById('gp-notice').textContent")
        assert f"#{made}" in notice and "新增服务 500 人" in notice and "规划地块 P2" in notice
        with psycopg.connect(world.env.settings.owner_dsn) as conn:
            row = conn.execute(
                "SELECT source_kind, gap->>'newly_served', plan_link->>'layer', pre_evaluation_id IS NOT NULL"
                " FROM project.demand WHERE id = %s",
                (made,),
            ).fetchone()
        assert row == ("gap_analysis", "500", "sp_parcel", True)
        # The candidate now names the demand it became and offers nothing more (the API refuses a second
        # proposal with 409, tests/api/test_gap_proposals.py).
        row = page.js(
            "(r => [r.querySelector('.gp-taken')?.textContent, r.querySelectorAll('button').length])"
            "(document.querySelectorAll('#gp-candidates tbody tr')[1])"
        )
        assert row == [f"已生成项目需求 #{made}", 0]
        assert _untranslated(visible_text(page)) == []
        assert scan(page, "设施缺口（生成需求）", "zh", ALLOWED) == []


def test_the_deficit_cells_are_a_layer_of_the_map(world: World) -> None:
    planner = world.env.account(Role.PLANNER)
    with Page(width=1400, height=1000) as page:
        _open(page, world, planner)  # the answers were computed: their deficit layers are written
        page.js("document.getElementById('view-map').click()")
        page.wait_for("document.body.dataset.mapReady === 'true' && !!document.querySelector('#tree li')")
        group = page.js(
            "(d => d && [d.querySelector('summary .group-name').textContent,"
            " [...d.querySelectorAll('li input[type=checkbox]')].map(i => i.dataset.code)])"
            "(document.querySelector(\"#tree details[data-group='20']\"))"
        )
        assert group is not None and group[0] == "设施缺口" and "gap_primary_school" in group[1]
        page.js("document.querySelector('#tree button[data-details=gap_primary_school]').click()")
        page.wait_for("document.querySelector('#details table.versions')", timeout_s=60)
        facts = details_facts(page)
        assert facts["要素数量"] == "7" and facts["当前版本"] == "1"


TABS_INSIDE = (
    "[...document.querySelectorAll('.views [role=tab]')].filter(t => !t.hidden && t.offsetParent)"
    ".every(t => { const r = t.getBoundingClientRect(); return r.left >= 0 && r.right <= 390; })"
)


def test_narrow_screen_in_both_languages(world: World) -> None:
    # A planner: the header holds all five views (一张底图, 领导驾驶舱, 项目审批, 征拆协调, 设施缺口).
    planner = world.env.account(Role.PLANNER, "pnr")
    with Page(width=390, height=844) as page:
        _open(page, world, planner)
        assert page.js("document.documentElement.scrollWidth") <= 390
        assert page.js(TABS_INSIDE)
        assert scan(page, "设施缺口（窄屏）", "zh", ALLOWED) == []
        assert _untranslated(visible_text(page)) == []
        page.js("document.getElementById('lang').click()")
        page.wait_for("document.getElementById('gp-figures')?.querySelector('th')?.textContent === 'Area'")
        assert page.js("document.documentElement.scrollWidth") <= 390
        assert page.js(TABS_INSIDE)
        assert scan(page, "facility gaps, narrow", "en", ALLOWED) == []
        page.js("document.getElementById('lang').click()")
