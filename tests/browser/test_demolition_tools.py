"""The demolition page's ledger upkeep and trend in headless Chromium, over the hand-made world.

Known answers (tests/preeval_world.py): B1 1200 m², 10 households (state land); B2 800 m², 5 households and
B3 600 m², 4 households (collective land). Site [50,250]×[0,100] holds B1 and B2, site [150,480]×[0,100]
holds B2 and B3. The burndown runs on an event log written by hand (dated March 2026, as in
tests/api/test_demolition_progress.py), computed for 2026-03-06 chosen on the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.auth.policy import Role
from app.main import create_app
from tests.api.test_demolition_ledger import new_project, new_unit, step
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import assert_offline, open_map, text
from tests.conftest import DemoEnv
from tests.helpers import Account
from tests.preeval_world import box, geojson

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
PAGE = "document.getElementById('demolition-page')"


@pytest.fixture(scope="module")
def server(preeval_world: DemoEnv) -> Iterator[tuple[str, RequestLog]]:
    log = RequestLog(create_app(preeval_world.settings))
    with live_server(log) as url:
        yield url, log


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=1000) as p:
        yield p


@pytest.fixture(scope="module")
def people(preeval_world: DemoEnv) -> dict[str, Account]:
    return {
        "admin": preeval_world.account(Role.SYSTEM_ADMIN, "gov-data"),
        "coord": preeval_world.account(Role.COORDINATOR, "land-prep"),
        "viewer": preeval_world.account(Role.VIEWER, "pnr"),
    }


def open_project(page: Page, url: str, account: Account, project_id: int) -> None:
    """Sign in, open 征拆协调 and choose the project."""
    open_map(page, url, account)
    page.js("document.getElementById('view-demolition').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true' && document.getElementById('dm-project')")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js(
        f"(s => {{ s.value = '{project_id}'; s.dispatchEvent(new Event('change')); }})"
        "(document.getElementById('dm-project'))"
    )
    page.wait_for(f"{PAGE}.dataset.revision !== {json.dumps(revision)}")


def reloaded(page: Page, revision: Any) -> None:
    page.wait_for(f"{PAGE}.dataset.revision !== {json.dumps(revision)}")


def figures(page: Page) -> dict[str, str]:
    return dict(
        page.js(
            "[...document.querySelectorAll('#dm-progress dd[data-key]')]"
            ".map(d => [d.dataset.key, d.textContent])"
        )
    )


def ledger(page: Page) -> list[list[str]]:
    return list(
        page.js(
            "[...document.querySelectorAll('#dm-ledger table.dm-units tbody tr[data-id]')]"
            ".map(tr => [...tr.cells].slice(0, 7).map(c => c.textContent.trim()))"
        )
    )


def rows(page: Page, selector: str) -> list[list[str]]:
    return list(
        page.js(
            f"[...document.querySelectorAll({json.dumps(selector)})]"
            ".map(tr => [...tr.cells].map(c => c.textContent.trim()))"
        )
    )


def fill_form(page: Page, values: dict[str, str]) -> None:
    """Type into the hand-entry form's fields (input events, as typing fires)."""
    page.js(
        f"Object.entries({json.dumps(values)}).forEach(([k, v]) => {{"
        " const e = document.getElementById(`dm-new-${k}`); e.value = v;"
        " e.dispatchEvent(new Event('input', {bubbles: true})); })"
    )


