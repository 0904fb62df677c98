"""The WebMercatorQuad (XYZ) tile grid shared by vector and raster tiles."""

from __future__ import annotations

import math

TILE_SIZE = 256
MAX_ZOOM = 22
HALF_WORLD = 20_037_508.342789244  # half the EPSG:3857 world width, metres
WORLD = 2 * HALF_WORLD

Bounds = tuple[float, float, float, float]


def tile_in_range(z: int, x: int, y: int) -> bool:
    """Whether z/x/y addresses a WebMercatorQuad tile (zoom 0–22)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_bounds(z: int, x: int, y: int) -> Bounds:
    """The EPSG:3857 bounds (minx, miny, maxx, maxy) of an XYZ tile."""
    size = WORLD / 2**z
    return (
        -HALF_WORLD + x * size,
        HALF_WORLD - (y + 1) * size,
        -HALF_WORLD + (x + 1) * size,
        HALF_WORLD - y * size,
    )


def tile_centre_latitude(z: int, y: int) -> float:
    """Latitude in degrees of the centre of a tile row."""
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2**z))))


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile containing a point."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)
