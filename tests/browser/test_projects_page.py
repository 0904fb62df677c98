"""The approval tracker's page (项目审批) in headless Chromium, against the real app with the small demo.

Known answers are worked out here, not asked of the server: the project code's check character (GB/T 17710
MOD 11,10), the back-scheduled dates from the holiday data files (official years, then the provisional ones)
with a working-day walk of our own, KPIs and warnings from an event log dated by hand.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from typing import Any

import psycopg
import pytest
import shapely

from app.auth import users
from app.auth.policy import Role
from app.calendar.store import PROVISIONAL_FILE, SEED_FILE
from app.main import create_app
from app.orgs import service as orgs
from layers.audit import Actor
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import assert_offline, open_map, text
from tests.browser.pixels import save_screenshot
from tests.conftest import DemoEnv
from tests.helpers import Account, sign_in, unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")

TARGET = "2026-10-12"  # a Monday; the Saturday before it (10-10) is a 国庆 make-up working day
TARGET_2027 = "2027-02-09"  # a Tuesday, the first working day after 春节 in the provisional 2027 calendar
AS_OF = "2026-03-02"
# The house-building template for an investment of 8000 万元 (nothing dropped or merged): promised working
# days and prerequisites, as DOMAIN.md and the template list them.
HOUSE_BUILDING: dict[str, tuple[int, tuple[str, ...]]] = {
    "project_proposal": (10, ()),
    "land_pre_review": (20, ("project_proposal",)),
    "energy_review": (10, ("project_proposal",)),
    "stability_assessment": (10, ("project_proposal",)),
    "feasibility_study": (20, ("land_pre_review", "energy_review", "stability_assessment")),
    "environmental_impact": (20, ("project_proposal",)),
    "soil_conservation": (15, ("project_proposal",)),
    "land_planning_permit": (10, ("feasibility_study",)),
    "preliminary_design": (20, ("land_planning_permit",)),
    "engineering_planning_permit": (10, ("preliminary_design",)),
    "drawing_review": (10, ("engineering_planning_permit",)),
    "construction_permit": (7, ("drawing_review", "environmental_impact", "soil_conservation")),
}
COMPLETION = ("joint_acceptance", "completion_filing")  # after construction starts: not scheduled


# --- independent arithmetic -------------------------------------------------------------------------------


def mod_11_10(digits: str) -> str:
    """GB/T 17710 (ISO/IEC 7064) MOD 11,10 check digit, written out from the standard."""
    p = 10
    for ch in digits:
        s = (p + int(ch)) % 10
        s = 10 if s == 0 else s
        p = (s * 2) % 11
    return str((11 - p) % 10)


@cache
def working_days() -> list[date]:
    """Every working day of the years in the holiday data files — the official years, then the provisional
    ones that have none: Monday-Friday minus holidays, plus 调休."""
    seed = json.loads(SEED_FILE.read_text(encoding="utf-8"))["years"]
    provisional = json.loads(PROVISIONAL_FILE.read_text(encoding="utf-8"))["years"]
    years = {**provisional, **seed}
    off = {date.fromisoformat(d["date"]) for y in years.values() for d in y["holidays"]}
    on = {date.fromisoformat(d["date"]) for y in years.values() for d in y["makeup_working_days"]}
    first, last = min(int(y) for y in years), max(int(y) for y in years)
    day, out = date(first, 1, 1), []
    while day.year <= last:
        if day in on or (day.weekday() < 5 and day not in off):
            out.append(day)
        day += timedelta(days=1)
    return out


def back_schedule(target: str) -> dict[str, tuple[str, str]]:
    """Latest start and finish of each item: the last item ends the working day before the target start,
    every other item the working day before its earliest successor must start."""
    days = working_days()
    anchor = bisect_left(days, date.fromisoformat(target)) - 1  # last working day before the target
    successors: dict[str, list[str]] = {code: [] for code in HOUSE_BUILDING}
    for code, (_, after) in HOUSE_BUILDING.items():
        for pre in after:
            successors[pre].append(code)
    start: dict[str, int] = {}

    def latest_start(code: str) -> int:
        if code not in start:
            finish = min((latest_start(s) for s in successors[code]), default=anchor + 1) - 1
            start[code] = finish - HOUSE_BUILDING[code][0] + 1
        return start[code]

    return {
        code: (days[latest_start(code)].isoformat(), days[latest_start(code) + dur - 1].isoformat())
        for code, (dur, _) in HOUSE_BUILDING.items()
    }


def forecast(as_of: str, target: str) -> tuple[str, int]:
    """Nothing started: every item as early as its prerequisites allow from ``as_of``; the forecast start is
    the working day after the last finish, the float the least (latest − earliest start) in working days."""
    days = working_days()
    index = {d.isoformat(): i for i, d in enumerate(days)}
    today = bisect_left(days, date.fromisoformat(as_of))
    early: dict[str, int] = {}
    for code, (_, after) in HOUSE_BUILDING.items():  # listed in an order that respects prerequisites
        early[code] = max([today] + [early[a] + HOUSE_BUILDING[a][0] for a in after])
    last = max(early[c] + HOUSE_BUILDING[c][0] - 1 for c in HOUSE_BUILDING)
    latest = back_schedule(target)
    slack = min(index[latest[c][0]] - early[c] for c in HOUSE_BUILDING)
    return days[last + 1].isoformat(), slack


def test_the_independent_calendar_agrees_with_hand_counted_dates() -> None:
    plan = back_schedule(TARGET)
    # 10-10 (Sat) is a make-up working day; 10-01…07 and 9-25…27 are holidays; 9-20 (Sun) is worked.
    assert plan["construction_permit"] == ("2026-09-24", "2026-10-10")
    assert plan["drawing_review"] == ("2026-09-11", "2026-09-23")
    # Provisional 2027: 除夕 Fri 2-5 .. 初三 Mon 2-8 off, so the permit must be issued by Thu 2-4; its 7
    # working days are 1-27 .. 2-4 (1-27, 1-28, 1-29, 2-1 .. 2-4) and the drawings' 10 are 1-13 .. 1-26.
    plan = back_schedule(TARGET_2027)
    assert plan["construction_permit"] == ("2027-01-27", "2027-02-04")
    assert plan["drawing_review"] == ("2027-01-13", "2027-01-26")


# --- fixtures and steps -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(demo: DemoEnv) -> Iterator[tuple[str, RequestLog]]:
    """The demo's app served by uvicorn, with the log of every request it answered."""
    log = RequestLog(create_app(demo.settings))
    with live_server(log) as url:
        yield url, log


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=900) as p:
        yield p


