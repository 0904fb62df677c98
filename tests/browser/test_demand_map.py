"""The demand form's location map in headless Chromium: a real click on the small map sets the longitude and
latitude of that pixel, worked out here with Web Mercator from the district extent the map is fitted to (never
asked of the map); the typed fallback still works and moves the marker.
"""

from __future__ import annotations

import json
import math

import pytest

from app.auth.policy import Role
from tests.browser import test_projects_page as projects_page
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog
from tests.browser.pixels import world_pixel
from tests.browser.test_pickers import box_of, tap, type_text
from tests.browser.test_projects_page import click, open_projects, set_value
from tests.conftest import DemoEnv
from tests.helpers import unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
# The approval page's fixtures: its live server (module scope) and a desktop page.
server, page = projects_page.server, projects_page.page


def fitted_view(
    extent: list[float], width: float, height: float, padding: float = 10
) -> tuple[float, float, float]:
    """(zoom, centre lat, centre lon) of a map fitted to an extent with padding (as MapLibre's fitBounds)."""
    west, south, east, north = extent
    x0, y0 = world_pixel(west, north, 0)
    x1, y1 = world_pixel(east, south, 0)
    zoom = math.log2(min((width - 2 * padding) / (x1 - x0), (height - 2 * padding) / (y1 - y0)))
    return zoom, *lonlat((x0 + x1) / 2, (y0 + y1) / 2, 0)[::-1]


def lonlat(x: float, y: float, zoom: float) -> tuple[float, float]:
    """The inverse of world_pixel: lon/lat of a world pixel at a zoom."""
    size = 512 * 2**zoom
    lon = x / size * 360 - 180
    lat = math.degrees(2 * math.atan(math.exp(math.pi * (1 - 2 * y / size))) - math.pi / 2)
    return lon, lat


def test_a_click_on_the_demand_map_sets_the_point_and_the_typed_fallback_still_works(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, _ = server
    resident = demo.account(Role.VIEWER)
    extent = demo.client.get("/api/district", headers=resident.headers).json()["extent"]
    open_projects(page, url, resident)
    click(page, "#pj-tab-demands")
    page.wait_for("document.getElementById('pj-d-map')?.dataset.ready === 'true'", timeout_s=60)
    left, top, width, height = box_of(page, "#pj-d-map")
    zoom, clat, clon = fitted_view(extent, width, height)
    # A point three fifths across and two fifths down the map, on a whole pixel.
    px, py = round(left + width * 0.6), round(top + height * 0.4)
    cx, cy = world_pixel(clon, clat, zoom)
    lon, lat = lonlat(cx + px - (left + width / 2), cy + py - (top + height / 2), zoom)
    page.click_at(px, py)
    page.wait_for("document.getElementById('pj-d-lon').value")
    got = (
        float(page.js("document.getElementById('pj-d-lon').value")),
        float(page.js("document.getElementById('pj-d-lat').value")),
    )
    # One pixel is this many degrees of longitude, and cos(lat) times as many of latitude (Mercator).
    pixel, pixel_lat = 360 / (512 * 2**zoom), 360 / (512 * 2**zoom) * math.cos(math.radians(lat))
    assert abs(got[0] - lon) <= pixel and abs(got[1] - lat) <= pixel_lat, (got, (lon, lat), pixel)
    assert [
        len(v.split(".")[1])
        for v in page.js("['pj-d-lon', 'pj-d-lat'].map(i => document.getElementById(i).value)")
    ] == [6, 6]

    title = f"地图选点{unique('d')[-8:]}"
    set_value(page, "#pj-d-title", title)
    set_value(page, "#pj-d-description", "在地图上点选的位置。")
    tap(page, "#pj-d-submit")
    page.wait_for("document.querySelector('#pj-demand-notice.pj-ok')")
    stored = next(
        d for d in demo.client.get("/api/demands", headers=resident.headers).json() if d["title"] == title
    )
    assert abs(stored["lon"] - lon) <= pixel and abs(stored["lat"] - lat) <= pixel_lat
    assert abs(stored["lon"] - got[0]) < 1e-6 and abs(stored["lat"] - got[1]) < 1e-6

    # Typed longitude and latitude still work (keys into the fields), and put the marker there.
    title = f"手填经纬度{unique('d')[-8:]}"
    for selector, value in (("#pj-d-lon", "114.21"), ("#pj-d-lat", "22.68")):
        tap(page, selector)
        type_text(page, value)
    # The marker stands on the typed point, to a pixel: MapLibre's default pin is drawn with its centre 14 px
    # above the point (its tip; the shadow below reaches lower).
    left, top, width, height = box_of(page, "#pj-d-map")
    x, y = world_pixel(114.21, 22.68, zoom)
    tip = page.js(
        "(r => [r.left + r.width / 2, r.top + r.height / 2 + 14])"
        "(document.querySelector('#pj-d-map .maplibregl-marker').getBoundingClientRect())"
    )
    want = left + width / 2 + x - cx, top + height / 2 + y - cy
    assert abs(tip[0] - want[0]) <= 1.5 and abs(tip[1] - want[1]) <= 1.5, (tip, want)
    set_value(page, "#pj-d-title", title)
    set_value(page, "#pj-d-description", "手填的位置。")
    tap(page, "#pj-d-submit")
    rows = "[...document.querySelectorAll('#pj-demand-list td')]"
    page.wait_for(f"{rows}.some(td => td.textContent === {json.dumps(title)})")
    stored = next(
        d for d in demo.client.get("/api/demands", headers=resident.headers).json() if d["title"] == title
    )
    assert (round(stored["lon"], 6), round(stored["lat"], 6)) == (114.21, 22.68)
