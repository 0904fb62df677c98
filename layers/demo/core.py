"""Shared pieces of the demo district: extent, grids, random streams and raster/vector helpers."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import shape

from layers.district import DISTRICT

Scale = Literal["small", "district", "full"]
CRS = DISTRICT.storage_crs.label
SMALL_CENTRE = (114.255, 22.727)
SMALL_SIZE = (6000.0, 5000.0)

_TO_GK = Transformer.from_crs("EPSG:4490", CRS, always_xy=True)

FloatArray = np.ndarray


def lonlat_to_xy(lon: float, lat: float) -> tuple[float, float]:
    """Project a CGCS2000 lon/lat to storage CRS metres."""
    x, y = _TO_GK.transform(lon, lat)
    return float(x), float(y)


def _district_bounds() -> tuple[float, float, float, float]:
    lon0, lat0, lon1, lat1 = DISTRICT.extent
    xs, ys = _TO_GK.transform([lon0, lon1, lon0, lon1], [lat0, lat0, lat1, lat1])
    return (
        float(np.floor(min(xs) / 100) * 100),
        float(np.floor(min(ys) / 100) * 100),
        float(np.ceil(max(xs) / 100) * 100),
        float(np.ceil(max(ys) / 100) * 100),
    )


DISTRICT_BOUNDS = _district_bounds()
"""Bounding box (storage CRS, rounded out to 100 m) of the district's extent the demo district fills."""


def scale_bounds(scale: Scale) -> tuple[float, float, float, float]:
    """Return the working window of a scale: a ~6×5 km sub-area for small, the whole extent otherwise."""
    if scale != "small":
        return DISTRICT_BOUNDS
    cx, cy = lonlat_to_xy(*SMALL_CENTRE)
    w, h = SMALL_SIZE
    x0, y0 = np.floor((cx - w / 2) / 50) * 50, np.floor((cy - h / 2) / 50) * 50
    return (float(x0), float(y0), float(x0 + w), float(y0 + h))


