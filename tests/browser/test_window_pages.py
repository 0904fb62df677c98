"""The one window's pages in headless Chromium against the real app: a unit opens an application for the
first stage of its project and fills its checklist (one file uploaded, one picked from its library), the
综合窗口 accepts the package and shows the receipt, a reviewer records an opinion and sends a correction
request from 我的待办, the window sends the one letter listing both departments' points, the unit sees the
letter, replaces a material and resubmits. Both languages, no codes or "null" where people read, and a
390 px screen without horizontal overflow.

Known answers come from the template (the stage's items, departments and promised days, written out here)
and from what the test itself typed; the server's figures are checked against each other (the clock a
reviewer reads is the one the application shows)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.main import create_app
from app.orgs import service as orgs
from app.settings import Settings
from layers.audit import Actor
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import sign_in, text
from tests.browser.pixels import save_screenshot
from tests.browser.scan import scan
from tests.helpers import Account, unique

CORRECTION_COUNT = "SELECT count(*) FROM approval.item WHERE project_id = %s AND status = 'correction'"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")

# The house-building template's first stage (立项用地规划许可): item → (department, promised working days).
PROJECT_LAND = {
    "project_proposal": ("drc", 10),
    "land_pre_review": ("pnr", 20),
    "energy_review": ("drc", 10),
    "stability_assessment": ("drc", 10),
    "feasibility_study": ("drc", 20),
    "environmental_impact": ("eco-env", 20),
    "soil_conservation": ("water", 15),
    "land_planning_permit": ("pnr", 10),
}
PNR_POINT = "用地红线图坐标与规划条件不一致，请按规划条件重新绘制。"
ENV_POINT = "环境影响报告书缺少噪声专章，请补充。"
RETURN_POINT = "项目建议书未盖单位公章。"


def pdf(path: Path, words: str) -> Path:
    """A small valid one-page PDF (the store tells PDF by its bytes); different words, different bytes."""
    stream = f"BT /F1 12 Tf 72 720 Td ({words}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def js_str(value: str) -> str:
    return json.dumps(value)


def click(page: Page, selector: str) -> None:
    page.wait_for(f"document.querySelector({js_str(selector)})")
    page.js(f"document.querySelector({js_str(selector)}).click()")


def set_value(page: Page, selector: str, value: str) -> None:
    """Type into a field as a person would (input and change events)."""
    page.wait_for(f"document.querySelector({js_str(selector)})")
    page.js(
        f"(e => {{ e.value = {js_str(value)}; e.dispatchEvent(new Event('input', {{bubbles: true}}));"
        f" e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})"
        f"(document.querySelector({js_str(selector)}))"
    )


def switch_language(page: Page, lang: str) -> None:
    if page.js("document.documentElement.lang") != ("en" if lang == "en" else "zh-CN"):
        page.js("document.getElementById('lang').click()")
    page.wait_for(f"document.documentElement.lang === {js_str('en' if lang == 'en' else 'zh-CN')}")


def enter(page: Page, url: str, account: Account, view: str) -> None:
    """Sign out whoever is in, sign in as ``account`` and open a view of the header."""
    if page.js("!document.getElementById('sign-out').hidden"):
        page.js("document.getElementById('sign-out').click()")
    sign_in(page, url, account)
    # Signing out hides the views; the new session shows them with its own tabs (those of the one before
    # linger until then).
    page.wait_for(
        "document.getElementById('user').textContent !== '' && !document.getElementById('views').hidden"
        f" && !document.getElementById('view-{view}').hidden"
    )
    page.js(f"document.getElementById('view-{view}').click()")
    page.wait_for(f"document.body.dataset.view === {js_str(view)}")


def rows(page: Page, selector: str) -> list[dict[str, Any]]:
    """A table's rows: data attributes and cells by column key."""
    return list(
        page.js(
            f"[...document.querySelectorAll({js_str(selector + ' tbody tr')})].map(tr => Object.assign("
            "{...tr.dataset}, Object.fromEntries([...tr.cells].map(td => [td.dataset.col, td.textContent]))))"
        )
    )


