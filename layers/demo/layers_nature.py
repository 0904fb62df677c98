"""Recipes of the admin, terrain, ecology, forest, agriculture, water and geology layers."""

from __future__ import annotations

import numpy as np
import shapely

from layers.demo.core import block_mean, chaikin, lonlat_to_xy, polygonize
from layers.demo.ecology import rasterize
from layers.demo.generic import Produced, arr, class_polygons, land_patches, pick, recipe, rings, smooth
from layers.demo.names import RIDGES_NAMES, SUBDISTRICT_ADMIN, SUBDISTRICTS, coin
from layers.demo.terrain import BASINS, RIDGES
from layers.demo.world import World
from layers.district import DISTRICT

G = np.random.Generator


@recipe("admin_district")
def _district(w: World, rng: G) -> Produced:
    return arr([w.admin.district]), {"admin_code": DISTRICT.code, "name": DISTRICT.name_zh}


@recipe("admin_subdistrict")
def _subdistricts(w: World, rng: G) -> Produced:
    codes = w.admin.subdistrict_codes
    return arr(w.admin.subdistrict_geoms), {
        "subdistrict_code": [SUBDISTRICT_ADMIN[c] for c in codes],
        "subdistrict": codes,
    }


@recipe("admin_community")
def _communities(w: World, rng: G) -> Produced:
    a = w.admin
    keep = [i for i, g in enumerate(a.community_geoms) if not g.is_empty]
    codes = [f"{SUBDISTRICT_ADMIN[a.community_sub[i]]}{i + 1:03d}" for i in keep]
    geoms = arr([a.community_geoms[i] for i in keep])
    pop = np.round(shapely.area(geoms) / 1e6 * rng.uniform(4000, 16000, len(geoms))).astype(int)
    return geoms, {
        "community_code": codes,
        "name": [a.community_names[i] for i in keep],
        "subdistrict": [a.community_sub[i] for i in keep],
        "population": pop,
    }


@recipe("admin_grid")
def _grids(w: World, rng: G) -> Produced:
    a = w.admin
    geoms = arr(a.grid_geoms)
    b, _ = w.buildings
    tree = shapely.STRtree(geoms)
    hits = tree.query(shapely.centroid(b.geoms), predicate="within")
    count = np.bincount(hits[1], minlength=len(geoms))
    com = np.array(a.grid_community)
    return geoms, {
        "grid_code": [
            f"{SUBDISTRICT_ADMIN[a.community_sub[c]]}{c + 1:03d}{i:04d}" for i, c in enumerate(com)
        ],
        "subdistrict": [a.community_sub[c] for c in com],
        "community_name": [a.community_names[c] for c in com],
        "building_count": count,
    }


@recipe("base_place_name")
def _place_names(w: World, rng: G) -> Produced:
    a = w.admin
    pts: list[shapely.Geometry] = []
    names: list[str] = []
    cats: list[str] = []
    for i, g in enumerate(a.community_geoms):
        if not g.is_empty:
            pts.append(g.point_on_surface())
            names.append(a.community_names[i].removesuffix("社区"))
            cats.append("settlement")
    landmarks = [(r[0], r[1], r[2]) for r in RIDGES] + [(b[0], b[1], b[2]) for b in BASINS]
    for name, lon, lat in landmarks:
        p = shapely.Point(lonlat_to_xy(lon, lat))
        if a.district.contains(p):
            pts.append(p)
            names.append(name)
            cats.append("water" if name.endswith("水库") else "natural")
    n = max(20, len(pts))
    extra = shapely.point_on_surface(w.parcels[pick(len(w.parcels), 0.04, rng, n)])
    hanzi, _ = coin(rng, len(extra))
    suffix = rng.choice(
        np.array(["花园", "大厦", "工业区", "广场", "新村", "学校"], dtype=object), len(extra)
    )
    pts.extend(extra)
    names.extend(h + s for h, s in zip(hanzi, suffix, strict=True))
    cats.extend(np.where(np.isin(suffix, ["学校"]), "institution", "building"))
    pinyin = [None] * len(names)
    return arr(pts), {"name": names, "category": cats, "pinyin": pinyin}


