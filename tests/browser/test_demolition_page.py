"""The demolition page (征拆协调) in headless Chromium: progress, ledger, unit detail, blockers, map, import.

Runs on its own database with one project of five known units, so every figure the page shows is known:
5 units, 9 households, 800.5 m², cleared (拆除 + 移交) 2 units / 400 m² / 3 households, progress
400 / 800.5 = 49.97 % against the house-building template's 100 % threshold, agreed compensation
1,900,000 元 and paid 1,400,000 元.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
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
from layers.district import DISTRICT
from layers.store.versions import register_layers
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import assert_offline, open_map, text
from tests.browser.pixels import capture, save_screenshot
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import Account, signed_in_account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
LON, LAT, D = 114.25, 22.70, 0.0002
PAGE = "document.getElementById('demolition-page')"
# code, owner, owner type, floor area, households, final status, agreed, paid, offset (squares in a row)
UNITS = [
    ("D-01", "张三", "collective", "120.50", 2, "surveyed", None, None, -2),
    ("D-02", "李四", "state", "200.00", 1, "valued", None, None, -1),
    ("D-03", "王五", "private", "80.00", 3, "signed", "500000", None, 0),
    ("D-04", "赵六", "collective", "300.00", 1, "demolished", "1000000", "1000000", 1),
    ("D-05", "钱七", "state", "100.00", 2, "handed_over", "400000", "400000", 2),
]


@dataclass
class World:
    url: str
    log: RequestLog
    client: TestClient
    admin: Account
    coordinator: Account
    viewer: Account
    reviewer: Account
    project: dict[str, Any]
    empty: dict[str, Any]
    units: dict[str, dict[str, Any]]
    blocker: dict[str, Any]


def _square(offset: int) -> dict[str, Any]:
    x = LON + offset * 3 * D
    ring = [[x - D, LAT - D], [x + D, LAT - D], [x + D, LAT + D], [x - D, LAT + D], [x - D, LAT - D]]
    return {"type": "Polygon", "coordinates": [ring]}


def _post(client: TestClient, acct: Account, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=acct.headers)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _arrange(client: TestClient, admin: Account, coord: Account) -> tuple[Any, Any, dict[str, Any]]:
    project_body = {
        "project_type": "house_building",
        "investment_wan": "8000",
        "funding_source": "区财政",
        "owner_dept_code": "education",
        "unit_org_code": "works",
    }
    project = _post(client, admin, "/api/projects", {"name": "平湖学校征拆", **project_body})
    empty = _post(client, admin, "/api/projects", {"name": "坂田公园（未建台账）", **project_body})
    order = ["surveyed", "valued", "signed", "paid", "vacated", "demolished", "handed_over"]
    units = {}
    for code, owner, owner_type, area, households, status, agreed, paid, offset in UNITS:
        unit = _post(
            client,
            coord,
            f"/api/demolition/projects/{project['id']}/units",
            {
                "unit_code": code,
                "owner_name": owner,
                "owner_type": owner_type,
                "address": f"平湖街道新南村 {code[-1]} 号",
                "floor_area_m2": area,
                "households": households,
                "agreed_compensation_yuan": agreed,
                "paid_compensation_yuan": paid,
                "subdistrict_code": "sd-pinghu",
                "geometry": _square(offset),
            },
        )
        if status != "surveyed":
            unit = _post(
                client,
                coord,
                f"/api/demolition/units/{unit['id']}/transitions",
                {"to_status": status, "version": unit["version"], "reason": "测试布置：直接到位"}
                if order.index(status) > 1
                else {"to_status": status, "version": unit["version"]},
            )
        units[code] = unit
    return project, empty, units


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """An empty migrated database, one project with five units and one without, served live."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_webdemolition")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
        with (
            TestClient(create_app(settings)) as client,
            psycopg.connect(settings.owner_dsn, autocommit=True) as conn,
        ):
            admin = signed_in_account(conn, client, Role.SYSTEM_ADMIN, "gov-data")
            coord = signed_in_account(conn, client, Role.COORDINATOR, "land-prep")
            viewer = signed_in_account(conn, client, Role.VIEWER, "pnr")
            reviewer = signed_in_account(conn, client, Role.REVIEWER, "education")
            project, empty, units = _arrange(client, admin, coord)
            blocker = _post(
                client,
                coord,
                f"/api/demolition/projects/{project['id']}/blockers",
                {
                    "unit_id": units["D-02"]["id"],
                    "category": "dispute",
                    "title": "补偿标准有异议",
                    "department_code": "education",
                    "deadline": "2020-01-10",
                },
            )
            log = RequestLog(create_app(settings))
            with live_server(log) as url:
                yield World(url, log, client, admin, coord, viewer, reviewer, project, empty, units, blocker)
    finally:
        drop_database(name)


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=1000) as p:
        yield p


