"""Terrain classes: urban development boundary, ecological control/red lines, forest and farmland patches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rasterio.features
import shapely

from layers.demo.core import Grid, polygonize, smooth_mask, stream, voronoi_labels
from layers.demo.terrain import Terrain, fractal
from layers.demo.water import Hydrology


@dataclass
class LandClasses:
    """Masks (on the DEM grid) and polygons of the land classes the other layers build on."""

    urban_core: np.ndarray
    urban_boundary: list[shapely.Geometry]
    eco_line: list[shapely.Geometry]
    eco_mask: np.ndarray
    red_line: list[shapely.Geometry]
    forest: np.ndarray
    forest_patches: list[shapely.Geometry]
    farmland: list[shapely.Geometry]
    garden: list[shapely.Geometry]
    pond: list[shapely.Geometry]
    grass: list[shapely.Geometry]
    water_mask: np.ndarray


def rasterize(grid: Grid, geoms: list[shapely.Geometry]) -> np.ndarray:
    """Burn geometries into a boolean mask of the grid."""
    shapes = [g for g in geoms if not g.is_empty]
    if not shapes:
        return np.zeros((grid.rows, grid.cols), dtype=bool)
    out = rasterio.features.rasterize(shapes, out_shape=(grid.rows, grid.cols), transform=grid.transform)
    return out.astype(bool)


def _patches(grid: Grid, mask: np.ndarray, spacing: float, seed: int, key: str) -> list[shapely.Geometry]:
    """Split a mask into survey patches (图斑/小班) along a raster Voronoi partition."""
    labels = voronoi_labels(grid, spacing, stream(seed, key))
    polys, _ = polygonize(grid, mask, labels, min_area=grid.res**2 * 3, simplify=grid.res * 0.4)
    return [p for p in polys if not p.is_empty]


def build_land_classes(
    terrain: Terrain, hydro: Hydrology, district: shapely.Geometry, seed: int, patch: float
) -> LandClasses:
    """Derive the land classes from elevation and slope (and water)."""
    grid, dem, slope = terrain.grid, terrain.dem, terrain.slope
    inside = rasterize(grid, [district])
    water = rasterize(grid, list(hydro.reservoir_geoms)) | rasterize(
        grid, [g.buffer(w / 2) for g, w in zip(hydro.river_geoms, hydro.river_widths(), strict=True)]
    )
    zone1 = rasterize(grid, [g for _n, g in hydro.zones.get("1", [])])
    zone2 = rasterize(grid, [g for _n, g in hydro.zones.get("2", [])])
    r = max(1, int(round(100 / grid.res)))
    core = smooth_mask((slope < 7.5) & (dem < 95) & ~water & ~zone1, 2 * r, 0.55) & inside
    min_core = 0.4e6 if grid.res > 30 else 0.8e6
    polys, _ = polygonize(grid, core, min_area=min_core, simplify=grid.res * 0.5)
    boundary = [
        shapely.make_valid(p.buffer(120).buffer(-60).simplify(10).intersection(district)) for p in polys
    ]
    xs, ys = grid.centres()
    wiggle = fractal(xs, ys, seed, "eco", 2500.0, 3)
    hills = ((dem > 65 + 15 * wiggle) & (slope > 8)) | (dem > 130) | zone2 | zone1
    eco = smooth_mask(hills & inside, r, 0.45) & ~(core & (dem < 55) & (slope < 4))
    eco_polys, _ = polygonize(grid, eco, min_area=grid.res**2 * 40, simplify=grid.res * 0.35)
    eco_smooth = [shapely.make_valid(p.buffer(grid.res * 0.6).buffer(-grid.res * 0.6)) for p in eco_polys]
    red = smooth_mask(((dem > 170) & (slope > 10)) | zone1, r, 0.5) & eco
    red_polys, _ = polygonize(grid, red, min_area=grid.res**2 * 30, simplify=grid.res * 0.4)
    forest = (((dem > 45 + 10 * wiggle) & (slope > 6.5)) | (dem > 100)) & ~water & inside
    forest = smooth_mask(forest, 1, 0.5) & ~water
    flat = (slope < 3.2) & (dem < 75) & ~core & ~forest & ~water & inside
    noise = fractal(xs, ys, seed, "agri", 900.0, 3)
    garden = (slope >= 3.2) & (slope < 10) & (dem < 130) & ~core & ~forest & ~water & inside & (noise > -0.2)
    near_river = rasterize(grid, [g.buffer(250) for g in hydro.river_geoms])
    pond = (slope < 2.5) & (dem < 60) & near_river & ~water & (noise > 0.35) & inside & ~forest
    grass = (slope > 5) & (slope < 18) & (dem > 35) & (noise < -0.45) & ~water & inside & ~core
    return LandClasses(
        urban_core=core,
        urban_boundary=[b for b in boundary if not b.is_empty],
        eco_line=[e for e in eco_smooth if not e.is_empty],
        eco_mask=eco,
        red_line=list(red_polys),
        forest=forest,
        forest_patches=_patches(grid, forest, patch * 1.3, seed, "forest"),
        farmland=_patches(grid, flat & (noise <= 0.35), patch * 0.7, seed, "farmland"),
        garden=_patches(grid, garden, patch * 0.8, seed, "garden"),
        pond=_patches(grid, smooth_mask(pond, 1, 0.4), patch * 0.4, seed, "pond"),
        grass=_patches(grid, smooth_mask(grass, 1, 0.5), patch * 0.6, seed, "grass"),
        water_mask=water,
    )