@recipe("base_address")
def _addresses(w: World, rng: G) -> Produced:
    b, _ = w.buildings
    idx = np.flatnonzero(
        np.isin(b.use, ["residential", "mixed", "commercial", "office", "industrial", "public"])
    )
    pts = shapely.point_on_surface(b.geoms[idx])
    roads = w.fabric.cat("road_geoms")
    names = w.fabric.cat("road_name")
    nearest = shapely.STRtree(roads).query_nearest(pts, all_matches=False)[1]
    road = names[nearest]
    sub = _subdistrict_at(w, pts)
    zh = {c: n for c, n, *_ in SUBDISTRICTS}
    num = rng.integers(1, 400, len(idx))
    codes = _building_codes(w)[idx]
    address = [f"广东省深圳市龙岗区{zh[s]}{r}{k}号" for s, r, k in zip(sub, road, num, strict=True)]
    return pts, {
        "address": address,
        "road_name": road,
        "house_number": [f"{k}号" for k in num],
        "building_code": codes,
        "subdistrict": sub,
    }


def _subdistrict_at(w: World, pts: np.ndarray) -> np.ndarray:
    com = w.grid.sample(w.admin.community_raster, shapely.get_x(pts), shapely.get_y(pts))
    subs = np.array(w.admin.community_sub, dtype=object)
    fallback = w.admin.subdistrict_codes[0]
    return np.where(com >= 0, subs[np.clip(com, 0, len(subs) - 1)], fallback)


def _building_codes(w: World) -> np.ndarray:
    b, _ = w.buildings
    return np.array([f"{DISTRICT.code}{i:010d}" for i in range(1, len(b.geoms) + 1)], dtype=object)


@recipe("base_contour")
def _contours(w: World, rng: G) -> Produced:
    factor = 2 if w.grid.res < 40 else 1
    grid = w.grid.coarsen(factor)
    dem = block_mean(w.terrain.dem, factor)
    interval = 10.0
    inner = shapely.box(*grid.bounds).buffer(-grid.res * 1.5)
    lines, levels = [], []
    for level in np.arange(interval, float(dem.max()), interval):
        polys, _ = polygonize(grid, dem >= level, min_area=grid.res**2 * 6)
        for ring in shapely.get_parts(shapely.boundary(polys)):
            part = ring.intersection(inner)
            for piece in shapely.get_parts(part):
                if piece.geom_type == "LineString" and piece.length > grid.res * 6:
                    xy = chaikin(shapely.get_coordinates(piece.simplify(grid.res * 0.3)), 2)
                    lines.append(shapely.LineString(xy))
                    levels.append(level)
    lv = np.array(levels)
    return arr(lines), {"elevation": lv, "index_contour": (lv % 50) == 0}


# ---- 03 territorial plan (三区三线) -------------------------------------------------------------------
def _zoning_classes(w: World) -> np.ndarray:
    land = w.land
    cls = np.zeros(land.eco_mask.shape, dtype=np.int32)
    farm = rasterize(w.grid, land.farmland)
    cls[w.admin.community_raster >= 0] = 5
    cls[land.urban_core | rasterize(w.grid, land.urban_boundary)] = 4
    cls[farm] = 3
    cls[land.eco_mask] = 2
    cls[rasterize(w.grid, land.red_line)] = 1
    return cls


@recipe("tsp_zoning")
def _tsp_zoning(w: World, rng: G) -> Produced:
    polys, a = class_polygons(w, _zoning_classes(w), ["1", "2", "3", "4", "5"], 2500.0)
    return polys, {"zone": a["_class"]}


@recipe("lup_use_zone")
def _lup_use_zone(w: World, rng: G) -> Produced:
    polys, a = class_polygons(w, _zoning_classes(w), ["070", "090", "010", "030", "040"], 3000.0)
    return polys, {"zone": a["_class"]}


@recipe("lup_construction_control")
def _lup_control(w: World, rng: G) -> Produced:
    cls = _zoning_classes(w)
    mapped = np.choose(cls, [0, 4, 3, 3, 1, 2]).astype(np.int32)
    polys, a = class_polygons(w, mapped, ["010", "020", "030", "040"], 4000.0)
    return polys, {"zone": a["_class"]}