def test_units_from_a_stored_pre_evaluation_twice_adds_nothing(
    page: Page, server: tuple[str, RequestLog], people: dict[str, Account], preeval_world: DemoEnv
) -> None:
    url, _ = server
    client, coord = preeval_world.client, people["coord"]
    project = new_project(client, people["admin"])
    reports = {}
    for name, site, code in (
        ("west", box(50, 0, 250, 100), project["code"]),
        ("east", box(150, 0, 480, 100), None),
    ):
        r = client.post(
            "/api/pre-evaluations",
            json={"footprint": geojson(site), "project_type": "school", "project_code": code},
            headers=coord.headers,
        )
        assert r.status_code == 201, r.text
        reports[name] = r.json()["id"]
    west, east = reports["west"], reports["east"]

    open_project(page, url, coord, project["id"])
    assert figures(page)["units"] == "0"
    page.js("document.getElementById('dm-from-report').open = true")
    page.wait_for("document.getElementById('dm-from-report').dataset.loaded === 'true'")
    offered = {r[1]: r[3:] for r in rows(page, "#dm-from-report table.dm-reports tbody tr")}
    assert offered[f"#{west}"] == [f"{project['code']}本项目", "不通过", "2", "15", "2,000 m²", "0"]
    assert offered[f"#{east}"][2:] == ["2", "9", "1,400 m²", "0"]
    first = page.js("document.querySelector('#dm-from-report tbody tr').dataset.id")
    assert first == str(west)  # the project's own report first, and chosen
    assert page.js("document.querySelector('input[name=dm-report]:checked').value") == str(west)

    revision = page.js(f"{PAGE}.dataset.revision")
    page.js("document.getElementById('dm-from-report-form').requestSubmit()")
    reloaded(page, revision)
    page.wait_for("document.querySelector('#dm-from-report-result p')")
    assert text(page, "#dm-from-report-result p") == f"已由报告 #{west} 生成 2 个单元，合计 15 户、2,000 m²。"
    assert text(page, "#dm-from-report-result .dm-created-codes") == "B1、B2"
    assert [r[:6] for r in ledger(page)] == [
        ["B1", "—", "—", "国有", "1,200", "10"],
        ["B2", "—", "—", "集体", "800", "5"],
    ]
    shown = figures(page)
    assert (shown["units"], shown["households"], shown["floor_area"]) == ("2", "15", "2,000 m²")
    page.wait_for(
        f"document.querySelector('#dm-from-report tr[data-id=\"{west}\"] td:last-child')?.textContent === '2'"
    )

    # The same report again: nothing new, both buildings skipped, the ledger unchanged.
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js("document.getElementById('dm-from-report-form').requestSubmit()")
    reloaded(page, revision)
    page.wait_for("document.querySelector('#dm-from-report-result .dm-skipped')")
    assert text(page, "#dm-from-report-result p") == f"报告 #{west} 没有新增单元：其中的建筑均已在台账中。"
    assert text(page, "#dm-from-report-result .dm-skipped") == "已在台账中，跳过 2 个：B1、B2"
    assert len(ledger(page)) == 2
    units = client.get(f"/api/demolition/projects/{project['id']}/units", headers=coord.headers).json()
    assert sorted(u["unit_code"] for u in units) == ["B1", "B2"]

    # The overlapping report brings only B3.
    page.js(f"document.querySelector('input[name=dm-report][value=\"{east}\"]').click()")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js("document.getElementById('dm-from-report-form').requestSubmit()")
    reloaded(page, revision)
    page.wait_for("document.querySelector('#dm-from-report-result .dm-skipped')")
    assert text(page, "#dm-from-report-result p") == f"已由报告 #{east} 生成 1 个单元，合计 4 户、600 m²。"
    assert text(page, "#dm-from-report-result .dm-skipped") == "已在台账中，跳过 1 个：B2"
    assert [r[0] for r in ledger(page)] == ["B1", "B2", "B3"]
    assert (figures(page)["households"], figures(page)["floor_area"]) == ("19", "2,600 m²")
    page.js("document.getElementById('lang').click()")
    assert text(page, "#dm-from-report-result .dm-skipped") == "Already in the ledger, skipped (1): B2"
    page.js("document.getElementById('lang').click()")
    assert_offline(page, url)