def open_page(page: Page, world: World, account: Account) -> None:
    """Sign in, open the 征拆协调 view and choose the project with the five units."""
    open_map(page, world.url, account)
    page.js("document.getElementById('view-demolition').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true' && document.getElementById('dm-project')")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js(
        f"(s => {{ s.value = '{world.project['id']}'; s.dispatchEvent(new Event('change')); }})"
        "(document.getElementById('dm-project'))"
    )
    page.wait_for(f"{PAGE}.dataset.revision !== {json.dumps(revision)}")
    page.wait_for(
        f"document.querySelector('#dm-progress h3')?.textContent.includes('{world.project['code']}')"
    )


def set_value(page: Page, element_id: str, value: str, event: str = "change") -> None:
    """Set a form control's value as a user would, firing its event."""
    page.js(
        f"(e => {{ e.value = {json.dumps(value)}; e.dispatchEvent(new Event({json.dumps(event)})); }})"
        f"(document.getElementById({json.dumps(element_id)}))"
    )


def figures(page: Page) -> dict[str, str]:
    return dict(
        page.js(
            "[...document.querySelectorAll('#dm-progress dd[data-key]')]"
            ".map(d => [d.dataset.key, d.textContent])"
        )
    )


def tally(page: Page) -> dict[str, list[str]]:
    return dict(
        page.js(
            "[...document.querySelectorAll('#dm-progress table.dm-tally tbody tr')]"
            ".map(tr => [tr.dataset.status, [...tr.cells].slice(1).map(c => c.textContent)])"
        )
    )


def ledger(page: Page) -> list[list[str]]:
    return list(
        page.js(
            "[...document.querySelectorAll('#dm-ledger table.dm-units tbody tr[data-id]')]"
            ".map(tr => [...tr.cells].slice(0, 7).map(c => c.textContent.trim()))"
        )
    )


def row_codes(page: Page) -> list[str]:
    return [row[0] for row in ledger(page)]


def unit_facts(page: Page) -> dict[str, str]:
    return dict(
        page.js(
            "[...document.querySelectorAll('#dm-unit dd[data-key]')].map(d => [d.dataset.key, d.textContent])"
        )
    )


def open_unit(page: Page, unit_id: int) -> None:
    page.js(f"document.querySelector('#dm-ledger tr[data-id=\"{unit_id}\"]').click()")
    page.wait_for(f"document.getElementById('dm-unit').dataset.unit === '{unit_id}'")


