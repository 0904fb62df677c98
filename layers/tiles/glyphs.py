"""Glyph PBFs: MapLibre's signed-distance-field font ranges, built from the bundled Noto Sans SC.

MapLibre draws labels from 256-codepoint ranges of SDF glyphs (24 px, 3 px buffer, edge at 0.75 of the
byte range) in the Mapbox glyph protobuf. FreeType (freetype-py's bundled build) rasterises each glyph with
its non-zero winding rule and turns the coverage bitmap into a distance field with its ``bsdf`` module.
Its outline-based ``sdf`` module (and fontnik, which works the same way) is not used: Noto Sans SC's
contours overlap, and both leave holes where strokes cross.
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import freetype
from freetype import raw as freetype_raw

log = logging.getLogger(__name__)

FONTSTACK = "Noto Sans SC Regular"
FONT_WEIGHT = 400
SIZE = 24  # px: the size MapLibre scales glyph PBFs from
BUFFER = 3  # px of distance field around each glyph's box
SPREAD = 6  # px FreeType measures distances over: MapLibre's byte 0 is 6 px outside the edge
EDGE = 191  # byte of the outline: 0.75 × 255 (MapLibre's cutoff 0.25)
PER_PIXEL = 32  # bytes per pixel of distance: 256 / MapLibre's radius of 8 px
GENERATOR = "freetype-bsdf-1"  # change when the rendering changes: cached ranges are rebuilt
RANGE_SIZE = 256
LAST_RANGE = 65280  # MapLibre asks for the Basic Multilingual Plane only
FINGERPRINT = re.compile(r"[0-9a-f]{16}")


def font_dir(web_dir: Path) -> Path:
    """Where npm puts the @fontsource/noto-sans-sc package."""
    return web_dir / "node_modules" / "@fontsource" / "noto-sans-sc"


def range_name(start: int) -> str:
    """``19968`` → ``"19968-20223"`` (the name MapLibre requests)."""
    return f"{start}-{start + RANGE_SIZE - 1}"


def parse_range(name: str) -> int | None:
    """The start of a glyph range named ``start-end``, or None when it is not a MapLibre range."""
    first, _, last = name.partition("-")
    if not (first.isdigit() and last.isdigit()):
        return None
    start, end = int(first), int(last)
    if start % RANGE_SIZE or end != start + RANGE_SIZE - 1 or start > LAST_RANGE:
        return None
    return start


# --- the protobuf (glyphs { stacks { name, range, glyphs { id, bitmap, width, height, left, top, advance }}})


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _sint_field(number: int, value: int) -> bytes:
    return _int_field(number, (value << 1) ^ (value >> 63))  # zigzag


@dataclass(frozen=True)
class Glyph:
    """One rendered glyph: metrics in pixels at :data:`SIZE`, ``bitmap`` (width+6)×(height+6) bytes."""

    codepoint: int
    width: int
    height: int
    left: int
    top: int
    advance: int
    bitmap: bytes = b""

    def encode(self) -> bytes:
        """The protobuf ``glyph`` message."""
        body = _int_field(1, self.codepoint)
        if self.bitmap:
            body += _bytes_field(2, self.bitmap)
        body += _int_field(3, self.width) + _int_field(4, self.height)
        body += _sint_field(5, self.left) + _sint_field(6, self.top) + _int_field(7, self.advance)
        return body


def encode_glyphs(fontstack: str, glyph_range: str, glyphs: list[Glyph]) -> bytes:
    """A glyph PBF of one range (no glyph: a valid empty range, which MapLibre accepts)."""
    stack = _bytes_field(1, fontstack.encode()) + _bytes_field(2, glyph_range.encode())
    stack += b"".join(_bytes_field(3, glyph.encode()) for glyph in glyphs)
    return _bytes_field(1, stack)


# --- rendering


def _distance_bytes() -> bytes:
    """FreeType's SDF byte (128 at the edge, 128/SPREAD per pixel, inside higher) → MapLibre's byte."""
    table = bytearray()
    for value in range(256):
        inside_px = (value - 128) * SPREAD / 128
        table.append(max(0, min(255, round(EDGE + inside_px * PER_PIXEL))))
    return bytes(table)


_TO_MAPLIBRE = _distance_bytes()


def _set_spread(library: object) -> None:
    spread = ctypes.c_int(SPREAD)
    error = freetype_raw.FT_Property_Set(library, b"bsdf", b"spread", ctypes.byref(spread))
    if error:
        raise RuntimeError(f"FreeType refused the SDF spread (error {error})")


@dataclass
class NotoSansSC:
    """The weight-400 files of @fontsource/noto-sans-sc: a subset per block of codepoints."""

    package_dir: Path
    _faces: dict[Path, freetype.Face] = field(default_factory=dict)

    def files(self) -> list[Path]:
        """The WOFF files of the weight (FreeType reads WOFF; WOFF2 would need brotli in FreeType)."""
        return sorted((self.package_dir / "files").glob(f"noto-sans-sc-*-{FONT_WEIGHT}-normal.woff"))

    def face(self, path: Path) -> freetype.Face:
        """The FreeType face of one file at :data:`SIZE` px, opened once."""
        if path not in self._faces:
            face = freetype.Face(str(path))
            face.set_pixel_sizes(0, SIZE)
            self._faces[path] = face
        return self._faces[path]

    @cached_property
    def owners(self) -> dict[int, Path]:
        """Codepoint → the file holding its glyph (the first one, in file order)."""
        _set_spread(freetype.get_handle())
        found: dict[int, Path] = {}
        for path in self.files():
            for codepoint, index in self.face(path).get_chars():
                if index and codepoint <= LAST_RANGE + RANGE_SIZE - 1:
                    found.setdefault(codepoint, path)
        return found

    def ranges(self) -> list[int]:
        """Starts of the ranges holding at least one glyph."""
        return sorted({cp - cp % RANGE_SIZE for cp in self.owners})

    def render(self, codepoint: int) -> Glyph:
        """The SDF glyph of one codepoint of the font."""
        face = self.face(self.owners[codepoint])
        face.load_char(codepoint, freetype.FT_LOAD_NO_HINTING)
        slot = face.glyph
        advance = round(slot.metrics.horiAdvance / 64)
        ascender = face.size.ascender // 64
        slot.render(freetype.FT_RENDER_MODE_NORMAL)  # coverage with the non-zero winding rule
        width, height = slot.bitmap.width, slot.bitmap.rows
        if not width or not height:
            return Glyph(codepoint, 0, 0, 0, -ascender, advance)
        left, top = slot.bitmap_left, slot.bitmap_top
        slot.render(freetype.FT_RENDER_MODE_SDF)  # of a bitmap: FreeType's bsdf, padded by SPREAD
        sdf = slot.bitmap
        margin = SPREAD - BUFFER
        rows = bytes(sdf.buffer)
        pitch = sdf.pitch
        cropped = b"".join(
            rows[row * pitch + margin : row * pitch + margin + width + 2 * BUFFER]
            for row in range(margin, margin + height + 2 * BUFFER)
        )
        # fontnik's convention: top is measured from the ascender, which MapLibre's shaping expects.
        return Glyph(codepoint, width, height, left, top - ascender, advance, cropped.translate(_TO_MAPLIBRE))

    def range_pbf(self, start: int, fontstack: str = FONTSTACK) -> bytes:
        """The glyph PBF of ``start``..``start+255``."""
        codepoints = [cp for cp in range(start, start + RANGE_SIZE) if cp in self.owners]
        return encode_glyphs(fontstack, range_name(start), [self.render(cp) for cp in codepoints])

    def fingerprint(self) -> str:
        """Changes when the font files, FreeType or the rendering change (then cached ranges are stale)."""
        digest = hashlib.sha256()
        digest.update(f"{GENERATOR} {freetype.version()} {SIZE} {BUFFER} {SPREAD} {EDGE}\n".encode())
        package = self.package_dir / "package.json"
        digest.update(
            json.loads(package.read_text()).get("version", "").encode() if package.exists() else b""
        )
        for path in self.files():
            digest.update(f"{path.name} {path.stat().st_size}\n".encode())
        return digest.hexdigest()[:16]


# --- the cache of built ranges (one gzip file per range, under a directory named by the fingerprint)


@dataclass(frozen=True)
class BuildReport:
    """What one :meth:`GlyphStore.build` did."""

    fingerprint: str
    ranges: int
    built: int
    bytes: int


class GlyphStore:
    """Built glyph ranges under ``cache_dir/<fingerprint>/``; a range missing there is built on demand."""

    def __init__(self, cache_dir: Path, package_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.font = NotoSansSC(package_dir)
        self._rendering = threading.Lock()  # FreeType faces are not thread-safe

    @property
    def available(self) -> bool:
        """Whether the font package is installed."""
        return bool(self.font.files())

    @cached_property
    def fingerprint(self) -> str:
        """The fingerprint of the font and the renderer (computed once per process)."""
        return self.font.fingerprint()

    @property
    def directory(self) -> Path:
        """Where this font and renderer's ranges are kept."""
        return self.cache_dir / self.fingerprint

    def _path(self, start: int) -> Path:
        return self.directory / f"{range_name(start)}.pbf.gz"

    def compressed(self, start: int) -> bytes | None:
        """The gzip-compressed PBF of a range, built now if missing; None if the font has no glyph there."""
        path = self._path(start)
        if path.exists():
            return path.read_bytes()
        with self._rendering:
            if path.exists():  # built by another request meanwhile
                return path.read_bytes()
            if not self.available or start not in self.font.ranges():
                return None
            body = gzip.compress(self.font.range_pbf(start), compresslevel=9, mtime=0)
        try:
            _write_atomically(path, body)
        except OSError as exc:  # an unwritable cache costs a rebuild next time, never the answer
            log.warning("glyph range %s not cached: %s", range_name(start), exc)
        return body

    def build(self) -> BuildReport:
        """Build every range the font covers that is not cached yet; drop other fingerprints' ranges."""
        if not self.available:
            return BuildReport("", 0, 0, 0)
        built = 0
        for start in self.font.ranges():
            if not self._path(start).exists():
                self.compressed(start)
                built += 1
        for stale in self.cache_dir.iterdir():  # ranges of an older font or renderer
            if FINGERPRINT.fullmatch(stale.name) and stale.is_dir() and stale.name != self.fingerprint:
                shutil.rmtree(stale, ignore_errors=True)
        size = sum(path.stat().st_size for path in self._files())
        return BuildReport(self.fingerprint, len(self.font.ranges()), built, size)

    def _files(self) -> Iterator[Path]:
        return self.directory.glob("*.pbf.gz")


def _write_atomically(path: Path, body: bytes) -> None:
    """Write ``body`` to ``path`` so that concurrent readers (and builders) see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".building-")
    with os.fdopen(handle, "wb") as out:
        out.write(body)
    os.replace(temporary, path)