def test_a_unit_entered_by_hand_with_field_messages(
    page: Page, server: tuple[str, RequestLog], people: dict[str, Account], preeval_world: DemoEnv
) -> None:
    url, log = server
    client, coord = preeval_world.client, people["coord"]
    project = new_project(client, people["admin"])
    open_project(page, url, coord, project["id"])
    page.js("document.getElementById('dm-new-unit').open = true")
    fill_form(
        page,
        {"unit_code": " ", "floor_area_m2": "12.345", "households": "1.5", "agreed_compensation_yuan": "-5"},
    )
    posts_before = sum(1 for m, p, *_ in log.seen if m == "POST" and p.endswith("/units"))
    page.js("document.getElementById('dm-new-unit-form').requestSubmit()")
    page.wait_for("document.getElementById('dm-new-unit-summary')")
    assert text(page, "#dm-new-unit-summary") == "有 4 处需要更正，未提交。"
    assert text(page, "#dm-new-unit_code-error") == "请填写单元编号。"
    assert text(page, "#dm-new-floor_area_m2-error") == "建筑面积须为不小于 0 的数字，最多两位小数。"
    assert text(page, "#dm-new-households-error") == "户数须为不小于 0 的整数。"
    assert (
        text(page, "#dm-new-agreed_compensation_yuan-error")
        == "协议补偿须为不小于 0 的金额（元），最多两位小数。"
    )
    assert page.js("document.getElementById('dm-new-households').getAttribute('aria-invalid')") == "true"
    assert page.js("document.getElementById('dm-new-households').value") == "1.5"  # kept as typed
    page.js("document.getElementById('lang').click()")
    assert text(page, "#dm-new-households-error") == "Households must be a whole number ≥ 0."
    page.js("document.getElementById('lang').click()")
    assert sum(1 for m, p, *_ in log.seen if m == "POST" and p.endswith("/units")) == posts_before
    assert client.get(f"/api/demolition/projects/{project['id']}/units", headers=coord.headers).json() == []

    fill_form(
        page,
        {
            "unit_code": "H-1",
            "floor_area_m2": "150.25",
            "households": "3",
            "agreed_compensation_yuan": "300000",
            "owner_name": "陈十",
        },
    )
    page.js(
        "(s => { s.value = 'sd-buji'; s.dispatchEvent(new Event('change', {bubbles: true})); })"
        "(document.getElementById('dm-new-subdistrict_code'))"
    )
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js("document.getElementById('dm-new-unit-form').requestSubmit()")
    reloaded(page, revision)
    page.wait_for("document.getElementById('dm-unit').dataset.unit")
    assert text(page, "#dm-new-unit-done") == "已录入单元 H-1。"
    assert ledger(page) == [["H-1", "陈十", "—", "—", "150.25", "3", "调查"]]
    shown = figures(page)
    assert (shown["units"], shown["households"], shown["floor_area"]) == ("1", "3", "150.25 m²")
    assert shown["agreed"] == "300,000 元" and shown["paid"] == "—"
    assert rows(page, "#dm-subdistricts tbody tr") == [
        ["布吉街道办事处", "1", "3", "150.25 m²", "0", "0 m²", "0%", "300,000 元", "—"]
    ]
    assert text(page, "#dm-unit h3").startswith("单元 H-1")

    # The same code again: the API's refusal, in Chinese; nothing more is written.
    fill_form(page, {"unit_code": "H-1", "floor_area_m2": "10", "households": "0"})
    page.js("document.getElementById('dm-new-unit-form').requestSubmit()")
    page.wait_for("document.getElementById('dm-new-unit-error')")
    assert text(page, "#dm-new-unit-error") == "单元编号“H-1”在本项目中已存在。"
    assert (
        len(client.get(f"/api/demolition/projects/{project['id']}/units", headers=coord.headers).json()) == 1
    )
    assert_offline(page, url)