@recipe("tsp_eco_redline")
def _redline(w: World, rng: G) -> Produced:
    geoms = arr(w.land.red_line)
    return geoms, {
        "redline_code": [f"{DISTRICT.code}-HX-{i:04d}" for i in range(1, len(geoms) + 1)],
        "eco_function": rng.choice(
            np.array(["water_conservation", "biodiversity", "soil_conservation"], dtype=object), len(geoms)
        ),
    }


@recipe("tsp_basic_farmland", "tsp_farmland_reserve", "lup_farmland_protect", "lup_cultivated")
def _farm_subsets(w: World, rng: G) -> Produced:
    farms = arr(w.land.farmland)
    idx = pick(len(farms), 0.55, rng, 2)
    g = farms[idx]
    return g, {
        "land_class": rng.choice(np.array(["0101", "0102", "0103"], dtype=object), len(g), p=[0.6, 0.3, 0.1]),
        "tb_code": [f"{DISTRICT.code}0{i:06d}" for i in idx + 1],
        "block_code": [f"JBNT-{i:05d}" for i in idx + 1],
        "responsible_unit": "龙岗区规划和自然资源局",
    }


@recipe("tsp_urban_boundary", "tsp_urban_space")
def _udb(w: World, rng: G) -> Produced:
    g = arr(w.land.urban_boundary)
    zt = np.where(shapely.area(g) >= shapely.area(g).max() * 0.99, "concentrated", "flexible")
    extra = rings(shapely.point_on_surface(w.parcels[pick(len(w.parcels), 0.001, rng, 1)]), 250.0, rng)
    return arr([*g, *extra]), {"zone_type": [*zt, *["special"] * len(extra)], "name": "城镇空间"}


@recipe("tsp_eco_space", "eco_control_line")
def _eco_space(w: World, rng: G) -> Produced:
    g = arr(w.land.eco_line)
    return g, {
        "name": "生态空间",
        "adjust_batch": rng.choice(np.array(["2005年划定", "2013年优化调整"], dtype=object), len(g)),
    }


@recipe("tsp_agri_space")
def _agri_space(w: World, rng: G) -> Produced:
    m = rasterize(w.grid, [*w.land.farmland, *w.land.garden])
    return land_patches(w, smooth(m), 2500.0, "agri_space", 20), {"name": "农业空间"}


@recipe("tsp_flood_line", "water_waterlogging")
def _flood(w: World, rng: G) -> Produced:
    near = rasterize(w.grid, [g.buffer(300) for g in w.hydro.river_geoms])
    mask = smooth(near & (w.terrain.dem < np.percentile(w.terrain.dem, 25)) & (w.terrain.slope < 3))
    g = land_patches(w, mask, 900.0, "flood")
    if not len(g):
        g = arr([r.buffer(120) for r in w.hydro.river_geoms[:3]])
    return g, {"risk_level": rng.choice(np.array(["high", "medium", "low"], dtype=object), len(g))}


@recipe("tsp_mineral_line", "geo_quarry", "eco_restoration")
def _quarries(w: World, rng: G) -> Produced:
    slope = w.terrain.slope
    mask = smooth((slope > np.percentile(slope, 80)) & ~w.land.water_mask & (w.admin.community_raster >= 0))
    patches = land_patches(w, mask, 500.0, "quarry")
    g = patches[pick(len(patches), 0.04, rng, 2)]
    return g, {"mineral": rng.choice(np.array(["granite", "other"], dtype=object), len(g))}


# ---- 06 ecology & 07 forest & 08 agriculture -----------------------------------------------------------
def _forest(w: World) -> np.ndarray:
    return arr(w.land.forest_patches)


@recipe("forest_land")
def _forest_land(w: World, rng: G) -> Produced:
    g = _forest(w)
    elev, _slope = w.elevation_at(g)
    grade = np.where(elev > 300, "I", np.where(elev > 150, "II", np.where(elev > 80, "III", "IV")))
    return g, {
        "xiaoban_code": [f"LG{i:06d}" for i in range(1, len(g) + 1)],
        "protection_grade": grade,
        "land_type": rng.choice(
            np.array(["0301", "0302", "0305", "0307"], dtype=object), len(g), p=[0.75, 0.05, 0.15, 0.05]
        ),
        "origin": np.where(elev > 250, "natural", "planted"),
    }