def shown(page: Page, selector: str) -> None:
    """Wait until an element matching ``selector`` is on the page."""
    page.wait_for(f"document.querySelector({js_str(selector)})")


def texts(page: Page, selector: str) -> list[str]:
    return list(page.js(f"[...document.querySelectorAll({js_str(selector)})].map(e => e.textContent)"))


FETCH = (
    "fetch({path}, {{headers: {{Authorization: 'Bearer ' + sessionStorage.getItem('duogui.token')}}}})"
    ".then(async r => ({{status: r.status, type: r.headers.get('content-type'), text: await r.text()}}))"
)


def fetch_with_token(page: Page, path: str) -> dict[str, Any]:
    """GET a same-origin path with the page's token, as the download buttons do: status, type, text."""
    return dict(page.js(FETCH.format(path=js_str(path))))


def no_codes(page: Page, where: str, lang: str, own_items: list[int] | None = None) -> None:
    """No internal code on the page. ``own_items``: scan only this test's rows of a department's 我的待办 —
    the department is shared with other tests, whose projects carry hostile names on purpose."""
    if own_items is not None:
        page.js(
            f"(own => document.querySelectorAll('#mw-list tr[data-item-id]').forEach(r => {{"
            f" if (!own.includes(Number(r.dataset.itemId))) r.remove(); }}))({json.dumps(own_items)})"
        )
    assert scan(page, where, lang) == []


def no_overflow(page: Page, width: int) -> None:
    widths = page.js("({page: document.documentElement.scrollWidth, view: innerWidth})")
    assert widths["page"] <= width and widths["view"] == width, widths


