"""Noto Sans SC cut down to exactly the characters a printed page uses, for pages that must carry their font.

A downloaded report and a PDF are read on machines with no Chinese font at all; they embed the font. The
bundled font (npm ``@fontsource/noto-sans-sc``) is split into ~100 files by Unicode range (its CSS lists
them); the characters of the page are looked up there, each file involved is subset with fontTools, and
the pieces are merged into one WOFF face per weight, placed in the page as a ``data:`` URL (tens of
kilobytes, not the 10 MB of the whole font). The bundled font has no Roman numerals (Ⅰ–Ⅻ, as in
"Ⅲ级保护林地"): they are composed from its Latin letters.
"""

from __future__ import annotations

import base64
import io
import re
from functools import cache
from pathlib import Path

from fontTools import subset
from fontTools.merge import Merger
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphComponent

FAMILY = "Noto Sans SC"
WEIGHTS = (400, 700)
_FACE = re.compile(r"src:\s*url\(\./files/([^)]+?)\.woff2\).*?unicode-range:\s*([^;]+);", re.DOTALL)
# Roman numerals (U+2160…U+216B) as Latin capitals, drawn side by side.
ROMAN = {0x2160 + n: letters for n, letters in enumerate("I II III IV V VI VII VIII IX X XI XII".split())}


@cache
def _ranges(font_dir: Path, weight: int) -> tuple[tuple[str, tuple[tuple[int, int], ...]], ...]:
    """Each file of a weight with the code-point ranges it holds, from the package's CSS."""
    faces = []
    for block in (font_dir / f"{weight}.css").read_text("utf-8").split("@font-face")[1:]:
        match = _FACE.search(block)
        if match is None:
            continue
        spans = []
        for part in match.group(2).split(","):
            first, _, last = part.strip().removeprefix("U+").partition("-")
            spans.append((int(first, 16), int(last or first, 16)))
        faces.append((match.group(1) + ".woff", tuple(spans)))  # WOFF: zlib, no Brotli needed to read
    return tuple(faces)


def _files_for(font_dir: Path, weight: int, codes: set[int]) -> dict[str, set[int]]:
    wanted: dict[str, set[int]] = {}
    left = set(codes)
    for name, spans in _ranges(font_dir, weight):
        found = {c for c in left if any(a <= c <= b for a, b in spans)}
        if found:
            wanted[name] = found
            left -= found
    return wanted


def _subset(path: Path, codes: set[int]) -> TTFont:
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = TTFont(path)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes)
    subsetter.subset(font)
    font.flavor = None
    return font


def _add_roman(font: TTFont, numerals: dict[int, str]) -> None:
    """Give the font composite glyphs for Roman numerals, made of its own Latin capitals."""
    cmap = font.getBestCmap()
    glyf, hmtx = font["glyf"], font["hmtx"]
    order = font.getGlyphOrder()
    for code, letters in numerals.items():
        if not all(ord(c) in cmap for c in letters):
            continue
        glyph = Glyph()
        glyph.numberOfContours = -1
        glyph.components, x = [], 0
        for letter in letters:
            component = GlyphComponent()
            component.glyphName, component.x, component.y, component.flags = cmap[ord(letter)], x, 0, 0x4
            glyph.components.append(component)
            x += hmtx[cmap[ord(letter)]][0]
        name = f"roman{code:04X}"
        order.append(name)
        glyf.glyphs[name] = glyph
        glyph.recalcBounds(glyf)
        hmtx[name] = (x, glyph.xMin)
        if "vmtx" in font:  # CJK fonts carry vertical metrics too: the letter's serve
            font["vmtx"][name] = font["vmtx"][cmap[ord(letters[0])]]
        for table in font["cmap"].tables:
            if table.isUnicode():
                table.cmap[code] = name
    font.setGlyphOrder(order)
    font["maxp"].numGlyphs = len(order)


@cache
def subset_woff(font_dir: Path, weight: int, text: str) -> bytes:
    """One WOFF font of the given weight holding exactly the glyphs of ``text`` the bundled font has."""
    codes = {ord(c) for c in text if not c.isspace()} | {0x20}
    numerals = {c: ROMAN[c] for c in codes if c in ROMAN}
    codes |= {ord(letter) for letters in numerals.values() for letter in letters}
    pieces = []
    for name, found in sorted(_files_for(font_dir, weight, codes - set(numerals)).items()):
        buffer = io.BytesIO()
        _subset(font_dir / "files" / name, found).save(buffer)
        pieces.append(io.BytesIO(buffer.getvalue()))
    font = Merger().merge(pieces)
    if numerals:
        _add_roman(font, numerals)
    font.flavor = "woff"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def font_face_css(font_dir: Path, text: str) -> str:
    """``@font-face`` rules with the subset font inline (``data:`` URLs), regular and bold."""
    chars = "".join(sorted(set(text)))
    rules = []
    for weight in WEIGHTS:
        data = base64.b64encode(subset_woff(font_dir, weight, chars)).decode("ascii")
        rules.append(
            f"@font-face{{font-family:'{FAMILY}';font-style:normal;font-weight:{weight};"
            f"src:url(data:font/woff;base64,{data}) format('woff')}}"
        )
    return "\n".join(rules)