def stream(seed: int, *keys: str) -> np.random.Generator:
    """Return an independent, reproducible random stream for the given keys."""
    return np.random.default_rng([seed, *(zlib.crc32(key.encode()) for key in keys)])


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid over a window."""

    x0: float
    y1: float
    res: float
    rows: int
    cols: int

    @classmethod
    def over(cls, bounds: tuple[float, float, float, float], res: float) -> Grid:
        """Cover the bounds with cells of the given size."""
        x0, y0, x1, y1 = bounds
        return cls(x0, y1, res, int(round((y1 - y0) / res)), int(round((x1 - x0) / res)))

    @property
    def transform(self) -> Affine:
        """Affine transform of the grid."""
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounds of the grid as (minx, miny, maxx, maxy)."""
        return (self.x0, self.y1 - self.rows * self.res, self.x0 + self.cols * self.res, self.y1)

    def centres(self) -> tuple[FloatArray, FloatArray]:
        """Return x and y of every cell centre as 2-D arrays."""
        xs = self.x0 + (np.arange(self.cols) + 0.5) * self.res
        ys = self.y1 - (np.arange(self.rows) + 0.5) * self.res
        return np.meshgrid(xs, ys)

    def index(self, x: FloatArray, y: FloatArray) -> tuple[np.ndarray, np.ndarray]:
        """Return clipped (row, col) indices of points."""
        col = np.clip(((np.asarray(x) - self.x0) / self.res).astype(np.int64), 0, self.cols - 1)
        row = np.clip(((self.y1 - np.asarray(y)) / self.res).astype(np.int64), 0, self.rows - 1)
        return row, col

    def sample(self, raster: np.ndarray, x: FloatArray, y: FloatArray) -> np.ndarray:
        """Sample a raster of this grid at points (nearest cell)."""
        row, col = self.index(x, y)
        return raster[row, col]

    def coarsen(self, factor: int) -> Grid:
        """Return the grid with cells ``factor`` times larger."""
        return Grid(self.x0, self.y1, self.res * factor, self.rows // factor, self.cols // factor)


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Average an array over factor×factor blocks (trailing rows/columns dropped)."""
    if factor == 1:
        return array.astype(np.float64)
    rows, cols = array.shape[0] // factor, array.shape[1] // factor
    trimmed = array[: rows * factor, : cols * factor].astype(np.float64)
    return trimmed.reshape(rows, factor, cols, factor).mean(axis=(1, 3))


def box_blur(array: np.ndarray, radius: int) -> np.ndarray:
    """Blur with a (2r+1)² box filter using summed-area tables; edges are clamped."""
    if radius <= 0:
        return array.astype(np.float64)
    padded = np.pad(array.astype(np.float64), radius + 1, mode="edge")
    sat = padded.cumsum(axis=0).cumsum(axis=1)
    k = 2 * radius + 1
    total = sat[k:, k:] - sat[:-k, k:] - sat[k:, :-k] + sat[:-k, :-k]
    return total[: array.shape[0], : array.shape[1]] / (k * k)


def smooth_mask(mask: np.ndarray, radius: int, threshold: float = 0.5) -> np.ndarray:
    """Smooth a boolean mask (majority filter) to remove speckle."""
    return box_blur(mask.astype(np.float64), radius) > threshold


def voronoi_labels(grid: Grid, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Label every cell with its nearest seed of a jittered lattice (a raster Voronoi partition)."""
    x0, y0, x1, y1 = grid.bounds
    nx, ny = int((x1 - x0) / spacing) + 3, int((y1 - y0) / spacing) + 3
    jitter = rng.uniform(0.1, 0.9, size=(ny, nx, 2))
    xs, ys = grid.centres()
    ix = ((xs - x0) / spacing).astype(np.int64) + 1
    iy = ((ys - y0) / spacing).astype(np.int64) + 1
    best = np.full(xs.shape, np.inf)
    label = np.zeros(xs.shape, dtype=np.int32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            jx, jy = np.clip(ix + dx, 0, nx - 1), np.clip(iy + dy, 0, ny - 1)
            sx = x0 + (jx - 1 + jitter[jy, jx, 0]) * spacing
            sy = y0 + (jy - 1 + jitter[jy, jx, 1]) * spacing
            d = (xs - sx) ** 2 + (ys - sy) ** 2
            closer = d < best
            best = np.where(closer, d, best)
            label = np.where(closer, jy * nx + jx + 1, label)
    return label.astype(np.int32)


def polygonize(
    grid: Grid,
    mask: np.ndarray,
    labels: np.ndarray | None = None,
    min_area: float = 0.0,
    simplify: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a mask (optionally split by integer labels) into polygons; return (geometries, labels)."""
    values = (labels if labels is not None else mask).astype(np.int32)
    geoms, found = [], []
    for geojson, value in rasterio.features.shapes(values, mask=mask, transform=grid.transform):
        geoms.append(shape(geojson))
        found.append(int(value))
    if not geoms:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    polys = np.array(geoms, dtype=object)
    keep = shapely.area(polys) >= min_area
    polys, values_out = polys[keep], np.array(found, dtype=np.int64)[keep]
    if simplify:
        polys = shapely.make_valid(shapely.simplify(polys, simplify, preserve_topology=True))
        polys = np.array([_largest_polygonal(g) for g in polys], dtype=object)
    return polys, values_out


def _largest_polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygonal part of a geometry (make_valid may return collections)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Make geometries valid and keep only their polygonal parts; drop empties."""
    fixed = shapely.make_valid(np.asarray(geoms, dtype=object))
    out = np.array([_largest_polygonal(g) for g in fixed], dtype=object)
    return out


def explode(geoms: np.ndarray) -> np.ndarray:
    """Split multi-part geometries into single parts."""
    return shapely.get_parts(np.asarray(geoms, dtype=object))


def chaikin(coords: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Smooth an open polyline by Chaikin corner cutting, keeping its end points."""
    pts = np.asarray(coords, dtype=np.float64)
    for _ in range(iterations):
        if len(pts) < 3:
            return pts
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.vstack([pts[:1], mid[1:-1], pts[-1:]])
    return pts


def points_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return up to n random points inside a polygonal geometry (rejection sampling)."""
    if geom.is_empty or n <= 0:
        return np.array([], dtype=object)
    shapely.prepare(geom)
    x0, y0, x1, y1 = geom.bounds
    fill = max(geom.area / max((x1 - x0) * (y1 - y0), 1e-9), 0.02)
    found: list[np.ndarray] = []
    have = 0
    for _ in range(8):
        m = int(n / fill * 1.3) + 8
        pts = shapely.points(rng.uniform(x0, x1, m), rng.uniform(y0, y1, m))
        pts = pts[shapely.contains(geom, pts)]
        found.append(pts)
        have += len(pts)
        if have >= n:
            break
    return np.concatenate(found)[:n] if found else np.array([], dtype=object)
