"""Service accounts (服务账户) on the security administrator's page, in headless Chromium, in both languages:
a key is created through the page, copied, used over HTTP Basic against /ogc; the page's usage equals the
requests the test made; a revocation through the page refuses the next request; a system administrator is
shown no such section and the API refuses it."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import pytest

from app.auth.policy import Role
from app.main import create_app
from layers.catalog.model import get_catalog
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import assert_offline, sign_in, text
from tests.browser.pixels import save_screenshot
from tests.conftest import DemoEnv
from tests.helpers import unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")

LAYER = "sp_parcel"
SECTION = "document.getElementById('sec-service')"
KEY = re.compile(r"^dgk_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Words:
    """What the page says in one language (written out here, not read from the locale files)."""

    lang: str
    active: str
    revoked: str
    never: str
    copied: str
    taken: str  # the API's refusal of a name already used, {0} the name
    revoked_note: str  # {0} the name
    total: str  # {0} requests, {1} bytes


ZH = Words(
    lang="zh",
    active="有效",
    revoked="已吊销",
    never="从未使用",
    copied="已复制到剪贴板。",
    taken="名称“{0}”已被使用。",
    revoked_note="已吊销“{0}”的密钥，其下一次请求即被拒绝。",
    total="共 {0} 次请求，{1}",
)
EN = Words(
    lang="en",
    active="Active",
    revoked="Revoked",
    never="Never",
    copied="Copied to the clipboard.",
    taken="The name '{0}' is taken.",
    revoked_note="The key of “{0}” was revoked: its next request is refused.",
    total="{0} requests, {1} in all",
)


def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """A plain HTTP GET (no compression asked for): the status and the body as sent."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _basic(name: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{key}".encode()).decode()}


def _bytes_text(n: int) -> str:
    """Bytes as the page should write them: 1,024 per unit step, at most one decimal (by hand, in Python)."""
    value, unit = float(n), 0
    while value >= 1024 and unit < 4:
        value, unit = value / 1024, unit + 1
    figure = f"{value:,.{1 if unit else 0}f}"
    if "." in figure:
        figure = figure.rstrip("0").rstrip(".")
    return f"{figure} {['B', 'KB', 'MB', 'GB', 'TB'][unit]}"


def _cells(page: Page, name: str) -> dict[str, str]:
    """The list's row of an account: column key → text."""
    return dict(
        page.js(
            f"[...document.querySelector('#svc-table tr[data-name={json.dumps(name)}]').cells]"
            ".map(c => [c.dataset.col, c.textContent])"
        )
    )


def _click(page: Page, selector: str) -> None:
    page.js(f"document.querySelector({json.dumps(selector)}).click()")


def _wait_notice(page: Page, said: str) -> None:
    page.wait_for(f"document.getElementById('svc-notice').textContent === {json.dumps(said)}")


def _stored(db: psycopg.Connection[Any], column: str, name: str) -> Any:
    """One column (or aggregate) of the stored service account of a name."""
    query = f"SELECT {column} FROM auth.service_account WHERE name = %s"  # column: this module's literals
    row = db.execute(query, (name,)).fetchone()
    return row[0] if row else None


def _fill_form(page: Page, name: str, org: str) -> None:
    page.js(
        "(() => { const n = document.getElementById('svc-name');"
        f" n.value = {json.dumps(name)}; n.dispatchEvent(new Event('input'));"
        f" const o = document.getElementById('svc-org'); o.value = {json.dumps(org)};"
        " o.dispatchEvent(new Event('change')); return true; })()"
    )


def _create(page: Page, name: str) -> str:
    """Create an account reading one layer through the form (the 'all public layers' box unticked);
    return the expiry date the form proposed (the last day the key works)."""
    _fill_form(page, name, "pnr")
    _click(page, "#svc-all")
    page.wait_for(f"document.querySelector('#svc-layers input[value={LAYER}]')")
    _click(page, f"#svc-layers input[value={LAYER}]")
    chosen = str(page.js("document.getElementById('svc-expires').value"))
    page.js("document.getElementById('svc-form').requestSubmit()")
    return chosen


