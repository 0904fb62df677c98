"""Linear networks that cross the district: expressways, metro, railways, high-voltage lines, pipelines."""

from __future__ import annotations

import numpy as np
import shapely

from layers.demo.core import chaikin, lonlat_to_xy


def polyline(
    points: list[tuple[float, float]], rng: np.random.Generator, wiggle: float = 0.0
) -> shapely.LineString:
    """A smooth line through lon/lat control points, optionally with random lateral wiggle."""
    xy = np.array([lonlat_to_xy(lon, lat) for lon, lat in points])
    dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(xy), 800.0))
    if wiggle:
        dense[1:-1] += rng.normal(0, wiggle, size=(len(dense) - 2, 2))
    return shapely.LineString(chaikin(dense, 4))


def clip_lines(lines: list[shapely.Geometry], area: shapely.Geometry) -> list[shapely.Geometry]:
    """Clip lines to an area, keeping the linear parts."""
    out = []
    for line in lines:
        cut = line.intersection(area)
        parts = [p for p in shapely.get_parts(cut) if p.geom_type == "LineString" and p.length > 50]
        out.append(shapely.MultiLineString(parts) if len(parts) > 1 else (parts[0] if parts else None))
    return out


def stations_along(line: shapely.Geometry, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Station points every ~spacing metres along a line."""
    parts = [p for p in shapely.get_parts(line) if p.length > spacing * 0.6]
    pts = []
    for part in parts:
        n = max(1, int(part.length / spacing))
        d = (np.arange(n) + 0.5) / n * part.length + rng.uniform(-0.15, 0.15, n) * spacing
        pts.append(shapely.line_interpolate_point(part, np.clip(d, 0, part.length)))
    return np.concatenate(pts) if pts else np.array([], dtype=object)


def corridor_lines(
    ends: np.ndarray, rng: np.random.Generator, n: int, min_len: float, wiggle: float
) -> list[shapely.LineString]:
    """Lines joining random pairs of points (e.g. substations), gently curved."""
    lines: list[shapely.LineString] = []
    tries = 0
    while len(lines) < n and tries < n * 20 and len(ends) >= 2:
        tries += 1
        i, j = rng.choice(len(ends), 2, replace=False)
        a, b = ends[i], ends[j]
        d = float(np.hypot(*(b - a)))
        if d < min_len:
            continue
        k = max(3, int(d / 600))
        t = np.linspace(0, 1, k)[:, None]
        pts = a + (b - a) * t
        normal = np.array([-(b - a)[1], (b - a)[0]]) / d
        bend = np.sin(np.pi * t[:, 0]) * rng.uniform(-0.12, 0.12) * d
        pts = pts + normal * bend[:, None]
        pts[1:-1] += rng.normal(0, wiggle, size=(k - 2, 2))
        lines.append(shapely.LineString(chaikin(pts, 3)))
    return lines
