"""Placement helpers and the generic, catalog-driven layer generator used for layers without a recipe."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import shapely
import shapely.affinity

from layers.catalog import LayerEntry, LayerKind
from layers.demo.core import Grid, points_in, polygonize, smooth_mask, stream, voronoi_labels
from layers.demo.world import World

Produced = tuple[np.ndarray, dict[str, object]]
Recipe = Callable[[World, np.random.Generator], Produced]
REGISTRY: dict[str, Recipe] = {}


def recipe(*codes: str) -> Callable[[Recipe], Recipe]:
    """Register a function as the recipe of one or more layers."""

    def wrap(func: Recipe) -> Recipe:
        for code in codes:
            REGISTRY[code] = func
        return func

    return wrap


def arr(geoms: Iterable[shapely.Geometry] | np.ndarray) -> np.ndarray:
    """Geometries as a numpy object array without empties."""
    out = geoms if isinstance(geoms, np.ndarray) else np.array(list(geoms), dtype=object)
    if not len(out):
        return out
    return out[~shapely.is_empty(out) & ~shapely.is_missing(out)]


def pick(n: int, share: float, rng: np.random.Generator, at_least: int = 1) -> np.ndarray:
    """Sorted random subset of range(n) with the given share."""
    k = min(n, max(at_least, int(round(n * share))))
    return np.sort(rng.choice(n, size=k, replace=False)) if n else np.array([], dtype=np.int64)


def surface_points(geoms: np.ndarray) -> np.ndarray:
    """A point inside every polygon (on every line)."""
    return shapely.point_on_surface(geoms)


def merge_by(geoms: np.ndarray, keys: np.ndarray, grow: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Dissolve geometries sharing a key (e.g. parcels of one block); return (geoms, keys)."""
    order = np.argsort(keys, kind="stable")
    keys_sorted = keys[order]
    uniq, starts = np.unique(keys_sorted, return_index=True)
    out = []
    for a, b in zip(starts, [*starts[1:], len(order)], strict=True):
        part = geoms[order[a:b]]
        merged = shapely.union_all(shapely.buffer(part, grow, quad_segs=2)) if len(part) > 1 else part[0]
        out.append(merged.buffer(-grow, quad_segs=2) if len(part) > 1 else merged)
    return arr(out), uniq


def land_patches(world: World, mask: np.ndarray, spacing: float, key: str, min_cells: int = 4) -> np.ndarray:
    """Polygons of a DEM-grid mask split along a raster Voronoi partition."""
    grid: Grid = world.grid
    labels = voronoi_labels(grid, spacing, stream(world.seed, key))
    polys, _ = polygonize(grid, mask, labels, min_area=grid.res**2 * min_cells, simplify=grid.res * 0.4)
    return arr(polys)


def class_polygons(world: World, classes: np.ndarray, codes: list[str], spacing: float = 0.0) -> Produced:
    """Polygonize a class raster (0 = none, k = codes[k-1]), optionally split into patches."""
    grid = world.grid
    labels = classes.astype(np.int32)
    if spacing:
        labels = labels * 100000 + voronoi_labels(grid, spacing, stream(world.seed, "classes", codes[0]))
    polys, values = polygonize(grid, classes > 0, labels, min_area=grid.res**2 * 4, simplify=grid.res * 0.4)
    cls = values // 100000 if spacing else values
    keep = ~shapely.is_empty(polys)
    return polys[keep], {"_class": np.array([codes[int(c) - 1] for c in cls[keep]], dtype=object)}


def smooth(mask: np.ndarray) -> np.ndarray:
    """Majority-smooth a mask."""
    return smooth_mask(mask, 1, 0.5)


def rings(points: np.ndarray, radius: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Irregular, roughly round areas around points (e.g. protection ranges)."""
    r = np.broadcast_to(np.asarray(radius, dtype=float), (len(points),))
    stretch = rng.uniform(0.75, 1.25, len(points))
    circles = shapely.buffer(points, r, quad_segs=6)
    angle = rng.uniform(0, 180, len(points))
    out = []
    for c, s, a in zip(circles, stretch, angle, strict=True):
        out.append(shapely.affinity.rotate(shapely.affinity.scale(c, s, 1 / s), a))
    return arr(out)


def scatter(area: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random points in an area."""
    return arr(points_in(area, n, rng))


def generic_layer(world: World, layer: LayerEntry, rng: np.random.Generator) -> Produced:
    """Place features of any catalog layer sensibly by its kind (used when a layer has no recipe)."""
    if layer.kind is LayerKind.POINT:
        b, _ = world.buildings
        idx = pick(len(b.geoms), 0.01, rng, 5)
        return surface_points(b.geoms[idx]), {}
    if layer.kind is LayerKind.LINE:
        roads = world.fabric.cat("road_geoms")
        idx = pick(len(roads), 0.05, rng, 5)
        return roads[idx], {}
    idx = pick(len(world.parcels), 0.03, rng, 5)
    return world.parcels[idx], {}
