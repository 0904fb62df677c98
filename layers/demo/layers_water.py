"""Recipes of the water (水务) and geology/safety layers."""

from __future__ import annotations

import numpy as np
import shapely

from layers.demo.generic import Produced, arr, class_polygons, land_patches, pick, recipe, smooth
from layers.demo.names import RESERVOIR_INFO
from layers.demo.world import World
from layers.district import DISTRICT

G = np.random.Generator


# ---- 09 water ---------------------------------------------------------------------------------------------
def _zone_layer(level: str, w: World) -> Produced:
    zones = [(n, g) for n, g in w.hydro.zones.get(level, []) if not g.is_empty]
    return arr([g for _n, g in zones]), {
        "zone_name": [
            f"{n}饮用水水源{ {'1': '一级', '2': '二级', 'Q': '准'}[level] }保护区" for n, _g in zones
        ],
        "level": level,
        "water_body": [n for n, _g in zones],
        "source_type": "reservoir",
    }


@recipe("water_source_1")
def _ws1(w: World, rng: G) -> Produced:
    return _zone_layer("1", w)


@recipe("water_source_2")
def _ws2(w: World, rng: G) -> Produced:
    return _zone_layer("2", w)


@recipe("water_source_q")
def _wsq(w: World, rng: G) -> Produced:
    return _zone_layer("Q", w)


@recipe("water_river")
def _rivers(w: World, rng: G) -> Produced:
    h = w.hydro
    g = arr(h.river_geoms)
    return g, {
        "river_name": h.river_names,
        "river_code": [f"HL-LG-{i:04d}" for i in range(1, len(g) + 1)],
        "order": h.river_order,
        "basin": h.river_basin,
    }


@recipe("water_blue_line")
def _blue(w: World, rng: G) -> Produced:
    h = w.hydro
    widths = h.river_widths()
    g = arr(
        [
            *[r.buffer(wd / 2, quad_segs=4) for r, wd in zip(h.river_geoms, widths, strict=True)],
            *[r.buffer(30) for r in h.reservoir_geoms],
        ]
    )
    kinds = ["river"] * len(h.river_geoms) + ["reservoir"] * len(h.reservoir_geoms)
    return g, {
        "object_name": [*h.river_names, *h.reservoir_names],
        "blue_line_type": kinds,
        "control_width": [*widths, *[30.0] * len(h.reservoir_geoms)],
    }


@recipe("water_reservoir")
def _reservoirs(w: World, rng: G) -> Produced:
    h = w.hydro
    info = [RESERVOIR_INFO[n] for n in h.reservoir_names]
    return arr(h.reservoir_geoms), {
        "name": h.reservoir_names,
        "size_class": [i[0] for i in info],
        "capacity": [i[1] for i in info],
        "water_supply": [i[2] for i in info],
    }


@recipe("water_reservoir_zone")
def _reservoir_zone(w: World, rng: G) -> Produced:
    h = w.hydro
    g = arr(
        [
            *[r.buffer(50).difference(r) for r in h.reservoir_geoms],
            *[r.buffer(300).difference(r.buffer(50)) for r in h.reservoir_geoms],
        ]
    )
    n = len(h.reservoir_geoms)
    return g, {
        "reservoir_name": [*h.reservoir_names, *h.reservoir_names],
        "zone_type": ["management"] * n + ["protection"] * n,
    }


# ---- 16 geology --------------------------------------------------------------------------------
@recipe("geo_hazard_point")
def _hazard_points(w: World, rng: G) -> Produced:
    xs, ys = w.grid.centres()
    steep = np.flatnonzero((w.terrain.slope > np.percentile(w.terrain.slope, 92)).ravel())
    idx = rng.choice(steep, size=min(len(steep), max(8, len(steep) // 400)), replace=False)
    pts = shapely.points(xs.ravel()[idx], ys.ravel()[idx])
    return pts, {
        "point_code": [f"{DISTRICT.code}{i:06d}" for i in range(1, len(idx) + 1)],
        "hazard_type": rng.choice(
            np.array(["landslide", "collapse", "debris_flow"], dtype=object), len(idx), p=[0.6, 0.3, 0.1]
        ),
    }


@recipe("geo_hazard_zone", "geo_slope_risk")
def _hazard_zones(w: World, rng: G) -> Produced:
    s = w.terrain.slope
    cls = np.where(s > 20, 1, np.where(s > 12, 2, np.where(s > 7, 3, 0))).astype(np.int32)
    polys, a = class_polygons(w, cls, ["high", "medium", "low"], 2000.0)
    return polys, {
        "susceptibility": a["_class"],
        "risk_level": a["_class"],
        "gradient": 25 + 20 * (a["_class"] == "high"),
    }


@recipe("geo_karst")
def _karst(w: World, rng: G) -> Produced:
    flat = smooth((w.terrain.dem < np.percentile(w.terrain.dem, 30)) & (w.admin.community_raster >= 0))
    patches = land_patches(w, flat, 1500.0, "karst")
    g = patches[pick(len(patches), 0.25, rng, 2)]
    return g, {}