def test_bulk_update_dry_run_then_apply(
    page: Page,
    server: tuple[str, RequestLog],
    people: dict[str, Account],
    preeval_world: DemoEnv,
    tmp_path: Path,
) -> None:
    url, _ = server
    client, coord = preeval_world.client, people["coord"]
    project = new_project(client, people["admin"])
    units = {code: new_unit(client, coord, project["id"], code) for code in ("K-1", "K-2", "K-3")}
    assert step(client, coord, units["K-3"], "valued").status_code == 200
    before = {
        u["unit_code"]: u["version"]
        for u in client.get(f"/api/demolition/projects/{project['id']}/units", headers=coord.headers).json()
    }
    assert before == {"K-1": 1, "K-2": 1, "K-3": 2}

    open_project(page, url, coord, project["id"])
    page.js("document.getElementById('dm-bulk').open = true")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "单元编号,版本号,目标状态,理由,协议补偿（元）\nK-1,1,评估,,500000\nK-2,1,拆除,,\nK-9,1,评估,,\nK-3,1,签约,,\n",
        encoding="utf-8",
    )
    page.set_files("#dm-bulk-file", str(bad))
    page.wait_for("document.getElementById('dm-bulk-chosen')?.textContent === '已选择：bad.csv'")
    page.js("document.getElementById('dm-bulk-check').click()")
    page.wait_for("document.getElementById('dm-bulk-verdict')")
    assert text(page, "#dm-bulk-verdict") == "有 3 处问题，不能更新；请修改表格后重新检查。"
    assert rows(page, "#dm-bulk table.dm-bulk-changes tbody tr") == [
        ["2", "K-1", "协议补偿（元）", "—", "500,000"],
        ["2", "K-1", "状态", "调查", "评估"],
    ]
    problems = page.js(
        "[...document.querySelectorAll('#dm-bulk .dm-bulk-problems li')].map(li => li.textContent)"
    )
    assert problems == [
        "第 3 行 K-2：从“调查”到“拆除”属于跳过环节，须填写理由。",
        "第 4 行 K-9：本项目台账中没有该单元",
        "第 5 行 K-3：数据已被修改（当前版本 2，表格版本 1）",
    ]
    assert not page.js(
        "Boolean(document.getElementById('dm-bulk-apply'))"
    )  # a refused file cannot be applied
    after = {
        u["unit_code"]: u["version"]
        for u in client.get(f"/api/demolition/projects/{project['id']}/units", headers=coord.headers).json()
    }
    assert after == before  # the dry run wrote nothing

    good = tmp_path / "good.csv"
    good.write_text(
        "单元编号,版本号,目标状态,理由,协议补偿（元）\nK-1,1,评估,,500000\nK-2,1,拆除,危房先拆,\nK-3,2,,,\n",
        encoding="utf-8",
    )
    page.set_files("#dm-bulk-file", str(good))
    page.wait_for("!document.getElementById('dm-bulk-verdict')")
    page.js("document.getElementById('dm-bulk-check').click()")
    page.wait_for("document.getElementById('dm-bulk-apply')")
    assert text(page, "#dm-bulk-verdict") == "共 3 行，将修改 2 个单元（3 项）；尚未写入。"
    assert rows(page, "#dm-bulk table.dm-bulk-changes tbody tr") == [
        ["2", "K-1", "协议补偿（元）", "—", "500,000"],
        ["2", "K-1", "状态", "调查", "评估"],
        ["3", "K-2", "状态", "调查", "拆除"],
    ]
    assert text(page, "#dm-bulk-apply") == "确认更新 2 个单元"
    after = {
        u["unit_code"]: u["version"]
        for u in client.get(f"/api/demolition/projects/{project['id']}/units", headers=coord.headers).json()
    }
    assert after == before

    revision = page.js(f"{PAGE}.dataset.revision")
    page.js("document.getElementById('dm-bulk-apply').click()")
    reloaded(page, revision)
    page.wait_for("document.querySelector('#dm-bulk-report p.ok')")
    assert text(page, "#dm-bulk-report p.ok") == "已更新 2 个单元（3 项修改），已记入各单元日志。"
    assert [(r[0], r[6]) for r in ledger(page)] == [("K-1", "评估"), ("K-2", "拆除"), ("K-3", "评估")]
    assert figures(page)["agreed"] == "500,000 元"
    page.js(f"document.querySelector('#dm-ledger tr[data-id=\"{units['K-2']['id']}\"]').click()")
    page.wait_for(f"document.getElementById('dm-unit').dataset.unit === '{units['K-2']['id']}'")
    page.wait_for("document.querySelectorAll('#dm-events li').length === 2")
    newest = text(page, "#dm-events li")
    assert "调查 → 拆除" in newest and "理由：危房先拆" in newest and "非顺序变更" in newest
    page.js(f"document.querySelector('#dm-ledger tr[data-id=\"{units['K-1']['id']}\"]').click()")
    page.wait_for(f"document.getElementById('dm-unit').dataset.unit === '{units['K-1']['id']}'")
    page.wait_for("document.querySelectorAll('#dm-events li').length === 3")
    log = page.js("[...document.querySelectorAll('#dm-events li')].map(li => li.textContent)")
    assert "调查 → 评估" in log[0]
    assert "修改：协议补偿（元）: — → 500000" in log[1] and "备注：批量更新第 2 行" in log[1]
    assert_offline(page, url)


# code, floor area, households, sub-district, agreed compensation
BURNDOWN_UNITS = [
    ("A", 100, 2, "sd-pinghu", 100000),
    ("B", 300, 3, "sd-pinghu", None),
    ("C", 200, 1, "sd-buji", None),
    ("D", 400, 4, "sd-buji", None),
]
# day of March 2026 (district time), unit, from, to
BURNDOWN_LOG = [
    (1, "A", None, "surveyed"),
    (1, "B", None, "surveyed"),
    (1, "C", None, "surveyed"),
    (1, "D", None, "surveyed"),
    (2, "A", "surveyed", "valued"),
    (3, "A", "valued", "demolished"),
    (5, "B", "surveyed", "demolished"),
    (5, "C", "surveyed", "valued"),
]


def _hand_made_log(preeval_world: DemoEnv, project_id: int) -> None:
    with psycopg.connect(preeval_world.settings.owner_dsn, autocommit=True) as conn:
        ids = {}
        for code, area, households, sd, agreed in BURNDOWN_UNITS:
            row = conn.execute(
                "INSERT INTO demolition.unit (project_id, unit_code, floor_area_m2, households,"
                " subdistrict_id, agreed_compensation_yuan, source)"
                " VALUES (%s, %s, %s, %s, (SELECT id FROM auth.organisation WHERE code = %s), %s, 'manual')"
                " RETURNING id",
                (project_id, code, area, households, sd, agreed),
            ).fetchone()
            assert row is not None
            ids[code] = row[0]
        for day, code, frm, to in BURNDOWN_LOG:
            conn.execute(
                "INSERT INTO demolition.unit_event (unit_id, project_id, kind, from_status, to_status,"
                " irregular, reason, actor_name, at) VALUES (%s, %s, %s, %s, %s, %s, '手工日志', 'tests',"
                " (%s::timestamp AT TIME ZONE 'Asia/Shanghai'))",
                (
                    ids[code],
                    project_id,
                    "create" if frm is None else "transition",
                    frm,
                    to,
                    to == "demolished",
                    f"2026-03-{day:02d} 10:00",
                ),
            )
            conn.execute("UPDATE demolition.unit SET status = %s WHERE id = %s", (to, ids[code]))


