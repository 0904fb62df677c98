"""A transition's document on the demolition page (征拆协调), in headless Chromium: uploaded through the page.

The page stores the file in the materials store first (``POST /api/materials``, purpose demolition), then
sends the transition naming it; the unit log shows it as its name and size and downloads the stored bytes.
Real PDFs made by WeasyPrint; a refused type (an HTML page renamed .pdf) and a file over the size limit
(64 KiB here) show the server's message in the form and write nothing; a refused transition keeps the uploaded
document for the retry without uploading it again. Runs on its own database: one project, two units.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import weasyprint
from fastapi.testclient import TestClient

from app import migrate
from app.auth.policy import Role
from app.main import create_app
from app.orgs import service as orgs
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.store.versions import register_layers
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import assert_offline, open_map, text
from tests.browser.scan import scan, visible_text
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import Account, signed_in_account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
PAGE = "document.getElementById('demolition-page')"
LIMIT = 64 * 1024  # the materials size limit of this test's server: 64.0 KB
LOCALES = Path(__file__).resolve().parents[2] / "web" / "public" / "i18n"
UNIT_JS = Path(__file__).resolve().parents[2] / "web" / "public" / "js" / "demolition_unit.js"


@dataclass
class World:
    url: str
    log: RequestLog
    client: TestClient
    admin: Account
    coordinator: Account
    project: dict[str, Any]
    units: dict[str, dict[str, Any]]


def _post(client: TestClient, acct: Account, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=acct.headers)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """An empty migrated database, one project with two surveyed units, served live with a 64 KiB limit."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_webdmattach")
        migrate.upgrade(settings)
    settings = settings.model_copy(update={"materials_max_bytes": LIMIT})
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
            # A display name: the unit log names people by it (by their login only when they have none).
            user = client.get(f"/api/users/{coord.id}", headers=admin.headers).json()
            body = {"version": user["version"], "display_name": "吴协调"}
            assert client.patch(f"/api/users/{coord.id}", json=body, headers=admin.headers).status_code == 200
            project = _post(
                client,
                admin,
                "/api/projects",
                {
                    "name": "布吉学校征拆（附件）",
                    "project_type": "house_building",
                    "investment_wan": "5000",
                    "funding_source": "区财政",
                    "owner_dept_code": "education",
                    "unit_org_code": "works",
                },
            )
            units = {
                code: _post(
                    client,
                    coord,
                    f"/api/demolition/projects/{project['id']}/units",
                    {"unit_code": code, "owner_name": owner, "floor_area_m2": "100", "households": 1},
                )
                for code, owner in (("A-01", "孙一"), ("A-02", "周二"))
            }
            log = RequestLog(create_app(settings))
            with live_server(log) as url:
                yield World(url, log, client, admin, coord, project, units)
    finally:
        drop_database(name)


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=1000) as p:
        yield p


def open_unit(page: Page, world: World, account: Account, code: str) -> None:
    """Sign in, open 征拆协调, choose the project and open one unit."""
    open_map(page, world.url, account)
    page.js("document.getElementById('view-demolition').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true' && document.getElementById('dm-project')")
    revision = page.js(f"{PAGE}.dataset.revision")
    page.js(
        f"(s => {{ s.value = '{world.project['id']}'; s.dispatchEvent(new Event('change')); }})"
        "(document.getElementById('dm-project'))"
    )
    page.wait_for(f"{PAGE}.dataset.revision !== {json.dumps(revision)}")
    unit_id = world.units[code]["id"]
    page.wait_for(f"document.querySelector('#dm-ledger tr[data-id=\"{unit_id}\"]')")
    page.js(f"document.querySelector('#dm-ledger tr[data-id=\"{unit_id}\"]').click()")
    page.wait_for(f"document.getElementById('dm-unit').dataset.unit === '{unit_id}'")


def pdf(path: Path, title: str, paragraphs: int = 1) -> bytes:
    """A real PDF written by WeasyPrint (paragraphs of hashes make it as large as needed)."""
    filler = "".join(
        "<p>" + "".join(hashlib.sha512(f"{title}{i}.{j}".encode()).hexdigest() for j in range(4)) + "</p>"
        for i in range(paragraphs)
    )
    data: bytes = weasyprint.HTML(string=f"<h1>{title}</h1>{filler}").write_pdf()
    path.write_bytes(data)
    return data


def kb(size: int) -> str:
    """A size as the page writes it below 1 MiB, by hand: KiB to one decimal, trailing .0 dropped."""
    value = (Decimal(size) / 1024).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value.normalize():f} KB" if value < 1000 else f"{value:,} KB"


