"""Recipes of the planning, transport, utility, heritage, current-state and project layers."""

from __future__ import annotations

import numpy as np
import shapely

from layers.demo.generic import Produced, arr, merge_by, pick, recipe, surface_points
from layers.demo.names import SUBDISTRICT_ADMIN, coin
from layers.demo.transport import corridor_lines, stations_along
from layers.demo.world import World

G = np.random.Generator
_FAR = {
    "R": (2.5, 4.5),
    "C": (3.5, 8.0),
    "M": (2.0, 4.0),
    "W": (1.5, 2.5),
    "G": (0.0, 0.2),
    "S": (0.5, 1.5),
    "U": (0.6, 1.5),
    "E": (0.0, 0.1),
}


def _codes(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(1, n + 1)]


def _parcel_subset(w: World, rng: G, share: float, *uses: str) -> tuple[np.ndarray, np.ndarray]:
    idx = w.use_parcels(*uses) if uses else np.arange(len(w.parcels))
    sub = idx[pick(len(idx), share, rng, 1)] if len(idx) else pick(len(w.parcels), share, rng, 1)
    return sub, w.parcels[sub]


def _plan_codes(w: World) -> np.ndarray:
    sub = w.fabric.cat("parcel_sub")
    frame = w.fabric.cat("parcel_frame").astype(int)
    return np.array(
        [f"LG{SUBDISTRICT_ADMIN[s][-3:]}-{f:02d}" for s, f in zip(sub, frame, strict=True)], dtype=object
    )


@recipe("sp_parcel")
def _parcels(w: World, rng: G) -> Produced:
    use = w.fabric.cat("parcel_use")
    n = len(use)
    lo = np.array([_FAR.get(u[0], (1.0, 2.0))[0] for u in use])
    hi = np.array([_FAR.get(u[0], (1.0, 2.0))[1] for u in use])
    far = np.round(rng.uniform(lo, hi), 1)
    far[use == "R4"] = np.round(rng.uniform(2.5, 3.2, int((use == "R4").sum())), 1)
    plan = _plan_codes(w)
    height = np.where(
        far > 4, rng.choice([100.0, 150.0, 200.0], n), np.where(far > 1.5, rng.choice([50.0, 80.0], n), 24.0)
    )
    coverage = np.where(
        np.isin([u[0] for u in use], ["M", "W"]), rng.uniform(40, 55, n), rng.uniform(20, 35, n)
    )
    green = np.where(np.char.startswith(use.astype(str), "G"), rng.uniform(65, 85, n), rng.uniform(30, 40, n))
    mixed = np.array([None] * n, dtype=object)
    mixed[rng.random(n) < 0.05] = "C1+R2"
    return w.parcels, {
        "parcel_code": [f"{p}-{i:05d}" for i, p in enumerate(plan, 1)],
        "plan_code": plan,
        "land_use": use,
        "land_use_mixed": mixed,
        "far": far,
        "height_limit": height,
        "coverage": np.round(coverage, 1),
        "green_ratio": np.round(green, 1),
    }