def _round(page: Page, url: str, words: Words, db: psycopg.Connection[Any], names: dict[str, str]) -> None:
    """One language's round: create, copy, use, count, revoke, refused."""
    name = unique("qgis").replace("_", "-")
    chosen = _create(page, name)
    page.wait_for("document.getElementById('svc-key')")
    page.js("document.getElementById('svc-copy').click()")
    page.wait_for(f"document.getElementById('svc-copied').textContent === {json.dumps(words.copied)}")
    key = str(page.js("navigator.clipboard.readText()"))
    assert KEY.match(key) and page.js("document.getElementById('svc-key').value") == key
    row = _cells(page, name)
    assert row["org"] == names["org"] and row["layers"] == names["layer"]
    assert (row["state"], row["last"], row["requests"]) == (words.active, words.never, "0")
    assert row["expires"] == chosen and date.fromisoformat(chosen) > date.today()

    # The key, shown once: closed, it is nowhere in the page.
    _click(page, "#svc-key-close")
    page.wait_for("!document.getElementById('svc-key-box')")
    assert key not in str(page.js("document.documentElement.outerHTML"))

    # A name already taken: the API's refusal, in the page's language; nothing more is written.
    _fill_form(page, name, "pnr")
    page.js("document.getElementById('svc-form').requestSubmit()")
    page.wait_for(
        f"document.getElementById('svc-notice').textContent === {json.dumps(words.taken.format(name))}"
    )
    assert db.execute("SELECT count(*) FROM auth.service_account WHERE name = %s", (name,)).fetchone() == (1,)

    # Used over HTTP Basic: the layer's every feature; each request counted here.
    expected = db.execute(
        "SELECT count(*) FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id"
        " WHERE l.code = %s",
        (LAYER,),
    ).fetchone()[0]
    made, sent = 0, 0
    for limit in (1, 2, 5):
        status, body = _get(f"{url}/ogc/collections/{LAYER}/items?limit={limit}", _basic(name, key))
        made, sent = made + 1, sent + len(body)
        assert status == 200
        answer = json.loads(body)
        assert answer["numberMatched"] == expected > 0 and len(answer["features"]) == min(limit, expected)
    _click(page, f"#svc-table button[data-usage={json.dumps(name)}]")
    page.wait_for(f"document.querySelector('#svc-usage[data-name={json.dumps(name)}] #svc-usage-table')")
    assert text(page, "#svc-usage-total") == words.total.format(made, _bytes_text(sent))
    day = page.js("[...document.querySelectorAll('#svc-usage-table tbody td')].map(c => c.textContent)")
    assert day[1:3] == [str(made), _bytes_text(sent)] and day[3] == f"{names['layer']} {made}"
    assert _cells(page, name)["requests"] == str(made)

    # Revoked through the page, after a confirmation: the next request is refused.
    _click(page, f"#svc-table button[data-revoke={json.dumps(name)}]")
    page.wait_for(f"document.querySelector('#svc-table button[data-confirm-revoke={json.dumps(name)}]')")
    assert db.execute("SELECT revoked_at FROM auth.service_account WHERE name = %s", (name,)).fetchone() == (
        None,
    )
    _click(page, f"#svc-table button[data-confirm-revoke={json.dumps(name)}]")
    _wait_notice(page, words.revoked_note.format(name))
    assert _cells(page, name)["state"] == words.revoked
    assert _get(f"{url}/ogc/collections/{LAYER}/items?limit=1", _basic(name, key))[0] == 401


def test_service_accounts_on_the_security_page(demo: DemoEnv) -> None:
    security = demo.account(Role.SECURITY_ADMIN, "gov-data")
    sysadmin = demo.account(Role.SYSTEM_ADMIN, "gov-data")
    entry = get_catalog().get(LAYER)
    with (
        psycopg.connect(demo.settings.owner_dsn, autocommit=True) as db,
        live_server(create_app(demo.settings)) as url,
        Page(width=1400, height=1000) as page,
    ):
        org = db.execute("SELECT name_zh, name_en FROM auth.organisation WHERE code = 'pnr'").fetchone()
        page.send(
            "Browser.grantPermissions",
            {"origin": url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        page.send("Emulation.setFocusEmulationEnabled", {"enabled": True}, session=page.session)
        page.goto(url)
        sign_in(page, url, security)
        page.wait_for(f"document.body.dataset.view === 'security' && {SECTION}?.dataset.ready === 'true'")
        assert text(page, "#sec-service h3") == "服务账户（机器客户端）"
        _round(page, url, ZH, db, {"org": org[0], "layer": entry.name_zh})
        page.js("document.getElementById('sec-service').scrollIntoView()")
        save_screenshot(page, "security")  # the README's picture of 安全策略

        page.js("document.getElementById('lang').click()")
        page.wait_for(
            "document.querySelector('#sec-service h3').textContent === 'Service accounts (machine clients)'"
        )
        _round(page, url, EN, db, {"org": org[1] or org[0], "layer": entry.name_en})
        page.js("document.getElementById('lang').click()")  # back to Chinese for the next visitor

        # The system administrator: no section, and the API refuses it.
        page.js("document.getElementById('sign-out').click()")
        sign_in(page, url, sysadmin)
        page.wait_for("document.body.dataset.mapReady === 'true' && !document.getElementById('views').hidden")
        assert page.js("document.getElementById('view-security').hidden") is True
        assert page.js("document.getElementById('sec-service')") is None
        for path in ("/api/service-accounts", "/api/service-accounts/layers"):
            assert _get(url + path, sysadmin.headers)[0] == 403
        assert_offline(page, url)