def test_burndown_forecast_and_subdistricts_show_hand_computed_figures(
    page: Page, server: tuple[str, RequestLog], people: dict[str, Account], preeval_world: DemoEnv
) -> None:
    url, _ = server
    project = new_project(preeval_world.client, people["admin"])
    _hand_made_log(preeval_world, project["id"])
    open_project(page, url, people["viewer"], project["id"])
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js(
        "(e => { e.value = '2026-03-06'; e.dispatchEvent(new Event('change')); })"
        "(document.getElementById('dm-as-of'))"
    )
    reloaded(page, revision)
    assert text(page, "#dm-trend h3") == "进度趋势（截至 2026-03-06）"
    # Remaining: 4 units / 1000 m² / 10 households; A down on the 3rd, B on the 5th.
    assert rows(page, "#dm-burndown-table tbody tr") == [
        ["2026-03-01", "4", "4", "1,000 m²", "10"],
        ["2026-03-03", "4", "3", "900 m²", "8"],
        ["2026-03-05", "4", "2", "600 m²", "5"],
        ["2026-03-06", "4", "2", "600 m²", "5"],
    ]
    # 2 units cleared in the 5 days since the first event: 0.4 a day, 2 left → 5 more days.
    assert text(page, "#dm-forecast-line") == "按近 5 天每天 0.40 户（栋）的速度，预计 2026-03-11 完成。"
    points = page.js(
        "document.querySelector('#dm-burndown-chart polyline.dm-line-remaining').getAttribute('points')"
    )
    assert len(points.split()) == 6  # one point a day, 1 to 6 March
    assert page.js("Boolean(document.querySelector('#dm-burndown-chart line.dm-line-forecast'))")
    assert "2026-03-11" in page.js("document.querySelector('#dm-burndown-chart title').textContent")
    assert rows(page, "#dm-subdistricts tbody tr") == [
        ["布吉街道办事处", "2", "5", "600 m²", "0", "0 m²", "0%", "—", "—"],
        ["平湖街道办事处", "2", "5", "400 m²", "2", "400 m²", "100%", "100,000 元", "—"],
    ]
    shown = figures(page)
    assert shown["progress"].startswith("40%") and shown["cleared"] == "2 个单元 · 400 m² · 5 户"
    # The chart is a picture; the table under it holds the same figures for screen readers.
    assert page.js("document.getElementById('dm-burndown-chart').getAttribute('role')") == "img"
    page.js("document.getElementById('lang').click()")
    assert text(page, "#dm-trend h3") == "Progress over time (as of 2026-03-06)"
    heads = page.js("[...document.querySelectorAll('#dm-burndown-table thead th')].map(th => th.textContent)")
    assert heads == ["Day", "Units", "Units standing", "Floor area standing", "Households standing"]
    page.js("document.getElementById('lang').click()")
    # A viewer gets none of the creation controls.
    for selector in ("#dm-from-report", "#dm-new-unit", "#dm-import", "#dm-bulk", ".dm-tools"):
        assert not page.js(f"Boolean(document.querySelector('{selector}'))"), selector
    assert_offline(page, url)


def test_the_tools_fit_a_narrow_screen(
    server: tuple[str, RequestLog], people: dict[str, Account], preeval_world: DemoEnv
) -> None:
    url, _ = server
    project = new_project(preeval_world.client, people["admin"])
    _hand_made_log(preeval_world, project["id"])
    with Page(width=600, height=900) as page:
        open_project(page, url, people["coord"], project["id"])
        page.js("document.querySelectorAll('.dm-tool, .dm-burndown-data').forEach(d => { d.open = true; })")
        page.wait_for("document.getElementById('dm-from-report').dataset.loaded === 'true'")
        widths = page.js("({page: document.documentElement.scrollWidth, view: innerWidth})")
        assert widths["page"] <= widths["view"], widths
        chart = page.js("document.getElementById('dm-burndown-chart').getBoundingClientRect().right")
        assert chart <= 600
