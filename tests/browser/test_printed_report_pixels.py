"""The printed report in headless Chromium, read by its pixels: the site map is drawn (footprint outline,
grade colours, a real height), the findings table's columns are readable, and the downloaded page draws
Han glyphs from the font it carries (this machine has no Chinese font: ``fc-list :lang=zh`` is empty)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.auth.policy import Role
from app.main import create_app
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import live_server
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, geojson

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
FOOTPRINT = (0x1F, 0x3B, 0x99)
PROHIBITED = (0xD7, 0x19, 0x1C)  # the grade Ⅰ forest half of candidate 甲
INFO = (0x7F, 0x7F, 0x7F)  # ownership, buildings, compensation zone


@pytest.fixture(scope="module")
def live_url(preeval_world: DemoEnv) -> Iterator[str]:
    with live_server(create_app(preeval_world.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def created(preeval_world: DemoEnv) -> tuple[int, Any]:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    r = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["甲"]), "project_type": "school"},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], unit


def _element_pixels(page: Page, selector: str, tmp_path: Path) -> Image.Image:
    """A screenshot of the viewport cropped to an element (scrolled into view first)."""
    box = page.js(
        f"(e => {{ e.scrollIntoView({{block: 'start'}}); const r = e.getBoundingClientRect();"
        f" return [r.left, r.top, r.right, r.bottom]; }})(document.querySelector({selector!r}))"
    )
    shot = tmp_path / "shot.png"
    page.screenshot(str(shot))
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    return image.crop(tuple(round(v) for v in box))


def _count(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 6) -> int:
    pixels = np.asarray(image, dtype=np.int16).reshape(-1, 3)
    return int(np.count_nonzero((np.abs(pixels - np.asarray(colour)) <= tolerance).all(axis=1)))


def test_the_served_report_draws_its_site_map_and_readable_columns(
    live_url: str, created: tuple[int, Any], tmp_path: Path
) -> None:
    report_id, unit = created
    with Page(width=1280, height=900) as page:
        page.send(
            "Network.setExtraHTTPHeaders",
            {"headers": {"Authorization": f"Bearer {unit.token}"}},
            session=page.session,
        )
        page.goto(f"{live_url}/api/pre-evaluations/{report_id}/report.html?lang=zh")
        page.wait_for("document.fonts.ready.then(() => true)")
        height = page.js("document.querySelector('svg.site-map').getBoundingClientRect().height")
        assert height > 300
        image = _element_pixels(page, "svg.site-map", tmp_path)
        assert image.height > 300
        # The footprint's outline (3 px round its 100 m square) and the grades' outlines are drawn.
        assert _count(image, FOOTPRINT) > 600
        assert _count(image, PROHIBITED) > 200
        assert _count(image, INFO) > 200
        # The findings table: 图层 and 等级 hold whole words, not one character per line.
        font = page.js("parseFloat(getComputedStyle(document.querySelector('table.findings')).fontSize)")
        widths = page.js(
            "[...document.querySelectorAll('table.findings thead th')]"
            ".map(th => th.getBoundingClientRect().width)"
        )
        assert widths[1] >= 6 * font and widths[2] >= 3 * font, (widths, font)
        lines = page.js(
            "(() => { const r = document.createRange();"
            " r.selectNodeContents(document.querySelector('table.findings td.layer'));"
            " return r.getClientRects().length; })()"
        )
        assert lines == 1  # "林地" on one line, not a character per line
        assert page.csp_violations == []


def test_the_downloaded_report_draws_han_glyphs_from_its_own_font(
    preeval_world: DemoEnv, created: tuple[int, Any], tmp_path: Path
) -> None:
    report_id, unit = created
    download = preeval_world.client.get(
        f"/api/pre-evaluations/{report_id}/report.html", params={"download": 1}, headers=unit.headers
    )
    saved = tmp_path / "saved.html"
    saved.write_bytes(download.content)
    assert "/vendor/fonts/" not in download.text  # nothing to fetch: the font is inside
    with Page() as page:
        page.goto(saved.as_uri())
        page.wait_for("document.fonts.ready.then(() => true)")
        loaded = page.js(
            "[...document.fonts].filter(f => f.family.replace(/\"/g, '') === 'Noto Sans SC'"
            " && f.status === 'loaded').length"
        )
        assert loaded >= 1
        assert page.js("document.fonts.check('16px \"Noto Sans SC\"', '项目预评价报告')")
        # Pixels: the title drawn in the embedded face differs from the machine's fallback (boxes).
        differs = page.js(
            """(() => {
                const draw = font => {
                    const c = document.createElement('canvas'); c.width = 200; c.height = 40;
                    const g = c.getContext('2d'); g.font = font; g.fillText('预评价报告', 0, 30);
                    return c.toDataURL();
                };
                return draw('24px "Noto Sans SC"') !== draw('24px sans-serif')
                    && draw('24px "Noto Sans SC"') !== draw('24px "No Such Font"');
            })()"""
        )
        assert differs
        assert page.csp_violations == []