def test_coordinator_reads_progress_and_ledger_moves_a_unit_and_meets_a_stale_edit(
    page: Page, world: World, tmp_path: Path
) -> None:
    open_page(page, world, world.coordinator)

    assert "null" not in text(page, "#demolition-page") and "undefined" not in text(page, "#demolition-page")
    # The chooser lists the projects with a ledger first.
    options = page.js(
        "[...document.querySelectorAll('#dm-project option')].map(o => [o.value, o.textContent])"
    )
    assert options[0][0] == str(world.project["id"]) and options[0][1].endswith("· 5 个单元")
    assert [o[1] for o in options if o[0] == str(world.empty["id"])][0].endswith("· 尚无征拆单元")

    # Progress: the hand-computed figures.
    shown = figures(page)
    assert shown["units"] == "5" and shown["households"] == "9" and shown["floor_area"] == "800.5 m²"
    assert shown["cleared"] == "2 个单元 · 400 m² · 3 户"
    assert shown["handed_over"] == "1 个单元 · 100 m² · 2 户"
    assert shown["progress"] == "49.97%未达到" and shown["threshold"] == "100%"
    assert shown["agreed"] == "1,900,000 元" and shown["paid"] == "1,400,000 元"
    assert tally(page) == {
        "surveyed": ["1", "2", "120.5 m²"],
        "valued": ["1", "1", "200 m²"],
        "signed": ["1", "3", "80 m²"],
        "paid": ["0", "0", "0 m²"],
        "vacated": ["0", "0", "0 m²"],
        "demolished": ["1", "1", "300 m²"],
        "handed_over": ["1", "2", "100 m²"],
    }

    # The ledger: one row per unit in code order, with the status in its legend colour.
    assert ledger(page) == [
        ["D-01", "张三", "平湖街道新南村 1 号", "集体", "120.5", "2", "调查"],
        ["D-02", "李四", "平湖街道新南村 2 号", "国有", "200", "1", "评估"],
        ["D-03", "王五", "平湖街道新南村 3 号", "私人", "80", "3", "签约"],
        ["D-04", "赵六", "平湖街道新南村 4 号", "集体", "300", "1", "拆除"],
        ["D-05", "钱七", "平湖街道新南村 5 号", "国有", "100", "2", "移交"],
    ]
    swatch = page.js(
        "getComputedStyle(document.querySelector('#dm-ledger tr[data-status=handed_over] .swatch'))"
        ".backgroundColor"
    )
    assert swatch == "rgb(26, 152, 80)"  # #1A9850, the legend colour of 移交 from /api/demolition/statuses

    # Filter, search, sort.
    set_value(page, "dm-filter-status", "demolished")
    assert row_codes(page) == ["D-04"] and text(page, "#dm-ledger-count") == "显示 1 / 5 个单元"
    set_value(page, "dm-filter-status", "")
    set_value(page, "dm-search", "王五", "input")
    assert row_codes(page) == ["D-03"]
    set_value(page, "dm-search", "", "input")
    page.js("document.querySelector('#dm-ledger th[data-key=floor_area_m2] button').click()")
    assert row_codes(page) == ["D-03", "D-05", "D-01", "D-02", "D-04"]
    page.js("document.querySelector('#dm-ledger th[data-key=floor_area_m2] button').click()")
    assert row_codes(page) == ["D-04", "D-02", "D-01", "D-05", "D-03"]

    # A coordinator moves D-01 to the next step: the row, the progress and the log follow.
    d01 = world.units["D-01"]
    open_unit(page, d01["id"])
    assert unit_facts(page)["owner_name"] == "张三" and unit_facts(page)["version"] == "1"
    assert "null" not in text(page, "#dm-unit")
    assert page.js("document.getElementById('dm-to-status').value") == "valued"
    assert len(page.js("[...document.querySelectorAll('#dm-events li')]")) == 1
    # Skipping steps without a reason: the API refuses, in Chinese, and nothing changes.
    set_value(page, "dm-to-status", "demolished")
    page.js("document.getElementById('dm-transition-form').requestSubmit()")
    page.wait_for("document.getElementById('dm-unit-error')")
    assert text(page, "#dm-unit-error") == "从“调查”到“拆除”属于跳过环节，须填写理由。"
    assert ledger(page)[2][6] == "调查" and unit_facts(page)["version"] == "1"
    # The refused choice stays in the form for a retry; the next step is chosen instead.
    assert page.js("document.getElementById('dm-to-status').value") == "demolished"
    set_value(page, "dm-to-status", "valued")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js(
        "document.getElementById('dm-note').value = '入户评估完成';"
        " document.getElementById('dm-transition-form').requestSubmit()"
    )
    page.wait_for(f"{PAGE}.dataset.revision !== {json.dumps(revision)}")
    page.wait_for("document.querySelectorAll('#dm-events li').length === 2")
    assert ledger(page)[2][6] == "评估"  # still sorted by floor area, largest first: D-01 is third
    assert tally(page)["surveyed"] == ["0", "0", "0 m²"] and tally(page)["valued"] == ["2", "3", "320.5 m²"]
    events = page.js("[...document.querySelectorAll('#dm-events li')].map(li => li.textContent)")
    assert (
        "调查 → 评估" in events[0]
        and "备注：入户评估完成" in events[0]
        and world.coordinator.username in events[0]
    )
    assert "建档（调查）" in events[1]
    assert unit_facts(page)["version"] == "2"

    # Someone else changes D-01 meanwhile; this page's edit is then stale and says so in Chinese.
    r = world.client.patch(
        f"/api/demolition/units/{d01['id']}",
        json={"version": 2, "owner_name": "张三（已过户）"},
        headers=world.coordinator.headers,
    )
    assert r.status_code == 200
    page.js("document.getElementById('dm-edit').click()")
    page.js(
        "document.getElementById('dm-field-paid_compensation_yuan').value = '50000';"
        " document.getElementById('dm-edit-form').requestSubmit()"
    )
    page.wait_for("document.getElementById('dm-unit-error')")
    assert text(page, "#dm-unit-error").startswith(
        "数据已被他人修改（当前版本 3，提交的版本 2），请刷新后重试。"
    )
    page.js("document.getElementById('lang').click()")  # the API's message follows the language
    assert text(page, "#dm-unit-error").startswith("Stale update: the current version is 3, you sent 2.")
    page.js("document.getElementById('lang').click()")
    assert text(page, "#dm-unit-error").startswith("数据已被他人修改")
    assert (
        world.client.get(f"/api/demolition/units/{d01['id']}", headers=world.viewer.headers).json()[
            "paid_compensation_yuan"
        ]
        is None
    )  # nothing was written
    page.js("document.getElementById('dm-unit-reload').click()")
    page.wait_for("document.querySelector('#dm-unit dd[data-key=version]')?.textContent === '3'")
    assert unit_facts(page)["owner_name"] == "张三（已过户）"
    # The same edit on the current version goes through.
    page.js("document.getElementById('dm-edit').click()")
    page.js(
        "document.getElementById('dm-field-paid_compensation_yuan').value = '50000';"
        " document.getElementById('dm-edit-form').requestSubmit()"
    )
    page.wait_for("document.querySelector('#dm-unit dd[data-key=version]')?.textContent === '4'")
    assert unit_facts(page)["paid_compensation_yuan"] == "50,000 元"
    page.wait_for("document.querySelector('#dm-progress dd[data-key=paid]')?.textContent === '1,450,000 元'")

    # The ledger downloads (with the token) as a CSV whose rows are the table's.
    page.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    page.js("document.querySelector('#dm-ledger button[data-download=csv]').click()")
    saved = tmp_path / f"demolition-ledger-{world.project['code']}.csv"
    deadline = time.monotonic() + 30
    while not (saved.exists() and saved.stat().st_size):
        assert time.monotonic() < deadline, list(tmp_path.iterdir())
        time.sleep(0.1)
    rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    assert rows[0][:3] == ["单元编号", "版本号", "状态"]
    by_code = {r[0]: r for r in rows[1:]}
    shown_rows = {row[0]: row for row in ledger(page)}
    assert set(by_code) == set(shown_rows) == {"D-01", "D-02", "D-03", "D-04", "D-05"}
    assert all(by_code[c][2] == shown_rows[c][6] for c in by_code)  # the status of every row
    assert by_code["D-01"][1] == "4" and by_code["D-01"][5] == "张三（已过户）"

    # English: the page is drawn again in the other language.
    page.js("document.getElementById('lang').click()")
    assert text(page, "#demolition-page h2") == "Demolition"
    assert figures(page)["cleared"] == "2 units · 400 m² · 3 households"
    assert ledger(page)[2][6] == "Valued" and ledger(page)[2][3] == "Collective"
    assert text(page, "#dm-events-title") == "Unit log"
    page.js("document.getElementById('lang').click()")
    assert text(page, "#dm-events-title") == "单元日志"
    assert_offline(page, world.url)


