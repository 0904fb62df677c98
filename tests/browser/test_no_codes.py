"""No internal codes where people read (issue 16): each main page and tab, with data, in Chinese and English.

Each page is filled with what makes codes show if any slipped through — a project with an approval plan and a
handled item, KPIs and warnings, a demand, a pre-evaluation with findings of several grades, a site comparison
and a batch, a demolition project with units and a blocker — and its visible text is scanned (tests/browser/
scan.py): no snake_case, no rule id, no enum, organisation or sub-district code, no bare 5+ digit figure, and
no lower-case English word on a Chinese page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.main import create_app
from app.orgs import service as orgs
from app.orgs.service import OrganisationCreate, OrgKind
from layers.audit import Actor
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import open_map
from tests.browser.scan import leaks, scan
from tests.browser.test_demolition_page import World, open_unit
from tests.browser.test_demolition_page import open_page as open_demolition
from tests.browser.test_demolition_page import world as demolition_world  # noqa: F401  (a fixture)
from tests.browser.test_preeval_page import VERDICT, choose_type, open_preeval, stored_report
from tests.browser.test_projects_page import (
    click,
    log_event,
    new_project,
    open_item,
    open_project,
    open_projects,
    set_value,
)
from tests.conftest import DemoEnv
from tests.helpers import Account, unique
from tests.preeval_world import CANDIDATES

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
# KPIs answer 3 s late: what the page shows while a new grouping loads can be read.
SLOW_KPIS = (
    "(() => { const f = window.fetch; window.kpisAnswered = 0;"
    " window.fetch = (u, o) => String(u).includes('/api/kpis?') ? new Promise(r => setTimeout(r, 3000))"
    ".then(() => f(u, o)).then(a => { window.kpisAnswered += 1; return a; }) : f(u, o); return true; })()"
)


def in_both_languages(page: Page, where: str, settle: Callable[[], None] = lambda: None) -> list[str]:
    """Scan the page in Chinese, switch to English, scan again, and switch back."""
    assert page.js("document.documentElement.lang") in ("zh-CN", "zh")
    found = scan(page, where, "zh")
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.documentElement.lang === 'en'")
    settle()
    found += scan(page, where, "en")
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.documentElement.lang !== 'en'")
    settle()
    return found


# --- 项目审批: library, plan, item, supervision, demands -------------------------------------------------


@pytest.fixture(scope="module")
def projects_url(demo: DemoEnv) -> Iterator[str]:
    with live_server(create_app(demo.settings)) as url:
        yield url


def give_name(client: TestClient, admin: Account, account: Account, name: str) -> None:
    """Give an account a display name: histories name people by it (a login only when an account has none)."""
    user = client.get(f"/api/users/{account.id}", headers=admin.headers).json()
    body = {"version": user["version"], "display_name": name}
    r = client.patch(f"/api/users/{account.id}", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text


def test_the_projects_pages_show_no_codes(projects_url: str, demo: DemoEnv) -> None:
    admin = demo.account(Role.SYSTEM_ADMIN, "gov-data")
    unit = demo.account(Role.PROJECT_UNIT, "works")
    give_name(demo.client, admin, unit, "李办事")
    project = new_project(demo, unit, f"代码扫描学校{unique('p')[-6:]}", plan=True)
    done = new_project(demo, unit, f"代码扫描已办结{unique('p')[-6:]}", plan=True)
    running = new_project(demo, unit, f"代码扫描超时{unique('p')[-6:]}", plan=True)
    item = project["items"]["project_proposal"]
    r = demo.client.post(
        f"/api/items/{item['id']}/transitions",
        json={"action": "submit"},
        headers={**unit.headers, "If-Match": f'"{item["version"]}"'},
    )
    assert r.status_code == 200, r.text
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        finished = done["items"]["project_proposal"]["id"]
        for action, status, day in (
            ("submit", "submitted", "2026-03-02"),
            ("accept", "accepted", "2026-03-02"),
            ("start_review", "under_review", "2026-03-03"),
            ("approve", "approved", "2026-03-09"),
        ):
            log_event(conn, finished, action, status, day)
        late = running["items"]["project_proposal"]["id"]  # running since 3-02: a red warning by 3-20
        log_event(conn, late, "submit", "submitted", "2026-03-02")
        log_event(conn, late, "accept", "accepted", "2026-03-02")
    demand = {"source_kind": "resident", "title": "社区缺少公园", "description": "希望增加一处社区公园。"}
    r = demo.client.post("/api/demands", json={**demand, "lon": 114.06, "lat": 22.65}, headers=unit.headers)
    assert r.status_code == 201, r.text

    found: list[str] = []
    with Page(width=1400, height=900) as page:
        open_projects(page, projects_url, admin)
        # Only this test's projects: the library lists every project of the shared database, and names other
        # tests gave theirs are data, not codes.
        set_value(page, "#pj-search", "代码扫描")
        page.wait_for("document.querySelectorAll('#pj-list tbody tr').length === 3")
        found += in_both_languages(page, "项目库")
        open_project(page, project["code"], as_of="2026-03-20")
        open_item(page, "project_proposal")
        found += in_both_languages(page, "审批计划与事项")
        click(page, "#pj-tab-supervision")
        page.wait_for("document.getElementById('pj-warnings') && document.getElementById('pj-kpis')")
        page.js(SLOW_KPIS)
        for answered, by in enumerate(("item", "month", "department"), start=1):  # each names its rows
            set_value(page, "#pj-kpi-by", by)
            # While the new grouping loads, the rows shown (and re-rendered in the other language) are the
            # previous grouping's: still named as such, never by their keys.
            found += in_both_languages(page, f"督办与考核（{by} 加载中）")
            page.wait_for(f"window.kpisAnswered === {answered} && document.getElementById('pj-kpis')")
            page.js("new Promise(r => setTimeout(r, 100))")  # the answer is rendered
            found += in_both_languages(page, f"督办与考核（{by}）")
        click(page, "#pj-tab-demands")
        page.wait_for("document.querySelector('#pj-demand-list tbody tr')")
        found += in_both_languages(page, "需求")
    assert found == [], "\n".join(found)


# --- 预评价: a report with findings of several grades, a comparison, a batch --------------------------------


@pytest.fixture(scope="module")
def preeval_url(preeval_world: DemoEnv) -> Iterator[str]:
    with live_server(create_app(preeval_world.settings)) as url:
        yield url


def test_the_pre_evaluation_pages_show_no_codes(
    preeval_url: str, preeval_world: DemoEnv, tmp_path: Path
) -> None:
    # A unit of its own: the page lists the organisation's reports, and other tests' hostile names (data,
    # shown as text) would read as leaked code.
    org = unique("scan-unit")
    with psycopg.connect(preeval_world.settings.owner_dsn, autocommit=True) as conn:
        data = OrganisationCreate(code=org, name_zh="扫描建设单位", kind=OrgKind.PROJECT_UNIT)
        orgs.create_org(conn, Actor.system("tests"), data)
    unit = preeval_world.account(Role.PROJECT_UNIT, org)
    # 甲: prohibited (grade Ⅰ forest) with a building to clear; 乙: conditional only.
    reports = [stored_report(preeval_world, unit, name, project_code="P-扫描") for name in ("甲", "乙")]
    pair = tmp_path / "两处.gpkg"
    gpd.GeoDataFrame({"name": ["甲", "乙"]}, geometry=[CANDIDATES["甲"], CANDIDATES["乙"]], crs=4547).to_file(
        pair, driver="GPKG"
    )
    found: list[str] = []
    with Page(width=1400, height=1000) as page:
        open_map(page, preeval_url, unit)
        open_preeval(page)
        for report in reports:
            click(page, f"#preeval-list tbody tr[data-id='{report['id']}'] button")
            page.wait_for(
                f"document.querySelector('#preeval-report h2')?.textContent.endsWith('#{report['id']}')"
            )
            assert page.wait_for(VERDICT)
            found += in_both_languages(page, f"预评价报告 #{report['id']}")
        choose_type(page, "school")
        page.js("document.getElementById('preeval-source-file').click()")
        page.set_files("#preeval-file", str(pair))
        page.wait_for("!document.getElementById('preeval-file-batch').disabled")
        page.js("document.getElementById('preeval-file-batch').click()")
        page.wait_for("document.querySelector('#preeval-batch table')", timeout_s=60)
        page.wait_for("!document.getElementById('preeval-file-compare').disabled")
        page.js("document.getElementById('preeval-file-compare').click()")
        page.wait_for("document.querySelector('#preeval-comparison table')", timeout_s=60)
        found += in_both_languages(page, "批量评价与方案比选")
    assert found == [], "\n".join(found)


# --- 征拆协调: progress, ledger, a unit with its blocker --------------------------------------------------


def test_the_demolition_pages_show_no_codes(demolition_world: World) -> None:  # noqa: F811
    world = demolition_world
    give_name(world.client, world.admin, world.coordinator, "周协调")
    # A comment and an escalation to 规划和自然资源局 (code pnr), so the history has both.
    path = f"/api/demolition/blockers/{world.blocker['id']}/actions"
    r = world.client.post(
        path, json={"action": "comment", "body": "已约权利人面谈"}, headers=world.coordinator.headers
    )
    assert r.status_code == 200, r.text
    escalate = {
        "action": "escalate",
        "body": "协调未果",
        "version": r.json()["version"],
        "department_code": "pnr",
    }
    r = world.client.post(path, json=escalate, headers=world.coordinator.headers)
    assert r.status_code == 200, r.text
    found: list[str] = []
    with Page(width=1400, height=1000) as page:
        open_demolition(page, world, world.coordinator)
        found += in_both_languages(page, "征拆进度与台账")
        open_unit(page, world.units["D-02"]["id"])  # the unit with the blocker
        page.wait_for("document.querySelector('#dm-unit dd[data-key]')")
        found += in_both_languages(page, "征拆单元")
        row = f"#dm-blockers tr[data-id='{world.blocker['id']}']"
        page.wait_for(f"document.querySelector({row!r})")
        page.js(f"document.querySelector({row!r}).click()")
        page.wait_for("document.getElementById('dm-blocker-form')")
        found += in_both_languages(page, "阻碍事项")
    assert found == [], "\n".join(found)


# --- the scan itself: it finds what the issue saw, and passes what is legitimate ---------------------------


@pytest.mark.parametrize(
    ("lang", "shown", "leak"),
    [
        ("zh", "所属街道：龙城街道（longcheng）", "longcheng"),
        ("zh", "不可避让论证 unavoidability_study", "unavoidability_study"),
        ("zh", "规则 lup_construction_control.forbidden", "lup_construction_control.forbidden"),
        ("zh", "项目类型 school", "school"),
        ("zh", "基准价 27700.0 元/m²", "27700.0"),
        ("zh", "面积 94071250", "94071250"),
        ("zh", "状态：under_review", "under_review"),
        ("en", "Department: pnr", "pnr"),
        ("en", "Raised by city-gov", "city-gov"),
        ("en", "Sub-district sd-longcheng", "sd-longcheng"),
        ("en", "Type house_building", "house_building"),
    ],
)
def test_the_scan_finds_the_codes_the_issue_saw(lang: str, shown: str, leak: str) -> None:
    assert leak in leaks(shown, lang)


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        ("zh", "项目代码 2026-440307-48-01-000123 · 报告 #15321 · 2026-03-02 12:00"),
        ("zh", "面积 94,071,250 m² · 基准价 27,700 元/m² · 110 kV · Shapefile zip、GeoPackage"),
        ("zh", "按模板填写 .xlsx 或 .csv"),
        ("en", "Soil and water conservation plan approval · Water Affairs Bureau · e.g. EPSG:4547"),
        ("en", "Signed · Private · Handed over · 38,400,000 yuan"),
    ],
)
def test_the_scan_passes_identifiers_formatted_figures_and_english_words(lang: str, shown: str) -> None:
    assert leaks(shown, lang) == []