@pytest.fixture
def unit_org(demo: DemoEnv) -> str:
    """A project unit of its own, so that its warnings and KPIs are only this test's."""
    code = unique("unit")
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        orgs.create_org(
            conn,
            Actor.system("tests"),
            orgs.OrganisationCreate(code=code, name_zh=f"测试建设单位{code}", kind=orgs.OrgKind.PROJECT_UNIT),
        )
    return code


def new_project(
    demo: DemoEnv, unit: Account, name: str, *, plan: bool = False, start: str = TARGET
) -> dict[str, Any]:
    body = {
        "name": name,
        "project_type": "house_building",
        "owner_dept_code": "education",
        "investment_wan": "8000",
        "funding_source": "区财政",
        "planned_start": start,
    }
    r = demo.client.post("/api/projects", json=body, headers=unit.headers)
    assert r.status_code == 201, r.text
    project = dict(r.json())
    if plan:
        r = demo.client.post(f"/api/projects/{project['id']}/plan", headers=unit.headers)
        assert r.status_code == 201, r.text
        project["items"] = {i["item_code"]: i for i in r.json()}
    return project


def open_projects(page: Page, url: str, account: Account) -> None:
    """Sign in, switch to the 项目审批 view and wait for the library."""
    open_map(page, url, account)
    page.js("document.getElementById('view-projects').click()")
    page.wait_for("document.getElementById('pj-count')")


def set_value(page: Page, selector: str, value: str) -> None:
    """Type into a field of the page as a person would (input and change events)."""
    page.js(
        f"(el => {{ el.value = {json.dumps(value)}; el.dispatchEvent(new Event('input'));"
        f" el.dispatchEvent(new Event('change')); return true; }})"
        f"(document.querySelector({json.dumps(selector)}))"
    )


def click(page: Page, selector: str) -> None:
    page.wait_for(f"document.querySelector({json.dumps(selector)})")
    page.js(f"document.querySelector({json.dumps(selector)}).click()")


def open_project(page: Page, code: str, as_of: str = AS_OF) -> None:
    """Set the reporting date, then open a project of the list by its name."""
    set_value(page, "#pj-as-of", as_of)
    click(page, f"#pj-projects tr[data-code='{code}'] td[data-col=name] button")
    page.wait_for("document.getElementById('pj-plan') || document.getElementById('pj-no-plan')")


def row_cells(page: Page, selector: str) -> dict[str, str]:
    """The cells of one table row, column key → text."""
    return dict(
        page.js(
            f"[...document.querySelector({json.dumps(selector)}).cells]"
            ".map(td => [td.dataset.col, td.textContent])"
        )
    )


def plan_rows(page: Page) -> list[dict[str, str]]:
    return list(
        page.js(
            "[...document.querySelectorAll('#pj-plan tbody tr')].map(tr => Object.assign("
            "{code: tr.dataset.itemCode, cls: tr.className},"
            " Object.fromEntries([...tr.cells].map(td => [td.dataset.col, td.textContent]))))"
        )
    )


def open_item(page: Page, code: str) -> None:
    click(page, f"#pj-plan tr[data-item-code='{code}'] td[data-col=name] button")
    page.wait_for("document.getElementById('pj-events') || document.getElementById('pj-no-events')")


def action_buttons(page: Page) -> list[str]:
    return list(
        page.js("[...document.querySelectorAll('#pj-item button[data-action]')].map(b => b.dataset.action)")
    )


def take(page: Page, action: str) -> None:
    """Press an action button and wait until the page has the server's answer."""
    page.js("document.getElementById('pj-item-notice')?.remove()")
    click(page, f"#pj-item button[data-action='{action}']")
    page.wait_for("document.getElementById('pj-item-notice')?.textContent")


# --- the tests ----------------------------------------------------------------------------------------------