def test_a_click_on_the_map_opens_the_unit(page: Page, world: World) -> None:
    open_page(page, world, world.coordinator)
    page.wait_for(f"{PAGE}.querySelector('#dm-map').dataset.loaded === 'true'", timeout_s=60)
    tiles = [
        u
        for u in page.requests
        if f"/tiles/demolition/{world.project['id']}/" in u and u.split("?")[0].endswith(".mvt")
    ]
    assert tiles, "no demolition tile was requested"
    # The map is framed on the five squares in a row: its centre lies in the middle one, D-03.
    page.js("document.getElementById('dm-map-canvas').scrollIntoView({block: 'center'})")
    box = page.js(
        "(r => [r.left + r.width / 2, r.top + r.height / 2])"
        "(document.getElementById('dm-map-canvas').getBoundingClientRect())"
    )
    page.click_at(*box)
    page.wait_for(f"document.getElementById('dm-unit').dataset.unit === '{world.units['D-03']['id']}'")
    assert text(page, "#dm-unit h3").startswith("单元 D-03")
    assert page.js("document.querySelector('#dm-ledger tr.picked')?.dataset.id") == str(
        world.units["D-03"]["id"]
    )

    # A change made on the page reaches the map: its tiles are fetched again under the new revision.
    page.js("document.getElementById('dm-transition-form').requestSubmit()")  # 签约 → 补偿, the next step
    page.wait_for("document.querySelector('#dm-ledger tr.picked')?.dataset.status === 'paid'")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.wait_for(f"{PAGE}.querySelector('#dm-map').dataset.revision === '{revision}'", timeout_s=60)
    assert any(u.endswith(f".mvt?v={revision}") for u in page.requests)
    # Back as it was, with the reason a step back needs.
    set_value(page, "dm-to-status", "signed")
    page.js("document.getElementById('dm-reason').value = '测试复原'")
    page.js("document.getElementById('dm-transition-form').requestSubmit()")
    page.wait_for("document.querySelector('#dm-ledger tr.picked')?.dataset.status === 'signed'")
    # The newest entry of the log (read again after the move): irregular, with its reason.
    page.wait_for("document.querySelector('#dm-events li')?.textContent.includes('非顺序变更')")
    assert "signed" == page.js("document.querySelector('#dm-ledger tr.picked').dataset.status")
    assert "理由：测试复原" in text(page, "#dm-events li")
    assert_offline(page, world.url)


