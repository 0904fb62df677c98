"""Administrative divisions: district outline, 11 sub-districts, 111 communities and management grids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rasterio.features
import shapely

from layers.demo.core import Grid, lonlat_to_xy, polygonize, stream, voronoi_labels
from layers.demo.names import COMMUNITIES, SUBDISTRICT_CODES, SUBDISTRICTS
from layers.demo.terrain import fractal


@dataclass
class Admin:
    """Polygons of the administrative hierarchy; community ids index ``community_*`` lists."""

    district: shapely.Geometry
    subdistrict_codes: list[str]
    subdistrict_geoms: list[shapely.Geometry]
    community_names: list[str]
    community_sub: list[str]
    community_geoms: list[shapely.Geometry]
    community_raster: np.ndarray
    grid_geoms: list[shapely.Geometry]
    grid_community: list[int]


def district_outline(bounds: tuple[float, float, float, float], seed: int) -> shapely.Geometry:
    """An irregular district outline inside the bounds (boundary pushed in by smooth noise)."""
    x0, y0, x1, y1 = bounds
    inset = min(x1 - x0, y1 - y0) * 0.06
    ring = shapely.segmentize(shapely.box(x0, y0, x1, y1).exterior, inset / 4)
    coords = shapely.get_coordinates(ring)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    noise = (fractal(coords[:, 0], coords[:, 1], seed, "outline", inset * 6, 3) + 1) / 2
    pull = inset * (0.2 + 1.6 * noise)
    dx, dy = cx - coords[:, 0], cy - coords[:, 1]
    norm = np.hypot(dx, dy)
    coords = coords + np.column_stack([dx / norm, dy / norm]) * pull[:, None]
    poly = shapely.make_valid(shapely.Polygon(coords))
    parts = [p for p in shapely.get_parts(poly) if p.geom_type == "Polygon"]
    return max(parts, key=lambda p: p.area).simplify(inset / 20)


def _nearest_label(xs: np.ndarray, ys: np.ndarray, seeds: np.ndarray, seed: int, key: str) -> np.ndarray:
    """Nearest-seed label with warped distances so borders wander like real ones."""
    wx = xs + 900 * fractal(xs, ys, seed, key + "x", 5000.0, 3)
    wy = ys + 900 * fractal(xs, ys, seed, key + "y", 5000.0, 3)
    best = np.full(xs.shape, np.inf)
    label = np.zeros(xs.shape, dtype=np.int32)
    for k, (sx, sy) in enumerate(seeds):
        d = (wx - sx) ** 2 + (wy - sy) ** 2
        closer = d < best
        best[closer] = d[closer]
        label[closer] = k
    return label


def _parts_by_label(grid: Grid, labels: np.ndarray, inside: np.ndarray, n: int) -> list[shapely.Geometry]:
    polys, values = polygonize(grid, inside, labels + 1, simplify=grid.res * 0.45)
    out = []
    for k in range(n):
        parts = polys[values == k + 1]
        out.append(shapely.union_all(parts) if len(parts) else shapely.Polygon())
    return out


def build_admin(grid: Grid, seed: int, grid_spacing: float) -> Admin:
    """Partition the window into sub-districts, communities and grids."""
    district = district_outline(grid.bounds, seed)
    inside = rasterio.features.rasterize(
        [district], out_shape=(grid.rows, grid.cols), transform=grid.transform
    )
    inside = inside.astype(bool)
    xs, ys = grid.centres()
    sub_seeds = np.array([lonlat_to_xy(lon, lat) for _c, _n, lon, lat, _k in SUBDISTRICTS])
    sub_label = _nearest_label(xs, ys, sub_seeds, seed, "sub")
    rng = stream(seed, "communities")
    com_label = np.full(xs.shape, -1, dtype=np.int32)
    names: list[str] = []
    subs: list[str] = []
    for s, (code, _name, _lon, _lat, count) in enumerate(SUBDISTRICTS):
        cells = np.flatnonzero((sub_label == s) & inside)
        if len(cells) < count * 4:
            continue
        picks = rng.choice(cells, size=count, replace=False)
        seeds = np.column_stack([xs.ravel()[picks], ys.ravel()[picks]])
        local = _nearest_label(xs.ravel()[cells], ys.ravel()[cells], seeds, seed, "com" + code)
        com_label.ravel()[cells] = local + len(names)
        names.extend(f"{n}社区" for n in COMMUNITIES[code][:count])
        subs.extend([code] * count)
    sub_geoms = _parts_by_label(grid, sub_label, inside, len(SUBDISTRICTS))
    com_geoms = _parts_by_label(grid, com_label, com_label >= 0, len(names))
    cells = voronoi_labels(grid, grid_spacing, stream(seed, "admin_grid"))
    combined = (com_label.astype(np.int64) * 1_000_000 + cells) % 2_000_000_000
    polys, values = polygonize(grid, com_label >= 0, combined.astype(np.int32), simplify=grid.res * 0.45)
    keep = [i for i, p in enumerate(polys) if p.area > grid.res**2 * 6]
    present = [i for i, g in enumerate(sub_geoms) if not g.is_empty]
    return Admin(
        district=district,
        subdistrict_codes=[SUBDISTRICT_CODES[i] for i in present],
        subdistrict_geoms=[sub_geoms[i] for i in present],
        community_names=names,
        community_sub=subs,
        community_geoms=com_geoms,
        community_raster=com_label,
        grid_geoms=[polys[i] for i in keep],
        grid_community=[int(values[i] // 1_000_000) for i in keep],
    )
