"""Buildings: compounds laid out inside parcels by land use, dense urban villages, old rural villages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from layers.demo.planning import Fabric

# use → pitch u/v, length, width, setback, presence, floors lo/hi, year lo/hi, structures, use, L-share
PATTERNS: dict[str, tuple] = {
    "R1": (40, 40, 18, 14, 8, 0.9, 3, 4, 2005, 2019, "33", "residential", 0.3),
    "R2": (58, 44, 42, 15, 12, 0.9, 18, 34, 1998, 2022, "3", "residential", 0.1),
    "R3": (50, 40, 36, 14, 10, 0.9, 8, 18, 1992, 2012, "34", "residential", 0.1),
    "R4": (14, 14, 11.5, 11, 3, 0.9, 4, 9, 1982, 2012, "3344", "residential", 0.0),
    "C1": (70, 60, 46, 34, 10, 0.85, 5, 42, 2000, 2022, "23", "commercial", 0.5),
    "C2": (70, 60, 44, 32, 10, 0.85, 12, 48, 2005, 2022, "23", "office", 0.4),
    "C5": (60, 50, 40, 22, 10, 0.85, 8, 24, 2000, 2020, "3", "commercial", 0.3),
    "M0": (62, 55, 42, 24, 10, 0.85, 10, 30, 2010, 2023, "23", "office", 0.3),
    "M1": (48, 78, 36, 62, 8, 0.85, 1, 6, 1986, 2016, "1233", "industrial", 0.3),
    "W1": (70, 60, 58, 40, 8, 0.8, 1, 3, 1990, 2018, "12", "warehouse", 0.0),
    "W0": (70, 60, 58, 40, 8, 0.8, 1, 4, 2005, 2020, "12", "warehouse", 0.0),
    "GIC": (60, 46, 46, 16, 12, 0.8, 3, 6, 1995, 2022, "3", "public", 0.7),
    "U": (60, 60, 22, 16, 10, 0.6, 1, 3, 1995, 2020, "36", "other", 0.0),
    "S4": (70, 60, 30, 16, 10, 0.5, 1, 2, 2000, 2020, "16", "public", 0.0),
    "G1": (120, 120, 9, 8, 20, 0.05, 1, 2, 2005, 2020, "35", "public", 0.0),
}
_HEIGHT = {
    "residential": 3.0,
    "commercial": 4.2,
    "office": 3.9,
    "industrial": 5.0,
    "warehouse": 6.5,
    "public": 4.0,
    "mixed": 3.3,
    "other": 3.5,
}


@dataclass
class Buildings:
    """Footprints and attributes of all buildings (arrays of equal length)."""

    geoms: np.ndarray
    floors: np.ndarray
    structure: np.ndarray
    use: np.ndarray
    year: np.ndarray
    host: np.ndarray  # parcel index, or -1 - village index for rural villages
    encroaching: np.ndarray

    def floor_area(self) -> np.ndarray:
        """Gross floor area = footprint × floors."""
        return np.round(shapely.area(self.geoms) * self.floors, 2)


def _pattern_key(use: str) -> str:
    if use.startswith("GIC"):
        return "GIC"
    return use if use in PATTERNS else ("G1" if use.startswith(("G", "E")) else "U")


def _corners(
    cu: np.ndarray,
    cv: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rot: np.ndarray,
    lshape: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rectangle (or L) rings centred on (cu, cv) with half sizes a, b, rotated by rot radians."""
    if lshape:
        f, g = rng.uniform(0.35, 0.6, len(a)), rng.uniform(0.35, 0.6, len(a))
        x = np.column_stack([-a, a, a, -a + 2 * a * g, -a + 2 * a * g, -a, -a])
        y = np.column_stack([-b, -b, -b + 2 * b * f, -b + 2 * b * f, b, b, -b])
    else:
        x = np.column_stack([-a, a, a, -a, -a])
        y = np.column_stack([-b, -b, b, b, -b])
    c, s = np.cos(rot)[:, None], np.sin(rot)[:, None]
    return np.stack([cu[:, None] + x * c - y * s, cv[:, None] + x * s + y * c], axis=2)