def test_a_viewer_sees_the_ledger_but_no_edit_transition_import_or_blocker_actions(
    page: Page, world: World
) -> None:
    open_page(page, world, world.viewer)
    assert len(ledger(page)) == 5 and figures(page)["units"] == "5"
    # A viewer has no need to know the residents: names and addresses come masked from the API, and show so.
    assert [row[:3] for row in ledger(page) if row[0] == "D-02"] == [["D-02", "李*", "平湖街道新南村****"]]
    open_unit(page, world.units["D-02"]["id"])
    facts = unit_facts(page)
    assert (facts["owner_name"], facts["address"], facts["id_number"]) == ("李*", "平湖街道新南村****", "—")
    for selector in ("#dm-edit", "#dm-transition-form", "#dm-import", "#dm-raise", "[data-scope=mine]"):
        assert not page.js(f"Boolean(document.querySelector('{selector}'))"), selector
    # The project's blockers are shown to every reader, overdue in red, without any action.
    row = f"#dm-blockers tr[data-id='{world.blocker['id']}']"
    shown = text(page, row)
    assert (
        "补偿标准有异议" in shown
        and "2020-01-10 （已逾期）" in shown
        and "龙岗区教育局" in shown
        and "D-02" in shown
    )
    page.js(f"document.querySelector({json.dumps(row)}).click()")
    page.wait_for("document.getElementById('dm-blocker')")
    assert not page.js("Boolean(document.getElementById('dm-blocker-form'))")


