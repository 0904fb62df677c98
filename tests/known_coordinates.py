"""Coordinates computed without PROJ: the Gauss-Kruger and Web Mercator formulas, written out.

The platform reprojects with PROJ (through pyproj and GDAL alike), so a round trip through PROJ cannot
catch a wrong datum, ellipsoid or false easting. These formulas are the independent answer the tests
compare with.
"""

from __future__ import annotations

import math

# CGCS2000 (EPSG:4490 / 4547): a = 6378137 m, 1/f = 298.257222101 (the GRS 80 flattening).
CGCS2000 = (6_378_137.0, 1 / 298.257222101)
# Xian 1980 (EPSG:4610 / 2383): the IAG 1975 ellipsoid, a = 6378140 m, 1/f = 298.257.
XIAN1980 = (6_378_140.0, 1 / 298.257)
# EPSG:4547 and EPSG:2383: 3-degree Gauss-Kruger, central meridian 114°E, scale 1, false easting 500 km
# and no zone prefix, false northing 0.
CENTRAL_MERIDIAN = 114.0
FALSE_EASTING = 500_000.0
# Web Mercator (EPSG:3857) is a sphere of the WGS 84 semi-major axis.
MERCATOR_RADIUS = 6_378_137.0


def gauss_kruger(
    lon: float,
    lat: float,
    ellipsoid: tuple[float, float] = CGCS2000,
    *,
    central_meridian: float = CENTRAL_MERIDIAN,
    scale: float = 1.0,
    false_easting: float = FALSE_EASTING,
) -> tuple[float, float]:
    """(easting, northing) of a lon/lat by the transverse Mercator series (Snyder, USGS PP 1395,
    eqs. 8-9 and 8-10), good to well under a millimetre within a few degrees of the central meridian."""
    a, f = ellipsoid
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    e4, e6 = e2 * e2, e2**3
    phi = math.radians(lat)
    sin, cos = math.sin(phi), math.cos(phi)
    n = a / math.sqrt(1 - e2 * sin * sin)
    t = math.tan(phi) ** 2
    c = ep2 * cos * cos
    big_a = math.radians(lon - central_meridian) * cos
    # The meridian arc from the equator.
    m = a * (
        (1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * phi
        - (3 * e2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * math.sin(2 * phi)
        + (15 * e4 / 256 + 45 * e6 / 1024) * math.sin(4 * phi)
        - 35 * e6 / 3072 * math.sin(6 * phi)
    )
    x = big_a + (1 - t + c) * big_a**3 / 6 + (5 - 18 * t + t * t + 72 * c - 58 * ep2) * big_a**5 / 120
    y = m + n * math.tan(phi) * (
        big_a**2 / 2
        + (5 - t + 9 * c + 4 * c * c) * big_a**4 / 24
        + (61 - 58 * t + t * t + 600 * c - 330 * ep2) * big_a**6 / 720
    )
    return false_easting + scale * n * x, scale * y


def web_mercator(lon: float, lat: float) -> tuple[float, float]:
    """EPSG:3857 metres of a lon/lat (spherical Mercator)."""
    return (
        MERCATOR_RADIUS * math.radians(lon),
        MERCATOR_RADIUS * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)),
    )


def tile_pixel(lon: float, lat: float, z: int, x: int, y: int, extent: int = 4096) -> tuple[float, float]:
    """Where a lon/lat falls inside tile z/x/y, in tile units (0..extent, y down), unrounded."""
    half = math.pi * MERCATOR_RADIUS  # half the world's width in Web Mercator metres
    size = 2 * half / 2**z
    mx, my = web_mercator(lon, lat)
    return (mx + half - x * size) / size * extent, (half - my - y * size) / size * extent
