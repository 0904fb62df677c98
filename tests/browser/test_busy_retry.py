"""A busy server in headless Chromium: the page asks a refused read again after Retry-After, never a write.

The server is the real app; in front of it a wrapper answers the first request of a chosen kind with the
edge's own 503 (``database_busy``, ``Retry-After: 1``), as an overloaded server does at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.policy import Role
from app.main import create_app
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.test_projects_page import open_projects
from tests.conftest import DemoEnv

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")

BUSY = {
    "type": "urn:duogui:problem:database_busy",
    "title": "Service Unavailable",
    "status": 503,
    "code": "database_busy",
    "message_zh": "数据库连接已满，请稍后重试。",
    "message_en": "All database connections are busy; try again shortly.",
}


class BusyOnce:
    """Refuses the first request of each (method, path) in ``refuse`` with 503, then lets all through."""

    def __init__(self, app: ASGIApp, refuse: set[tuple[str, str]]) -> None:
        self.app = app
        self.refuse = set(refuse)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = (scope.get("method", ""), scope.get("path", ""))
        if scope["type"] == "http" and key in self.refuse:
            self.refuse.discard(key)
            body = json.dumps(BUSY).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"retry-after", b"1"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def busy(demo: DemoEnv) -> Iterator[tuple[str, RequestLog, BusyOnce]]:
    gate = BusyOnce(create_app(demo.settings), {("GET", "/api/projects"), ("POST", "/api/demands")})
    log = RequestLog(gate)
    with live_server(log) as url:
        yield url, log, gate


def test_a_refused_read_is_asked_again_and_a_refused_write_is_not(
    busy: tuple[str, RequestLog, BusyOnce], demo: DemoEnv
) -> None:
    url, log, gate = busy
    with Page(width=1200, height=800) as page:
        open_projects(page, url, demo.account(Role.VIEWER))
        # The library was refused once and then shown, with no error on the page.
        count = page.js("document.getElementById('pj-count').textContent")
        statuses = [s for m, p, _, s in log.seen if (m, p) == ("GET", "/api/projects")]
        assert statuses[:2] == [503, 200], statuses
        # (The library's own line — its projects, or that it has none yet — not the busy message.)
        assert count and "项目" in count and "繁忙" not in count and "连接已满" not in count, count
        shown = page.js("document.body.innerText")
        assert "连接已满" not in shown and "busy" not in shown.lower(), shown[:500]
        assert ("GET", "/api/projects") not in gate.refuse
        # A write refused as busy is reported to the person, not sent again.
        result: Any = page.js(
            "import('/js/api.js').then(m => m.api('/api/demands', {method: 'POST', body: '{}',"
            " headers: {'Content-Type': 'application/json'}}).then(() => 'sent', e => e.status))"
        )
        assert result == 503
        posts = [s for m, p, _, s in log.seen if (m, p) == ("POST", "/api/demands")]
        assert posts == [503]