def test_the_assigned_department_comments_on_and_resolves_its_blocker(page: Page, world: World) -> None:
    blocker = _post(
        world.client,
        world.coordinator,
        f"/api/demolition/projects/{world.project['id']}/blockers",
        {
            "category": "utility",
            "title": "管线迁改未排期",
            "department_code": "education",
            "deadline": "2099-12-31",
        },
    )
    open_page(page, world, world.reviewer)
    assert not page.js(
        "Boolean(document.querySelector('#dm-edit, #dm-transition-form, #dm-import, #dm-raise'))"
    )
    page.js("document.querySelector('#dm-blockers [data-scope=mine]').click()")
    page.wait_for("document.querySelector('#dm-blockers [data-scope=mine][aria-selected=true]')")
    page.wait_for(f"document.querySelector('#dm-blockers tr[data-id=\"{blocker['id']}\"]')")
    page.js(f"document.querySelector('#dm-blockers tr[data-id=\"{blocker['id']}\"]').click()")
    page.wait_for("document.getElementById('dm-blocker-form')")
    actions = page.js("[...document.querySelectorAll('#dm-blocker-action option')].map(o => o.value)")
    assert actions == ["comment", "resolve"]  # escalating and reassigning are for coordinators

    # Resolving without text: the API's message, in Chinese.
    page.js(
        "(s => { s.value = 'resolve'; })(document.getElementById('dm-blocker-action'));"
        " document.getElementById('dm-blocker-form').requestSubmit()"
    )
    page.wait_for("document.querySelector('#dm-blockers p.error')")
    page.js(
        "document.getElementById('dm-blocker-body').value = '已与权利人达成一致';"
        " (s => { s.value = 'resolve'; })(document.getElementById('dm-blocker-action'));"
        " document.getElementById('dm-blocker-form').requestSubmit()"
    )
    page.wait_for(
        "document.querySelector('#dm-blocker p.ok')?.textContent === '办结说明：已与权利人达成一致'"
    )
    stored = world.client.get(
        f"/api/demolition/blockers/{blocker['id']}/comments", headers=world.coordinator.headers
    )
    assert [(c["kind"], c["body"]) for c in stored.json()][-1] == ("resolve", "已与权利人达成一致")
    # A resolved blocker leaves the open list and shows under 已办结.
    row = f"#dm-blockers tr[data-id='{blocker['id']}']"
    assert not page.js(f"Boolean(document.querySelector({json.dumps(row)}))")
    set_value(page, "dm-blocker-filter", "resolved")
    assert "已办结" in text(page, row)


