"""Water: flow routing on the DEM, rivers running downhill, reservoirs in valleys, source-protection zones."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
import shapely

from layers.demo.core import Grid, block_mean, chaikin, lonlat_to_xy, polygonize
from layers.demo.names import RESERVOIR_INFO, RIVERS_MAIN, RIVERS_TRIB
from layers.demo.terrain import BASINS, Terrain

_NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


@dataclass
class Hydrology:
    """Rivers, reservoirs and drinking-water source zones of the window."""

    river_geoms: list[shapely.LineString] = field(default_factory=list)
    river_names: list[str] = field(default_factory=list)
    river_order: list[str] = field(default_factory=list)
    river_basin: list[str] = field(default_factory=list)
    reservoir_names: list[str] = field(default_factory=list)
    reservoir_geoms: list[shapely.Geometry] = field(default_factory=list)
    zones: dict[str, list[tuple[str, shapely.Geometry]]] = field(default_factory=dict)

    def water_union(self) -> shapely.Geometry:
        """Union of reservoirs and river corridors (blue-line areas)."""
        corridors = shapely.buffer(np.array(self.river_geoms, dtype=object), self.river_widths() / 2)
        return shapely.union_all(np.concatenate([corridors, np.array(self.reservoir_geoms, dtype=object)]))

    def river_widths(self) -> np.ndarray:
        """Blue-line control width (both banks) of every river by order."""
        widths = {"main": 60.0, "1": 40.0, "2": 28.0, "3": 18.0}
        return np.array([widths[o] for o in self.river_order])


def flow_tree(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Priority-flood the DEM from its border; return (parent index, visiting order) of every cell."""
    rows, cols = z.shape
    flat = z.ravel().tolist()
    n = rows * cols
    parent = [-1] * n
    seen = bytearray(n)
    heap: list[tuple[float, int]] = []
    for r in range(rows):
        for c in range(cols):
            if r in (0, rows - 1) or c in (0, cols - 1):
                i = r * cols + c
                seen[i] = 1
                heap.append((flat[i], i))
    heapq.heapify(heap)
    order = []
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        level, i = pop(heap)
        order.append(i)
        r, c = divmod(i, cols)
        for dr, dc in _NEIGHBOURS:
            rr, cc = r + dr, c + dc
            if 0 <= rr < rows and 0 <= cc < cols:
                j = rr * cols + cc
                if not seen[j]:
                    seen[j] = 1
                    parent[j] = i
                    push(heap, (max(flat[j], level), j))
    return np.array(parent, dtype=np.int64), np.array(order, dtype=np.int64)


def _accumulate(parent: np.ndarray, order: np.ndarray) -> np.ndarray:
    acc = np.ones(len(parent), dtype=np.float64)
    par = parent.tolist()
    for i in order[::-1].tolist():
        p = par[i]
        if p >= 0:
            acc[p] += acc[i]
    return acc


def _trace_streams(parent: np.ndarray, acc: np.ndarray, river: np.ndarray) -> list[list[int]]:
    """Split the river cells into streams: each follows its biggest tributary upstream."""
    cells = np.flatnonzero(river)
    children: dict[int, list[int]] = {}
    for cell, p in zip(cells.tolist(), parent[cells].tolist(), strict=True):
        if p >= 0 and river[p]:
            children.setdefault(p, []).append(cell)
    starts = [c for c in cells.tolist() if parent[c] < 0 or not river[parent[c]]]
    streams = []
    while starts:
        start = starts.pop()
        path = [start] if parent[start] < 0 or not river[parent[start]] else [int(parent[start]), start]
        cur = start
        while cur in children:
            kids = sorted(children[cur], key=lambda k: -acc[k])
            starts.extend(kids[1:])
            cur = kids[0]
            path.append(cur)
        if len(path) >= 3:
            streams.append(path[::-1])
    return streams


def _basin_of(x: float, y: float) -> str:
    """Which of the four river basins an outlet drains to (Longgang drains east, Guanlan north...)."""
    mx, my = lonlat_to_xy(114.24, 22.70)
    if x < mx and y > my + 3000:
        return "guanlan"
    if x < mx + 4000 and y <= my:
        return "shenzhen"
    if x > mx + 6000 and y < my:
        return "pingshan"
    return "longgang"


