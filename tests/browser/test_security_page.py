"""The security administrator's page (安全策略) in headless Chromium, in Chinese and English: the policy form
with the server's refusals shown by field, the locked accounts with unlock, the role × permission matrix; only
the security administrator is shown it, and it sees no base map."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.auth.policy import Role
from app.main import create_app
from app.settings import Settings
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.browser.mapapp import assert_offline, sign_in, text

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")

FIELD = "document.getElementById('sec-password_min_length')"


def _set_and_save(page: Page, value: str) -> None:
    page.js(
        f"(() => {{ const i = {FIELD}; i.value = {json.dumps(value)};"
        " i.dispatchEvent(new Event('input')); document.getElementById('sec-policy').requestSubmit();"
        " return true; })()"
    )


def _cell(page: Page, action_row: int, role: str) -> str:
    """The matrix cell of the n-th action row under a role's column."""
    return str(
        page.js(
            "(() => { const t = document.querySelector('#sec-matrix table');"
            " const heads = [...t.querySelectorAll('thead th')].map(h => h.textContent);"
            f" const col = heads.indexOf({json.dumps(role)});"
            f" return t.querySelectorAll('tbody tr')[{action_row}].children[col].textContent; }})()"
        )
    )


def test_the_security_page_in_both_languages(settings: Settings, make_account: Any, owner_conn: Any) -> None:
    security = make_account(Role.SECURITY_ADMIN, "gov-data", sign_in_now=False)
    sysadmin = make_account(Role.SYSTEM_ADMIN, "gov-data", sign_in_now=False)
    locked = make_account(Role.VIEWER, sign_in_now=False)
    owner_conn.execute(
        "UPDATE auth.user SET failed_attempts = 3, locked_until = now() + interval '15 minutes'"
        " WHERE id = %s",
        (locked.id,),
    )
    before = owner_conn.execute("SELECT version, password_min_length FROM auth.security_policy").fetchone()
    try:
        with live_server(create_app(settings)) as url, Page() as page:
            page.goto(url)
            sign_in(page, url, security)
            page.wait_for(
                "document.body.dataset.view === 'security' && document.getElementById('sec-policy')"
            )
            # Only its own page: no map, no business views.
            shown = page.js(
                "['map', 'projects', 'demolition', 'security']"
                ".map(v => !document.getElementById(`view-${v}`).hidden)"
            )
            assert shown == [False, False, False, True]
            assert page.js("document.getElementById('workspace').hidden") is True
            assert text(page, "#security-page h2") == "安全策略"
            assert page.js(f"{FIELD}.value") == "12"

            # Refused by the server: the field says why, nothing is stored.
            _set_and_save(page, "7")
            page.wait_for("document.getElementById('sec-password_min_length-error').textContent")
            assert text(page, "#sec-password_min_length-error") == "须为 8–128 之间的整数。"
            assert page.js(f"{FIELD}.getAttribute('aria-invalid')") == "true"
            stored = owner_conn.execute("SELECT version, password_min_length FROM auth.security_policy")
            assert stored.fetchone() == before
            _set_and_save(page, "14")
            page.wait_for("document.getElementById('sec-notice')?.textContent === '安全策略已保存。'")
            stored = owner_conn.execute("SELECT version, password_min_length FROM auth.security_policy")
            assert stored.fetchone() == (before[0] + 1, 14)

            # The locked account, unlocked from the page.
            assert locked.username in text(page, "#sec-locked table")
            button = f"#sec-locked button[data-user={json.dumps(locked.username)}]"
            page.js(f"document.querySelector({json.dumps(button)}).click()")
            page.wait_for("document.getElementById('sec-notice')?.textContent === '已解除锁定。'")
            assert page.js(f"document.querySelector({json.dumps(button)})") is None
            assert owner_conn.execute(
                "SELECT locked_until, failed_attempts FROM auth.user WHERE id = %s", (locked.id,)
            ).fetchone() == (None, 0)

            # The matrix, read-only: the audit log is the audit administrator's alone.
            actions = page.js(
                "[...document.querySelectorAll('#sec-matrix tbody tr')].map(r => r.children[0].textContent)"
            )
            audit_row = actions.index("查阅审计日志")
            assert _cell(page, audit_row, "安全审计员") == "全部"
            assert _cell(page, audit_row, "系统管理员") == "—"
            assert page.js("document.querySelectorAll('#sec-matrix input, #sec-matrix select').length") == 0

            # English.
            page.js("document.getElementById('lang').click()")
            page.wait_for("document.querySelector('#security-page h2').textContent === 'Security policy'")
            assert text(page, "#view-security") == "Security policy"
            assert _cell(page, actions.index("查阅审计日志"), "Audit administrator") == "Any"
            assert text(page, "#sec-locked h3") == "Locked accounts"
            _set_and_save(page, "200")
            page.wait_for("document.getElementById('sec-password_min_length-error').textContent")
            assert text(page, "#sec-password_min_length-error") == "Must be a whole number from 8 to 128."
            page.js("document.getElementById('lang').click()")  # back to Chinese for the next visitor

            # The system administrator is not shown the page.
            page.js("document.getElementById('sign-out').click()")
            sign_in(page, url, sysadmin)
            page.wait_for(
                "document.body.dataset.mapReady === 'true' && !document.getElementById('views').hidden"
            )
            assert page.js("document.getElementById('view-security').hidden") is True
            assert page.js("document.getElementById('view-map').hidden") is False
            assert_offline(page, url)
    finally:
        owner_conn.execute("UPDATE auth.security_policy SET password_min_length = %s", (before[1],))
