"""The test suite's own projection formulas against published worked examples (no PROJ involved)."""

from __future__ import annotations

import pytest

from tests.known_coordinates import gauss_kruger, tile_pixel, web_mercator


def test_transverse_mercator_matches_snyders_worked_example() -> None:
    # Snyder, Map Projections — A Working Manual (USGS PP 1395), numerical example of the ellipsoidal
    # transverse Mercator: Clarke 1866 (a = 6378206.4 m, b = 6356583.8 m), φ = 40°30'N, λ = 73°30'W,
    # λ0 = 75°W, k0 = 0.9996 → x = 127,106.5 m, y = 4,484,124.4 m.
    a, b = 6_378_206.4, 6_356_583.8
    x, y = gauss_kruger(-73.5, 40.5, (a, (a - b) / a), central_meridian=-75, scale=0.9996, false_easting=0)
    assert x == pytest.approx(127_106.5, abs=0.05) and y == pytest.approx(4_484_124.4, abs=0.05)


def test_web_mercator_matches_the_iogp_worked_example() -> None:
    # IOGP Guidance Note 7-2, Popular Visualisation Pseudo Mercator (EPSG:1024): φ = 24°22'54.433"N,
    # λ = 100°20'00.000"W → E = -11,169,055.58 m, N = 2,800,000.00 m.
    e, n = web_mercator(-(100 + 20 / 60), 24 + 22 / 60 + 54.433 / 3600)
    assert e == pytest.approx(-11_169_055.58, abs=0.01) and n == pytest.approx(2_800_000.00, abs=0.01)


def test_tile_pixels_of_the_world_corners() -> None:
    assert tile_pixel(-180, 0, 0, 0, 0) == pytest.approx((0, 2048))
    assert tile_pixel(0, 0, 1, 1, 1) == pytest.approx((0, 0))
    assert tile_pixel(90, 0, 1, 1, 0) == pytest.approx((2048, 4096))
