"""Urban fabric: warped road grids per sub-district, blocks between red lines, statutory-plan parcels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from layers.demo.core import lonlat_to_xy, polygonal, stream
from layers.demo.names import ROAD_SUFFIX, SUBDISTRICTS, coin
from layers.demo.terrain import fractal

ROAD_WIDTH = {"arterial": 50.0, "secondary": 30.0, "branch": 18.0}


@dataclass
class Frame:
    """A sub-district's local road-grid frame: (u, v) metres → warped, rotated (x, y)."""

    ox: float
    oy: float
    angle: float
    amp: float
    wave: float
    phase: tuple[float, float]

    def to_xy(self, uv: np.ndarray) -> np.ndarray:
        """Map (N, 2) grid coordinates to the storage CRS."""
        u, v = uv[:, 0], uv[:, 1]
        uu = u + self.amp * np.sin(v / self.wave + self.phase[0])
        vv = v + self.amp * np.sin(u / (self.wave * 1.3) + self.phase[1])
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.column_stack([self.ox + uu * c - vv * s, self.oy + uu * s + vv * c])

    def map(self, geoms: np.ndarray) -> np.ndarray:
        """Map grid-space geometries to the storage CRS."""
        return shapely.transform(geoms, self.to_xy)


@dataclass
class Fabric:
    """Roads, red lines, parcels (with grid-space rectangles for building layout) of all sub-districts."""

    road_geoms: list[np.ndarray] = field(default_factory=list)
    road_class: list[np.ndarray] = field(default_factory=list)
    road_name: list[np.ndarray] = field(default_factory=list)
    road_width: list[np.ndarray] = field(default_factory=list)
    parcel_geoms: list[np.ndarray] = field(default_factory=list)
    parcel_uv: list[np.ndarray] = field(default_factory=list)
    parcel_use: list[np.ndarray] = field(default_factory=list)
    parcel_frame: list[np.ndarray] = field(default_factory=list)
    parcel_block: list[np.ndarray] = field(default_factory=list)
    parcel_sub: list[np.ndarray] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)

    def cat(self, name: str) -> np.ndarray:
        """Concatenate one per-sub-district attribute list."""
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.array([])


