"""The audit page (审计) in headless Chromium, in both languages: search, paging, export, chain verification.

Its own database, since one test breaks the chain (the owner, trigger disabled) and puts it back.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from layers.store.versions import register_layers
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import assert_offline, open_map, text
from tests.browser.mapapp import sign_in as sign_in_page
from tests.browser.pixels import save_screenshot
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import Account, signed_in_account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
PAGE = "document.getElementById('audit-page')"


@dataclass
class World:
    url: str
    owner: psycopg.Connection[Any]
    admin: Account  # the audit administrator, who reads the log
    sysadmin: Account  # the system administrator, whose change the log holds
    planner: Account
    renamed: int  # the user whose display name the system administrator changed


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A migrated database with the system administrator's audited change, served live."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_webaudit")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
        with (
            TestClient(create_app(settings)) as client,
            psycopg.connect(settings.owner_dsn, autocommit=True) as owner,
        ):
            admin = signed_in_account(owner, client, Role.AUDIT_ADMIN, "gov-data")
            sysadmin = signed_in_account(owner, client, Role.SYSTEM_ADMIN, "gov-data")
            planner = signed_in_account(owner, client, Role.PLANNER, "pnr")
            r = client.patch(
                f"/api/users/{planner.id}",
                headers=sysadmin.headers,
                json={"version": 1, "display_name": "规划王工"},
            )
            assert r.status_code == 200, r.text
            with live_server(create_app(settings)) as url:
                yield World(url, owner, admin, sysadmin, planner, planner.id)
    finally:
        drop_database(name)


@pytest.fixture
def page() -> Iterator[Page]:
    with Page(width=1400, height=1000) as p:
        yield p


def _open(page: Page, world: World, account: Account) -> None:
    """Sign the audit administrator in (it has no map: its page is all it is shown) and open the page."""
    page.goto(world.url)
    sign_in_page(page, world.url, account)
    page.wait_for("!document.getElementById('views').hidden && !document.getElementById('view-audit').hidden")
    page.js("document.getElementById('view-audit').click()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true'")


def _search(page: Page, **fields: str) -> None:
    """Fill the search form and send it; wait for the table (or the empty note) to be drawn again."""
    page.js(f"{PAGE}.dataset.ready = ''")
    for name, value in fields.items():
        page.js(
            f"(e => {{ e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input')); }})"
            f"(document.getElementById('au-{name}'))"
        )
    page.js("document.getElementById('au-search').requestSubmit()")
    page.wait_for(f"{PAGE}.dataset.ready === 'true'")


def _rows(page: Page) -> list[list[str]]:
    return list(
        page.js(
            "[...document.querySelectorAll('#au-table tbody tr')]"
            ".map(r => [r.dataset.id, ...[...r.cells].slice(0, 6).map(c => c.textContent)])"
        )
    )


def _verify(page: Page) -> None:
    page.js(f"{PAGE}.dataset.verified = ''")
    page.js("document.getElementById('au-verify').click()")
    page.wait_for(f"['true', 'false'].includes({PAGE}.dataset.verified)")


def test_search_page_export_and_verify_in_both_languages(page: Page, world: World, tmp_path: Path) -> None:
    _open(page, world, world.admin)
    assert text(page, "#audit-page h2") == "审计日志"
    # A missing part of the page once showed as the text "null" among its parts.
    stray = "[...document.getElementById('audit-page').childNodes].filter(n => n.nodeType === 3)"
    assert page.js(f"{stray}.map(n => n.textContent)") == []
    # The administrator's own changes and sign-ins, by part of the username.
    _search(page, actor=world.admin.username.split("-")[1])
    mine = [r[0] for r in world.owner.execute(
        "SELECT id FROM audit.event WHERE actor_username = %s ORDER BY id DESC", (world.admin.username,)
    )]  # fmt: skip
    assert [int(r[0]) for r in _rows(page)] == mine and mine
    # The user update alone, by the start of its action and the object.
    _search(page, actor="", action="user.up", **{"object-type": "user", "object-id": str(world.renamed)})
    [row] = _rows(page)
    assert row[2:5] == [world.sysadmin.username, "user.update", f"user {world.renamed}"]

    # Verification: every row sealed so far, proved (the count from the database, before the check's own row).
    _verify(page)
    checked = world.owner.execute(
        "SELECT count(*) FROM audit.event"
        " WHERE id < (SELECT max(id) FROM audit.event WHERE action = 'audit.verify')"
    ).fetchone()[0]
    assert text(page, "#au-chain p").startswith(f"审计链完整：已验证 {checked} 条记录")
    save_screenshot(page, "audit")  # the README's picture of 审计: a search and the chain proved
    page.js("document.getElementById('lang').click()")
    assert text(page, "#au-chain p").startswith(f"Audit chain verified: {checked} rows")
    assert text(page, "#audit-page h2") == "Audit log" and text(page, "#au-table th") == "Time"
    assert page.js("document.getElementById('au-action').value") == "user.up"  # the search is kept

    # The export downloads the search (with the token) as the table shows it.
    page.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    page.js("document.querySelector('#au-search button[data-download=csv]').click()")
    saved = tmp_path / "audit-log.csv"
    deadline = time.monotonic() + 30
    while not (saved.exists() and saved.stat().st_size):
        assert time.monotonic() < deadline, list(tmp_path.iterdir())
        time.sleep(0.1)
    exported = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    assert [r[0] for r in exported[1:]] == [row[0]] and exported[1][5] == "user.update"
    page.js("document.getElementById('lang').click()")
    assert text(page, "#au-chain p").startswith("审计链完整")
    assert_offline(page, world.url)


def test_a_broken_chain_is_named_and_others_see_no_audit_page(page: Page, world: World) -> None:
    open_map(page, world.url, world.planner)
    assert page.js("document.getElementById('view-audit').hidden") is True
    page.js("sessionStorage.clear()")  # signed out: the administrator signs in below
    target = world.owner.execute(
        "SELECT id FROM audit.event WHERE action = 'user.update' AND object_id = %s", (str(world.renamed),)
    ).fetchone()[0]
    world.owner.execute("SELECT audit.seal(1000)")
    seq = world.owner.execute("SELECT chain_seq FROM audit.event WHERE id = %s", (target,)).fetchone()[0]
    world.owner.execute("ALTER TABLE audit.event DISABLE TRIGGER event_append_only")
    world.owner.execute(
        'UPDATE audit.event SET after = after || \'{"display_name": "伪造"}\' WHERE id = %s', (target,)
    )
    world.owner.execute("ALTER TABLE audit.event ENABLE TRIGGER event_append_only")
    try:
        _open(page, world, world.admin)
        _verify(page)
        assert page.js(f"{PAGE}.dataset.verified") == "false"
        assert text(page, "#au-chain p").startswith(
            f"审计链断裂：第一处在记录 {target}（链序号 {seq}）：内容已被改动，哈希不符。"
            f"此前 {seq - 1} 条记录已验证。"
        )
        page.js("document.getElementById('lang').click()")
        assert text(page, "#au-chain p").startswith(
            f"Audit chain broken: first at event {target} (sequence number {seq}): its content was altered"
        )
        page.js("document.getElementById('lang').click()")
    finally:
        world.owner.execute("ALTER TABLE audit.event DISABLE TRIGGER event_append_only")
        world.owner.execute(
            'UPDATE audit.event SET after = after || \'{"display_name": "规划王工"}\' WHERE id = %s',
            (target,),
        )
        world.owner.execute("ALTER TABLE audit.event ENABLE TRIGGER event_append_only")
