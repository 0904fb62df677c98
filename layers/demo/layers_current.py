"""Recipes of the current-state (现状), heritage, industrial-park and compensation layers."""

from __future__ import annotations

import numpy as np
import shapely

from layers.demo.buildings import height_of
from layers.demo.core import lonlat_to_xy
from layers.demo.generic import Produced, arr, recipe, rings, surface_points
from layers.demo.layers_city import _codes, _parcel_subset
from layers.demo.layers_nature import _building_codes
from layers.demo.names import HERITAGE, PARKS, coin
from layers.demo.world import World

G = np.random.Generator


# ---- buildings and the current state --------------------------------------------------------------------
@recipe("cur_building")
def _buildings(w: World, rng: G) -> Produced:
    b, _ = w.buildings
    fa = b.floor_area()
    households = np.where(
        np.isin(b.use, ["residential", "mixed"]), np.maximum(1, fa // np.where(b.floors > 9, 90, 45)), 0
    )
    return b.geoms, {
        "building_code": _building_codes(w),
        "floors": b.floors,
        "structure": b.structure,
        "use": b.use,
        "year_built": b.year,
        "households": households.astype(int),
        "floor_area": fa,
        "height": height_of(b, rng),
    }


@recipe(
    "cur_urban_village",
    "demo_renewal_unit",
    "demo_land_prep",
    "sp_renewal_plan",
    "sp_land_prep_plan",
    "demo_scope",
)
def _villages(w: World, rng: G) -> Produced:
    idx = w.use_parcels("R4")
    _b, outlines = w.buildings
    g = arr([*w.parcels[idx], *outlines])
    names = [f"{h}村" for h in coin(rng, len(g))[0]]
    return g, {
        "name": names,
        "unit_name": [f"{n}城市更新单元" for n in names],
        "project_name": [f"{n}土地整备项目" for n in names],
    }


@recipe("cur_illegal")
def _illegal(w: World, rng: G) -> Produced:
    b, _ = w.buildings
    idx = np.flatnonzero(b.encroaching | ((b.host < 0) & (rng.random(len(b.geoms)) < 0.1)))
    return b.geoms[idx], {
        "floors": b.floors[idx],
        "floor_area": b.floor_area()[idx],
        "case_no": _codes("LGWJ-", len(idx)),
    }


@recipe("cur_landuse")
def _landuse(w: World, rng: G) -> Produced:
    land = w.land
    parts = [
        (w.parcels, "20"),
        (arr(land.forest_patches), "03"),
        (arr(land.farmland), "01"),
        (arr(land.garden), "02"),
        (arr(land.grass), "04"),
        (arr(land.pond), "11"),
        (arr(w.hydro.reservoir_geoms), "11"),
    ]
    g = np.concatenate([p for p, _c in parts])
    cls = np.concatenate([np.full(len(p), c, dtype=object) for p, c in parts])
    return g, {
        "tb_code": _codes("SD-", len(g)),
        "land_class": cls,
        "ownership": np.where(cls == "20", "10", "30"),
    }


@recipe("cur_cadastre", "cur_ownership")
def _cadastre(w: World, rng: G) -> Produced:
    use = w.fabric.cat("parcel_use")
    collective = np.isin(use, ["R4", "M1"]) & (rng.random(len(use)) < 0.6)
    return w.parcels, {
        "parcel_no": _codes("G0", len(use)),
        "land_use": use,
        "ownership": np.where(collective, "30", "10"),
        "right_type": np.where(collective, "collective", "transfer"),
    }


# Gross dwelling floor area per household (common areas and empty flats included) and persons per
# household: with the demo's building stock they put the district near its 2020 census population
# (龙岗区第七次全国人口普查 3,979,037), where a flat 60 m² per household counted every factory as homes.
HOUSEHOLD_FLOOR_M2 = 125.0
PERSONS_PER_HOUSEHOLD = 2.3


@recipe("cur_population")
def _population(w: World, rng: G) -> Produced:
    step = 200.0 if w.scale == "district" else 100.0
    x0, y0, x1, y1 = w.admin.district.bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + step, ys.ravel() + step)
    inside = shapely.contains(w.admin.district, cells)
    edge = ~inside & shapely.intersects(w.admin.district, cells)
    cells[edge] = shapely.intersection(cells[edge], w.admin.district)
    cells = cells[inside | edge]
    b, _ = w.buildings
    # People live in dwellings: residential buildings, and half the floor area of mixed ones (shops below).
    dwelling = np.where(b.use == "residential", 1.0, np.where(b.use == "mixed", 0.5, 0.0))
    hits = shapely.STRtree(cells).query(shapely.centroid(b.geoms), predicate="within")
    floor = b.floor_area()[hits[0]] * dwelling[hits[0]]
    hh = np.round(np.bincount(hits[1], weights=floor / HOUSEHOLD_FLOOR_M2, minlength=len(cells)))
    return cells, {
        "grid_id": _codes("RK", len(cells)),
        "population": np.round(hh * PERSONS_PER_HOUSEHOLD).astype(int),
        "households": hh.astype(int),
    }