def upload(client: TestClient, account: Account, code: str, path: Path, **form: str) -> dict[str, Any]:
    """Store a file in the account's library (the API the page uses)."""
    with path.open("rb") as fh:
        r = client.post(
            "/api/materials",
            files={"file": (path.name, fh, "application/pdf")},
            data={"material_code": code, "purpose": "application", **form},
            headers=account.headers,
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


@dataclass
class World:
    """The people and the project of the test."""

    url: str
    client: TestClient
    unit: Account
    window: Account
    pnr: Account
    env: Account
    project: dict[str, Any]
    files: Path
    app_id: int = 0
    number: str = ""

    def app(self, account: Account) -> dict[str, Any]:
        r = self.client.get(f"/api/applications/{self.app_id}", headers=account.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def pdf(self, name: str, words: str) -> str:
        return str(pdf(self.files / name, words))


@pytest.fixture
def people(make_account: Any, owner_conn: psycopg.Connection[Any]) -> Any:
    """Factory: a signed-in account with a display name (histories name people by it, as they read it)."""
    names = iter(["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"])

    def make(role: Role, org: str) -> Account:
        account: Account = make_account(role, org)
        owner_conn.execute("UPDATE auth.user SET display_name = %s WHERE id = %s", (next(names), account.id))
        return account

    return make


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=900) as p:
        yield p


def new_project(client: TestClient, unit: Account) -> dict[str, Any]:
    """A house-building project of the unit with its plan."""
    body = {
        "name": f"龙岗区一窗受理测试学校{unique('x')[-6:]}",
        "project_type": "house_building",
        "owner_dept_code": "education",
        "investment_wan": "8000",
        "funding_source": "区财政",
        "planned_start": (date.today() + timedelta(days=400)).isoformat(),
    }
    r = client.post("/api/projects", json=body, headers=unit.headers)
    assert r.status_code == 201, r.text
    project = dict(r.json())
    r = client.post(f"/api/projects/{project['id']}/plan", headers=unit.headers)
    assert r.status_code == 201, r.text
    return project


def open_project(page: Page, w: World) -> None:
    enter(page, w.url, w.unit, "projects")
    shown(page, "#pj-count")
    click(page, f"#pj-projects tr[data-id='{w.project['id']}'] td[data-col=name] button")


def unit_opens_and_submits(page: Page, w: World, licence: dict[str, Any]) -> None:
    """The unit opens the first stage's application, fills its checklist and submits it."""
    open_project(page, w)
    shown(page, "#ap-open")
    assert text(page, "#ap-open") == "申报“立项用地规划许可”阶段"
    set_value(page, "#ap-contact-name", "张工")
    click(page, "#ap-open")
    shown(page, "#ap-detail[data-status=draft]")
    w.app_id = int(page.js("document.querySelector('#ap-list tbody tr').dataset.id"))
    app = w.app(w.unit)
    w.number = app["number"]
    assert {i["item_code"] for i in app["items"]} == set(PROJECT_LAND)
    checklist = {e["code"]: e for e in app["checklist"]}
    assert [m["material_id"] for m in checklist["business_licence"]["offered"]] == [licence["id"]]
    # Everything else required is attached through the API; two are left for the page.
    for code, entry in checklist.items():
        if entry["required"] and code not in ("business_licence", "project_proposal_doc"):
            file = Path(w.pdf(f"{entry['name_zh']}.pdf", code))
            stored = upload(w.client, w.unit, code, file, project_id=str(w.project["id"]))
            r = w.client.put(
                f"/api/applications/{w.app_id}/materials/{code}",
                json={"material_id": stored["id"]},
                headers=w.unit.headers,
            )
            assert r.status_code == 200, r.text
    version = w.app(w.unit)["version"]
    click(page, f"#ap-list tr[data-id='{w.app_id}'] td[data-col=number] button")
    shown(page, f"#ap-detail[data-version='{version}'] tr[data-material=business_licence] .ap-use")
    missing = page.js(
        "[...document.querySelectorAll('#ap-checklist tr[data-state=missing][data-required=true]')]"
        ".map(tr => tr.dataset.material).sort()"
    )
    assert missing == ["business_licence", "project_proposal_doc"]
    # Picked from the library (the stored version, not a new upload), and one uploaded from the page.
    click(page, "#ap-checklist tr[data-material=business_licence] .ap-use")
    shown(page, "#ap-checklist tr[data-material=business_licence][data-state=attached]")
    page.set_files("#ap-file-project_proposal_doc", w.pdf("项目建议书.pdf", "proposal"))
    click(page, "#ap-checklist .ap-upload[data-material=project_proposal_doc]")
    shown(page, "#ap-checklist tr[data-material=project_proposal_doc][data-state=attached]")
    assert text(page, "#ap-notice") == "已上传 项目建议书.pdf（第 1 版）。"
    no_codes(page, "申报件（草稿）", "zh")
    click(page, "#ap-submit")
    shown(page, "#ap-detail[data-status=submitted]")
    package = {e["code"]: e["attached"] for e in w.app(w.unit)["checklist"] if e["attached"]}
    assert package["business_licence"]["material_id"] == licence["id"]


def window_accepts(page: Page, w: World) -> None:
    """The window finds the package in its new queue, checks it against the checklist and accepts it."""
    enter(page, w.url, w.window, "window")
    shown(page, f"#win-list tr[data-id='{w.app_id}']")
    queue = {r["id"]: r for r in rows(page, "#win-list")}
    assert queue[str(w.app_id)]["project"] == w.project["name"]
    assert queue[str(w.app_id)]["status"] == "已申报待受理"
    no_codes(page, "综合窗口（新申报）", "zh")
    click(page, f"#win-list tr[data-id='{w.app_id}'] td[data-col=number] button")
    shown(page, "#win-package[data-status=submitted] #win-accept")
    required = page.js(
        "[...document.querySelectorAll('#win-checklist tr[data-required=true]')].map(r => r.dataset.state)"
    )
    assert required and set(required) == {"attached"}, required
    assert not page.js("document.getElementById('win-receipt-html')")
    click(page, "#win-accept")
    shown(page, "#win-package[data-status=accepted]")
    assert text(page, "#win-notice") == f"{w.number} 已受理。"
    shown(page, "#win-receipt-html")
    receipt = fetch_with_token(page, f"/api/applications/{w.app_id}/receipt.html")
    assert receipt["status"] == 200 and w.number in receipt["text"], receipt["status"]
    # Every item of the stage entered review the same day (并联审批), each on its own clock.
    assert {r["itemCode"] for r in rows(page, "#win-items")} == set(PROJECT_LAND)
    started = {i["started_on"] for i in w.app(w.window)["items"]}
    assert len(started) == 1 and None not in started, started
    save_screenshot(page, "window")
    no_codes(page, "综合窗口（受理后）", "zh")


def reviewer_works(page: Page, w: World) -> None:
    """A reviewer reads the clocks, records an opinion with its document and asks the window for more."""
    enter(page, w.url, w.pnr, "mywork")
    ids = {
        i["item_code"]: i["id"] for i in w.app(w.pnr)["items"]
    }  # this test's items (other tests add theirs)
    shown(page, f"#mw-list tr[data-item-id='{ids['land_pre_review']}']")
    mine = [r for r in rows(page, "#mw-list") if r["number"] == w.number]
    assert sorted(r["itemCode"] for r in mine) == ["land_planning_permit", "land_pre_review"]
    items = {i["item_code"]: i for i in w.app(w.pnr)["items"]}
    for row in mine:
        item = items[row["itemCode"]]
        assert item["promised_days"] == PROJECT_LAND[row["itemCode"]][1]
        # The clock the reviewer reads is the application's.
        assert row["clock"] == f"{item['elapsed_days']}/{item['promised_days']}（{item['due']}）", row
        assert row["colour"] == {"green": "正常", "yellow": "临近时限", "red": "超时"}[item["colour"]]
    no_codes(page, "我的待办", "zh", list(ids.values()))
    click(page, f"#mw-list tr[data-item-id='{ids['land_pre_review']}'] td[data-col=item] button")
    shown(page, "#mw-opinion-save")
    set_value(page, "#mw-decision", "approve_conditional")
    shown(page, "#mw-conditions")
    set_value(page, "#mw-conditions", "按规划条件控制建筑退线。")
    page.set_files("#mw-document", w.pdf("用地预审意见书.pdf", "decision"))
    page.js("document.getElementById('mywork-page').scrollTop = 0")
    save_screenshot(page, "mywork")  # the README's picture: the department's list, one item opened
    click(page, "#mw-opinion-save")
    shown(page, "#mw-notice.pj-ok")
    assert text(page, "#mw-notice") == "意见已出具。"
    assert text(page, "#mw-opinion .ap-opinion-text") == "有条件同意；附加条件：按规划条件控制建筑退线。"
    click(page, f"#mw-list tr[data-item-id='{ids['land_planning_permit']}'] td[data-col=item] button")
    shown(page, "#mw-request-send")
    set_value(page, "#mw-request-points-material-0", "site_red_line")
    set_value(page, "#mw-request-points-text-0", PNR_POINT)
    click(page, "#mw-request-send")
    shown(page, "#mw-notice.pj-ok")
    assert text(page, "#mw-notice") == "补正要求已提交综合窗口。"
    no_codes(page, "我的待办（补正要求）", "zh", list(ids.values()))
    switch_language(page, "en")
    page.wait_for("document.querySelector('#mywork-page h2').textContent === 'My work'")
    no_codes(page, "my work", "en", list(ids.values()))
    switch_language(page, "zh")


def window_sends_the_letter(page: Page, w: World, owner_conn: psycopg.Connection[Any]) -> None:
    """The window lists both departments' requests, then sends them as one letter."""
    enter(page, w.url, w.window, "window")
    click(page, "#win-tab-review")
    shown(page, f"#win-list tr[data-id='{w.app_id}']")
    click(page, f"#win-list tr[data-id='{w.app_id}'] td[data-col=number] button")
    shown(page, "#win-send-letter")
    departments = sorted(
        page.js("[...document.querySelectorAll('#win-requests article')].map(a => a.dataset.department)")
    )
    assert departments == ["深圳市生态环境局龙岗管理局", "规划和自然资源局龙岗管理局"], departments
    assert text(page, "#win-request-count") == "2 个部门的 2 项补正要求，将合并为一份补正告知书："
    click(page, "#win-send-letter")
    shown(page, "#win-package[data-status=correction]")
    points = texts(page, "#win-letters article[data-round='1'] li")
    assert len(points) == 2 and any(PNR_POINT in p for p in points) and any(ENV_POINT in p for p in points)
    letter = fetch_with_token(page, f"/api/applications/{w.app_id}/letters/1.html")
    assert letter["status"] == 200 and PNR_POINT in letter["text"] and ENV_POINT in letter["text"]
    # Both departments' clocks stopped with the one letter.
    assert owner_conn.execute(CORRECTION_COUNT, (w.project["id"],)).fetchone() == (2,)
    no_codes(page, "综合窗口（补正告知）", "zh")
    switch_language(page, "en")
    page.wait_for("document.querySelector('#window-page h2').textContent === 'One window'")
    no_codes(page, "one window", "en")
    switch_language(page, "zh")
    # With the unit now: the package waits in the window's 补正中 queue.
    click(page, "#win-tab-correction")
    shown(page, f"#win-list tr[data-id='{w.app_id}']")
    assert {r["id"]: r["status"] for r in rows(page, "#win-list")}[str(w.app_id)] == "补正中"


def unit_answers(page: Page, w: World, owner_conn: psycopg.Connection[Any]) -> None:
    """The unit sees the letter's points, replaces the red-line plan (version 2) and resubmits."""
    open_project(page, w)
    shown(page, "#ap-open-letter")
    points = texts(page, "#ap-letter-points li")
    assert len(points) == 2 and any(PNR_POINT in p for p in points) and any(ENV_POINT in p for p in points)
    page.set_files("#ap-file-site_red_line", w.pdf("用地红线图（修改）.pdf", "red line v2"))
    click(page, "#ap-checklist .ap-upload[data-material=site_red_line]")
    shown(page, "#ap-notice.pj-ok")
    assert text(page, "#ap-notice") == "已上传 用地红线图（修改）.pdf（第 2 版）。"
    no_codes(page, "申报件（补正）", "zh")
    switch_language(page, "en")
    page.wait_for("document.querySelector('#ap-section h3').textContent === 'Applications (one window)'")
    no_codes(page, "applications", "en")
    switch_language(page, "zh")
    click(page, "#ap-resubmit")
    shown(page, "#ap-detail[data-status=accepted]")
    assert owner_conn.execute(CORRECTION_COUNT, (w.project["id"],)).fetchone() == (0,)


def on_a_phone(w: World) -> None:
    """A 390 px screen: the window's package, 我的待办 and a project's applications fit the screen."""
    with Page(width=390, height=844) as phone:
        phone.goto(w.url)
        enter(phone, w.url, w.window, "window")
        click(phone, "#win-tab-review")
        shown(phone, f"#win-list tr[data-id='{w.app_id}']")
        no_overflow(phone, 390)
        click(phone, f"#win-list tr[data-id='{w.app_id}'] td[data-col=number] button")
        shown(phone, "#win-package[data-status=accepted]")
        no_overflow(phone, 390)
        enter(phone, w.url, w.pnr, "mywork")
        permit = next(i["id"] for i in w.app(w.pnr)["items"] if i["item_code"] == "land_planning_permit")
        click(phone, f"#mw-list tr[data-item-id='{permit}'] td[data-col=item] button")
        shown(phone, "#mw-request-send")
        no_overflow(phone, 390)
        switch_language(phone, "en")
        no_overflow(phone, 390)
        switch_language(phone, "zh")
        open_project(phone, w)  # the unit's applications on its project page
        shown(phone, "#ap-detail[data-status=accepted] #ap-items")
        no_overflow(phone, 390)
        assert phone.csp_violations == []


def own_unit(owner_conn: psycopg.Connection[Any], people: Any) -> Account:
    """A unit of its own, named as people name units (the pages are scanned for codes)."""
    code = unique("unit")
    orgs.create_org(
        owner_conn,
        Actor.system("tests"),
        orgs.OrganisationCreate(
            code=code, name_zh=f"一窗测试建设单位{uuid.uuid4().int % 10**6}", kind=orgs.OrgKind.PROJECT_UNIT
        ),
    )
    return people(Role.PROJECT_UNIT, code)  # type: ignore[no-any-return]


def submitted_package(w: World) -> None:
    """Through the API: the first stage's application with every required material, submitted."""
    r = w.client.post(
        "/api/applications",
        json={"project_id": w.project["id"], "stage": "project_land"},
        headers=w.unit.headers,
    )
    assert r.status_code == 201, r.text
    w.app_id, w.number = r.json()["id"], r.json()["number"]
    for entry in r.json()["checklist"]:
        if entry["required"]:
            file = Path(w.pdf(f"{entry['name_zh']}.pdf", entry["code"]))
            stored = upload(w.client, w.unit, entry["code"], file, project_id=str(w.project["id"]))
            put = w.client.put(
                f"/api/applications/{w.app_id}/materials/{entry['code']}",
                json={"material_id": stored["id"]},
                headers=w.unit.headers,
            )
            assert put.status_code == 200, put.text
    version = w.app(w.unit)["version"]
    r = w.client.post(
        f"/api/applications/{w.app_id}/submit", json={"version": version}, headers=w.unit.headers
    )
    assert r.status_code == 200, r.text


def open_package(page: Page, w: World, queue: str, status: str) -> None:
    enter(page, w.url, w.window, "window")
    click(page, f"#win-tab-{queue}")
    shown(page, f"#win-list tr[data-id='{w.app_id}']")
    click(page, f"#win-list tr[data-id='{w.app_id}'] td[data-col=number] button")
    shown(page, f"#win-package[data-status={status}]")


def test_return_once_then_accept_with_a_gap_supplied_later(
    settings: Settings,
    client: TestClient,
    people: Any,
    owner_conn: psycopg.Connection[Any],
    page: Page,
    tmp_path: Path,
) -> None:
    unit = own_unit(owner_conn, people)
    reviewer = people(Role.REVIEWER, "pnr")
    others = {code: people(Role.REVIEWER, code) for code in ("drc", "eco-env", "water")}
    with live_server(create_app(settings)) as url:
        w = World(
            url,
            client,
            unit,
            people(Role.WINDOW, "service-center"),
            reviewer,
            reviewer,
            new_project(client, unit),
            tmp_path,
        )
        submitted_package(w)
        page.goto(url)
        # The window returns the package once, with one list of two points.
        open_package(page, w, "new", "submitted")
        set_value(page, "#win-return-points-material-0", "project_proposal_doc")
        set_value(page, "#win-return-points-text-0", RETURN_POINT)
        click(page, "#win-return-points-add")
        set_value(page, "#win-return-points-text-1", "联系人电话缺失。")
        click(page, "#win-return")
        shown(page, "#win-package[data-status=returned]")
        assert text(page, "#win-notice") == f"{w.number} 已退件。"
        no_codes(page, "综合窗口（退件）", "zh")
        # The unit reads both points together, then submits again from the page.
        open_project(page, w)
        shown(page, "#ap-returned")
        points = texts(page, "#ap-returned-points li")
        assert points == [f"〔项目建议书〕{RETURN_POINT}", "联系人电话缺失。"], points
        no_codes(page, "申报件（退件）", "zh")
        click(page, "#ap-submit")
        shown(page, "#ap-detail[data-status=submitted]")
        # A second return would need a reason; the window accepts instead, with the conditional geological
        # hazard assessment as a gap (容缺) to be supplied within a month.
        open_package(page, w, "new", "submitted")
        shown(page, "#win-return-reason")
        # Only a conditional material may be a gap: no box on a required one.
        boxes = page.js(
            "[...document.querySelectorAll('#win-checklist input[type=checkbox]')].map(b => b.id)"
        )
        assert boxes == ["win-gap-geohazard_assessment"], boxes
        due = (date.today() + timedelta(days=30)).isoformat()
        click(page, "#win-gap-geohazard_assessment")
        set_value(page, "#win-gap-due-geohazard_assessment", due)
        assert text(page, "#win-gap-count") == "已选容缺材料 1 项"
        click(page, "#win-accept-gaps")
        shown(page, "#win-package[data-status=accepted]")
        assert text(page, "#win-notice") == f"{w.number} 已容缺受理。"
        items = {i["item_code"]: i for i in w.app(w.window)["items"]}
        # Only the item needing the gap material is accepted conditionally, with the date the window chose.
        conditional = sorted(c for c, i in items.items() if i["status"] == "accepted_conditional")
        assert conditional == ["land_pre_review"], conditional
        assert items["land_pre_review"]["supplement_due"] == due
        no_codes(page, "综合窗口（容缺受理）", "zh")
        joint_review(page, w, others["drc"])
        # The unit supplies the gap from the page.
        open_project(page, w)
        shown(page, "#ap-supplement-hint")
        tools = page.js(
            "[...document.querySelectorAll('#ap-checklist .ap-upload')].map(b => b.dataset.material)"
        )
        assert tools == ["geohazard_assessment"], tools
        page.set_files("#ap-file-geohazard_assessment", w.pdf("地质灾害危险性评估报告.pdf", "geohazard"))
        click(page, "#ap-checklist .ap-upload[data-material=geohazard_assessment]")
        shown(page, "#ap-checklist tr[data-material=geohazard_assessment][data-state=attached]")
        supplied = w.app(w.unit)["items"]
        assert [
            i["supplemented_at"] is not None for i in supplied if i["item_code"] == "land_pre_review"
        ] == [True]
        switch_language(page, "en")
        page.wait_for("document.querySelector('#ap-section h3').textContent === 'Applications (one window)'")
        no_codes(page, "applications (gap)", "en")
        switch_language(page, "zh")
        issue(page, w, {"pnr": reviewer, **others})
        assert page.csp_violations == [] and page.console_errors == []


def joint_review(page: Page, w: World, drc: Account) -> None:
    """The planning bureau schedules a joint review with the DRC from 我的待办, both record opinions and the
    lead generates the minutes from them."""
    enter(page, w.url, w.pnr, "mywork")
    ids = {i["item_code"]: i["id"] for i in w.app(w.pnr)["items"]}
    click(page, f"#mw-list tr[data-item-id='{ids['land_planning_permit']}'] td[data-col=item] button")
    shown(page, "#mw-joint-none")
    click(page, "#mw-joint-new")
    set_value(page, "#mw-joint-topic", "用地规划许可与可研批复的衔接")
    # A meeting two weeks ahead (a review is dated between the acceptance day and five years on).
    set_value(page, "#mw-joint-when", f"{(date.today() + timedelta(days=14)).isoformat()}T09:30")
    set_value(page, "#mw-joint-place", "区政务服务中心三楼会商室")
    click(page, "#mw-joint-dept-drc")
    click(page, "#mw-joint-save")
    shown(page, "#mw-joint-notice.pj-ok")
    assert text(page, "#mw-joint-notice") == "联合审查已安排。"
    session = int(page.js("document.querySelector('#mw-joint article.mw-joint-session').dataset.jointId"))
    departments = texts(page, "#mw-joint article td[data-col=department]")
    assert sorted(departments) == ["规划和自然资源局龙岗管理局", "龙岗区发展和改革局"], departments
    r = w.client.put(
        f"/api/joint-reviews/{session}/opinion",
        json={"decision": "approve", "opinion": "同意，可研批复与用地规模一致。"},
        headers=drc.headers,
    )
    assert r.status_code == 200, r.text
    click(page, "#mw-close")  # opened again: the DRC's opinion is read fresh
    click(page, f"#mw-list tr[data-item-id='{ids['land_planning_permit']}'] td[data-col=item] button")
    shown(page, f"#mw-joint-{session}-opinion")
    set_value(page, f"#mw-joint-{session}-decision", "approve_conditional")
    set_value(page, f"#mw-joint-{session}-opinion", "同意，按规划条件控制退线。")
    click(page, "#mw-joint button[data-action=opinion]")
    shown(page, "#mw-joint-notice.pj-ok")
    assert text(page, "#mw-joint-notice") == "会商意见已记录。"
    click(page, "#mw-joint button[data-action=minutes]")
    shown(page, f"#mw-joint article[data-joint-id='{session}'][data-status=held]")
    assert text(page, "#mw-joint-notice") == "会议纪要已生成。"
    minutes = fetch_with_token(page, f"/api/joint-reviews/{session}/minutes.html")
    assert minutes["status"] == 200
    assert (
        "同意，可研批复与用地规模一致。" in minutes["text"]
        and "同意，按规划条件控制退线。" in minutes["text"]
    )
    no_codes(page, "我的待办（联合审查）", "zh", list(ids.values()))
    switch_language(page, "en")
    page.wait_for("document.querySelector('#mywork-page h2').textContent === 'My work'")
    no_codes(page, "my work (joint review)", "en", list(ids.values()))
    switch_language(page, "zh")


def issue(page: Page, w: World, reviewers: dict[str, Account]) -> None:
    """Every department decides its items (API); the window issues from its queue; the unit sees the
    application issued and the next stage open."""
    for item in w.app(w.window)["items"]:
        if item["opinion"] is None:
            department = PROJECT_LAND[item["item_code"]][0]
            r = w.client.post(
                f"/api/items/{item['id']}/opinion",
                json={"decision": "approve"},
                headers=reviewers[department].headers,
            )
            assert r.status_code == 200, (item["item_code"], r.text)
    open_package(page, w, "issuing", "accepted")
    shown(page, "#win-issue")
    click(page, "#win-issue")
    shown(page, "#win-package[data-status=issued] #win-issuance-html")
    assert text(page, "#win-notice") == f"{w.number} 已统一出件。"
    notice = fetch_with_token(page, f"/api/applications/{w.app_id}/issuance.html")
    assert notice["status"] == 200 and w.number in notice["text"]
    no_codes(page, "综合窗口（出件）", "zh")
    open_project(page, w)
    shown(page, "#ap-open")
    assert text(page, "#ap-open") == "申报“工程建设许可”阶段"
    assert rows(page, "#ap-list")[0]["status"] == "已出件"


def test_one_window_from_the_package_to_the_resubmission(
    settings: Settings,
    client: TestClient,
    people: Any,
    owner_conn: psycopg.Connection[Any],
    page: Page,
    tmp_path: Path,
) -> None:
    unit = own_unit(owner_conn, people)
    env = people(Role.REVIEWER, "eco-env")
    # The organisation's licence is in its library already (org-wide, valid a year): offered, not uploaded.
    licence = upload(
        client,
        unit,
        "business_licence",
        pdf(tmp_path / "营业执照.pdf", "licence"),
        valid_until=(date.today() + timedelta(days=365)).isoformat(),
    )
    with live_server(create_app(settings)) as url:
        w = World(
            url,
            client,
            unit,
            people(Role.WINDOW, "service-center"),
            people(Role.REVIEWER, "pnr"),
            env,
            new_project(client, unit),
            tmp_path,
        )
        page.goto(url)
        unit_opens_and_submits(page, w, licence)
        window_accepts(page, w)
        reviewer_works(page, w)
        # The second department asks through the same API the page uses.
        env_item = next(i for i in w.app(env)["items"] if i["item_code"] == "environmental_impact")
        r = client.post(
            f"/api/items/{env_item['id']}/correction-requests",
            json={"points": [{"material_code": "eia_report", "text": ENV_POINT}]},
            headers=env.headers,
        )
        assert r.status_code == 201, r.text
        window_sends_the_letter(page, w, owner_conn)
        unit_answers(page, w, owner_conn)
        assert page.csp_violations == [] and page.console_errors == []
        on_a_phone(w)
