"""Map labels are drawn in Han glyphs, not missing-glyph boxes, on a machine with no CJK font (pixels).

The community names of the demo are drawn twice at the same view: by the app's map (glyph ranges served
by /tiles/fonts) and by a map set up as the app was before (Han characters from the machine's fonts). This
machine has no CJK font, so the second shows boxes: the ink of a box is a rectangle outline with nothing
inside, while Han characters have strokes inside their boxes.
"""

from __future__ import annotations

import json
import subprocess
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rasterio.io import MemoryFile

from app.auth.policy import Role
from app.main import create_app
from layers.district import DISTRICT
from layers.tiles.glyphs import FONTSTACK
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import open_map
from tests.conftest import DemoEnv
from tests.helpers import Account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
LABEL = "admin_community-label"
WIDTH, HEIGHT = 900, 600
# Only the community names, black, large and without halo, on white: every dark pixel is label ink.
DRAW = """
(async ({ local }) => {
  const token = sessionStorage.getItem('duogui.token');
  const get = async path => (await fetch(path, { headers: { Authorization: `Bearer ${token}` } })).json();
  const style = await get('/tiles/style.json');
  const layers = (await get('/api/layers')).filter(l => l.code === 'admin_community');
  style.layers = style.layers.filter(l => l.id === 'background' || l.id === '%(label)s');
  style.layers[0].paint = { 'background-color': '#ffffff' };
  const label = style.layers[1];
  label.layout = { ...label.layout, 'text-size': 32 };
  label.paint = { 'text-color': '#000000' };
  document.getElementById('glyph-test')?.remove();
  const box = document.createElement('div');
  box.id = 'glyph-test';
  box.style.cssText = 'position:fixed;left:0;top:0;width:%(width)dpx;height:%(height)dpx;z-index:100000';
  document.body.append(box);
  let map;
  if (local) {  // as the app was: Han characters drawn from the machine's fonts
    const maplibregl = await import('/vendor/maplibre-gl/maplibre-gl.mjs');
    style.sources.duogui.tiles = [`${location.origin}/tiles/admin_community/{z}/{x}/{y}.mvt`];
    label.layout.visibility = 'visible';
    map = new maplibregl.Map({
      container: box, style, center: %(centre)s, zoom: 12, localIdeographFontFamily: 'sans-serif',
      transformRequest: url => ({ url, headers: { Authorization: `Bearer ${token}` } }),
      attributionControl: false, fadeDuration: 0,
    });
  } else {  // the app's own map class, with its own options
    const { PlanMap } = await import('/js/map.js');
    map = new PlanMap(box, style, %(bounds)s, layers).map;
    map.jumpTo({ center: %(centre)s, zoom: 12 });
  }
  window.glyphTestMap = map;
  return true;
})
"""
DRAWN = (
    "window.glyphTestMap.loaded() && window.glyphTestMap.areTilesLoaded()"
    f" && window.glyphTestMap.queryRenderedFeatures({{layers: ['{LABEL}']}}).length > 0"
)

REPAINTED = (
    "new Promise(r => { const m = window.glyphTestMap; m.once('idle', () => r(true)); m.triggerRepaint(); })"
)


@pytest.fixture(scope="module")
def server(demo: DemoEnv) -> Iterator[tuple[str, RequestLog]]:
    log = RequestLog(create_app(demo.settings))
    with live_server(log) as url:
        yield url, log


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Account:
    return demo.account(Role.PLANNER)


def _draw(page: Page, local: bool, shot: Path) -> np.ndarray:
    """Draw the labels, screenshot them; the label area as a boolean ink mask."""
    script = DRAW % {
        "label": LABEL,
        "width": WIDTH,
        "height": HEIGHT,
        "centre": json.dumps(list(DISTRICT.centre)),
        "bounds": json.dumps(list(DISTRICT.extent)),
    }
    page.js(f"({script})({json.dumps({'local': local})})")
    page.wait_for(DRAWN, timeout_s=60)
    # Drawn once more after the last tile, so that every placed label is on the canvas.
    page.js(REPAINTED)
    page.screenshot(str(shot))
    with MemoryFile(shot.read_bytes()) as memory, memory.open() as png:
        pixels = png.read()
    luminance = pixels[:3, :HEIGHT, :WIDTH].astype(float).mean(axis=0)
    return luminance < 128


def _components(ink: np.ndarray) -> list[list[tuple[int, int]]]:
    """The 8-connected groups of ink pixels."""
    seen = np.zeros_like(ink)
    groups = []
    for start in zip(*np.nonzero(ink), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        group, queue = [], deque([start])
        while queue:
            r, c = queue.popleft()
            group.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    n = (r + dr, c + dc)
                    if 0 <= n[0] < ink.shape[0] and 0 <= n[1] < ink.shape[1] and ink[n] and not seen[n]:
                        seen[n] = True
                        queue.append(n)
        groups.append(group)
    return groups


def boxed_share(ink: np.ndarray) -> float:
    """The share of the ink that forms missing-glyph boxes: rectangle outlines with nothing inside."""
    boxed = 0
    for group in _components(ink):
        rows, cols = zip(*group, strict=True)
        top, bottom, left, right = min(rows), max(rows), min(cols), max(cols)
        height, width = bottom - top + 1, right - left + 1
        if height < 10 or width < 6:
            continue
        inset = max(2, min(height, width) // 4)
        inside = ink[top + inset : bottom - inset + 1, left + inset : right - inset + 1]
        if not inside.any():
            boxed += len(group)
    return boxed / max(1, int(ink.sum()))


def test_boxed_share_tells_boxes_from_han_strokes() -> None:
    tofu = np.zeros((40, 60), dtype=bool)
    tofu[5:35, 5:25] = True
    tofu[7:33, 7:23] = False  # a hollow rectangle
    han = np.zeros((40, 60), dtype=bool)
    han[5:35, 40] = han[18, 30:55] = True  # 十: strokes cross inside the box
    assert boxed_share(tofu) == 1.0
    assert boxed_share(han) == 0.0
    assert boxed_share(tofu | han) == pytest.approx(int(tofu.sum()) / int((tofu | han).sum()))


def test_map_labels_are_han_glyphs_from_the_served_ranges_not_boxes(
    server: tuple[str, RequestLog], planner: Account, tmp_path: Path
) -> None:
    url, log = server
    with Page(width=WIDTH, height=HEIGHT) as page:
        open_map(page, url, planner)
        served = _draw(page, local=False, shot=tmp_path / "served.png")
        glyph_requests = [
            p for _, p, _, status in log.seen if p.startswith("/tiles/fonts/") and status == 200
        ]
        local = _draw(page, local=True, shot=tmp_path / "local.png")

    # The app asked for Han ranges of its own font (社 U+793E is in 30976-31231).
    assert f"/tiles/fonts/{FONTSTACK}/30976-31231.pbf" in glyph_requests
    assert served.sum() > 2000, "the served glyphs drew no label"
    assert boxed_share(served) < 0.2, f"labels drawn as boxes ({boxed_share(served):.0%} of the ink)"
    assert (served != local).sum() > 1000  # the two renderings differ
    no_cjk_font = not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip()
    if no_cjk_font:  # the case this test is for: the machine's fonts give boxes, the served glyphs do not
        assert local.sum() > 1000
        assert boxed_share(local) > 0.8, f"only {boxed_share(local):.0%} of the local rendering is boxes"