def choose(page: Page, element_id: str, value: str) -> None:
    page.js(
        f"(e => {{ e.value = {json.dumps(value)};"
        " e.dispatchEvent(new Event('change', {bubbles: true})); })"
        f"(document.getElementById({json.dumps(element_id)}))"
    )


def submit(page: Page) -> None:
    page.js("document.getElementById('dm-transition-form').requestSubmit()")


def seen(world: World, method: str, path_part: str, since: int) -> list[tuple[str, str, str, int]]:
    """The server's answers since a mark, of one method to paths containing ``path_part``."""
    return [s for s in world.log.seen[since:] if s[0] == method and path_part in s[1]]


def events(world: World, code: str) -> list[dict[str, Any]]:
    r = world.client.get(
        f"/api/demolition/units/{world.units[code]['id']}/events", headers=world.coordinator.headers
    )
    assert r.status_code == 200, r.text
    return list(r.json())


def library(world: World) -> list[dict[str, Any]]:
    r = world.client.get(
        f"/api/materials?project_id={world.project['id']}&purpose=demolition",
        headers=world.coordinator.headers,
    )
    assert r.status_code == 200, r.text
    return list(r.json())


def log_links(page: Page) -> list[dict[str, str]]:
    return list(
        page.js(
            "[...document.querySelectorAll('#dm-events .dm-attachment-link')]"
            ".map(b => ({text: b.textContent, href: b.dataset.href, id: b.dataset.materialId}))"
        )
    )


def untranslated(page: Page) -> list[str]:
    """Locale keys shown as they are (t() shows an unknown key): dmSomething on the page."""
    return re.findall(r"\bdm[A-Z]\w*", visible_text(page))


def test_the_locales_have_every_key_the_unit_panel_uses() -> None:
    keys = set(re.findall(r'\bt\("(\w+)"', UNIT_JS.read_text(encoding="utf-8")))
    assert {"dmAttachLegend", "dmAttachPending", "dmFileSize", "dmUploading"} <= keys
    for lang in ("zh", "en"):
        locale = json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
        assert sorted(keys - set(locale)) == [], lang
        kinds = locale["dmAttachKinds"]
        assert set(kinds) == {
            "valuation",
            "agreement",
            "payment",
            "vacancy",
            "acceptance",
            "handover",
            "other",
        }