@recipe("cur_poi")
def _poi(w: World, rng: G) -> Produced:
    b, _ = w.buildings
    share = {"small": 0.5, "district": 0.4, "full": 2.0}[w.scale]
    # several shops/companies per building at full scale: sample with replacement, jitter inside the footprint
    idx = np.sort(rng.integers(0, len(b.geoms), int(len(b.geoms) * share)))
    cat_of = {
        "residential": "residential",
        "mixed": "food",
        "commercial": "shopping",
        "office": "company",
        "industrial": "company",
        "warehouse": "company",
        "public": "education",
        "other": "services",
    }
    cats = np.array([cat_of[u] for u in b.use[idx]], dtype=object)
    mix = rng.random(len(idx)) < 0.3
    cats[mix] = rng.choice(
        np.array(["food", "services", "shopping", "medical", "hotel"], dtype=object), int(mix.sum())
    )
    return _inside_points(b.geoms[idx], rng), {"category": cats}


def _inside_points(footprints: np.ndarray, rng: G) -> np.ndarray:
    """A random point inside each footprint (corner-based for rectangles, surface point otherwise)."""
    ring = shapely.get_coordinates(shapely.get_exterior_ring(footprints), return_index=True)
    coords, owner = ring
    start = np.searchsorted(owner, np.arange(len(footprints)))
    c0, c1, c3 = coords[start], coords[start + 1], coords[start + 3]
    s, t = rng.uniform(0.15, 0.85, (2, len(footprints), 1))
    pts = shapely.points(c0 + s * (c1 - c0) + t * (c3 - c0))
    outside = ~shapely.contains(footprints, pts)
    pts[outside] = surface_points(footprints[outside])
    return pts


# ---- heritage, parks, compensation ------------------------------------------------------------------------
def _heritage_points(w: World) -> tuple[np.ndarray, list[tuple[str, float, float, str, str]]]:
    inside = [h for h in HERITAGE if w.admin.district.contains(shapely.Point(lonlat_to_xy(h[1], h[2])))]
    inside = inside or HERITAGE[:1]
    pts = shapely.points([lonlat_to_xy(h[1], h[2]) for h in inside])
    pts = np.array([p if w.admin.district.contains(p) else w.admin.district.point_on_surface() for p in pts])
    return pts, inside


@recipe("heritage_relic", "forest_ancient_tree")
def _relics(w: World, rng: G) -> Produced:
    pts, info = _heritage_points(w)
    return pts, {
        "name": [h[0] for h in info],
        "grade": [h[3] for h in info],
        "era": [h[4] for h in info],
        "category": "architecture",
        "tree_code": _codes("GS", len(pts)),
    }


@recipe(
    "heritage_relic_zone",
    "heritage_control_zone",
    "heritage_purple_line",
    "heritage_village",
    "heritage_district",
    "heritage_building",
    "forest_ancient_tree_zone",
)
def _heritage_zones(w: World, rng: G) -> Produced:
    pts, info = _heritage_points(w)
    return rings(pts, 80.0, rng), {
        "relic_name": [h[0] for h in info],
        "name": [h[0] for h in info],
        "grade": [h[3] for h in info],
        "village_type": "hakka_walled",
        "tree_code": _codes("GS", len(pts)),
    }


@recipe("ind_park", "ind_key_zone", "cdp_key_area", "cdp_industry_layout", "sp_urban_design")
def _ind_parks(w: World, rng: G) -> Produced:
    geoms, names, platform, kinds, ops = [], [], [], [], []
    tree = shapely.STRtree(w.parcels)
    for name, code, lon, lat, kind, op in PARKS:
        p = shapely.Point(lonlat_to_xy(lon, lat))
        if not w.admin.district.buffer(-300).contains(p):
            continue
        near = tree.query(p.buffer(600), predicate="intersects")
        area = (
            shapely.union_all(shapely.buffer(w.parcels[near], 12)).buffer(-12) if len(near) else p.buffer(400)
        )
        geoms.append(area)
        names.append(name)
        platform.append(code)
        kinds.append(kind)
        ops.append(op)
    if not geoms:
        idx, g = _parcel_subset(w, rng, 0.01, "M")
        geoms, names, platform, kinds, ops = (
            list(g),
            [f"{h}工业园" for h in coin(rng, len(g))[0]],
            ["baolong"] * len(g),
            ["industrial"] * len(g),
            ["龙岗区产业园区管理服务中心"] * len(g),
        )
    return arr(geoms), {"name": names, "service_platform": platform, "park_type": kinds, "operator": ops}


@recipe("demo_compensation_zone")
def _compensation(w: World, rng: G) -> Produced:
    a = w.admin
    g = arr(a.subdistrict_geoms)
    return g, {
        "zone_grade": [str(1 + i % 4) for i in range(len(g))],
        "base_price": np.round(rng.uniform(9000, 32000, len(g)), -2),
    }
