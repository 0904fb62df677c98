"""The map's glyph ranges: real SDF glyphs of Noto Sans SC in MapLibre's protobuf, checked independently.

The PBF is decoded by a protobuf reader written here (not the product's encoder), the expected codepoints
come from the font's cmap read by fontTools, and each glyph's ink is compared with fontTools' point-in-outline
test of the same glyph (not FreeType, which renders the product's glyphs).
"""

from __future__ import annotations

import gzip
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fontTools.pens.pointInsidePen import PointInsidePen
from fontTools.ttLib import TTFont

from app.auth.policy import Role
from app.tiles.style import maplibre_style
from layers.catalog.model import get_catalog
from layers.tiles.glyphs import FONTSTACK, GlyphStore, font_dir
from tests.conftest import DemoEnv
from tests.helpers import Account

BUFFER = 3
EDGE = 192  # MapLibre draws a glyph's outline at 0.75 of the byte range
HAN = "19968-20223"
FONT_URL = "/tiles/fonts/Noto%20Sans%20SC%20Regular"
FONT_FILES = font_dir(Path(__file__).resolve().parents[2] / "web") / "files"
pytestmark = pytest.mark.skipif(not FONT_FILES.is_dir(), reason="web/node_modules is not installed")


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Account:
    return demo.account(Role.PLANNER)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def read_message(data: bytes) -> dict[int, list[Any]]:
    """Field number → values (ints for varints, bytes for length-delimited); no other wire type is used."""
    fields: dict[int, list[Any]] = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            value, at = data[at : at + length], at + length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def decode_glyphs(pbf: bytes) -> tuple[str, str, dict[int, dict[str, Any]]]:
    """(fontstack name, range, codepoint → glyph fields) of a glyph PBF holding one font stack."""
    (stack,) = read_message(pbf)[1]
    fields = read_message(stack)
    glyphs = {}
    for raw in fields.get(3, []):
        g = read_message(raw)
        glyphs[g[1][0]] = {
            "bitmap": g.get(2, [b""])[0],
            "width": g[3][0],
            "height": g[4][0],
            "left": zigzag(g[5][0]),
            "top": zigzag(g[6][0]),
            "advance": g[7][0],
        }
    return fields[1][0].decode(), fields[2][0].decode(), glyphs


@cache
def fonts_by_codepoint() -> dict[int, TTFont]:
    """Codepoint → the weight-400 WOFF file holding it (the first in name order), read by fontTools."""
    owners: dict[int, TTFont] = {}
    for path in sorted(FONT_FILES.glob("noto-sans-sc-*-400-normal.woff")):
        font = TTFont(path)
        for codepoint in font.getBestCmap():
            owners.setdefault(codepoint, font)
    return owners


def ink_agreement(codepoint: int, glyph: dict[str, Any]) -> tuple[float, int]:
    """Share of bitmap pixels whose ink (byte ≥ EDGE) agrees with the outline at the pixel's centre,
    and how many pixels the outline covers."""
    font = fonts_by_codepoint()[codepoint]
    per_px = font["head"].unitsPerEm / 24
    ascender = math.ceil(font["hhea"].ascent / per_px)  # px, as the glyph's top is measured from it
    glyph_set, name = font.getGlyphSet(), font.getBestCmap()[codepoint]
    width, height = glyph["width"] + 2 * BUFFER, glyph["height"] + 2 * BUFFER
    agree = covered = 0
    for row in range(height):
        for col in range(width):
            x = glyph["left"] + col - BUFFER + 0.5
            y = glyph["top"] + ascender - (row - BUFFER) - 0.5
            pen = PointInsidePen(glyph_set, (x * per_px, y * per_px))  # non-zero winding
            glyph_set[name].draw(pen)
            inside = pen.getResult()
            covered += inside
            agree += inside == (glyph["bitmap"][row * width + col] >= EDGE)
    return agree / (width * height), covered