def test_a_document_is_uploaded_with_the_move_and_downloads_as_stored(
    page: Page, world: World, tmp_path: Path
) -> None:
    unit = world.units["A-01"]
    open_unit(page, world, world.coordinator, "A-01")
    assert page.js("document.getElementById('dm-to-status').value") == "valued"
    assert page.js("document.getElementById('dm-attach-kind').value") == "valuation"  # follows 评估
    assert text(page, "#dm-attach legend") == "附件（可选）"

    # An HTML page renamed .pdf: the server's message in the form; no transition is sent, nothing stored.
    fake = tmp_path / "伪装的协议.pdf"
    fake.write_text("<!doctype html><html><body><script>alert(1)</script>补偿协议</body></html>")
    mark = len(world.log.seen)
    page.set_files("#dm-attach-file", str(fake))
    submit(page)
    page.wait_for("document.getElementById('dm-attach-error')")
    assert text(page, "#dm-attach-error") == (
        "无法识别文件“伪装的协议.pdf”的类型；此材料接受：PDF、OFD、JPEG、PNG、DWG、DXF、DOCX、XLSX、ZIP。"
    )
    assert [s[3] for s in seen(world, "POST", "/api/materials", mark)] == [415]
    assert seen(world, "POST", "/transitions", mark) == []
    assert not page.js("Boolean(document.getElementById('dm-unit-error'))")
    assert not page.js("document.getElementById('dm-move').disabled")
    assert len(events(world, "A-01")) == 1 and library(world) == []

    # A real PDF over the limit (64 KiB): 413 with the limit in words, nothing sent or stored.
    big = pdf(tmp_path / "评估报告（扫描件）.pdf", "Valuation report A-01 (scan)", paragraphs=150)
    assert len(big) > LIMIT and big.startswith(b"%PDF-")
    mark = len(world.log.seen)
    page.set_files("#dm-attach-file", str(tmp_path / "评估报告（扫描件）.pdf"))
    submit(page)
    page.wait_for("document.getElementById('dm-attach-error')?.textContent.includes('上限')")
    assert text(page, "#dm-attach-error") == "文件超过材料大小上限 64.0 KB。"
    assert [s[3] for s in seen(world, "POST", "/api/materials", mark)] == [413]
    assert seen(world, "POST", "/transitions", mark) == []
    assert len(events(world, "A-01")) == 1 and library(world) == []

    # A real PDF within the limit: uploaded, then the move names it.
    data = pdf(tmp_path / "评估报告-A-01.pdf", "Valuation report A-01")
    page.set_files("#dm-attach-file", str(tmp_path / "评估报告-A-01.pdf"))
    mark = len(world.log.seen)
    submit(page)
    page.wait_for("document.querySelectorAll('#dm-events li').length === 2")
    assert text(page, "#dm-unit p.ok") == "状态已变更。"
    assert not page.js("Boolean(document.getElementById('dm-attach-error'))")
    assert [s[3] for s in seen(world, "POST", "/api/materials", mark)] == [201]
    assert [s[3] for s in seen(world, "POST", "/transitions", mark)] == [200]
    moved = events(world, "A-01")[-1]
    (stored,) = library(world)
    assert moved["to_status"] == "valued" and moved["attachment"] == {
        "material_id": stored["id"],
        "name": "评估报告-A-01.pdf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "media_type": "application/pdf",
    }
    # The code scheme of docs/DEMOLITION.md: one slot per kind and unit.
    assert stored["material_code"] == f"demolition_valuation_u{unit['id']}"
    assert stored["project_id"] == world.project["id"] and stored["purpose"] == "demolition"
    assert log_links(page) == [
        {
            "text": f"评估报告-A-01.pdf（{kb(len(data))}）",
            "href": f"/api/materials/{stored['id']}/content",
            "id": str(stored["id"]),
        }
    ]
    assert "附件：评估报告-A-01.pdf（" in text(page, "#dm-events li")

    # The link downloads (with the token) the stored bytes, under the original name.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    page.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    mark = len(world.log.seen)
    page.js("document.querySelector('#dm-events .dm-attachment-link').click()")
    saved = downloads / "评估报告-A-01.pdf"
    deadline = time.monotonic() + 30
    while not (saved.exists() and saved.stat().st_size == len(data)):
        assert time.monotonic() < deadline, list(downloads.iterdir())
        time.sleep(0.1)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert [s[3] for s in seen(world, "GET", f"/api/materials/{stored['id']}/content", mark)] == [200]

    # A refused move after a stored upload (评估 → 补偿 skips 签约, no reason): the message, the document
    # kept for the retry; choosing the same file again does not upload it again.
    choose(page, "dm-to-status", "paid")
    assert page.js("document.getElementById('dm-attach-kind').value") == "payment"
    voucher = pdf(tmp_path / "支付凭证-A-01.pdf", "Payment voucher A-01")
    mark = len(world.log.seen)
    page.set_files("#dm-attach-file", str(tmp_path / "支付凭证-A-01.pdf"))
    submit(page)
    page.wait_for("document.getElementById('dm-unit-error')")
    assert text(page, "#dm-unit-error") == "从“评估”到“补偿”属于跳过环节，须填写理由。"
    page.wait_for("document.getElementById('dm-attach-pending')")
    assert text(page, "#dm-attach-pending") == (
        f"已上传，将随本次变更记录：支付凭证-A-01.pdf（{kb(len(voucher))}） 不附此文件"
    )
    pending = page.js("document.getElementById('dm-attach-pending').dataset.materialId")
    assert page.js("document.getElementById('dm-to-status').value") == "paid"  # what was chosen stays
    page.js("document.getElementById('dm-unit-error').remove()")  # drawn again by the second refusal
    page.set_files("#dm-attach-file", str(tmp_path / "支付凭证-A-01.pdf"))
    submit(page)
    page.wait_for("document.getElementById('dm-unit-error') && !document.getElementById('dm-move').disabled")
    assert [s[3] for s in seen(world, "POST", "/api/materials", mark)] == [201]  # uploaded once
    assert [s[3] for s in seen(world, "POST", "/transitions", mark)] == [422, 422]
    assert len(events(world, "A-01")) == 2
    # With the reason, the same stored document goes with the move (the file input is empty now).
    page.js("document.getElementById('dm-reason').value = '签约与付款同日完成'")
    submit(page)
    page.wait_for("document.querySelectorAll('#dm-events li').length === 3")
    assert [s[3] for s in seen(world, "POST", "/api/materials", mark)] == [201]
    assert [s[3] for s in seen(world, "POST", "/transitions", mark)] == [422, 422, 200]
    last = events(world, "A-01")[-1]
    assert (last["to_status"], last["irregular"], last["reason"]) == ("paid", True, "签约与付款同日完成")
    assert last["attachment"]["material_id"] == int(pending)
    assert last["attachment"]["sha256"] == hashlib.sha256(voucher).hexdigest()
    assert not page.js("Boolean(document.getElementById('dm-attach-pending'))")  # recorded: nothing pending
    assert [link["text"] for link in log_links(page)] == [
        f"支付凭证-A-01.pdf（{kb(len(voucher))}）",
        f"评估报告-A-01.pdf（{kb(len(data))}）",
    ]
    codes = {m["material_code"] for m in library(world)}
    assert codes == {f"demolition_valuation_u{unit['id']}", f"demolition_payment_u{unit['id']}"}
    assert untranslated(page) == []
    assert_offline(page, world.url)


