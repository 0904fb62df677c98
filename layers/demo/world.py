"""The demo district as one lazily-built model: terrain → water → land classes → networks → fabric."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import shapely

from layers.demo import buildings as bld
from layers.demo.admin import Admin, build_admin
from layers.demo.core import Grid, Scale, scale_bounds, stream
from layers.demo.ecology import LandClasses, build_land_classes
from layers.demo.names import EXPRESSWAYS, METRO_LINES
from layers.demo.planning import Fabric, build_fabric
from layers.demo.terrain import Terrain, build_terrain
from layers.demo.transport import clip_lines, polyline
from layers.demo.water import Hydrology, build_reservoirs, build_rivers, build_source_zones

# scale → (admin grid spacing, survey patch size, road pitch factor, building density, villages, village size,
#          building grain: < 1 lays out smaller, more numerous buildings as a finer survey would)
SCALE_PARAMS: dict[str, tuple[float, float, float, float, int, float, float]] = {
    "small": (350.0, 220.0, 1.0, 1.0, 10, 1.0, 1.0),
    "district": (450.0, 300.0, 1.0, 0.9, 70, 1.0, 1.0),
    "full": (260.0, 190.0, 0.95, 1.05, 260, 1.8, 0.55),
}


class World:
    """Everything the layers are derived from, built on first use and shared between layers."""

    def __init__(self, scale: Scale, seed: int) -> None:
        self.scale = scale
        self.seed = seed
        self.params = SCALE_PARAMS[scale]
        self.window = shapely.box(*scale_bounds(scale))

    def rng(self, *keys: str) -> np.random.Generator:
        """Random stream for one purpose."""
        return stream(self.seed, self.scale, *keys)

    @cached_property
    def terrain(self) -> Terrain:
        """DEM, slope and hillshade."""
        return build_terrain(self.scale, self.seed)

    @property
    def grid(self) -> Grid:
        """The DEM grid."""
        return self.terrain.grid

    @cached_property
    def hydro(self) -> Hydrology:
        """Rivers, reservoirs and source-protection zones."""
        hydro = Hydrology()
        routing, parent, order = build_rivers(self.terrain, hydro)
        build_reservoirs(self.terrain, hydro)
        build_source_zones(routing, parent, order, hydro, self.admin.district)
        hydro.river_geoms = [g.intersection(self.admin.district) for g in hydro.river_geoms]
        keep = [i for i, g in enumerate(hydro.river_geoms) if g.length > 100]
        for name in ("river_geoms", "river_names", "river_order", "river_basin"):
            setattr(hydro, name, [getattr(hydro, name)[i] for i in keep])
        return hydro

    @cached_property
    def admin(self) -> Admin:
        """District, sub-districts, communities and grids."""
        return build_admin(self.grid, self.seed, self.params[0])

    @cached_property
    def land(self) -> LandClasses:
        """Terrain-derived land classes."""
        return build_land_classes(self.terrain, self.hydro, self.admin.district, self.seed, self.params[1])

    @cached_property
    def urban_boundary(self) -> shapely.Geometry:
        """Union of the urban development boundary polygons."""
        return shapely.union_all(self.land.urban_boundary)

    @cached_property
    def expressways(self) -> tuple[list[str], list[shapely.Geometry]]:
        """Expressway centre lines inside the district."""
        rng = self.rng("expressway")
        lines = clip_lines([polyline(pts, rng, 60) for _n, pts in EXPRESSWAYS], self.admin.district)
        kept = [(n, g) for (n, _p), g in zip(EXPRESSWAYS, lines, strict=True) if g is not None]
        return [n for n, _g in kept], [g for _n, g in kept]

    @cached_property
    def metro(self) -> tuple[list[str], list[str], list[shapely.Geometry]]:
        """Metro line names, statuses and centre lines."""
        rng = self.rng("metro")
        lines = clip_lines([polyline(pts, rng, 40) for _n, _s, pts in METRO_LINES], self.admin.district)
        kept = [(n, s, g) for (n, s, _p), g in zip(METRO_LINES, lines, strict=True) if g is not None]
        return [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]

    @cached_property
    def water_union(self) -> shapely.Geometry:
        """Blue-line water areas (rivers and reservoirs)."""
        return self.hydro.water_union()

    @cached_property
    def fabric(self) -> Fabric:
        """Roads, blocks and parcels inside the urban boundary."""
        zones = []
        for code, sub in zip(self.admin.subdistrict_codes, self.admin.subdistrict_geoms, strict=True):
            zone = shapely.make_valid(sub.intersection(self.urban_boundary))
            if zone.area > 2e5:
                zones.append((code, zone))
        cut = shapely.union_all([self.water_union, *[g.buffer(30) for g in self.expressways[1]]])
        return build_fabric(zones, self.seed, self.params[2], cut)

    @cached_property
    def parcels(self) -> np.ndarray:
        """Parcel polygons (index = parcel id)."""
        return self.fabric.cat("parcel_geoms")

    @cached_property
    def village_sites(self) -> np.ndarray:
        """Centres of old villages outside the urban core; a share lies inside the eco control line."""
        rng = self.rng("villages")
        land, dem, slope = self.land, self.terrain.dem, self.terrain.slope
        xs, ys = self.grid.centres()
        ok = (slope < 10) & (dem < 160) & ~land.water_mask & ~land.urban_core
        inside = self.admin.community_raster >= 0
        n = self.params[4]
        sites = []
        for mask, share in ((ok & land.eco_mask & inside, 0.4), (ok & ~land.eco_mask & inside, 0.6)):
            cells = np.flatnonzero(mask)
            if len(cells):
                pick = rng.choice(cells, size=min(len(cells), max(2, int(n * share))), replace=False)
                sites.append(np.column_stack([xs.ravel()[pick], ys.ravel()[pick]]))
        return np.concatenate(sites)

    @cached_property
    def buildings(self) -> tuple[bld.Buildings, list[shapely.Geometry]]:
        """All buildings and the outlines of the old rural villages."""
        density = self.params[3]
        urban = bld.parcel_buildings(self.fabric, self.rng("buildings"), density, self.params[6])
        rural, outlines = bld.rural_villages(self.village_sites, self.rng("rural"), self.params[5])
        keep = ~shapely.intersects(self.water_union, rural.geoms) & shapely.within(
            rural.geoms, self.admin.district
        )
        rural = bld.Buildings(*(getattr(rural, f)[keep] for f in bld.Buildings.__dataclass_fields__))
        return bld.concat([urban, rural]), outlines

    def use_parcels(self, *prefixes: str) -> np.ndarray:
        """Indices of parcels whose land use starts with one of the prefixes."""
        use = self.fabric.cat("parcel_use")
        return np.flatnonzero(np.array([u.startswith(prefixes) for u in use], dtype=bool))

    def elevation_at(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """DEM elevation and slope at representative points of geometries."""
        pts = shapely.point_on_surface(geoms)
        x, y = shapely.get_x(pts), shapely.get_y(pts)
        return self.grid.sample(self.terrain.dem, x, y), self.grid.sample(self.terrain.slope, x, y)
