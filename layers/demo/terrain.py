"""Terrain: an analytic DEM (ridges + fractal noise) evaluated on any window, slope, hillshade, COGs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

from layers.demo.core import CRS, DISTRICT_BOUNDS, Grid, Scale, lonlat_to_xy, scale_bounds, stream

# (name, lon, lat, peak height m, sigma along, sigma across, azimuth of the long axis in degrees)
RIDGES: list[tuple[str, float, float, float, float, float, float]] = [
    ("梧桐山", 114.205, 22.578, 880, 3800, 1700, 35),
    ("马峦山", 114.330, 22.628, 620, 3600, 1800, 60),
    ("排牙山", 114.385, 22.660, 560, 3000, 1600, 20),
    ("清林径", 114.225, 22.792, 480, 5200, 2200, 80),
    ("黄竹坑", 114.300, 22.805, 420, 4000, 1800, 100),
    ("园山", 114.178, 22.668, 360, 2600, 1300, 45),
    ("大康山", 114.222, 22.630, 330, 2500, 1200, 10),
    ("平湖山", 114.095, 22.712, 260, 2600, 1300, 130),
    ("银湖山", 114.070, 22.605, 300, 2200, 1200, 20),
    ("坪地东岭", 114.375, 22.772, 380, 3000, 1500, 160),
    ("回龙埔山", 114.248, 22.748, 210, 1300, 800, 70),
    ("龙岗南岭", 114.285, 22.702, 190, 1400, 800, 100),
    ("吉华岭", 114.125, 22.645, 170, 1400, 900, 30),
]

# (name, lon, lat, depth m, radius m) — bowls carved into the hills that hold the reservoirs.
BASINS: list[tuple[str, float, float, float, float]] = [
    ("清林径水库", 114.215, 22.772, 70, 1500),
    ("炳坑水库", 114.330, 22.770, 45, 700),
    ("龙口水库", 114.240, 22.739, 55, 500),
    ("三棵松水库", 114.200, 22.604, 50, 550),
    ("铜锣径水库", 114.168, 22.675, 45, 550),
    ("雁田水库", 114.140, 22.735, 45, 900),
    ("黄龙湖水库", 114.360, 22.640, 45, 600),
]


@dataclass(frozen=True)
class Terrain:
    """DEM, slope (degrees) and hillshade on one grid."""

    grid: Grid
    dem: np.ndarray
    slope: np.ndarray
    hillshade: np.ndarray


def dem_resolution(scale: Scale) -> float:
    """Cell size of the DEM for a scale."""
    return 50.0 if scale == "small" else 25.0


def _value_noise(xs: np.ndarray, ys: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in [-1, 1] on a lattice anchored to the whole district (window-independent)."""
    x0, y0, x1, y1 = DISTRICT_BOUNDS
    nx, ny = int((x1 - x0) / spacing) + 4, int((y1 - y0) / spacing) + 4
    lattice = rng.uniform(-1, 1, size=(ny, nx))
    fx = np.clip((xs - x0) / spacing + 1, 0, nx - 2.0001)
    fy = np.clip((ys - y0) / spacing + 1, 0, ny - 2.0001)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    tx, ty = fx - ix, fy - iy
    tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
    a = lattice[iy, ix] * (1 - tx) + lattice[iy, ix + 1] * tx
    b = lattice[iy + 1, ix] * (1 - tx) + lattice[iy + 1, ix + 1] * tx
    return a * (1 - ty) + b * ty


def fractal(xs: np.ndarray, ys: np.ndarray, seed: int, key: str, base: float, octaves: int) -> np.ndarray:
    """Fractal (fBm) value noise, roughly in [-1, 1]."""
    total = np.zeros_like(xs, dtype=np.float64)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        rng = stream(seed, "noise", key, str(octave))
        total += amp * _value_noise(xs, ys, base / 2**octave, rng)
        norm += amp
        amp *= 0.5
    return total / norm