def build_rivers(terrain: Terrain, hydro: Hydrology) -> tuple[Grid, np.ndarray, np.ndarray]:
    """Route flow on a ~100 m grid and add the river network to ``hydro``; return the routing grid."""
    factor = max(1, int(round(100.0 / terrain.grid.res)))
    grid = terrain.grid.coarsen(factor)
    z = block_mean(terrain.dem, factor)
    parent, order = flow_tree(z)
    acc_km2 = _accumulate(parent, order) * grid.res**2 / 1e6
    river = acc_km2 >= 1.2
    xs, ys = grid.centres()
    fx, fy = xs.ravel(), ys.ravel()
    streams = _trace_streams(parent, acc_km2, river)
    streams.sort(key=lambda s: -acc_km2[s[-1]])
    main_i, trib_i = 0, 0
    for path in streams:
        coords = chaikin(np.column_stack([fx[path], fy[path]]), 3)
        mouth_acc = acc_km2[path[-1]]
        order_code = "main" if mouth_acc > 35 else "1" if mouth_acc > 10 else "2" if mouth_acc > 4 else "3"
        if order_code == "main" and main_i < len(RIVERS_MAIN):
            name = RIVERS_MAIN[main_i]
            main_i += 1
        else:
            base = RIVERS_TRIB[trib_i % len(RIVERS_TRIB)]
            name = base if trib_i < len(RIVERS_TRIB) else f"{base[:-1]}{trib_i // len(RIVERS_TRIB) + 1}支"
            trib_i += 1
        outlet = path[-1]
        while parent[outlet] >= 0:
            outlet = int(parent[outlet])
        hydro.river_geoms.append(shapely.LineString(coords))
        hydro.river_names.append(name)
        hydro.river_order.append(order_code)
        hydro.river_basin.append(_basin_of(fx[outlet], fy[outlet]))
    return grid, parent, order


def build_reservoirs(terrain: Terrain, hydro: Hydrology) -> None:
    """Fill the valley bowls within the window with reservoirs following the contours."""
    grid = terrain.grid
    xs, ys = grid.centres()
    x0, y0, x1, y1 = grid.bounds
    for name, lon, lat, depth, radius in BASINS:
        cx, cy = lonlat_to_xy(lon, lat)
        if not (x0 < cx < x1 and y0 < cy < y1):
            continue
        z_centre = float(grid.sample(terrain.dem, np.array([cx]), np.array([cy]))[0])
        near = (xs - cx) ** 2 + (ys - cy) ** 2 < (radius * 1.6) ** 2
        mask = near & (terrain.dem < z_centre + depth * 0.3)
        polys, _ = polygonize(grid, mask)
        centre = shapely.Point(cx, cy)
        hit = [p for p in polys if p.contains(centre)]
        if not hit:
            continue
        lake = hit[0].buffer(grid.res * 0.7).buffer(-grid.res * 1.2).simplify(grid.res * 0.3)
        if lake.is_empty or lake.area < 20000:
            continue
        lake = max(shapely.get_parts(lake), key=lambda g: g.area)
        hydro.reservoir_names.append(name)
        hydro.reservoir_geoms.append(lake)


def build_source_zones(
    routing: Grid, parent: np.ndarray, order: np.ndarray, hydro: Hydrology, window: shapely.Geometry
) -> None:
    """Nested drinking-water protection zones (一级/二级/准) for water-supply reservoirs, as rings."""
    hydro.zones = {"1": [], "2": [], "Q": []}
    xs, ys = routing.centres()
    pts = shapely.points(xs.ravel(), ys.ravel())
    label = np.zeros(len(parent), dtype=np.int64)
    for k, (name, lake) in enumerate(zip(hydro.reservoir_names, hydro.reservoir_geoms, strict=True)):
        if RESERVOIR_INFO[name][2]:
            label[shapely.contains(lake.buffer(routing.res), pts)] = k + 1
    lab, par = label.tolist(), parent.tolist()
    for i in order.tolist():
        if lab[i] == 0 and par[i] >= 0:
            lab[i] = lab[par[i]]
    catchments = np.array(lab).reshape(routing.rows, routing.cols)
    for k, (name, lake) in enumerate(zip(hydro.reservoir_names, hydro.reservoir_geoms, strict=True)):
        if not RESERVOIR_INFO[name][2]:
            continue
        polys, _ = polygonize(routing, catchments == k + 1, min_area=routing.res**2 * 4)
        catchment = shapely.union_all(polys).buffer(routing.res * 0.6).simplify(routing.res * 0.4)
        z1 = lake.buffer(200).intersection(window)
        reach = 1800 if lake.area > 2e6 else 1200
        z2_full = shapely.union_all([catchment.intersection(lake.buffer(reach)), z1.buffer(150)])
        z2_full = z2_full.buffer(60).buffer(-60).intersection(window)
        zq_full = shapely.union_all([catchment.intersection(lake.buffer(reach * 2.2)), z2_full.buffer(500)])
        zq_full = zq_full.buffer(80).buffer(-80).intersection(window)
        hydro.zones["1"].append((name, z1))
        hydro.zones["2"].append((name, z2_full.difference(z1)))
        hydro.zones["Q"].append((name, zq_full.difference(z2_full)))
