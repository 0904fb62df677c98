"""First sight of the planners' map (demo district, headless Chromium): the 底图 is drawn without a click —
its sub-district boundaries and expressways found in the screenshot where their coordinates (read through
the OGC API, projected here by hand) say they are — the legend lists only what the zoom draws, and an
identified feature is outlined in pixels. Writes docs/screenshots/map.png for the README."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.auth.policy import Role
from layers.catalog.model import get_catalog
from layers.district import DISTRICT
from tests.api.test_projects import new_project
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog
from tests.browser.mapapp import only, open_map, text
from tests.browser.pixels import capture, map_pixel, near, purple, road_orange, save_screenshot
from tests.browser.test_map_app import _a_building, click_map_centre, page, planner, server
from tests.conftest import DemoEnv
from tests.helpers import Account

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
__all__ = ["page", "planner", "server"]  # test_map_app's fixtures, used here
LON, LAT = DISTRICT.centre
START = (11.0, LAT, LON)  # zoom, centre lat, centre lon
MAP_BOX = "(r => [r.left, r.top, r.width, r.height])(document.getElementById('map').getBoundingClientRect())"
# The map's own layers are drawn once every tile is in; an "idle" flag would need the map object.
SETTLE_MS = 2500


@pytest.fixture(scope="module")
def served(server: tuple[str, RequestLog]) -> str:
    """The demo app's base URL (test_map_app's server, a copy of its own for this module)."""
    return server[0]


def _vertices(demo: DemoEnv, planner: Account, code: str) -> list[tuple[float, float]]:
    """Every vertex of a layer's features in CRS84, read through the OGC API (not the tiles)."""
    r = demo.client.get(f"/ogc/collections/{code}/items", params={"limit": 1000}, headers=planner.headers)
    assert r.status_code == 200, r.text
    out: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            out.append((float(c[0]), float(c[1])))
        else:
            for part in c:
                walk(part)

    for feature in r.json()["features"]:
        walk(feature["geometry"]["coordinates"])
    return out


def _hits(image: Any, points: list[tuple[float, float]], box: list[float], colour: Any) -> tuple[int, int]:
    """(vertices inside the map, away from its controls; those with the colour drawn within 4 px)."""
    left, top, width, height = box
    inside = []
    for lon, lat in points:
        x, y = map_pixel(lon, lat, START, (left, top, width, height))
        if left + 60 < x < left + width - 60 and top + 110 < y < top + height - 50:  # not under the controls
            inside.append((x, y))
    return len(inside), sum(near(image, x, y, colour) for x, y in inside)


def settle(page: Page) -> None:
    page.js(f"new Promise(resolve => setTimeout(resolve, {SETTLE_MS}))")


def test_the_first_view_draws_boundaries_and_roads_where_they_are(
    page: Page, served: str, planner: Account, demo: DemoEnv
) -> None:
    open_map(page, served, planner, view=f"#map={START[0]:g}/{LAT:.6f}/{LON:.6f}")
    page.wait_until(
        lambda: any("/tiles/raster/base_hillshade/" in u for u in page.requests), "the hillshade tiles"
    )
    settle(page)
    image, box = capture(page), page.js(MAP_BOX)
    sampled, drawn = _hits(image, _vertices(demo, planner, "admin_subdistrict"), box, purple)
    assert sampled >= 20, "the view should hold sub-district boundaries"
    assert drawn >= 0.7 * sampled, f"boundary purple near {drawn} of {sampled} boundary vertices"
    sampled, drawn = _hits(image, _vertices(demo, planner, "trans_expressway"), box, road_orange)
    assert sampled >= 10, "the view should hold expressways"
    assert drawn >= 0.7 * sampled, f"road colour near {drawn} of {sampled} expressway vertices"
    # The boundaries are lines over an unfilled district (its fill opacity is 0 in the catalog): inside the
    # district, away from the lines, the hillshade shows through, not a purple wash.
    assert purple(image).mean() < 0.01
    extent = next(
        layer["extent"]
        for layer in demo.client.get("/api/layers", headers=planner.headers).json()
        if layer["code"] == "admin_district"
    )
    centre = ((extent[1] + extent[3]) / 2, (extent[0] + extent[2]) / 2)
    page.js(f"location.hash = '#map=13/{centre[0]:.5f}/{centre[1]:.5f}'")  # the README's view of the demo
    settle(page)
    save_screenshot(page, "map")