def elevation(xs: np.ndarray, ys: np.ndarray, seed: int) -> np.ndarray:
    """Evaluate the district's DEM (metres) at arbitrary points of the storage CRS."""
    hills = np.zeros_like(xs, dtype=np.float64)
    for _name, lon, lat, peak, s_long, s_cross, azimuth in RIDGES:
        cx, cy = lonlat_to_xy(lon, lat)
        a = np.radians(azimuth)
        du, dv = xs - cx, ys - cy
        along = du * np.sin(a) + dv * np.cos(a)
        across = du * np.cos(a) - dv * np.sin(a)
        hills = np.maximum(hills, peak * np.exp(-0.5 * ((along / s_long) ** 2 + (across / s_cross) ** 2)))
    rugged = fractal(xs, ys, seed, "ridge", 3000.0, 6)
    relief = hills * (0.78 + 0.42 * (1 - np.abs(rugged)))
    x0, _, x1, _ = DISTRICT_BOUNDS
    tilt = 45 * np.clip((x1 - xs) / (x1 - x0), 0, 1)  # the district drains east (龙岗河 → 惠州)
    plain = 10 + tilt + 18 * (fractal(xs, ys, seed, "plain", 6000.0, 3) + 1)
    z = plain + relief + 6 * fractal(xs, ys, seed, "micro", 400.0, 2)
    for _name, lon, lat, depth, radius in BASINS:
        cx, cy = lonlat_to_xy(lon, lat)
        bowl = np.exp(-0.5 * ((xs - cx) ** 2 + (ys - cy) ** 2) / radius**2)
        z = z - bowl * np.minimum(depth + 0.35 * np.maximum(z - 60, 0), z - 8)
    return np.clip(z, 1.0, 900.0)


def slope_degrees(dem: np.ndarray, res: float) -> np.ndarray:
    """Slope in degrees from a DEM by central differences."""
    gy, gx = np.gradient(dem, res)
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)


def hillshade(dem: np.ndarray, res: float, azimuth: float = 315.0, altitude: float = 45.0) -> np.ndarray:
    """Classic hillshade (0–255) lit from the north-west."""
    gy, gx = np.gradient(dem, res)
    slope = np.arctan(np.hypot(gx, gy))
    aspect = np.arctan2(-gx, gy)
    az, alt = np.radians(360.0 - azimuth + 90.0), np.radians(altitude)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    return np.clip(shade * 255, 0, 255).astype(np.uint8)


def build_terrain(scale: Scale, seed: int) -> Terrain:
    """Evaluate the DEM on the scale's window and derive slope and hillshade."""
    grid = Grid.over(scale_bounds(scale), dem_resolution(scale))
    xs, ys = grid.centres()
    dem = elevation(xs, ys, seed).astype(np.float32)
    return Terrain(grid, dem, slope_degrees(dem, grid.res), hillshade(dem, grid.res))


def _write_cog(path: Path, array: np.ndarray, grid: Grid, nodata: float | None) -> None:
    """Write one band as a Cloud-Optimized GeoTIFF with internal overviews."""
    block = 256 if min(array.shape) >= 512 else 64
    profile = {
        "driver": "GTiff",
        "width": grid.cols,
        "height": grid.rows,
        "count": 1,
        "dtype": array.dtype.name,
        "crs": CRS,
        "transform": grid.transform,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "nodata": nodata,
    }
    factors = [f for f in (2, 4, 8, 16, 32) if min(array.shape) // f >= 16] or [2]
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(array, 1)
            dst.build_overviews(factors, Resampling.average)
        with memory.open() as src:
            rasterio.shutil.copy(
                src,
                str(path),
                driver="COG",
                compress="DEFLATE",
                blocksize=block,
                overviews="FORCE_USE_EXISTING",
            )


def write_rasters(scale: Scale, out_dir: Path, seed: int = 2017) -> dict[str, Path]:
    """Write base_dem, base_slope and base_hillshade as COGs in the storage CRS; return {code: path}."""
    from layers.catalog import get_catalog

    catalog = get_catalog()
    terrain = build_terrain(scale, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "base_dem": (terrain.dem, -9999.0),
        "base_slope": (terrain.slope, -9999.0),
        "base_hillshade": (terrain.hillshade, None),
    }
    written: dict[str, Path] = {}
    for code, (array, nodata) in arrays.items():
        raster = catalog.get(code).raster
        name = Path(raster.path).name if raster else f"{code}.tif"
        path = out_dir / name
        _write_cog(path, array, terrain.grid, nodata)
        written[code] = path
    return written
