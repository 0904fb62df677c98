"""Pages under the Content-Security-Policy in headless Chromium: they work, nothing refused or injected.

The printable report and the demolition summary are opened over HTTP (the token sent as a header), so the
browser enforces the app's policy; the driver fails a page on any violation it hears (see cdp.Page).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from app.auth.policy import Role
from app.demolition.models import PIPELINE, STATUS_COLOURS
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
# Into a folium map's text (unit codes are at most 64 characters): script, attribute, template literal.
MAP_PAYLOADS = [
    "</script><script>window.pwned=3</script>",
    '"><img src=x onerror=window.pwned=4>',
    "`${window.pwned=5}`\\'\"",
]
# The folium map of a page: its variable is named as its <div> (see analysis.folium_embed).
MAP = "window[document.querySelector('.folium-map').id]"
# The grades as the report names them (no rule ids where people read).
GRADES_ZH = {"prohibited": "禁止", "conditional": "有条件", "advisory": "提示", "info": "统计"}


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
        # Chinese is drawn with the app's own Noto Sans SC (served, no CDN), not whatever the machine has.
        assert page.js("getComputedStyle(document.body).fontFamily").startswith('"Noto Sans SC"')
        assert page.js("document.fonts.load('16px \"Noto Sans SC\"', '预评价').then(f => f.length > 0)")
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
    admin = preeval_world.account(Role.SYSTEM_ADMIN, "gov-data")
    coord = preeval_world.account(Role.COORDINATOR, "land-prep")
    http = preeval_world.client
    project = _project(http, admin, PAYLOAD)
    codes = ["U-1", *MAP_PAYLOADS]
    for n, code in enumerate(codes):
        r = http.post(
            f"/api/demolition/projects/{project['id']}/units",
            json={"unit_code": code, "floor_area_m2": "100", "households": 1, "geometry": _square(n)},
            headers=coord.headers,
        )
        assert r.status_code == 201, r.text
    with Page() as page:
        _open(page, f"{live_url}/api/demolition/projects/{project['id']}/summary.html", coord)
        page.wait_for("document.querySelector('.leaflet-overlay-pane canvas')", timeout_s=30)
        assert page.js("document.title") == f"征拆进度 {PAYLOAD}"
        assert page.js("document.querySelector('h1').textContent") == f"征拆进度报告：{PAYLOAD}"
        # folium's full-window styles for html and body are undone: the page is no wider than the window.
        assert page.js("document.documentElement.scrollWidth <= innerWidth")
        # Every unit's tooltip (folium's GeoJsonTooltip) shows its code and status as text.
        assert _tooltips(page, _unit_points(page)) == {(code, "调查") for code in codes}
        assert page.js("window.pwned === undefined")
        # The legend's colours are SVG fills (a style attribute would be refused).
        fill = page.js("getComputedStyle(document.querySelector('.legend .swatch rect')).fill")
        assert fill == _rgb(STATUS_COLOURS[PIPELINE[0]])
        assert page.csp_violations == []


def test_the_report_map_shows_layer_names_and_messages_as_text(preeval_world: DemoEnv, live_url: str) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    created = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["甲"]), "project_type": "school"},
    )
    assert created.status_code == 201, created.text
    report_id, report = created.json()["id"], created.json()["report"]
    for n, finding in enumerate(report["findings"]):  # as if the catalog and rules held these
        finding["layer_name_zh"] = MAP_PAYLOADS[n % 3]
        finding["message_zh"] = MAP_PAYLOADS[(n + 1) % 3]
        for hit in finding["features"]:  # each feature's tooltip shows its own message
            hit["message_zh"] = MAP_PAYLOADS[(n + 2) % 3]
    with psycopg.connect(preeval_world.settings.owner_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE project.pre_evaluation SET report = %s WHERE id = %s", (Jsonb(report), report_id)
        )
    expected = [(f, fid) for f in report["findings"] for fid in sorted(h["fid"] for h in f["features"])]
    tips = {
        (f"{f['layer_name_zh']}（{h['fid']}）：{h['message_zh']}",)
        for f in report["findings"]
        for h in f["features"]
    }
    with Page() as page:
        _open(page, f"{live_url}/api/pre-evaluations/{report_id}/report.html?lang=zh", unit)
        page.wait_for(f"document.querySelectorAll('path.duogui-conflict').length === {len(expected)}")
        labels = page.js(
            "[...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
            ".map(l => l.textContent.trim())"
        )
        assert labels == [
            f"{report['findings'].index(f) + 1}. {f['layer_name_zh']}（{fid}）· {GRADES_ZH[f['grade']]}"
            for f, fid in expected
        ] + ["用地范围"]
        assert page.js("document.querySelector('.leaflet-control-layers label span span *')") is None
        # The conflicts' tooltips (the footprint over them lets the mouse through) show text only.
        seen = _tooltips(page, _path_points(page))
        assert seen and seen <= tips, seen
        assert page.js("window.pwned === undefined")
        assert page.csp_violations == []


def _square(n: int) -> dict[str, Any]:
    """SQUARE moved east by n times its width and a half."""
    ring = [[x + n * 0.0003, y] for x, y in SQUARE["coordinates"][0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def _unit_points(page: Page) -> list[list[float]]:
    """Page coordinates of every unit's centre on the summary's (canvas) map."""
    return list(
        page.js(
            f"(map => {{ map.getContainer().scrollIntoView({{block: 'center'}});"
            " const box = map.getContainer().getBoundingClientRect(), out = [];"
            " map.eachLayer(l => { if (l.feature) {"
            " const p = map.latLngToContainerPoint(l.getBounds().getCenter());"
            f" out.push([box.left + p.x, box.top + p.y]); }} }}); return out; }})({MAP})"
        )
    )


def _path_points(page: Page) -> list[list[float]]:
    """Page coordinates of the centre of every conflict drawn on the report's (SVG) map."""
    return list(
        page.js(
            f"{MAP}.getContainer().scrollIntoView({{block: 'center'}}),"
            " [...document.querySelectorAll('path.duogui-conflict')]"
            ".map(p => p.getBoundingClientRect()).map(r => [r.left + r.width / 2, r.top + r.height / 2])"
        )
    )


def _tooltips(page: Page, points: list[list[float]]) -> set[tuple[str, ...]]:
    """The cells of the tooltip the mouse opens at each point; no tooltip may hold an element of its own."""
    seen: set[tuple[str, ...]] = set()
    for x, y in points:
        page.hover_at(x, y)
        page.wait_for("document.querySelectorAll('.leaflet-tooltip td').length > 0", timeout_s=10)
        assert page.js("document.querySelector('.leaflet-tooltip td *')") is None
        cells = page.js("[...document.querySelectorAll('.leaflet-tooltip td')].map(td => td.textContent)")
        seen.add(tuple(cells))
        page.hover_at(1, 1)
        page.wait_for("document.querySelector('.leaflet-tooltip') === null", timeout_s=10)
    return seen


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