def _layout(uv: np.ndarray, pattern: tuple, rng: np.random.Generator, density: float, fine: float) -> tuple:
    """Slots of one pattern in the parcels' grid-space rectangles; returns centres, sizes and owners."""
    pu, pv, length, width, setback, present = (float(x) for x in pattern[:6])
    pu, pv, length, width = pu * fine, pv * fine, length * fine, width * fine
    w = uv[:, 2] - uv[:, 0] - 2 * setback
    h = uv[:, 3] - uv[:, 1] - 2 * setback
    nx = np.maximum(np.floor(w / pu), (w > length).astype(float)).astype(np.int64)
    ny = np.maximum(np.floor(h / pv), (h > width).astype(float)).astype(np.int64)
    count = nx * ny
    owner = np.repeat(np.arange(len(uv)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    nxr = nx[owner]
    ix, iy = k % nxr, k // nxr
    su = (w[owner] - nxr * pu) / 2
    sv = (h[owner] - ny[owner] * pv) / 2
    cu = uv[owner, 0] + setback + su + (ix + 0.5) * pu + rng.uniform(-0.08, 0.08, len(k)) * pu
    cv = uv[owner, 1] + setback + sv + (iy + 0.5) * pv + rng.uniform(-0.08, 0.08, len(k)) * pv
    a = np.minimum(length * rng.uniform(0.8, 1.15, len(k)), pu - 3) / 2
    b = np.minimum(width * rng.uniform(0.85, 1.15, len(k)), pv - 3) / 2
    keep = rng.random(len(k)) < min(present * density, 0.97)
    return cu[keep], cv[keep], a[keep], b[keep], owner[keep]


def _attributes(key: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    p = PATTERNS[key]
    floors = rng.integers(int(p[6]), int(p[7]) + 1, n)
    year = rng.integers(int(p[8]), int(p[9]) + 1, n)
    structure = rng.choice(np.array(list(p[10]), dtype=object), n)
    use = np.full(n, p[11], dtype=object)
    if key == "R4":
        use[rng.random(n) < 0.25] = "mixed"
        structure[year < 1995] = "4"
    if key == "M1":
        use[rng.random(n) < 0.1] = "warehouse"
    return floors, year, structure, use


def parcel_buildings(fabric: Fabric, seed_rng: np.random.Generator, density: float, fine: float) -> Buildings:
    """Lay buildings out in every parcel by its land use (``fine`` < 1: a finer survey), storage CRS."""
    geoms_all = fabric.cat("parcel_geoms")
    uv_all = fabric.cat("parcel_uv")
    use_all = fabric.cat("parcel_use")
    frame_all = fabric.cat("parcel_frame").astype(np.int64)
    keys = np.array([_pattern_key(u) for u in use_all], dtype=object)
    out: list[tuple] = []
    for key in PATTERNS:
        sel = np.flatnonzero(keys == key)
        if not len(sel):
            continue
        grain = 1.0 if key == "G1" else (fine**0.3 if key == "R4" else fine)
        cu, cv, a, b, owner = _layout(uv_all[sel], PATTERNS[key], seed_rng, density, grain)
        parcel = sel[owner]
        rot = seed_rng.normal(0, 0.05 if key == "R4" else 0.01, len(cu))
        lmask = seed_rng.random(len(cu)) < PATTERNS[key][12]
        for lshape in (False, True):
            m = lmask == lshape
            if not m.any():
                continue
            rings = _corners(cu[m], cv[m], a[m], b[m], rot[m], lshape, seed_rng)
            out.append((key, rings, parcel[m], False))
    # encroachments: small sheds built past the red line on the edge of some parcels (a real contradiction)
    first = np.flatnonzero((uv_all[:, 4] > 0) & np.isin(keys, ["R4", "M1", "R3"]))
    pick = seed_rng.choice(first, size=min(len(first), max(3, len(first) // 150)), replace=False)
    if len(pick):
        cu, cv = uv_all[pick, 0] - 2.0, (uv_all[pick, 1] + uv_all[pick, 3]) / 2
        half = np.full(len(pick), 5.0)
        rings = _corners(cu, cv, half, half * 0.8, np.zeros(len(pick)), False, seed_rng)
        out.append(("U", rings, pick, True))
    geoms, floors, years, structs, uses, hosts, enc = [], [], [], [], [], [], []
    for key, rings, parcel, encroach in out:
        xy = np.empty_like(rings)
        for f in np.unique(frame_all[parcel]):
            m = frame_all[parcel] == f
            xy[m] = fabric.frames[int(f)].to_xy(rings[m].reshape(-1, 2)).reshape(rings[m].shape)
        polys = shapely.polygons(xy)
        ok = np.ones(len(polys), bool) if encroach else shapely.contains(geoms_all[parcel], polys)
        n = int(ok.sum())
        fl, yr, st, us = _attributes(key, n, seed_rng)
        if encroach:
            fl, st, us = (
                seed_rng.integers(1, 3, n),
                np.full(n, "6", dtype=object),
                np.full(n, "other", dtype=object),
            )
        geoms.append(polys[ok])
        floors.append(fl)
        years.append(yr)
        structs.append(st)
        uses.append(us)
        hosts.append(parcel[ok])
        enc.append(np.full(n, encroach))
    return Buildings(
        np.concatenate(geoms),
        np.concatenate(floors),
        np.concatenate(structs),
        np.concatenate(uses),
        np.concatenate(years),
        np.concatenate(hosts),
        np.concatenate(enc),
    )


def rural_villages(centres: np.ndarray, rng: np.random.Generator, size: float) -> tuple[Buildings, list]:
    """Old villages (mostly outside the urban boundary, some inside the eco line) on a loose grid."""
    rings_all, hosts, outlines = [], [], []
    for v, (x, y) in enumerate(centres):
        pitch = rng.uniform(14, 18)
        n = int(rng.integers(25, 110) * size)
        gx, gy = np.meshgrid(np.arange(-14, 15), np.arange(-14, 15))
        d2 = (gx.ravel() ** 2 + gy.ravel() ** 2).astype(float)
        weight = np.exp(-d2 / (2 * rng.uniform(3.5, 6.5) ** 2))
        cells = rng.choice(len(d2), size=min(n, len(d2)), replace=False, p=weight / weight.sum())
        ang = rng.uniform(0, np.pi)
        lu = gx.ravel()[cells] * pitch + rng.uniform(-1.5, 1.5, len(cells))
        lv = gy.ravel()[cells] * pitch + rng.uniform(-1.5, 1.5, len(cells))
        cx = x + lu * np.cos(ang) - lv * np.sin(ang)
        cy = y + lu * np.sin(ang) + lv * np.cos(ang)
        a = rng.uniform(4.0, 6.0, len(cells))
        b = rng.uniform(3.8, 5.5, len(cells))
        rings = _corners(cx, cy, a, b, np.full(len(cells), ang) + rng.normal(0, 0.04, len(cells)), False, rng)
        polys = shapely.polygons(rings)
        outlines.append(shapely.union_all(shapely.buffer(polys, 14, quad_segs=2)).buffer(-7).simplify(2))
        rings_all.append(rings)
        hosts.append(np.full(len(cells), -1 - v))
    rings = np.concatenate(rings_all)
    n = len(rings)
    year = rng.integers(1968, 2008, n)
    floors = np.where(year < 1990, rng.integers(1, 4, n), rng.integers(3, 7, n))
    structure = np.where(year < 1985, "5", np.where(year < 1998, "4", "3")).astype(object)
    use = np.where(rng.random(n) < 0.15, "mixed", "residential").astype(object)
    build = Buildings(
        shapely.polygons(rings), floors, structure, use, year, np.concatenate(hosts), np.zeros(n, bool)
    )
    return build, outlines


def concat(parts: list[Buildings]) -> Buildings:
    """Join building sets."""
    return Buildings(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Buildings.__dataclass_fields__)
    )


def height_of(b: Buildings, rng: np.random.Generator) -> np.ndarray:
    """Building height from floors and use."""
    per = np.array([_HEIGHT[u] for u in b.use])
    return np.round(b.floors * per * rng.uniform(0.95, 1.08, len(per)) + 1.0, 1)
