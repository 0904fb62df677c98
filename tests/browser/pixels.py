"""Pixel checks for browser tests: a screenshot as an array, where a lon/lat lands on a MapLibre map (Web
Mercator written out here, not taken from the map), and whether a colour is drawn near a pixel."""

from __future__ import annotations

import base64
import io
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.browser.cdp import Page

# The README's pictures are rewritten only on request (`make screenshots`), so a test run leaves the
# checkout clean; otherwise they go to a scratch directory (the code that makes them still runs).
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("DUOGUI_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "duogui-screenshots"
)
Rgb = Callable[[np.ndarray], np.ndarray]  # (…, 3) int array → boolean mask


def capture(page: Page) -> np.ndarray:
    """The viewport as an (height, width, 3) int array."""
    data = page.send("Page.captureScreenshot", {"format": "png"}, session=page.session)["data"]
    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    return np.asarray(image).astype(int)


def save_screenshot(page: Page, name: str) -> Path:
    """Write the viewport to <SCREENSHOTS>/<name>.png, as a small palette PNG (the README's images)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    image = Image.fromarray(capture(page).astype(np.uint8))
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def world_pixel(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixel of a point in a world 512 · 2^zoom pixels wide (MapLibre's tile size is 512)."""
    size = 512 * 2**zoom
    phi = math.radians(lat)
    x = (lon + 180) / 360 * size
    y = (1 - math.log(math.tan(math.pi / 4 + phi / 2)) / math.pi) / 2 * size
    return x, y


def map_pixel(
    lon: float, lat: float, view: tuple[float, float, float], box: tuple[float, float, float, float]
) -> tuple[float, float]:
    """Page pixel of a point on a map showing ``view`` (zoom, centre lat, centre lon) in ``box``
    (left, top, width, height): the centre of the box is the view's centre."""
    zoom, clat, clon = view
    x, y = world_pixel(lon, lat, zoom)
    cx, cy = world_pixel(clon, clat, zoom)
    left, top, width, height = box
    return left + width / 2 + (x - cx), top + height / 2 + (y - cy)


def near(image: np.ndarray, x: float, y: float, is_colour: Rgb, radius: int = 4) -> bool:
    """Whether a pixel of the colour lies within ``radius`` pixels of (x, y)."""
    h, w, _ = image.shape
    x0, x1 = max(0, int(x) - radius), min(w, int(x) + radius + 1)
    y0, y1 = max(0, int(y) - radius), min(h, int(y) + radius + 1)
    return bool(is_colour(image[y0:y1, x0:x1]).any())


def purple(px: np.ndarray) -> np.ndarray:
    """Boundary purple (#7030A0), also blended over the grey hillshade: red and blue above green."""
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return (b - g > 50) & (r - g > 25)


def road_orange(px: np.ndarray) -> np.ndarray:
    """Road orange/yellow (#F08C00, #FFC000), and the highlight orange (#FF7F00): red high, blue low."""
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return (r > 180) & (r - b > 110) & (g > 70)