def test_import_from_a_spreadsheet_reports_and_refuses_bad_rows(
    page: Page, world: World, tmp_path: Path
) -> None:
    fresh = _post(
        world.client,
        world.admin,
        "/api/projects",
        {
            "name": "布吉道路（导入）",
            "project_type": "house_building",
            "investment_wan": "100",
            "funding_source": "区财政",
            "owner_dept_code": "education",
            "unit_org_code": "works",
        },
    )
    open_map(page, world.url, world.coordinator)
    page.js("document.getElementById('view-demolition').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true' && document.getElementById('dm-project')")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js(
        f"(s => {{ s.value = '{fresh['id']}'; s.dispatchEvent(new Event('change')); }})"
        "(document.getElementById('dm-project'))"
    )
    page.wait_for(f"{PAGE}.dataset.revision !== {json.dumps(revision)}")
    assert ledger(page) == [] and figures(page)["units"] == "0"

    bad = tmp_path / "bad.csv"
    bad.write_text("单元编号,建筑面积,户数\nK-1,abc,1\n,50,1\n", encoding="utf-8")
    page.js("document.getElementById('dm-import').open = true")
    page.set_files("#dm-import-file", str(bad))
    page.js("document.getElementById('dm-import-form').requestSubmit()")
    page.wait_for("document.querySelector('#dm-import-report[role=alert] li')")
    problems = page.js("[...document.querySelectorAll('#dm-import-report li')].map(li => li.textContent)")
    assert len(problems) == 2 and problems[0].startswith("第 2 行 K-1：")
    assert text(page, "#dm-import-report p.error").startswith("共 2 处问题，未导入任何单元。")
    assert ledger(page) == []

    good = tmp_path / "good.csv"
    good.write_text("单元编号,权利人,建筑面积,户数\nK-1,孙八,50.5,2\nK-2,周九,49.5,1\n", encoding="utf-8")
    page.set_files("#dm-import-file", str(good))
    page.js("document.getElementById('dm-import-form').requestSubmit()")
    page.wait_for("document.querySelector('#dm-import-report p.ok')")
    assert text(page, "#dm-import-report p.ok") == "已导入 2 个单元。"
    page.wait_for("document.querySelectorAll('#dm-ledger tr[data-id]').length === 2")
    assert [row[:6] for row in ledger(page)] == [
        ["K-1", "孙八", "—", "—", "50.5", "2"],
        ["K-2", "周九", "—", "—", "49.5", "1"],
    ]
    assert figures(page)["floor_area"] == "100 m²" and figures(page)["households"] == "3"
    assert not page.js(
        "Boolean(document.querySelector('#dm-map-canvas:not([hidden])'))"
    )  # no geometry, no map


def test_a_narrow_screen_scrolls_the_tables_not_the_page(world: World) -> None:
    with Page(width=600, height=900) as page:
        open_page(page, world, world.coordinator)
        widths = page.js(
            "(w => ({page: document.documentElement.scrollWidth, view: innerWidth,"
            " table: w.scrollWidth, box: w.clientWidth, overflow: getComputedStyle(w).overflowX}))"
            "(document.querySelector('#dm-ledger .table-scroll'))"
        )
        assert widths["page"] <= widths["view"], widths
        assert widths["overflow"] == "auto" and widths["table"] > widths["box"], widths
        open_unit(page, world.units["D-04"]["id"])
        assert page.js("document.getElementById('dm-unit').getBoundingClientRect().right") <= 600


