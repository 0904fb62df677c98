"""用户与组织 and 工作日历 in headless Chromium, in Chinese and English, on a database of their own.

Users: an account is created through the page (its one-time password shown once, copied, and good for a
sign-in), found by search, given another role and organisation, disabled and reset; an organisation is
added and renamed; API errors show in the chosen language; roles and organisations appear by name, never by
code. Calendar: the official 2026 arrangement is unloaded (2026 falls back to provisional), then loaded from
a file through the page; the page shows it official with the day counts of the file, counted here by hand.
A bad file is refused naming its line. A planner and a viewer see neither page, and the API refuses them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app import migrate
from app.auth.policy import ROLE_LABELS, Role
from app.calendar import store
from app.main import create_app
from app.orgs import service as orgs
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.store.versions import register_layers
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import open_map, text
from tests.browser.pixels import save_screenshot
from tests.browser.scan import scan
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import Account, signed_in_account, unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
USERS = "document.getElementById('users-page')"
CALENDAR = "document.getElementById('calendar-page')"
OFFICIAL_FILE = Path(__file__).resolve().parents[2] / "app" / "calendar" / "data" / "cn_holidays.json"
YEAR = 2026
# The new-user form's role choices, value → text (the empty "choose a role" left out).
ROLE_OPTIONS = (
    "[...document.querySelectorAll('#ad-new-role option')].filter(o => o.value)"
    ".map(o => [o.value, o.textContent])"
)
# Software named in the calendars' sources as its makers spell it (data, not codes of this service).
SOURCE_NAMES = frozenset({"chinesecalendar", "lunardate", "lunar_python", "sxtwl", "ephem"})


@dataclass
class World:
    url: str
    client: TestClient
    admin: Account
    planner: Account
    viewer: Account


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A migrated database (the shipped calendars loaded) with 2026 back to provisional, served live."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_webadmin")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            assert store.delete_year(conn, Actor.system("tests"), YEAR) is not None  # falls back: provisional
        with (
            TestClient(create_app(settings)) as client,
            psycopg.connect(settings.owner_dsn, autocommit=True) as conn,
        ):
            admin = signed_in_account(conn, client, Role.SYSTEM_ADMIN, "gov-data")
            planner = signed_in_account(conn, client, Role.PLANNER, "pnr")
            viewer = signed_in_account(conn, client, Role.VIEWER, "pnr")
            with live_server(create_app(settings)) as url:
                yield World(url, client, admin, planner, viewer)
    finally:
        drop_database(name)


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=1000) as p:
        yield p


def js_str(value: str) -> str:
    return json.dumps(value)


def set_value(page: Page, selector: str, value: str, event: str = "input") -> None:
    """Set a form control's value as a user would, firing its event."""
    page.js(
        f"(e => {{ e.value = {js_str(value)};"
        f" e.dispatchEvent(new Event({js_str(event)}, {{ bubbles: true }})); }})"
        f"(document.querySelector({js_str(selector)}))"
    )


def click(page: Page, selector: str) -> None:
    page.wait_for(f"document.querySelector({js_str(selector)})")
    page.js(f"document.querySelector({js_str(selector)}).click()")


def submit(page: Page, selector: str) -> None:
    page.js(f"document.querySelector({js_str(selector)}).requestSubmit()")


def switch_language(page: Page, lang: str) -> None:
    if page.js("document.documentElement.lang") != ("en" if lang == "en" else "zh-CN"):
        page.js("document.getElementById('lang').click()")
    page.wait_for(f"document.documentElement.lang === {js_str('en' if lang == 'en' else 'zh-CN')}")


def locale(lang: str) -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "web" / "public" / "i18n" / f"{lang}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def open_users(page: Page, world: World, lang: str) -> dict[str, Any]:
    open_map(page, world.url, world.admin)
    switch_language(page, lang)
    click(page, "#view-users")
    page.wait_for(f"{USERS}.dataset.ready === 'true' && document.querySelector('#ad-user-table')")
    return locale(lang)


def search_users(page: Page, q: str) -> dict[str, list[str]]:
    """Search as a user would; the table's rows by login name → cells."""
    page.js(f"{USERS}.dataset.searched = ''")  # a search of the same words earlier must not count
    set_value(page, "#ad-q", q)
    submit(page, "#ad-user-search")
    page.wait_for(f"{USERS}.dataset.searched?.startsWith({js_str(q + '|0|')})")
    rows = page.js(
        "[...document.querySelectorAll('#ad-user-table tbody tr')]"
        ".map(tr => [...tr.cells].slice(0, 6).map(c => c.textContent.trim()))"
    )
    return {row[0]: row[1:] for row in rows}


def choose(page: Page, selector: str, value: str) -> None:
    set_value(page, selector, value, "change")


