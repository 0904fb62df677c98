"""Pages under the Content-Security-Policy in headless Chromium: they work, nothing refused or injected.

The printable report and the demolition summary are opened over HTTP (the token sent as a header), so the
browser enforces the app's policy; the driver fails a page on any violation it hears (see cdp.Page).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.auth.policy import Role
from app.main import create_app
from tests.api.test_demolition_tiles import SQUARE
from tests.browser.cdp import CHROMIUM, BrowserError, Page
from tests.browser.live import live_server
from tests.conftest import DemoEnv
from tests.helpers import Account
from tests.preeval_world import CANDIDATES, geojson

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
# Would set window.pwned if the page ran it.
PAYLOAD = '</title><script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">'


@pytest.fixture(scope="module")
def live_url(preeval_world: DemoEnv) -> Iterator[str]:
    with live_server(create_app(preeval_world.settings)) as url:
        yield url


def _open(page: Page, url: str, account: Account | None = None) -> None:
    if account is not None:
        headers = {"Authorization": f"Bearer {account.token}"}
        page.send("Network.setExtraHTTPHeaders", {"headers": headers}, session=page.session)
    page.goto(url)


def test_the_report_map_draws_under_the_policy_which_refuses_inline_script(
    preeval_world: DemoEnv, live_url: str
) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    created = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["甲"]), "project_type": "school", "project_code": PAYLOAD[:64]},
    )
    assert created.status_code == 201, created.text
    hits = sum(len(f["features"]) for f in created.json()["report"]["findings"])
    with Page() as page:
        _open(page, f"{live_url}/api/pre-evaluations/{created.json()['id']}/report.html", unit)
        count = page.wait_for(
            f"document.querySelectorAll('path.duogui-conflict').length === {hits} && {hits}", timeout_s=30
        )
        assert count == hits >= 3
        assert page.js("document.querySelectorAll('path.duogui-footprint').length") == 1
        assert page.js("document.querySelector('.leaflet-control-layers') !== null")
        assert page.js("window.pwned === undefined")
        assert page.csp_violations == []
        url = page.js("location.href")
    # The policy is enforced: a script written into the page does not run, and the driver fails the page.
    with pytest.raises(BrowserError, match="script-src"), Page() as page:
        _open(page, url, unit)
        ran = page.js(
            "(() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            " document.body.append(s); return window.ran === undefined; })()"
        )
        assert ran is True
        page.wait_until(lambda: page.csp_violations, "the violation report")


def test_the_downloaded_report_draws_offline_under_its_own_policy(
    preeval_world: DemoEnv, tmp_path: Path
) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    created = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["乙"]), "project_type": "school", "project_code": PAYLOAD[:64]},
    )
    assert created.status_code == 201, created.text
    download = preeval_world.client.get(
        f"/api/pre-evaluations/{created.json()['id']}/report.html",
        params={"download": 1},
        headers=unit.headers,
    )
    saved = tmp_path / "saved.html"
    saved.write_bytes(download.content)
    with Page() as page:
        page.goto(saved.as_uri())
        page.wait_for("document.querySelector('path.duogui-conditional')", timeout_s=30)
        assert page.js("window.pwned === undefined")
        assert page.csp_violations == []


def test_the_demolition_summary_draws_under_the_policy(preeval_world: DemoEnv, live_url: str) -> None:
    admin = preeval_world.account(Role.ADMIN, "gov-data")
    coord = preeval_world.account(Role.COORDINATOR, "land-prep")
    http = preeval_world.client
    project = _project(http, admin, PAYLOAD)
    r = http.post(
        f"/api/demolition/projects/{project['id']}/units",
        json={"unit_code": "U-1", "floor_area_m2": "100", "households": 1, "geometry": SQUARE},
        headers=coord.headers,
    )
    assert r.status_code == 201, r.text
    with Page() as page:
        _open(page, f"{live_url}/api/demolition/projects/{project['id']}/summary.html", coord)
        page.wait_for("document.querySelector('.leaflet-overlay-pane canvas')", timeout_s=30)
        assert page.js("document.title") == f"征拆进度 {PAYLOAD}"
        assert page.js("document.querySelector('h1').textContent") == f"征拆进度报告：{PAYLOAD}"
        assert page.js("window.pwned === undefined")
        # The legend's colours are set by the served script (a style attribute would be refused).
        colour = page.js("getComputedStyle(document.querySelector('.legend .swatch')).backgroundColor")
        assert colour not in ("", "rgba(0, 0, 0, 0)")
        assert page.csp_violations == []


def test_api_docs_and_ogc_pages_render_under_the_policy(preeval_world: DemoEnv, live_url: str) -> None:
    planner = preeval_world.account(Role.PLANNER)
    with Page() as page:
        _open(page, f"{live_url}/api/docs")
        page.wait_for("document.querySelector('.swagger-ui .info .title')", timeout_s=30)
        _open(page, f"{live_url}/ogc?f=html", planner)
        # The stylesheet applies (header colour #1f4e79 from /assets/ogc/ogc.css).
        assert (
            page.js("getComputedStyle(document.querySelector('header')).backgroundColor")
            == "rgb(31, 78, 121)"
        )
        assert page.csp_violations == []


def _project(http: Any, admin: Account, name: str) -> dict[str, Any]:
    body = {
        "name": name,
        "project_type": "house_building",
        "investment_wan": "8000",
        "funding_source": "区财政",
        "planned_start": "2026-03-02",
        "owner_dept_code": "education",
        "unit_org_code": "works",
    }
    r = http.post("/api/projects", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())