def test_a_coordinator_raises_a_blocker_and_escalates_it(page: Page, world: World) -> None:
    open_page(page, world, world.coordinator)
    page.js("document.getElementById('dm-raise').click()")
    page.wait_for("document.getElementById('dm-raise-form')")
    page.js(
        "(f => { f.category.value = 'grave'; f.title.value = '祖坟迁移未谈妥';"
        f" f.unit_id.value = '{world.units['D-05']['id']}'; f.department_code.value = 'water';"
        " f.deadline.value = '2099-06-30'; f.requestSubmit(); })(document.getElementById('dm-raise-form'))"
    )
    page.wait_for("document.getElementById('dm-blocker-form')")
    listed = world.client.get(
        f"/api/demolition/projects/{world.project['id']}/blockers", headers=world.viewer.headers
    ).json()
    mine = [b for b in listed if b["title"] == "祖坟迁移未谈妥"]
    assert [(b["category"], b["unit_code"], b["department_code"], b["deadline"]) for b in mine] == [
        ("grave", "D-05", "water", "2099-06-30")
    ]
    row = f"#dm-blockers tr[data-id='{mine[0]['id']}']"
    assert "龙岗区水务局" in text(page, row) and "办理中" in text(page, row)
    actions = page.js("[...document.querySelectorAll('#dm-blocker-action option')].map(o => o.value)")
    assert actions == ["comment", "resolve", "escalate", "reassign"]
    page.js(
        "(f => { f.action.value = 'escalate'; f.action.dispatchEvent(new Event('change'));"
        " f.body.value = '街道协调未果，提请区土地整备局'; f.department_code.value = 'land-prep';"
        " f.requestSubmit(); })(document.getElementById('dm-blocker-form'))"
    )
    page.wait_for(f"document.querySelector({json.dumps(row)})?.textContent.includes('已升级 · 升级 1 级')")
    assert "龙岗区土地整备局" in text(page, row)
    thread = page.js("[...document.querySelectorAll('#dm-thread li')].map(li => li.textContent)")
    assert len(thread) == 2 and "街道协调未果，提请区土地整备局" in thread[-1] and "升级" in thread[-1]


def _day_one_message(world: World) -> str:
    """The day-one forecast, written from the ledger's units (statuses counted here, not by progress.py)."""
    units = world.client.get(
        f"/api/demolition/projects/{world.project['id']}/units", headers=world.admin.headers
    ).json()
    cleared = sum(u["status"] in ("demolished", "handed_over") for u in units)
    day = datetime.now(DISTRICT.tz).date()
    return (
        f"台账自 {day} 起记录：共 {len(units)} 个单元，已拆除 {cleared} 个，尚余 {len(units) - cleared} 个；"
        "记录满一天后按拆除速度预测完成日期。"
    )


def test_day_one_forecast_and_burndown(page: Page, world: World) -> None:
    """The ledger was started today: the forecast says what is known, and the burndown draws its one day."""
    open_page(page, world, world.coordinator)
    assert text(page, "#dm-forecast-line") == _day_one_message(world)
    page.js("document.getElementById('dm-burndown-chart').scrollIntoView()")
    page.wait_for("document.getElementById('dm-map').dataset.loaded === 'true'", timeout_s=60)
    left, top, width, height = page.js(
        "(r => [r.left, r.top, r.width, r.height])"
        "(document.getElementById('dm-burndown-chart').getBoundingClientRect())"
    )
    chart = capture(page)[int(top) : int(top + height), int(left) : int(left + width)]
    r, g, b = chart[..., 0], chart[..., 1], chart[..., 2]
    remaining = (abs(r - 0xD7) < 40) & (abs(g - 0x30) < 40) & (abs(b - 0x27) < 40)  # #D73027
    assert remaining.sum() >= 20, "the day's remaining units are drawn"
    page.js("document.getElementById('dm-map').scrollIntoView()")
    page.js("new Promise(resolve => setTimeout(resolve, 500))")
    save_screenshot(page, "demolition")


def test_the_project_selector_is_usable_on_a_phone(world: World) -> None:
    with Page(width=390, height=844) as page:
        open_page(page, world, world.coordinator)
        box = page.js(
            "(s => { const r = s.getBoundingClientRect(); const hit = document.elementFromPoint("
            "r.left + r.width / 2, r.top + r.height / 2);"
            " return {left: r.left, right: r.right, width: r.width, height: r.height, top: r.top,"
            " hit: hit === s, font: parseFloat(getComputedStyle(s).fontSize),"
            " page: document.documentElement.scrollWidth}; })(document.getElementById('dm-project'))"
        )
        assert box["hit"] is True, box  # visible, nothing over it
        assert box["left"] >= 0 and box["right"] <= 390 and box["page"] <= 390, box  # no overflow
        assert box["width"] >= 250, box  # the project's name can be read
        assert box["height"] >= 44 and box["font"] >= 16, box  # a finger's target; no zoom-on-focus