def create_user(page: Page, username: str, name: str, role: Role, org: str) -> None:
    page.js("document.getElementById('ad-user-create').open = true")
    set_value(page, "#ad-new-username", username)
    set_value(page, "#ad-new-name", name)
    choose(page, "#ad-new-role", role.value)
    choose(page, "#ad-new-org", org)
    submit(page, "#ad-user-create-form")


def otp_shown(page: Page) -> str:
    page.wait_for("document.getElementById('ad-otp')?.textContent")
    return text(page, "#ad-otp")


def api_user(world: World, username: str) -> dict[str, Any]:
    r = world.client.get("/api/users", params={"q": username}, headers=world.admin.headers)
    [user] = [u for u in r.json() if u["username"] == username]
    return dict(user)


def test_the_users_page_creates_finds_changes_disables_and_resets_in_chinese(
    page: Page, world: World
) -> None:
    zh = open_users(page, world, "zh")
    # Roles are offered by name, from the server's one table.
    offered = page.js(ROLE_OPTIONS)
    assert dict(offered) == {role.value: ROLE_LABELS[role][0] for role in Role}

    username = unique("zhang")
    create_user(page, username, "张测试", Role.PLANNER, "pnr")
    first = otp_shown(page)
    assert text(page, "#ad-user-message") == zh["adCreated"].replace("{0}", username)
    # Copy puts the password on the clipboard.
    page.send(
        "Browser.grantPermissions",
        {"origin": world.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    click(page, "#ad-copy")
    page.wait_for(f"document.getElementById('ad-copy-status').textContent === {js_str(zh['adCopied'])}")
    assert page.js("navigator.clipboard.readText()") == first
    # The one-time password signs the new user in, who must change it first.
    r = world.client.post("/api/auth/token", data={"username": username, "password": first})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    # Closing the box forgets it: it is nowhere on the page any more.
    click(page, "#ad-secret-done")
    page.wait_for("!document.getElementById('ad-secret')")
    assert first not in page.js("document.body.innerHTML")

    found = search_users(page, username)
    assert list(found) == [username]
    assert found[username][:4] == ["张测试", "规划人员", "规划和自然资源局龙岗管理局", zh["adMustChange"]]
    assert text(page, "#ad-user-count").startswith("共 1 个用户")

    # Another role and organisation.
    click(page, f"#ad-user-table tr[data-user='{api_user(world, username)['id']}'] button")
    page.wait_for("document.getElementById('ad-user-edit')")
    choose(page, "#ad-edit-role", Role.REVIEWER.value)
    choose(page, "#ad-edit-org", "education")
    submit(page, "#ad-user-edit-form")
    page.wait_for(f"document.getElementById('ad-user-message')?.textContent === {js_str(zh['adSaved'])}")
    assert search_users(page, username)[username][1:3] == ["审批部门", "龙岗区教育局"]
    user = api_user(world, username)
    assert (user["role"], user["org_code"]) == ("reviewer", "education")

    # Disable: the account can no longer sign in; the state filter finds it.
    click(page, "#ad-toggle")
    page.wait_for(
        f"document.getElementById('ad-user-message')?.textContent === {js_str(zh['adDisabledNow'])}"
    )
    assert api_user(world, username)["disabled"] is True
    assert (
        world.client.post("/api/auth/token", data={"username": username, "password": first}).status_code
        != 200
    )
    choose(page, "#ad-filter-state", "true")
    assert search_users(page, username)[username][3] == "已停用"
    choose(page, "#ad-filter-state", "")

    # Reset (asked twice): a new one-time password, shown once, different from the first.
    click(page, "#ad-reset")
    page.wait_for(f"document.getElementById('ad-reset').textContent === {js_str(zh['adResetConfirm'])}")
    click(page, "#ad-reset")
    page.wait_for("document.getElementById('ad-otp') && document.getElementById('ad-otp').textContent !== ''")
    second = otp_shown(page)
    assert second != first
    click(page, "#ad-toggle")  # enable again
    page.wait_for(f"document.getElementById('ad-user-message')?.textContent === {js_str(zh['adEnabledNow'])}")
    r = world.client.post("/api/auth/token", data={"username": username, "password": second})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    assert (
        world.client.post("/api/auth/token", data={"username": username, "password": first}).status_code
        == 401
    )
    click(page, "#ad-secret-done")
    page.wait_for("!document.getElementById('ad-secret')")

    # An API error in the chosen language, following a switch: the login name is taken.
    create_user(page, username, "重名", Role.VIEWER, "pnr")
    taken = f"用户名“{username}”已存在。"
    page.wait_for(f"document.getElementById('ad-user-message')?.textContent === {js_str(taken)}")
    switch_language(page, "en")
    taken_en = f"Username '{username}' is taken."
    page.wait_for(f"document.getElementById('ad-user-message')?.textContent === {js_str(taken_en)}")
    switch_language(page, "zh")

    # An organisation: added, found by its name, renamed.
    code = unique("org")
    page.js("document.getElementById('ad-org-create').open = true")
    set_value(page, "#ad-org-new-code", code)
    set_value(page, "#ad-org-new-name", "测试街道办事处")
    set_value(page, "#ad-org-new-name-en", "Test Subdistrict")
    choose(page, "#ad-org-new-kind", "subdistrict")
    submit(page, "#ad-org-create-form")
    page.wait_for(f"document.querySelector('#ad-org-table tr[data-org={js_str(code)}]')")
    row = page.js(
        f"[...document.querySelector('#ad-org-table tr[data-org={js_str(code)}]').cells]"
        ".map(c => c.textContent)"
    )
    assert row[:4] == ["测试街道办事处", "Test Subdistrict", "街道", code]
    click(page, f"#ad-org-table tr[data-org={js_str(code)}] button")
    set_value(page, "#ad-org-edit-name", "测试街道（改名）")
    submit(page, "#ad-org-edit-form")
    page.wait_for("document.getElementById('ad-org-message')?.textContent.includes('测试街道（改名）')")
    listed = world.client.get("/api/orgs", params={"q": code}, headers=world.admin.headers).json()
    assert [(o["name_zh"], o["kind"]) for o in listed] == [("测试街道（改名）", "subdistrict")]
    # The new organisation is offered to accounts by its name.
    offered = page.js("[...document.querySelectorAll('#ad-filter-org option')].map(o => o.textContent)")
    assert "测试街道（改名）" in offered

    search_users(page, username)
    click(page, f"#ad-user-table tr[data-user='{api_user(world, username)['id']}'] button")
    page.wait_for("document.getElementById('ad-user-edit')")
    assert scan(page, "用户与组织", "zh") == []
    page.js("window.scrollTo(0, 0)")
    save_screenshot(page, "users")  # the README's picture of 用户与组织
    switch_language(page, "en")
    page.wait_for("document.querySelector('#ad-users h3')?.textContent === 'Users'")
    assert scan(page, "users and organisations", "en") == []


def test_the_users_page_in_english(page: Page, world: World) -> None:
    en = open_users(page, world, "en")
    offered = page.js(ROLE_OPTIONS)
    assert dict(offered) == {role.value: ROLE_LABELS[role][1] for role in Role}
    username = unique("li")
    create_user(page, username, "李英文", Role.COORDINATOR, "land-prep")
    otp = otp_shown(page)
    assert text(page, "#ad-user-message") == en["adCreated"].replace("{0}", username)
    assert (
        world.client.post("/api/auth/token", data={"username": username, "password": otp}).status_code == 200
    )
    found = search_users(page, username)
    assert found[username][:3] == ["李英文", "Demolition coordinator", "Land Preparation Bureau"]
    assert text(page, "#ad-user-count") == "1 users, showing 1–1"
    assert scan(page, "users and organisations", "en") == []
    # A search answer arriving while a new account is being typed leaves what was typed in place.
    set_value(page, "#ad-new-username", "half-typed")
    search_users(page, "li")
    assert page.js("document.getElementById('ad-new-username').value") == "half-typed"
    # A refused organisation in English: its code is taken (the message names the code typed).
    page.js("document.getElementById('ad-org-create').open = true")
    set_value(page, "#ad-org-new-code", "pnr")
    set_value(page, "#ad-org-new-name", "重复")
    submit(page, "#ad-org-create-form")
    page.wait_for(
        "document.getElementById('ad-org-message')?.textContent === \"Organisation code 'pnr' is taken.\""
    )


def count_days(document: dict[str, Any]) -> tuple[int, int, int]:
    """(working days, holidays, make-up days) of the year, counted here: Monday-Friday off the holidays, plus
    the make-up days."""
    off = {date.fromisoformat(d["date"]) for d in document["holidays"]}
    on = {date.fromisoformat(d["date"]) for d in document["makeup_working_days"]}
    day, working = date(YEAR, 1, 1), 0
    while day.year == YEAR:
        working += (day.weekday() < 5 and day not in off) or day in on
        day += timedelta(days=1)
    return working, len(off), len(on)


def calendar_facts(page: Page) -> dict[str, str]:
    return dict(
        page.js(
            "[...document.querySelectorAll('#cal-detail dl.facts dt')]"
            ".map(d => [d.textContent, d.nextElementSibling.textContent])"
        )
    )


def year_status(page: Page, year: int) -> str:
    return text(page, f"#cal-years tr[data-year='{year}'] td[data-col='status']")


def test_the_calendar_page_loads_a_year_from_a_file(page: Page, world: World, tmp_path: Path) -> None:
    official = json.loads(OFFICIAL_FILE.read_text(encoding="utf-8"))
    document = {"source": official["source"], **official["years"][str(YEAR)]}
    path = tmp_path / f"{YEAR}.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    working, holidays, makeup = count_days(document)
    assert (holidays, makeup) != (0, 0)

    open_map(page, world.url, world.admin)
    switch_language(page, "zh")
    click(page, "#view-calendar")
    page.wait_for(f"{CALENDAR}.dataset.ready === 'true' && document.querySelector('#cal-years tbody tr')")
    assert year_status(page, YEAR) == "暂定" and year_status(page, 2025) == "正式"
    click(page, f"#cal-years tr[data-year='{YEAR}'] button")
    page.wait_for(f"{CALENDAR}.dataset.year === '{YEAR}:provisional'")
    assert text(page, "#cal-note").startswith(f"{YEAR} 年工作日历为暂定")

    set_value(page, "#cal-upload-year", str(YEAR))
    page.set_files("#cal-upload-file", str(path))
    submit(page, "#cal-upload-form")
    page.wait_for(f"{CALENDAR}.dataset.year === '{YEAR}:official'")
    assert year_status(page, YEAR) == "正式"
    assert calendar_facts(page) | {"来源": ""} == {
        "工作日": f"{working} 天",
        "节假日": f"{holidays} 天",
        "调休上班日": f"{makeup} 天",
        "来源": "",
    }
    assert page.js("document.querySelectorAll('#cal-months .cal-off').length") == holidays
    assert page.js("document.querySelectorAll('#cal-months .cal-on').length") == makeup
    assert (
        text(page, "#cal-upload-message")
        == f"已加载 {YEAR} 年正式日历：节假日 {holidays} 天，调休上班日 {makeup} 天。"
    )
    assert not page.js("document.getElementById('cal-note')")
    save_screenshot(page, "calendar")  # the README's picture of 工作日历: a year just loaded from its file
    year = world.client.get(f"/api/calendar/years/{YEAR}", headers=world.viewer.headers).json()
    assert year["status"] == "official" and len(year["holidays"]) == holidays

    # A bad file for 2027: the line is named, in either language, and 2027 stays provisional.
    bad = dict(document, holidays=[*document["holidays"], {"date": "2027-13-01", "name": "坏日期"}])
    raw = json.dumps(bad, ensure_ascii=False, indent=1).replace(str(YEAR), "2027")
    line = next(n for n, t in enumerate(raw.split("\n"), start=1) if "2027-13-01" in t)
    bad_path = tmp_path / "2027.json"
    bad_path.write_text(raw, encoding="utf-8")
    set_value(page, "#cal-upload-year", "2027")
    page.set_files("#cal-upload-file", str(bad_path))
    submit(page, "#cal-upload-form")
    page.wait_for("document.getElementById('cal-upload-report')")
    assert f"第 {line} 行：日期“2027-13-01”无效" in text(page, "#cal-upload-report")
    assert scan(page, "工作日历", "zh", SOURCE_NAMES) == []
    switch_language(page, "en")
    page.wait_for(f"document.getElementById('cal-upload-report')?.textContent.includes('Line {line}:')")
    assert year_status(page, YEAR) == "Official" and year_status(page, 2027) == "Provisional"
    assert calendar_facts(page)["Working days"] == f"{working} days"
    assert scan(page, "working calendar", "en", SOURCE_NAMES) == []
    r = world.client.get("/api/calendar/years/2027", headers=world.viewer.headers)
    assert r.json()["status"] == "provisional"


@pytest.mark.parametrize("who", ["planner", "viewer"])
def test_others_see_neither_page_and_the_api_refuses_them(page: Page, world: World, who: str) -> None:
    account: Account = getattr(world, who)
    open_map(page, world.url, account)
    for view in ("users", "calendar"):
        assert page.js(f"document.getElementById('view-{view}').hidden") is True
        assert page.js(f"document.getElementById('{view}-page').hidden") is True
    h = account.headers
    body = {"username": unique("x"), "role": "viewer", "org_code": "pnr"}
    assert world.client.post("/api/users", json=body, headers=h).status_code == 403
    assert (
        world.client.patch("/api/orgs/1", json={"version": 1, "name_zh": "越权"}, headers=h).status_code
        == 403
    )
    assert (
        world.client.post(
            "/api/orgs", json={"code": unique("o"), "name_zh": "越权", "kind": "other"}, headers=h
        ).status_code
        == 403
    )
    files = {"file": ("y.json", b'{"holidays": []}')}
    assert world.client.post("/api/calendar/years/2027/file", files=files, headers=h).status_code == 403
    assert world.client.post(f"/api/users/{world.admin.id}/reset-password", headers=h).status_code == 403
    searched = world.client.get("/api/users", headers=h)
    assert searched.status_code == (403 if who == "viewer" else 200)
    if who == "planner":  # a planner reads only its own organisation's accounts
        assert {u["org_code"] for u in searched.json()} == {"pnr"}
