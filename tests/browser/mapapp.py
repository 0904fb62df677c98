"""Steps shared by the map-app browser tests: sign in, open the map, read text, tick layers, check offline."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tests.browser.cdp import Page
from tests.helpers import Account

SIGN_IN_SHOWN = (
    "!document.getElementById('sign-in-page').hidden && !document.getElementById('sign-in').hidden"
)
ALL = "document.querySelectorAll"


def sign_in(page: Page, url: str, account: Account, password: str | None = None) -> None:
    """Fill in and send the sign-in form."""
    page.wait_for(SIGN_IN_SHOWN)
    fill = {"username": account.username, "password": password or account.password}
    page.js(
        f"(() => {{ const v = {json.dumps(fill)};"
        " for (const [k, x] of Object.entries(v)) document.getElementById(k).value = x;"
        " document.getElementById('sign-in').requestSubmit(); return true; })()"
    )


def open_map(page: Page, url: str, account: Account, view: str = "") -> None:
    """Open the app (optionally at a #map=zoom/lat/lon view), sign in and wait for the map's style."""
    page.goto(f"{url}/{view}")
    sign_in(page, url, account)
    page.wait_for("document.body.dataset.mapReady === 'true'", timeout_s=60)


def text(page: Page, selector: str) -> str:
    return str(page.js(f"document.querySelector({json.dumps(selector)})?.textContent ?? ''"))


def tick(page: Page, *codes: str) -> None:
    """Tick layers in the tree in one go (as fast clicks would)."""
    page.js(f"{json.dumps(list(codes))}.forEach(c => document.getElementById(`layer-${{c}}`).click())")


def only(page: Page, *codes: str) -> None:
    """Untick every layer (the base map is on by default), then tick ``codes``."""
    page.js("document.getElementById('clear-layers').click()")
    tick(page, *codes)


def assert_offline(page: Page, url: str) -> None:
    """Every request of the page and its workers went to the test server (or was inline data)."""
    assert page.requests, "no request was recorded"
    outside = [u for u in page.requests if not (u.startswith(url + "/") or u.startswith(("data:", "blob:")))]
    assert outside == [], outside
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in page.requests if u.startswith("http"))


def details_facts(page: Page) -> dict[str, str]:
    """The layer details panel's facts, label → value."""
    pairs = page.js(
        "[...document.querySelectorAll('#details dl.facts dt')]"
        ".map(d => [d.textContent, d.nextElementSibling.textContent])"
    )
    return dict(pairs)