@recipe("forest_welfare", "forest_natural", "eco_biodiversity", "forest_plan_zone", "forest_fire_zone")
def _forest_subset(w: World, rng: G) -> Produced:
    g = _forest(w)
    elev, _ = w.elevation_at(g)
    idx = np.flatnonzero(elev > np.percentile(elev, 45))
    g = g[idx]
    return g, {
        "xiaoban_code": [f"LG{i:06d}" for i in idx + 1],
        "level": np.where(elev[idx] > 300, "10", "21"),
    }


@recipe("eco_reserve", "eco_forest_park", "eco_country_park", "eco_scenic", "eco_geopark")
def _parks_on_hills(w: World, rng: G) -> Produced:
    polys = arr(w.land.red_line) if len(w.land.red_line) else arr(w.land.eco_line)
    big = polys[np.argsort(-shapely.area(polys))[: max(1, min(6, len(polys)))]]
    g = arr([p.buffer(150).buffer(-250) for p in big])
    g = g[shapely.area(g) > 0] if len(g[shapely.area(g) > 0]) else big
    names = [f"{RIDGES_NAMES[i % len(RIDGES_NAMES)]}" for i in range(len(g))]
    return g, {"name": names}


@recipe("eco_corridor", "cdp_eco_pattern")
def _corridors(w: World, rng: G) -> Produced:
    rivers = [r for r, o in zip(w.hydro.river_geoms, w.hydro.river_order, strict=True) if o in ("main", "1")]
    rivers = rivers or list(w.hydro.river_geoms)
    g = arr([r.buffer(rng.uniform(80, 200), quad_segs=4) for r in rivers])
    return g, {"name": [f"{n}生态廊道" for n in w.hydro.river_names[: len(g)]], "element": "corridor"}


@recipe("eco_wetland")
def _wetlands(w: World, rng: G) -> Produced:
    g = arr([*w.hydro.reservoir_geoms, *w.land.pond[:5]])
    return g, {
        "name": [*w.hydro.reservoir_names, *["坑塘湿地"] * (len(g) - len(w.hydro.reservoir_geoms))],
        "wetland_type": ["lake"] * len(w.hydro.reservoir_geoms)
        + ["artificial"] * (len(g) - len(w.hydro.reservoir_geoms)),
    }


@recipe("agri_cultivated")
def _cultivated(w: World, rng: G) -> Produced:
    g = arr(w.land.farmland)
    _, slope = w.elevation_at(g)
    grade = np.clip(np.digitize(slope, [2, 6, 15, 25]) + 1, 1, 5).astype(str)
    return g, {
        "tb_code": [f"{DISTRICT.code}0{i:06d}" for i in range(1, len(g) + 1)],
        "slope_grade": grade,
        "land_class": rng.choice(
            np.array(["0101", "0102", "0103"], dtype=object), len(g), p=[0.5, 0.35, 0.15]
        ),
    }


@recipe("agri_garden", "agri_high_standard", "forest_nursery", "agri_facility")
def _garden(w: World, rng: G) -> Produced:
    g = arr(w.land.garden)
    return g, {"tb_code": [f"{DISTRICT.code}1{i:06d}" for i in range(1, len(g) + 1)]}


@recipe("agri_pond")
def _pond(w: World, rng: G) -> Produced:
    g = arr(w.land.pond) if len(w.land.pond) else arr([r.buffer(30) for r in w.hydro.reservoir_geoms])
    return g, {"tb_code": [f"{DISTRICT.code}2{i:06d}" for i in range(1, len(g) + 1)]}


@recipe("agri_grass")
def _grass(w: World, rng: G) -> Produced:
    g = arr(w.land.grass) if len(w.land.grass) else arr(w.land.garden)[:5]
    return g, {"tb_code": [f"{DISTRICT.code}3{i:06d}" for i in range(1, len(g) + 1)]}