def _lines(lo: float, hi: float, pitch: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int((hi - lo) / pitch) + 2
    pos = lo + np.arange(n) * pitch + rng.uniform(-0.18, 0.18, n) * pitch
    k = np.arange(n) + rng.integers(0, 6)
    cls = np.where(k % 6 == 0, "arterial", np.where(k % 3 == 0, "secondary", "branch"))
    return pos, cls


def _clip(geoms: np.ndarray, zone: shapely.Geometry, keep_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep geometries inside the zone; cut the ones on its edge; return (geoms, kept indices)."""
    inside = shapely.contains(zone, geoms)
    edge = ~inside & shapely.intersects(zone, geoms)
    out = geoms.copy()
    idx = np.flatnonzero(edge)
    if len(idx):
        cut = shapely.intersection(geoms[idx], zone)
        if geoms[idx[0]].geom_type == "Polygon":
            cut = shapely.make_valid(cut)
            ok = shapely.area(cut) >= keep_frac * shapely.area(geoms[idx])
            ok &= np.isin(shapely.get_type_id(cut), [3, 6])
        else:
            ok = shapely.length(cut) > 30
            ok &= np.isin(shapely.get_type_id(cut), [1, 5])
        out[idx] = cut
        edge[idx[~ok]] = False
    keep = np.flatnonzero(inside | edge)
    return out[keep], keep


def _block_use(n: int, centre_d: np.ndarray, noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zoning of blocks: commerce near the centre, villages and industry in clusters, housing elsewhere."""
    use = np.full(n, "R2", dtype=object)
    use[noise > 0.28] = "M1"
    use[(noise > 0.18) & (noise <= 0.28)] = "W1"
    use[noise < -0.32] = "R4"
    use[(noise >= -0.32) & (noise < -0.22)] = "R3"
    use[centre_d < 900] = rng.choice(["C1", "C2", "C1", "R2"], size=int((centre_d < 900).sum()))
    spot = rng.random(n)
    use[spot < 0.06] = "G1"
    use[(spot >= 0.06) & (spot < 0.12)] = "GIC5"
    use[(spot >= 0.12) & (spot < 0.14)] = "GIC4"
    use[(spot >= 0.14) & (spot < 0.16)] = "M0"
    use[(spot >= 0.16) & (spot < 0.175)] = "U"
    use[(spot >= 0.175) & (spot < 0.19)] = "S4"
    return use


_SWAP = np.array(["GIC1", "GIC2", "GIC5", "G1", "U", "C5", "GIC9", "S4", "G2", "GIC6"], dtype=object)


def _road_segments(
    frame: Frame, fixed: np.ndarray, cls: np.ndarray, cross: np.ndarray, cross_cls: np.ndarray, along_u: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rank = {"branch": 0, "secondary": 1, "arterial": 2}
    geoms, classes, line_ids = [], [], []
    cross_rank = np.array([rank[c] for c in cross_cls])
    for k, (pos, c) in enumerate(zip(fixed, cls, strict=True)):
        stops = cross[cross_rank >= rank[c]]
        if len(stops) < 2:
            continue
        a, b = stops[:-1], stops[1:]
        if along_u:
            coords = np.stack(
                [np.column_stack([np.full(len(a), pos), a]), np.column_stack([np.full(len(a), pos), b])], 1
            )
        else:
            coords = np.stack(
                [np.column_stack([a, np.full(len(a), pos)]), np.column_stack([b, np.full(len(a), pos)])], 1
            )
        geoms.append(shapely.linestrings(coords))
        classes.append(np.full(len(a), c, dtype=object))
        line_ids.append(np.full(len(a), k))
    if not geoms:
        return np.array([], dtype=object), np.array([], dtype=object), np.array([], dtype=np.int64)
    lines = shapely.segmentize(np.concatenate(geoms), 40.0)
    return frame.map(lines), np.concatenate(classes), np.concatenate(line_ids)


def build_fabric(
    zones: list[tuple[str, shapely.Geometry]], seed: int, pitch_scale: float, cut_out: shapely.Geometry
) -> Fabric:
    """Lay out roads, blocks and parcels in every (sub-district ∩ urban boundary) zone."""
    fabric = Fabric()
    seeds = {code: lonlat_to_xy(lon, lat) for code, _n, lon, lat, _k in SUBDISTRICTS}
    shapely.prepare(cut_out)
    for code, zone in zones:
        rng = stream(seed, "fabric", code)
        ox, oy = seeds[code]
        frame = Frame(
            ox,
            oy,
            float(rng.uniform(-0.6, 0.6)),
            float(rng.uniform(50, 110)),
            float(rng.uniform(500, 900)),
            (float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3))),
        )
        fi = len(fabric.frames)
        fabric.frames.append(frame)
        shapely.prepare(zone)
        x0, y0, x1, y1 = zone.bounds
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) - [ox, oy]
        c, s = np.cos(frame.angle), np.sin(frame.angle)
        u = corners[:, 0] * c + corners[:, 1] * s
        v = -corners[:, 0] * s + corners[:, 1] * c
        pu, pv = rng.uniform(170, 240) * pitch_scale, rng.uniform(140, 200) * pitch_scale
        us, ucls = _lines(u.min() - 300, u.max() + 300, pu, rng)
        vs, vcls = _lines(v.min() - 300, v.max() + 300, pv, rng)
        uw = np.array([ROAD_WIDTH[k] for k in ucls]) * rng.uniform(0.85, 1.15, len(us))
        vw = np.array([ROAD_WIDTH[k] for k in vcls]) * rng.uniform(0.85, 1.15, len(vs))
        # roads
        names_u = coin(rng, len(us))[0]
        names_v = coin(rng, len(vs))[0]
        for fixed, cls, cross, ccls, widths, names, along in (
            (us, ucls, vs, vcls, uw, names_u, True),
            (vs, vcls, us, ucls, vw, names_v, False),
        ):
            lines, classes, ids = _road_segments(frame, fixed, cls, cross, ccls, along)
            lines, keep = _clip(lines, zone, 0)
            fabric.road_geoms.append(lines)
            fabric.road_class.append(classes[keep])
            fabric.road_width.append(np.round(widths[ids[keep]], 0))
            fabric.road_name.append(
                np.array(
                    [names[i] + ROAD_SUFFIX[c] for i, c in zip(ids[keep], classes[keep], strict=True)],
                    dtype=object,
                )
            )
        # blocks → parcels
        mesh_u, mesh_v = np.meshgrid(np.arange(len(us) - 1), np.arange(len(vs) - 1))
        iu, iv = mesh_u.ravel(), mesh_v.ravel()
        bu0, bu1 = us[iu] + uw[iu] / 2, us[iu + 1] - uw[iu + 1] / 2
        bv0, bv1 = vs[iv] + vw[iv] / 2, vs[iv + 1] - vw[iv + 1] / 2
        centre = np.column_stack([(bu0 + bu1) / 2, (bv0 + bv1) / 2])
        cxy = frame.to_xy(centre)
        noise = fractal(cxy[:, 0], cxy[:, 1], seed, "zoning", 2200.0, 3) * 1.25
        use = _block_use(len(iu), np.hypot(centre[:, 0], centre[:, 1]), noise, rng)
        nu = np.where(np.isin(use, ["R4", "G1"]), 1, rng.integers(1, 4, len(iu)))
        nv = np.where(np.isin(use, ["R4", "G1", "GIC5"]), 1, rng.integers(1, 3, len(iu)))
        rows = []
        for a in range(1, 4):
            for b in range(1, 3):
                sel = np.flatnonzero((nu == a) & (nv == b))
                if not len(sel):
                    continue
                for i in range(a):
                    for j in range(b):
                        w, h = (bu1[sel] - bu0[sel]) / a, (bv1[sel] - bv0[sel]) / b
                        gap = np.where(a > 1, 4.0, 0.0)
                        rows.append(
                            np.column_stack(
                                [
                                    bu0[sel] + i * w + (gap if i else 0),
                                    bv0[sel] + j * h + (gap if j else 0),
                                    bu0[sel] + (i + 1) * w,
                                    bv0[sel] + (j + 1) * h,
                                    sel,
                                    np.full(len(sel), float(i == 0)),
                                ]
                            )
                        )
        uv = np.concatenate(rows)
        block = uv[:, 4].astype(np.int64)
        puse = use[block].copy()
        swap = (rng.random(len(uv)) < 0.12) & ~np.isin(puse, ["R4", "G1"])
        puse[swap] = rng.choice(_SWAP, size=int(swap.sum()))
        boxes = shapely.segmentize(shapely.box(uv[:, 0], uv[:, 1], uv[:, 2], uv[:, 3]), 30.0)
        polys, keep = _clip(frame.map(boxes), zone, 0.35)
        hit = shapely.intersects(cut_out, polys)
        if hit.any():
            polys[hit] = polygonal(shapely.difference(polys[hit], cut_out))
        good = np.isin(shapely.get_type_id(polys), [3, 6]) & (shapely.area(polys) > 400)
        polys, keep = polys[good], keep[good]
        fabric.parcel_geoms.append(polys)
        fabric.parcel_uv.append(uv[keep][:, [0, 1, 2, 3, 5]])
        fabric.parcel_use.append(puse[keep])
        fabric.parcel_frame.append(np.full(len(keep), fi))
        fabric.parcel_block.append(block[keep] + fi * 1_000_000)
        fabric.parcel_sub.append(np.full(len(keep), code, dtype=object))
    return fabric