def test_the_han_range_holds_every_character_of_the_font_as_a_real_sdf(demo: DemoEnv, planner: Any) -> None:
    r = demo.client.get(f"{FONT_URL}/{HAN}.pbf", headers={**planner.headers, "Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    name, glyph_range, glyphs = decode_glyphs(r.content)  # the client undid the gzip
    assert (name, glyph_range) == (FONTSTACK, HAN)
    expected = {cp for cp in fonts_by_codepoint() if 19968 <= cp <= 20223}
    assert len(expected) > 200 and set(glyphs) == expected
    for codepoint, g in glyphs.items():
        assert len(g["bitmap"]) == (g["width"] + 6) * (g["height"] + 6), chr(codepoint)
        assert g["advance"] == 24 and 0 < g["width"] <= 24 and 0 < g["height"] <= 26, chr(codepoint)
        assert -6 <= g["left"] <= 12 and -28 <= g["top"] <= 0, chr(codepoint)
    middle = glyphs[ord("中")]
    assert 14 <= middle["width"] <= 22 and 18 <= middle["height"] <= 24
    # A distance field: the buffer's outer ring is far outside (< EDGE), strokes inside reach past the edge.
    for char in "一中为丰":
        g = glyphs[ord(char)]
        width = g["width"] + 6
        ring = g["bitmap"][:width] + g["bitmap"][-width:]
        assert max(ring) < EDGE and max(g["bitmap"]) >= EDGE
        agreement, covered = ink_agreement(ord(char), g)
        assert covered > 20 and agreement >= 0.93, (char, agreement)


def test_glyphs_are_cached_revalidated_and_served_without_gzip_too(demo: DemoEnv, planner: Any) -> None:
    url = f"{FONT_URL}/{HAN}.pbf"
    zipped = demo.client.get(url, headers={**planner.headers, "Accept-Encoding": "gzip"})
    plain = demo.client.get(url, headers={**planner.headers, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == zipped.content
    assert plain.headers["etag"] == zipped.headers["etag"] and plain.headers["etag"].startswith('W/"')
    assert "max-age=86400" in plain.headers["cache-control"] and "Accept-Encoding" in plain.headers["vary"]
    again = demo.client.get(url, headers={**planner.headers, "If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and not again.content
    # Latin too comes from the same font (the style names one font stack for every label).
    _, _, latin = decode_glyphs(demo.client.get(f"{FONT_URL}/0-255.pbf", headers=planner.headers).content)
    assert {ord(c) for c in "AZaz09 -()"} <= set(latin) and latin[ord(" ")]["bitmap"] == b""


def test_a_range_the_font_lacks_is_a_valid_empty_range(demo: DemoEnv, planner: Any) -> None:
    lacking = next(
        s for s in range(0, 65536, 256) if not any(s <= cp < s + 256 for cp in fonts_by_codepoint())
    )
    r = demo.client.get(f"{FONT_URL}/{lacking}-{lacking + 255}.pbf", headers=planner.headers)
    assert r.status_code == 200
    assert decode_glyphs(r.content) == (FONTSTACK, f"{lacking}-{lacking + 255}", {})


@pytest.mark.parametrize(
    "path",
    [
        f"{FONT_URL}/19968-20000.pbf",  # not a 256-codepoint range
        f"{FONT_URL}/19969-20224.pbf",  # not aligned
        f"{FONT_URL}/65536-65791.pbf",  # beyond the ranges MapLibre asks for
        "/tiles/fonts/Noto%20Sans%20Regular/0-255.pbf",  # a font that is not served
        "/tiles/fonts/Arial,Helvetica/0-255.pbf",
    ],
)
def test_bad_glyph_requests_get_a_clear_404(demo: DemoEnv, planner: Any, path: str) -> None:
    r = demo.client.get(path, headers=planner.headers)
    assert r.status_code == 404 and r.json()["detail"]


def test_glyphs_need_a_signed_in_user(demo: DemoEnv) -> None:
    assert demo.client.get(f"{FONT_URL}/{HAN}.pbf").status_code == 401


def test_every_label_of_the_style_names_the_served_font() -> None:
    style = maplibre_style(list(get_catalog().layers.values()), "http://x")
    fonts = {
        font
        for layer in style["layers"]
        if layer["type"] == "symbol"
        for font in layer["layout"]["text-font"]
    }
    assert fonts == {FONTSTACK}


def test_a_missing_range_is_built_on_request_and_a_font_change_starts_a_new_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = GlyphStore(cache, FONT_FILES.parent)
    body = store.compressed(19968)
    assert body is not None and (store.directory / f"{HAN}.pbf.gz").read_bytes() == body
    assert decode_glyphs(gzip.decompress(body))[1] == HAN
    stale = cache / "0000000000000000"
    stale.mkdir()
    (stale / "0-255.pbf.gz").write_bytes(b"old")
    copy = tmp_path / "package"
    (copy / "files").mkdir(parents=True)
    for path in FONT_FILES.glob("noto-sans-sc-latin-400-normal.woff"):
        (copy / "files" / path.name).write_bytes(path.read_bytes())
    latin = GlyphStore(cache, copy)
    assert latin.fingerprint != store.fingerprint  # other font files: other glyphs, another directory
    report = latin.build()
    assert 0 < report.built == report.ranges == len(list(latin.directory.glob("*.pbf.gz")))
    assert [p.name for p in cache.iterdir()] == [latin.fingerprint]  # the others' ranges went
    assert latin.build().built == 0