def test_a_unit_registers_a_project_and_finds_it_in_the_library(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, log = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    open_projects(page, url, unit)
    click(page, "#pj-new")
    page.wait_for("document.getElementById('pj-form')")

    # An empty form is refused field by field, in Chinese, before anything is sent.
    posts = len([r for r in log.seen if r[:2] == ("POST", "/api/projects")])
    click(page, "#pj-f-submit")
    assert (
        page.wait_for("document.getElementById('pj-form-error').textContent") == "请更正标出的内容后再提交。"
    )
    assert text(page, "#pj-f-name-error") == "请填写项目名称。"
    assert text(page, "#pj-f-owner-error") == "请选择主管部门。"
    assert text(page, "#pj-f-investment-error") == "总投资须为不小于 0 的数字（万元）。"
    assert page.js("document.getElementById('pj-f-name').getAttribute('aria-invalid')") == "true"
    assert len([r for r in log.seen if r[:2] == ("POST", "/api/projects")]) == posts

    name = f"龙岗区浏览器测试学校{unique('x')[-8:]}"
    for selector, value in [
        ("#pj-f-name", name),
        ("#pj-f-type", "house_building"),
        ("#pj-f-owner", "education"),
        ("#pj-f-investment", "8000"),
        ("#pj-f-funding", "区财政"),
        ("#pj-f-start", TARGET),
    ]:
        set_value(page, selector, value)
    # The code's example names the district's region code (from /api/district).
    assert page.js("document.getElementById('pj-f-code').placeholder") == "YYYY-440307-DD-TT-RRRRRC"
    # A given code with a wrong check character: the server's own message, on the form and the field.
    body = "2025440307470100001"
    wrong = (int(mod_11_10(body)) + 1) % 10
    set_value(page, "#pj-f-code", f"2025-440307-47-01-00001{wrong}")
    click(page, "#pj-f-submit")
    page.wait_for("document.getElementById('pj-form-error').textContent.includes('校验位')")
    assert text(page, "#pj-form-error") == f"项目代码“2025-440307-47-01-00001{wrong}”校验位错误。"
    assert page.js("document.getElementById('pj-f-code').getAttribute('aria-invalid')") == "true"

    set_value(page, "#pj-f-code", "")
    click(page, "#pj-f-submit")
    notice = page.wait_for("document.querySelector('#pj-notice.pj-ok')?.textContent")
    m = re.fullmatch(rf"已登记项目“{name}”，项目代码 (\S+)。", notice)
    assert m, notice
    code = m.group(1)
    # GB/T 40058: year, 龙岗区, industry 47 and type 01 (审批) of the house-building template, serial, check.
    assert re.fullmatch(r"\d{4}-440307-47-01-\d{6}", code), code
    digits = code.replace("-", "")
    assert code[-1] == mod_11_10(digits[:-1])
    assert not page.js("document.getElementById('pj-form')")

    row = f"#pj-projects tr[data-code='{code}']"
    assert page.js(f'document.querySelector("{row}").className') == "pj-new-row"
    assert row_cells(page, row) == {
        "code": code,
        "name": name,
        "project_type": "房屋建筑类",
        "owner": "龙岗区教育局",
        "unit": "龙岗区建筑工务署",
        "status": "储备 · 储备库",
        "investment_wan": "8,000 万元",
        "planned_start": TARGET,
    }
    save_screenshot(page, "projects")  # the README's picture of the project library
    # The text search and the status filter narrow the list.
    set_value(page, "#pj-search", name[-8:])
    assert page.js("document.querySelectorAll('#pj-projects tbody tr').length") == 1
    set_value(page, "#pj-filter-status", "construction")
    assert page.js(f'document.querySelector("{row}")') is None
    assert text(page, "#pj-count") == "没有符合条件的项目。"
    assert_offline(page, url)


def test_the_plan_is_back_scheduled_on_the_working_day_calendar(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    project = new_project(demo, unit, f"倒排计划测试{unique('p')[-8:]}")
    open_projects(page, url, unit)
    open_project(page, project["code"])
    assert text(page, "#pj-project-code") == project["code"]
    assert text(page, "#pj-template") == "将按“房屋建筑类”模板生成（14 个事项，按投资额合并或取消部分事项）。"
    click(page, "#pj-plan-create")
    page.wait_for("document.getElementById('pj-plan')")
    assert text(page, "#pj-plan-notice") == "已生成审批计划，共 14 个事项。"

    rows = plan_rows(page)
    expected = back_schedule(TARGET)
    assert {r["code"] for r in rows} == set(expected) | set(COMPLETION)
    for r in rows:
        if r["code"] in COMPLETION:
            assert (r["latest_start"], r["latest_finish"]) == ("—", "—")
        else:
            assert (r["latest_start"], r["latest_finish"]) == expected[r["code"]], r
    # Stage order, and the planned dates rising within a stage.
    stages = ["立项用地规划许可", "工程建设许可", "施工许可", "竣工验收"]
    assert [stages.index(r["stage"]) for r in rows] == sorted(stages.index(r["stage"]) for r in rows)
    assert rows[0]["code"] == "project_proposal" and rows[-1]["code"] in COMPLETION
    by_code = {r["code"]: r for r in rows}
    assert by_code["construction_permit"]["latest_finish"] == "2026-10-10"
    assert by_code["land_pre_review"]["department"] == "规划和自然资源局龙岗管理局"
    assert by_code["energy_review"]["promised"] == "10 个工作日"
    assert by_code["energy_review"]["status"] == "未申报"
    assert "并联：可研前评估" in by_code["energy_review"]["marks"]
    assert "关键路径" in by_code["construction_permit"]["marks"]
    assert "关键路径" not in by_code["soil_conservation"]["marks"]

    assert not page.js("document.getElementById('pj-plan-provisional')")  # 2026 is official
    start, slack = forecast(AS_OF, TARGET)
    assert text(page, "#pj-plan-summary") == (
        f"目标开工 {TARGET}；按 {AS_OF} 的进度预计 {start} 可开工，富余 {slack} 个工作日。"
    )
    bar = "#pj-gantt .gantt-row[data-item-code=construction_permit] .gantt-bar.planned"
    assert page.js(f"(b => [b.dataset.from, b.dataset.to])(document.querySelector('{bar}'))") == [
        "2026-09-24",
        "2026-10-10",
    ]
    # Past the first item's latest start the plan cannot be kept: the page says by how much.
    set_value(page, "#pj-as-of", "2026-06-01")
    page.wait_for("document.querySelector('#pj-plan-summary.pj-infeasible')")
    late = {r["code"]: r for r in plan_rows(page)}
    assert "滞后于计划" in late["project_proposal"]["marks"] and "late" in late["project_proposal"]["cls"]
    assert_offline(page, url)


def test_a_plan_resting_on_provisional_2027_says_so_in_both_languages(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    project = new_project(demo, unit, f"暂定日历测试{unique('p')[-8:]}", plan=True, start=TARGET_2027)
    open_projects(page, url, unit)
    open_project(page, project["code"])
    page.wait_for("document.getElementById('pj-plan')")
    assert text(page, "#pj-plan-provisional") == (
        "2027 年工作日历为暂定：仅含法定节假日，未含调休及补休安排，以国务院办公厅公布的放假安排为准。"
    )
    assert page.js("document.getElementById('pj-plan-provisional').getAttribute('role')") == "note"
    rows = {r["code"]: r for r in plan_rows(page)}
    expected = back_schedule(TARGET_2027)
    for code, (latest_start, latest_finish) in expected.items():
        assert (rows[code]["latest_start"], rows[code]["latest_finish"]) == (latest_start, latest_finish)
    assert expected["construction_permit"] == ("2027-01-27", "2027-02-04")

    page.js("document.getElementById('lang').click()")
    assert text(page, "#pj-plan-provisional") == (
        "The working-day calendar of 2027 is provisional: statutory public holidays only, without the"
        " make-up working days (调休) and substitute days off; the State Council's published arrangement"
        " prevails."
    )
    page.js("document.getElementById('lang').click()")

    # Moved to a start inside 2026, the plan rests on official years only: the warning goes.
    set_value(page, "#pj-target", TARGET)
    page.wait_for("!document.getElementById('pj-plan-provisional')")
    page.wait_for(
        "document.querySelector('#pj-plan tr[data-item-code=construction_permit] td[data-col=latest_finish]')"
        "?.textContent === '2026-10-10'"
    )
    assert_offline(page, url)


def test_items_are_moved_with_their_version_and_history_in_both_languages(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    drc, other_drc = demo.account(Role.REVIEWER, "drc"), demo.account(Role.REVIEWER, "drc")
    project = new_project(demo, unit, f"事项办理测试{unique('p')[-8:]}", plan=True)

    open_projects(page, url, unit)
    open_project(page, project["code"])
    # A submission before its prerequisite is done: the API's reason, in Chinese; nothing changes.
    open_item(page, "land_pre_review")
    assert action_buttons(page) == ["submit"]
    take(page, "submit")
    assert text(page, "#pj-item-notice") == "前置事项尚未办结：项目建议书批复。"
    assert text(page, "#pj-item-status") == "未申报"

    open_item(page, "project_proposal")
    take(page, "submit")
    assert text(page, "#pj-item-notice") == "已办理“申报”，事项状态：已申报。"
    assert text(page, "#pj-item-status") == "已申报"
    assert row_cells(page, "#pj-plan tr[data-item-code=project_proposal]")["status"] == "已申报"
    assert action_buttons(page) == []
    assert text(page, "#pj-item-actions") == "您现在没有可办理的操作。"
    events = page.js("[...document.querySelectorAll('#pj-events tbody tr')].map(r => r.textContent)")
    assert (
        len(events) == 1
        and "申报" in events[0]
        and "未申报 → 已申报" in events[0]
        and unit.username in events[0]
    )

    # The department's reviewer: the item read at version 2, then someone else accepts it meanwhile.
    page.js("sessionStorage.clear()")
    open_projects(page, url, drc)
    open_project(page, project["code"])
    open_item(page, "project_proposal")
    assert action_buttons(page) == ["accept", "reject", "cancel", "merge"]
    r = demo.client.post(
        f"/api/items/{project['items']['project_proposal']['id']}/transitions",
        json={"action": "accept"},
        headers={**other_drc.headers, "If-Match": '"2"'},
    )
    assert r.status_code == 200, r.text
    take(page, "accept")
    stale = "数据已被他人修改（当前版本 3，提交的版本 2），请刷新后重试。"
    assert text(page, "#pj-item-notice") == stale
    # The page shows the current state after the refusal, and goes on working.
    page.wait_for("document.getElementById('pj-item-status').textContent === '已受理'")
    assert action_buttons(page) == ["start_review", "return_for_correction", "reject"]

    # English: the same refusal and the page's own words re-rendered.
    page.js("document.getElementById('lang').click()")
    assert text(page, "#pj-item-notice") == "Stale update: the current version is 3, you sent 2."
    assert text(page, "#pj-tab-library") == "Project library"
    assert text(page, "#pj-item-status") == "Accepted"
    assert page.js("document.querySelector('#pj-item button[data-action=start_review]').textContent") == (
        "Start review"
    )
    take(page, "start_review")
    assert text(page, "#pj-item-notice") == "“Start review” done; the item is now: Under review."
    page.js("document.getElementById('lang').click()")
    assert text(page, "#pj-tab-library") == "项目库"

    take(page, "return_for_correction")  # a return needs the reason
    assert text(page, "#pj-item-notice") == "退回补正或不予批准须填写办理说明。"
    set_value(page, "#pj-item-note", "材料齐全，同意")
    take(page, "approve")
    assert text(page, "#pj-item-notice") == "已办理“批准”，事项状态：已批准。"
    assert text(page, "#pj-item-status") == "已批准"
    history = page.js(
        "[...document.querySelectorAll('#pj-events tbody tr')].map(r => [r.dataset.action, r.dataset.to,"
        " r.querySelector('[data-col=actor]').textContent, r.querySelector('[data-col=note]').textContent])"
    )
    assert history == [
        ["submit", "submitted", unit.username, "—"],
        ["accept", "accepted", other_drc.username, "—"],
        ["start_review", "under_review", drc.username, "—"],
        ["approve", "approved", drc.username, "材料齐全，同意"],
    ]
    assert_offline(page, url)


def test_the_plan_names_items_and_handlers_never_their_codes_or_logins(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    project = new_project(demo, unit, f"办理人测试{unique('p')[-8:]}", plan=True)
    login, password = unique("clerk"), "Passw0rd-" + unique("x")[-6:]
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        users.create_user(
            conn,
            Actor.system("tests"),
            users.UserCreate(
                username=login,
                display_name="李办事",
                role=Role.PROJECT_UNIT,
                org_code="works",
                password=password,
            ),
        )
    clerk = Account(0, login, password, 0, sign_in(demo.client, login, password))
    item = project["items"]["project_proposal"]
    r = demo.client.post(
        f"/api/items/{item['id']}/transitions",
        json={"action": "submit"},
        headers={**clerk.headers, "If-Match": f'"{item["version"]}"'},
    )
    assert r.status_code == 200, r.text
    open_projects(page, url, unit)
    open_project(page, project["code"])
    for name in ("项目建议书批复", "Project proposal approval"):
        cell = row_cells(page, "#pj-plan tr[data-item-code=project_proposal]")["name"]
        assert cell == name  # the name alone: no “project_proposal” after it
        open_item(page, "project_proposal")
        assert "project_proposal" not in text(page, "#pj-item h4")
        actors = page.js(
            "[...document.querySelectorAll('#pj-events td[data-col=actor]')].map(td => td.textContent)"
        )
        assert actors == ["李办事"]  # the person, not the login name
        assert login not in text(page, "#pj-item")
        if name == "项目建议书批复":
            page.js("document.getElementById('lang').click()")
            page.wait_for("document.documentElement.lang === 'en'")
    page.js("document.getElementById('lang').click()")


def test_a_role_without_items_transition_sees_no_buttons(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    project = new_project(demo, unit, f"只读角色测试{unique('p')[-8:]}", plan=True)
    planner = demo.account(Role.PLANNER)
    assert (
        "items:transition"
        not in demo.client.get("/api/auth/me", headers=planner.headers).json()["permissions"]
    )
    open_projects(page, url, planner)
    assert not page.js("document.getElementById('pj-new')")  # no projects:manage either
    open_project(page, project["code"])
    assert not page.js("document.getElementById('pj-plan-create')")
    open_item(page, "project_proposal")
    assert page.js("document.querySelectorAll('#pj-item button[data-action]').length") == 0
    assert not page.js("document.getElementById('pj-item-actions')")
    assert text(page, "#pj-item-status") == "未申报"


def log_event(conn: psycopg.Connection[Any], item_id: int, action: str, status: str, day: str) -> None:
    """An event at noon (district time) of ``day``, and the item's status to match."""
    conn.execute(
        "INSERT INTO approval.item_event (item_id, action, from_status, to_status, actor_name, at)"
        " VALUES (%s, %s, 'x', %s, 'tests', (%s || ' 12:00')::timestamp AT TIME ZONE 'Asia/Shanghai')",
        (item_id, action, status, day),
    )
    conn.execute(
        "UPDATE approval.item SET status = %s, version = version + 1 WHERE id = %s", (status, item_id)
    )


def test_warnings_and_kpis_from_a_hand_dated_event_log(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv, unit_org: str
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, unit_org)
    done = new_project(demo, unit, "已办结项目", plan=True)
    running = new_project(demo, unit, "超时项目", plan=True)
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        item = done["items"]["project_proposal"]["id"]
        log_event(conn, item, "submit", "submitted", "2026-03-02")
        log_event(conn, item, "accept", "accepted", "2026-03-02")
        log_event(conn, item, "start_review", "under_review", "2026-03-03")
        log_event(conn, item, "approve", "approved", "2026-03-09")  # 5 working days of 10: early
        item = running["items"]["project_proposal"]["id"]
        log_event(conn, item, "submit", "submitted", "2026-03-02")
        log_event(conn, item, "accept", "accepted", "2026-03-02")  # running since: 14 working days by 3-20

    open_projects(page, url, unit)
    set_value(page, "#pj-as-of", "2026-03-20")
    click(page, "#pj-tab-supervision")
    page.wait_for("document.getElementById('pj-warnings') && document.getElementById('pj-kpis')")
    warnings = page.js(
        "[...document.querySelectorAll('#pj-warnings tbody tr')]"
        ".map(r => Object.assign({level: r.dataset.level},"
        " Object.fromEntries([...r.cells].map(td => [td.dataset.col, td.textContent]))))"
    )
    assert [(w["level"], w["kind"], w["project"], w["clock"], w["message"]) for w in warnings] == [
        (
            "红色预警",
            "超过承诺时限",
            f"{running['code']} 超时项目",
            "14/10（140%）",
            "项目建议书批复已超过承诺时限（已用 14/10 个工作日）。",
        )
    ]
    kpi = row_cells(page, "#pj-kpis tr[data-key=drc]")
    assert kpi == {
        "key": "龙岗区发展和改革局",
        "items": "2",
        "finished": "1",
        "early": "1",
        "early_rate": "100.0%",
        "approved": "1",
        "one_time": "1",
        "one_time_rate": "100.0%",
        "mean": "5.0",
        "overdue": "1",
    }
    # Nine working days in (3-2, 3-13]: 90 % of the limit, a yellow warning; the plan row shows it.
    set_value(page, "#pj-as-of", "2026-03-13")
    page.wait_for("document.querySelector('#pj-warnings tbody tr')?.dataset.level === 'yellow'")
    assert (
        text(page, "#pj-warnings tbody tr td[data-col=message]")
        == "项目建议书批复已用承诺时限的 90%（9/10 个工作日）。"
    )
    # 21 working days by 3-31: past the 20 statutory days as well, a second red warning.
    set_value(page, "#pj-as-of", "2026-03-31")
    page.wait_for("document.querySelectorAll('#pj-warnings tbody tr[data-level=red]').length === 2")
    kinds = "[...document.querySelectorAll('#pj-warnings tbody td[data-col=kind]')].map(td => td.textContent)"
    assert page.js(kinds) == ["超过承诺时限", "超过法定时限"]
    messages = (
        "[...document.querySelectorAll('#pj-warnings tbody td[data-col=message]')].map(td => td.textContent)"
    )
    assert page.js(messages)[1] == "项目建议书批复已超过法定办理时限（已用 21/20 个工作日）。"
    click(page, "#pj-tab-library")
    open_project(page, running["code"], as_of="2026-03-20")
    page.wait_for("document.querySelector('#pj-plan tr[data-item-code=project_proposal].warn-red')")
    assert "红色预警" in row_cells(page, "#pj-plan tr[data-item-code=project_proposal]")["marks"]
    assert row_cells(page, "#pj-plan tr[data-item-code=project_proposal]")["clock"] == "14/10（2026-03-16）"


def test_a_narrow_screen_scrolls_the_tables_not_the_page(
    server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    project = new_project(demo, unit, f"窄屏测试{unique('p')[-8:]}", plan=True)
    with Page(width=400, height=780) as page:
        open_projects(page, url, unit)
        scroll = "(s => [s.scrollWidth, s.clientWidth])(document.querySelector('#pj-list .pj-scroll'))"
        inner, outer = page.js(scroll)
        assert inner > outer  # the library table scrolls sideways inside its box
        assert page.js("document.documentElement.scrollWidth") <= 400
        open_project(page, project["code"])
        assert page.js("document.documentElement.scrollWidth") <= 400
        assert page.js(
            "(b => b.scrollWidth > b.clientWidth)(document.querySelector('#pj-gantt').parentElement)"
        )
        # The edit form and the pre-evaluation chooser fit too.
        click(page, "#pj-edit")
        page.wait_for("document.getElementById('pj-edit-form') && document.getElementById('pj-link')")
        assert page.js("document.documentElement.scrollWidth") <= 400


def test_a_demand_is_raised_and_rejected_with_a_reason(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    resident = demo.account(Role.VIEWER)  # anyone may raise a need and follow it
    title = f"社区缺少公园{unique('d')[-8:]}"
    open_projects(page, url, resident)
    click(page, "#pj-tab-demands")
    page.wait_for("document.getElementById('pj-demand-form')")
    click(page, "#pj-d-submit")
    assert (
        page.wait_for("document.getElementById('pj-demand-notice').textContent") == "请填写需求标题和描述。"
    )
    set_value(page, "#pj-d-title", title)
    set_value(page, "#pj-d-description", "希望在坂田街道增加一处社区公园。")
    set_value(page, "#pj-d-lon", "114.06")
    set_value(page, "#pj-d-lat", "22.65")
    click(page, "#pj-d-submit")
    notice = page.wait_for("document.querySelector('#pj-demand-notice.pj-ok')?.textContent")
    demand_id = re.fullmatch(r"已提交需求 #(\d+)。", notice).group(1)  # type: ignore[union-attr]
    row = f"#pj-demand-list tr[data-id='{demand_id}']"
    assert row_cells(page, row)["status"] == "待处理" and "triage" not in row_cells(page, row)

    page.js("sessionStorage.clear()")
    open_projects(page, url, demo.account(Role.PLANNER))
    click(page, "#pj-tab-demands")
    page.wait_for(f'document.querySelector("{row} select")')
    set_value(page, f"{row} select", "reject")
    click(page, f"{row} td[data-col=triage] button")
    assert page.wait_for("document.getElementById('pj-demand-notice').textContent") == "驳回须说明理由。"
    set_value(page, f"{row} td[data-col=triage] input", "该处已规划社区公园")
    click(page, f"{row} td[data-col=triage] button")
    assert page.wait_for("document.querySelector('#pj-demand-notice.pj-ok')?.textContent") == (
        f"需求 #{demand_id}：已驳回。"
    )
    assert row_cells(page, row)["status"] == "已驳回"
    assert row_cells(page, row)["outcome"] == "该处已规划社区公园"
    assert_offline(page, url)


# --- English item names, editing a project, items a pre-evaluation triggers, footprints ---------------------


def item_name_cell(page: Page, code: str) -> str:
    return text(page, f"#pj-plan tr[data-item-code={code}] td[data-col=name] button")


def test_item_names_follow_the_chosen_language(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    project = new_project(demo, unit, f"事项名称测试{unique('p')[-8:]}", plan=True)
    open_projects(page, url, unit)
    open_project(page, project["code"])
    page.wait_for("document.getElementById('pj-plan')")
    assert item_name_cell(page, "construction_permit") == "施工许可证"
    assert item_name_cell(page, "land_pre_review") == "用地预审与选址意见书"
    open_item(page, "construction_permit")
    page.js("document.getElementById('lang').click()")
    assert item_name_cell(page, "construction_permit") == "Construction permit"
    assert item_name_cell(page, "land_pre_review") == "Land-use pre-review and site selection opinion"
    assert item_name_cell(page, "project_proposal") == "Project proposal approval"
    assert text(page, "#pj-item h4 span") == "Construction permit "
    label = "#pj-gantt .gantt-row[data-item-code=construction_permit] .gantt-label"
    assert text(page, label) == "Construction permit"
    page.js("document.getElementById('lang').click()")
    assert item_name_cell(page, "construction_permit") == "施工许可证" and text(page, label) == "施工许可证"
    assert_offline(page, url)


def record_patches(page: Page) -> None:
    """Keep the body of every PATCH the page sends (window.patches)."""
    page.js(
        "(() => { window.patches = []; const f = window.fetch;"
        " window.fetch = (u, o) => { if (o?.method === 'PATCH') window.patches.push(JSON.parse(o.body));"
        " return f(u, o); }; return true; })()"
    )


def test_a_project_is_edited_and_a_stale_edit_writes_nothing(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    unit = demo.account(Role.PROJECT_UNIT, "works")
    name = f"项目修改测试{unique('p')[-8:]}"
    project = new_project(demo, unit, name)
    open_projects(page, url, unit)
    record_patches(page)
    open_project(page, project["code"])
    click(page, "#pj-edit")
    page.wait_for("document.getElementById('pj-edit-form')")
    # Only legal next statuses are offered.
    assert page.js("[...document.querySelectorAll('#pj-e-status option')].map(o => o.value)") == [
        "reserve",
        "preparation",
        "stopped",
    ]
    set_value(page, "#pj-e-status", "preparation")
    set_value(page, "#pj-e-tier", "preparation")
    set_value(page, "#pj-e-investment", "9000")
    set_value(page, "#pj-e-start", "2026-11-02")
    click(page, "#pj-e-submit")
    notice = page.wait_for("document.querySelector('#pj-edit-notice.pj-ok')?.textContent")
    assert notice == "已保存项目修改：状态、库别、总投资、计划开工。"
    assert page.js("window.patches") == [
        {
            "status": "preparation",
            "tier": "preparation",
            "investment_wan": "9000",
            "planned_start": "2026-11-02",
        }
    ]
    assert text(page, "#pj-fact-status") == "前期 · 前期库"
    assert text(page, "#pj-fact-investment") == "9,000 万元"
    assert text(page, "#pj-fact-start") == "2026-11-02"
    current = demo.client.get(f"/api/projects/{project['id']}", headers=unit.headers).json()
    assert (current["version"], current["status"], current["investment_wan"]) == (2, "preparation", "9000.00")

    # Someone else renames the project while the form is open: the page's edit is refused, nothing written.
    click(page, "#pj-edit")
    set_value(page, "#pj-e-investment", "9500")
    r = demo.client.patch(
        f"/api/projects/{project['id']}",
        json={"name": f"{name}（已更名）"},
        headers={**unit.headers, "If-Match": '"2"'},
    )
    assert r.status_code == 200, r.text
    click(page, "#pj-e-submit")
    stale = "数据已被他人修改（当前版本 3，提交的版本 2），请刷新后重试。"
    assert page.wait_for("document.getElementById('pj-edit-error').textContent") == stale
    current = demo.client.get(f"/api/projects/{project['id']}", headers=unit.headers).json()
    assert (current["version"], current["investment_wan"]) == (3, "9000.00")
    page.js("document.getElementById('lang').click()")
    assert text(page, "#pj-edit-error") == "Stale update: the current version is 3, you sent 2."
    assert text(page, "#pj-e-reload") == "Reload the current data"
    page.js("document.getElementById('lang').click()")
    # Reloading shows the other person's change; the edit then goes through.
    click(page, "#pj-e-reload")
    page.wait_for(f"document.getElementById('pj-e-name')?.value === {json.dumps(name + '（已更名）')}")
    assert text(page, "#pj-project-name") == f"{name}（已更名）"
    set_value(page, "#pj-e-investment", "9500")
    click(page, "#pj-e-submit")
    assert (
        page.wait_for("document.querySelector('#pj-edit-notice.pj-ok')?.textContent")
        == "已保存项目修改：总投资。"
    )
    assert page.js("window.patches")[-1] == {"investment_wan": "9500"}
    # Back in the library, the row shows the changes.
    click(page, "#pj-back")
    row = f"#pj-projects tr[data-code='{project['code']}']"
    page.wait_for(f'document.querySelector("{row}")')
    cells = row_cells(page, row)
    assert (cells["name"], cells["status"], cells["investment_wan"], cells["planned_start"]) == (
        f"{name}（已更名）",
        "前期 · 前期库",
        "9,500 万元",
        "2026-11-02",
    )
    assert_offline(page, url)


@pytest.fixture(scope="module")
def world_server(preeval_world: DemoEnv) -> Iterator[str]:
    """The hand-made pre-evaluation world (grade Ⅲ forest at [200,300]×[0,100]) served by uvicorn."""
    with live_server(create_app(preeval_world.settings)) as url:
        yield url


def test_a_stored_pre_evaluation_adds_the_forest_item_once_with_its_reason(
    page: Page, world_server: str, preeval_world: DemoEnv
) -> None:
    from tests.preeval_world import box, geojson

    url, env = world_server, preeval_world
    unit = env.account(Role.PROJECT_UNIT, "works")
    project = new_project(env, unit, f"林地增补测试{unique('p')[-8:]}", plan=True)
    assert "forest_use_permit" not in project["items"]
    # 5000 m² of grade Ⅲ forest land (小班 B): conditional, needs 使用林地审核同意书 before 用地预审.
    r = env.client.post(
        "/api/pre-evaluations",
        json={"footprint": geojson(box(250, 0, 350, 100)), "project_type": "school"},
        headers=unit.headers,
    )
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    # Footprint history: two versions recorded in EPSG:4547, 10,000 m² then 5,000 m².
    for geom, note in ((box(200, 0, 300, 100), "初版"), (box(250, 0, 350, 50), "调整")):
        r = env.client.post(
            f"/api/projects/{project['id']}/footprints",
            json={"footprint": shapely.geometry.mapping(geom), "crs": "EPSG:4547", "note": note},
            headers=unit.headers,
        )
        assert r.status_code == 201, r.text

    open_projects(page, url, unit)
    open_project(page, project["code"])
    page.wait_for("document.getElementById('pj-link-report')")
    assert report_id in [
        int(v)
        for v in page.js("[...document.querySelectorAll('#pj-link-report option')].map(o => o.value)")
        if v
    ]
    set_value(page, "#pj-link-report", str(report_id))
    click(page, "#pj-link-submit")
    page.wait_for("document.getElementById('pj-link-items')")
    assert text(page, "#pj-link-notice") == f"已按预评价报告 #{report_id} 增补或标注 1 个审批事项："
    reason = (
        f"预评价#{report_id} 林地：占用Ⅲ级保护林地 5,000 m²（小班 B），需在用地预审前取得使用林地审核同意书"
    )
    assert (
        text(page, "#pj-link-items li[data-item-code=forest_use_permit]") == f"使用林地审核同意书 — {reason}"
    )
    page.wait_for("document.querySelector('#pj-plan tr[data-item-code=forest_use_permit]')")
    marks = row_cells(page, "#pj-plan tr[data-item-code=forest_use_permit]")["marks"]
    assert "预评价增补" in marks
    open_item(page, "forest_use_permit")
    assert text(page, "#pj-item-reason") == reason
    page.js("document.getElementById('lang').click()")
    assert text(page, "#pj-link-items li[data-item-code=forest_use_permit]") == (
        f"Forest-land use approval — Pre-evaluation #{report_id} Forest land: Occupies 5,000 m² of protected"
        " forest land (Grade III); forest-land use approval before land pre-review"
    )
    page.js("document.getElementById('lang').click()")

    # The same report again: nothing is added twice, nothing changes.
    versions = {
        i["id"]: i["version"]
        for i in env.client.get(f"/api/items?project_id={project['id']}", headers=unit.headers).json()
    }
    set_value(page, "#pj-link-report", str(report_id))
    click(page, "#pj-link-submit")
    page.wait_for("document.getElementById('pj-link-notice')?.textContent.includes('未作改动')")
    assert text(page, "#pj-link-notice") == f"预评价报告 #{report_id} 所需的审批事项均已在计划中，未作改动。"
    assert not page.js("document.getElementById('pj-link-items')")
    assert page.js("document.querySelectorAll('#pj-plan tr[data-item-code=forest_use_permit]').length") == 1
    items = env.client.get(f"/api/items?project_id={project['id']}", headers=unit.headers).json()
    assert {i["id"]: i["version"] for i in items} == versions
    assert [i["item_code"] for i in items].count("forest_use_permit") == 1

    footprints = page.js(
        "[...document.querySelectorAll('#pj-footprints tbody tr')].map(r => [r.dataset.current,"
        " r.querySelector('[data-col=area]').textContent, r.querySelector('[data-col=note]').textContent])"
    )
    assert footprints == [["true", "5,000 m²", "调整"], ["false", "10,000 m²", "初版"]]
    assert_offline(page, url)