def test_the_legend_lists_only_what_the_zoom_draws(page: Page, served: str, planner: Account) -> None:
    open_map(page, served, planner, view=f"#map=11/{LAT:.6f}/{LON:.6f}")
    catalog = get_catalog()
    legend = "[...document.querySelectorAll('#legend .legend-item')].map(i => i.dataset.code)"
    page.wait_for("document.getElementById('legend').dataset.zoom === '11'")
    drawn = [
        e.code
        for e in catalog.layers.values()
        if e.base_map and e.min_zoom <= 11 and e.raster is None  # the hillshade has no legend
    ]
    assert page.js(legend) == drawn
    assert "base_place_name" not in drawn
    assert text(page, "#legend-waiting") == "另有 1 个已勾选图层需放大后才显示。"
    assert "255" not in text(page, "#legend")
    # Parcels (30 land-use classes) ticked at zoom 11 are not drawn, so not in the legend.
    page.js("document.getElementById('layer-sp_parcel').click()")
    page.wait_for("document.getElementById('legend-waiting')?.textContent.includes('2 个')")
    assert "sp_parcel" not in page.js(legend)
    # Zoomed in to 14, the place names and the parcels are drawn and listed, updated on zoom.
    page.js(f"location.hash = '#map=14/{LAT:.6f}/{LON:.6f}'")
    page.wait_for("document.getElementById('legend').dataset.zoom === '14'")
    shown = page.js(legend)
    assert "base_place_name" in shown and "sp_parcel" in shown
    assert not page.js("document.getElementById('legend-waiting')")


def test_an_identified_building_is_outlined_in_the_highlight_colour(
    page: Page, served: str, planner: Account, demo: DemoEnv
) -> None:
    fid, lon, lat, _ = _a_building(demo)
    view = (18.0, lat, lon)
    open_map(page, served, planner, view=f"#map=18/{lat:.6f}/{lon:.6f}")
    only(page, "cur_building")
    settle(page)
    box = page.js(MAP_BOX)
    before = capture(page)
    click_map_centre(page)
    page.wait_for(f"document.body.dataset.highlight === 'cur_building:{fid}'", timeout_s=30)
    settle(page)
    image = capture(page)
    r = demo.client.get(f"/ogc/collections/cur_building/items/{fid}", headers=planner.headers)
    ring = r.json()["geometry"]["coordinates"]
    ring = ring[0][0] if r.json()["geometry"]["type"] == "MultiPolygon" else ring[0]
    # Points along every edge (vertices and midpoints), placed by hand from the feature's coordinates.
    points = []
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        points += [(x0, y0), ((x0 + x1) / 2, (y0 + y1) / 2)]
    pixels = [map_pixel(px, py, view, tuple(box)) for px, py in points]
    inside = [(x, y) for x, y in pixels if 0 < x < 1280 and 0 < y < 800]
    assert len(inside) >= 4
    outlined = sum(near(image, x, y, road_orange, radius=3) for x, y in inside)
    assert outlined == len(inside), f"highlight orange along {outlined} of {len(inside)} outline points"
    # Not there before the click.
    assert sum(near(before, x, y, road_orange, radius=3) for x, y in inside) == 0


def test_the_unit_map_lays_the_base_map_under_the_units(
    page: Page, served: str, demo: DemoEnv, planner: Account
) -> None:
    """A demolition unit on the demo: its map asks for the 底图's tiles at the unit's zoom (the planners' map,
    framed on the district, never goes that close) and draws road colour where the expressway runs."""
    admin = demo.account(Role.SYSTEM_ADMIN)
    lon, lat = _vertices(demo, planner, "trans_expressway")[0]
    d = 0.0002
    project = new_project(demo.client, admin, name="底图下的征拆单元", owner_dept_code="education",
                          unit_org_code="works")  # fmt: skip
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    r = demo.client.post(
        f"/api/demolition/projects/{project['id']}/units",
        json={"unit_code": "U-1", "floor_area_m2": "100", "households": 1,
              "geometry": {"type": "Polygon", "coordinates": [ring]}},
        headers=admin.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    open_map(page, served, admin)
    page.js("document.getElementById('view-demolition').click()")
    page.wait_for("document.getElementById('dm-project')")
    page.js(
        f"(s => {{ s.value = '{project['id']}'; s.dispatchEvent(new Event('change')); }})"
        "(document.getElementById('dm-project'))"
    )
    page.wait_for("document.getElementById('dm-map').dataset.loaded === 'true'", timeout_s=60)
    base = re.compile(r"/tiles/([a-z_0-9,]+)/(1[6-9])/\d+/\d+\.mvt")
    asked = {m[1] for u in page.requests if (m := base.search(urlsplit(u).path))}
    assert any("admin_subdistrict" in codes and "trans_expressway" in codes for codes in asked), asked
    assert any("/tiles/raster/base_hillshade/1" in u for u in page.requests)