def test_english_messages_links_and_no_codes_in_either_language(
    page: Page, world: World, tmp_path: Path
) -> None:
    page.goto(world.url)
    page.js("localStorage.setItem('duogui.lang', 'en')")
    open_unit(page, world, world.coordinator, "A-02")
    page.wait_for("document.documentElement.lang === 'en'")
    assert text(page, "#dm-attach legend") == "Attachment (optional)"
    assert (
        page.js("document.querySelector('#dm-attach-kind option:checked').textContent") == "Valuation report"
    )

    # A refused type, in English; nothing written.
    fake = tmp_path / "agreement.pdf"
    fake.write_text("<html><body><h1>Agreement</h1></body></html>")
    mark = len(world.log.seen)
    page.set_files("#dm-attach-file", str(fake))
    submit(page)
    page.wait_for("document.getElementById('dm-attach-error')")
    assert text(page, "#dm-attach-error") == (
        "The type of 'agreement.pdf' is not recognised; this material accepts: "
        "PDF, OFD, JPEG, PNG, DWG, DXF, DOCX, XLSX, ZIP."
    )
    assert seen(world, "POST", "/transitions", mark) == [] and len(events(world, "A-02")) == 1
    # The message follows a switch of language (the form is drawn again).
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.documentElement.lang === 'zh-CN'")
    assert text(page, "#dm-attach-error").startswith("无法识别文件“agreement.pdf”的类型")
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.documentElement.lang === 'en'")

    # A real PDF, the move refused once (a step back needs a reason) so a document is pending on screen.
    data = pdf(tmp_path / "腾空确认书-A-02.pdf", "Vacancy A-02")
    choose(page, "dm-to-status", "vacated")
    choose(page, "dm-attach-kind", "other")  # chosen by hand: no longer follows the status
    choose(page, "dm-to-status", "demolished")
    assert page.js("document.getElementById('dm-attach-kind').value") == "other"
    page.set_files("#dm-attach-file", str(tmp_path / "腾空确认书-A-02.pdf"))
    submit(page)
    page.wait_for("document.getElementById('dm-attach-pending')")
    assert text(page, "#dm-attach-pending") == (
        f"Uploaded, to be recorded with this change: 腾空确认书-A-02.pdf ({kb(len(data))}) Do not attach"
    )
    assert text(page, "#dm-unit-error").endswith("is skipping steps; a reason is required.")
    found = scan(page, "征拆单元（附件待记录）", "en")
    assert untranslated(page) == []
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.documentElement.lang === 'zh-CN'")
    assert text(page, "#dm-attach-pending").startswith("已上传，将随本次变更记录：腾空确认书-A-02.pdf（")
    found += scan(page, "征拆单元（附件待记录）", "zh")
    assert untranslated(page) == []

    # Recorded with a reason; the log's link in both languages; and the whole unit scanned again.
    page.js("document.getElementById('dm-reason').value = '整栋已空置'")
    submit(page)
    page.wait_for("document.querySelectorAll('#dm-events li').length === 2")
    (moved,) = [e for e in events(world, "A-02") if e["kind"] == "transition"]
    assert moved["attachment"]["name"] == "腾空确认书-A-02.pdf"
    material = world.client.get(
        f"/api/materials/{moved['attachment']['material_id']}", headers=world.coordinator.headers
    ).json()
    assert material["material_code"] == f"demolition_other_u{world.units['A-02']['id']}"
    assert [link["text"] for link in log_links(page)] == [f"腾空确认书-A-02.pdf（{kb(len(data))}）"]
    found += scan(page, "征拆单元日志", "zh")
    page.js("document.getElementById('lang').click()")
    page.wait_for("document.documentElement.lang === 'en'")
    assert [link["text"] for link in log_links(page)] == [f"腾空确认书-A-02.pdf ({kb(len(data))})"]
    assert "Attachment: 腾空确认书-A-02.pdf (" in text(page, "#dm-events li")
    found += scan(page, "征拆单元日志", "en")
    assert untranslated(page) == []
    assert found == [], "\n".join(found)


def test_an_administrator_moves_units_without_the_upload(page: Page, world: World) -> None:
    """Administrators manage the ledger but store no materials: no file input that could only be refused."""
    open_unit(page, world, world.admin, "A-02")
    assert page.js("Boolean(document.getElementById('dm-transition-form'))")
    assert not page.js("Boolean(document.querySelector('#dm-attach, #dm-attach-file'))")