@recipe("sp_plan_boundary", "sp_blueprint", "cdp_unit")
def _plan_units(w: World, rng: G) -> Produced:
    geoms, keys = merge_by(
        w.parcels,
        w.fabric.cat("parcel_frame").astype(int) * 100
        + (shapely.get_x(shapely.centroid(w.parcels)) // 3000).astype(int) % 100,
        25.0,
    )
    names = [f"龙岗{k // 100:02d}-{k % 100:02d}号片区法定图则" for k in keys]
    return geoms, {
        "plan_code": [f"LG{k // 100:02d}-{k % 100:02d}" for k in keys],
        "plan_name": names,
        "unit_code": [f"DU{k:05d}" for k in keys],
        "name": names,
    }


@recipe("sp_road_redline")
def _redlines(w: World, rng: G) -> Produced:
    f = w.fabric
    roads, widths = f.cat("road_geoms"), f.cat("road_width").astype(float)
    left = shapely.offset_curve(roads, widths / 2)
    right = shapely.offset_curve(roads, -widths / 2)
    both = arr(
        [
            shapely.MultiLineString([*shapely.get_parts(a), *shapely.get_parts(b)])
            for a, b in zip(left, right, strict=True)
        ]
    )
    return both, {"road_name": f.cat("road_name"), "road_class": f.cat("road_class"), "redline_width": widths}


def _road_class(w: World, cls: str) -> Produced:
    f = w.fabric
    m = f.cat("road_class") == cls
    lanes = {"arterial": 8, "secondary": 6, "branch": 2}[cls]
    return f.cat("road_geoms")[m], {
        "road_name": f.cat("road_name")[m],
        "redline_width": f.cat("road_width")[m],
        "lanes": lanes,
    }


@recipe("trans_arterial")
def _arterial(w: World, rng: G) -> Produced:
    return _road_class(w, "arterial")


@recipe("trans_secondary")
def _secondary(w: World, rng: G) -> Produced:
    return _road_class(w, "secondary")


@recipe("trans_branch")
def _branch(w: World, rng: G) -> Produced:
    return _road_class(w, "branch")


@recipe("trans_expressway", "cdp_transport")
def _expressways(w: World, rng: G) -> Produced:
    names, geoms = w.expressways
    return arr(geoms), {
        "road_name": names,
        "name": names,
        "redline_width": 60.0,
        "lanes": 8,
        "mode": "expressway",
        "status": "existing",
    }


@recipe("trans_metro_line")
def _metro(w: World, rng: G) -> Produced:
    names, status, geoms = w.metro
    return arr(geoms), {"line_name": names, "status": status, "laying": "underground"}


def _stations(w: World, rng: G) -> tuple[np.ndarray, list[str], list[str]]:
    names, status, geoms = w.metro
    pts: list[shapely.Geometry] = []
    lines: list[str] = []
    stat: list[str] = []
    for n, s, g in zip(names, status, geoms, strict=True):
        st = stations_along(g, 1300.0, rng)
        pts.extend(st)
        lines.extend([n] * len(st))
        stat.extend([s] * len(st))
    return arr(pts), lines, stat


@recipe("trans_metro_station")
def _metro_stations(w: World, rng: G) -> Produced:
    pts, lines, stat = _stations(w, rng)
    hanzi, _ = coin(rng, len(pts))
    near = shapely.STRtree(pts).query(shapely.buffer(pts, 300), predicate="intersects")
    inter = np.bincount(near[0], minlength=len(pts)) > 1
    return pts, {"name": [f"{h}站" for h in hanzi], "lines": lines, "status": stat, "interchange": inter}


@recipe("trans_metro_protect", "trans_metro_control")
def _metro_zones(w: World, rng: G) -> Produced:
    names, status, geoms = w.metro
    return arr([g.buffer(50) for g in geoms]), {"line_name": names, "status": status, "distance": 50.0}


@recipe("trans_railway")
def _railway(w: World, rng: G) -> Produced:
    lines = _railway_lines(w)
    return arr(lines), {
        "name": ["厦深铁路", "平盐铁路", "深惠城际"][: len(lines)],
        "railway_type": ["high_speed", "freight", "intercity"][: len(lines)],
    }


def _railway_lines(w: World) -> list[shapely.Geometry]:
    from layers.demo.transport import clip_lines, polyline

    rng = w.rng("railway")
    raw = [
        [(114.05, 22.64), (114.15, 22.66), (114.25, 22.715), (114.40, 22.76)],
        [(114.10, 22.82), (114.12, 22.70), (114.14, 22.60), (114.16, 22.55)],
        [(114.15, 22.62), (114.24, 22.705), (114.30, 22.73), (114.40, 22.73)],
    ]
    return [g for g in clip_lines([polyline(p, rng, 30) for p in raw], w.admin.district) if g is not None]


@recipe("trans_railway_protect")
def _railway_protect(w: World, rng: G) -> Produced:
    lines = _railway_lines(w)
    return arr([g.buffer(100) for g in lines]), {
        "railway_name": ["厦深铁路", "平盐铁路", "深惠城际"][: len(lines)],
        "distance": 100.0,
    }


@recipe(
    "util_hv_line",
    "util_hv_corridor",
    "util_oil_pipe",
    "util_gas_pipe",
    "util_tunnel",
    "water_supply_main",
    "water_drain_main",
    "green_greenway",
)
def _networks(w: World, rng: G) -> Produced:
    ends = shapely.get_coordinates(surface_points(w.parcels[w.use_parcels("U", "M")]))
    n = max(4, int(w.admin.district.area / 2.5e7))
    lines = corridor_lines(ends, rng, n, 2500.0 if w.scale != "small" else 1500.0, 40.0)
    lines = [g for g in (ln.intersection(w.admin.district) for ln in lines) if g.length > 200]
    kv = rng.choice(np.array(["500", "220", "110"], dtype=object), len(lines), p=[0.15, 0.35, 0.5])
    width = np.array([{"500": 75.0, "220": 45.0, "110": 30.0}[k] for k in kv])
    return arr(lines), {
        "voltage_kv": kv,
        "corridor_width": width,
        "line_name": [f"{h}线" for h in coin(rng, len(lines))[0]],
        "laying": "overhead",
        "pipeline_name": "西气东输二线深圳支干线",
        "medium": "gas",
        "protect_distance": 5.0,
        "name": [f"{h}管廊" for h in coin(rng, len(lines))[0]],
    }


# ---- parcel-derived areas and points ----------------------------------------------------------------------
_PARCEL_AREAS: dict[str, tuple[float, tuple[str, ...]]] = {
    # Green space of green parcels only: the prefix "G" alone also took public-facility parcels (GIC*),
    # drawing green lines over every planned school.
    "sp_green": (0.9, ("G1", "G2")),
    "green_line": (0.9, ("G1", "G2")),
    "green_park": (0.5, ("G1",)),
    "green_square": (0.3, ("G1", "C1")),
    "green_buffer": (0.9, ("G2",)),
    "green_pocket": (0.4, ("G1",)),
    "sp_public_space": (0.3, ("G1", "C1")),
    "sp_underground": (0.3, ("C", "S4")),
    "sp_height_zone": (0.4, ()),
    "util_yellow_line": (0.8, ("U", "S4")),
    "util_substation": (0.3, ("U",)),
    "util_gas_station": (0.15, ("U",)),
    "water_sewage_plant": (0.1, ("U",)),
    "water_supply_plant": (0.1, ("U",)),
    "water_detention": (0.3, ("G2",)),
    "trans_hub": (0.2, ("S4",)),
    "trans_parking": (0.6, ("S4",)),
    "cur_approved": (0.3, ()),
    "cur_supplied": (0.25, ()),
    "cur_idle": (0.01, ("M", "C")),
    "cur_site": (0.03, ()),
    "cur_old_industrial": (0.5, ("M1", "W1")),
    "ind_m0": (1.0, ("M0",)),
    "ind_block_line": (0.9, ("M",)),
    "demo_reserve": (0.05, ()),
    "demo_resettlement": (0.05, ("R2",)),
    "demo_expropriated": (0.04, ()),
    "lup_quota": (0.03, ()),
    "lup_key_project": (0.04, ("GIC", "S4", "U")),
    "proj_government": (0.1, ("GIC", "G1", "S4")),
    "proj_under_construction": (0.05, ("GIC", "S4")),
    "proj_completed": (0.08, ("GIC",)),
    "proj_reserve": (0.05, ("GIC", "G1", "U")),
    "heritage_buried": (0.01, ()),
    "demo_collective_nonagri": (0.08, ("R4", "M1")),
    "lup_planned_construction": (0.6, ()),
    "cdp_landuse": (1.0, ()),
    "safety_hazmat_buffer": (0.1, ("M1", "W1")),
    "trans_clearance": (0.02, ()),
    "lup_consolidation": (0.05, ("R4", "M1")),
}


def _parcel_area_recipe(code: str, share: float, uses: tuple[str, ...]) -> None:
    @recipe(code)
    def _make(w: World, rng: G) -> Produced:
        idx, g = _parcel_subset(w, rng, share, *uses)
        use = w.fabric.cat("parcel_use")[idx]
        given: dict[str, object] = {"land_use": use, "parcel_code": _codes("LGM0-", len(idx))}
        if code in ("sp_green", "green_line"):
            given["green_type"] = np.where(use == "G2", "G2", "G1")
        if code == "cdp_landuse":
            g, _keys = merge_by(
                g, w.fabric.cat("parcel_block")[idx] * 100 + np.unique(use, return_inverse=True)[1], 3.0
            )
            given = {}
        if code == "safety_hazmat_buffer":
            g = arr([p.buffer(100).difference(p) for p in g])
            given["distance"] = 100.0
        if code == "trans_clearance":
            g = arr([p.buffer(600) for p in g])
        if code in ("heritage_buried", "demo_expropriated", "lup_consolidation"):
            g = arr([p.buffer(40, quad_segs=3) for p in g])
        return g, given


for _code, (_share, _uses) in _PARCEL_AREAS.items():
    _parcel_area_recipe(_code, _share, _uses)


_POINTS: dict[str, tuple[float, tuple[str, ...]]] = {
    "sp_facility": (0.5, ("GIC", "U", "S4")),
    "cdp_public_service": (0.3, ("GIC",)),
    "cdp_center": (0.02, ("C",)),
    "water_pump": (0.3, ("U",)),
    "util_waste": (0.4, ("U",)),
    "util_telecom": (0.4, ("U", "C")),
    "util_energy": (0.2, ("U", "M0")),
    "util_fire_station": (0.1, ("U", "GIC")),
    "safety_hazmat": (0.05, ("M1", "W1")),
    "safety_shelter": (0.3, ("G1", "GIC5")),
    "pub_school": (0.7, ("GIC5",)),
    "pub_kindergarten": (0.6, ("R2", "R3")),
    "pub_hospital": (0.8, ("GIC4",)),
    "pub_clinic": (0.3, ("R2", "R3", "R4")),
    "pub_elderly": (0.6, ("GIC6", "GIC9")),
    "pub_culture": (0.7, ("GIC2",)),
    "pub_sports": (0.5, ("GIC2", "G1")),
    "pub_office": (0.7, ("GIC1",)),
    "ind_enterprise": (0.5, ("M",)),
    "ind_innovation": (0.5, ("M0",)),
}


def _point_recipe(code: str, share: float, uses: tuple[str, ...]) -> None:
    @recipe(code)
    def _make(w: World, rng: G) -> Produced:
        idx, g = _parcel_subset(w, rng, share, *uses)
        pts = surface_points(g)
        return pts, {"parcel_code": _codes("LGP-", len(idx))}


for _code, (_share, _uses) in _POINTS.items():
    _point_recipe(_code, _share, _uses)
