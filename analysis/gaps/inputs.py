"""The database side of a gap analysis: input versions, facilities, candidate sites, cells, catchments.

Everything here only reads (the network cache aside) and does no more Python work than turning rows into
records, so a request holds its connection for the queries alone; the arithmetic is :mod:`.allocate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg import Connection, sql

from analysis.gaps.allocate import Cell
from analysis.gaps.network import RoutableNetwork, SourceVersion, current_sources, ensure_network, source_key
from analysis.standards.model import FacilityStandard, Standards
from layers.district import STORAGE_SRID

_SQL = Path(__file__).parent / "sql"
_PAIRS = (_SQL / "catchment_pairs.sql").read_text(encoding="utf-8")
_CELLS = (_SQL / "population_cells.sql").read_text(encoding="utf-8")
_CANDIDATES = (_SQL / "candidate_sites.sql").read_text(encoding="utf-8")
_FACILITIES = (_SQL / "facilities.sql").read_text(encoding="utf-8")
_ACCESS = (_SQL / "access.sql").read_text(encoding="utf-8")
# Edges this much farther than the nearest one are still ways in to the network for a site or a cell.
ACCESS_TIE_M = 1.0
# Side of the tiles the catchment searches are grouped by (see catchment_pairs.sql): each tile's starts run
# on the edges within its box widened by the radius.
CATCHMENT_TILE_M = 2000.0
# Bumped whenever the method changes what an answer holds (cached answers carry it in their key).
METHOD_VERSION = 2


@dataclass(frozen=True)
class Site:
    """A facility or a candidate site: its key in the catchment query and what the answer shows of it."""

    key: str
    fid: int
    name: str | None
    capacity: float
    capacity_estimated: bool
    wkb: bytes
    parcel_code: str | None = None
    parcel_fid: int | None = None
    land_use: str | None = None
    site_m2: float | None = None
    subdistrict: str | None = None
    version_id: int | None = None  # the layer version the feature is read from


Area = tuple[str | None, shapely.Geometry]


@dataclass
class GapInputs:
    """Everything an answer is computed from, with the versions that make it reproducible."""

    standard: FacilityStandard
    standards: Standards
    network: RoutableNetwork
    layers: list[SourceVersion]
    cells: list[Cell]
    facilities: list[Site]
    candidates: list[Site]
    reach: list[tuple[str, int, float]]
    cache_key: str


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number >= 0 else None  # NaN and negatives are missing


def facility_capacity(
    standard: FacilityStandard, props: dict[str, Any], area_m2: float | None
) -> tuple[float, bool] | None:
    """(capacity, estimated) of one feature of the facility layer, or None when the standard leaves it out."""
    share = 1.0
    if standard.select is not None:
        figure = standard.select.shares.get(str(props.get(standard.select.attribute)))
        if figure is None:
            return None
        share = figure.value
    cap = standard.capacity
    if cap.geometry_area:
        raw = area_m2
    elif cap.attribute is not None:
        raw = _number(props.get(cap.attribute))
    else:
        raw = 1.0
    if raw is None:
        return cap.typical.value * share, True
    return raw * cap.per_unit.value * share, False


def _versions(conn: Connection[Any], standards: Standards, standard: FacilityStandard) -> list[SourceVersion]:
    codes = [
        standards.population.layer,
        standards.subdistricts.layer,
        standard.layer,
        standard.candidates.layer,
        "sp_parcel",
    ]
    return current_sources(conn, list(dict.fromkeys(codes)))


def _areas(conn: Connection[Any], standards: Standards, versions: dict[str, int]) -> list[Area]:
    """The sub-districts (code and polygon, prepared), in feature order."""
    version = versions.get(standards.subdistricts.layer)
    if version is None:
        return []
    rows = conn.execute(
        "SELECT props ->> %s, ST_AsBinary(geom) FROM basemap.feature WHERE version_id = %s ORDER BY fid",
        (standards.subdistricts.attribute, version),
    ).fetchall()
    areas = [(code, shapely.from_wkb(bytes(wkb))) for code, wkb in rows]
    for _, geometry in areas:
        shapely.prepare(geometry)
    return areas


def _locate(areas: list[Area], points: list[tuple[float, float]]) -> list[str | None]:
    """The sub-district of each point: the first (in feature order) whose polygon holds it or its boundary
    (as ``ST_Intersects`` would say, point by point in the database: 0.4–0.9 s for 6,685 facilities against
    the district's detailed boundaries; a few milliseconds with prepared polygons)."""
    found: list[str | None] = [None] * len(points)
    if not points or not areas:
        return found
    xy = np.asarray(points, dtype=np.float64)
    left = np.ones(len(points), dtype=bool)
    for code, geometry in areas:
        hit = left & shapely.intersects_xy(geometry, xy[:, 0], xy[:, 1])
        for i in np.flatnonzero(hit):
            found[i] = code
        left &= ~hit
    return found


def _facilities(
    conn: Connection[Any],
    standards: Standards,
    standard: FacilityStandard,
    versions: dict[str, int],
    areas: list[Area],
) -> list[Site]:
    if standard.layer not in versions:
        return []
    rows = conn.execute(_FACILITIES, {"facilities": versions[standard.layer]}).fetchall()
    places = _locate(areas, [(r[4], r[5]) for r in rows])
    sites = []
    for (fid, props, area, wkb, _, _), subdistrict in zip(rows, places, strict=True):
        found = facility_capacity(standard, props, area)
        if found is not None:
            name = props.get("name")
            sites.append(
                Site(
                    f"f{fid}",
                    fid,
                    name,
                    found[0],
                    found[1],
                    bytes(wkb),
                    subdistrict=subdistrict,
                    version_id=versions[standard.layer],
                )
            )
    return sites


def _candidates(
    conn: Connection[Any],
    standards: Standards,
    standard: FacilityStandard,
    versions: dict[str, int],
    facilities: list[Site],
) -> list[Site]:
    source = standard.candidates
    if source.layer not in versions:
        return []
    rows = conn.execute(
        _CANDIDATES,
        {
            "candidates": versions[source.layer],
            "parcels": versions.get("sp_parcel"),
            "attribute": source.attribute,
            "values": source.values,
            "facilities": versions.get(standard.layer),
            "facility_fids": [f.fid for f in facilities],
            "built_within": standards.built_within_m.value,
            "subdistricts": versions.get(standards.subdistricts.layer),
            "sd_attribute": standards.subdistricts.attribute,
        },
    ).fetchall()
    typical = standard.capacity.typical.value
    return [
        Site(
            f"c{fid}",
            fid,
            props.get("name"),
            typical,
            True,
            bytes(wkb),
            code,
            pfid,
            use,
            site,
            subdistrict,
            versions[source.layer],
        )
        for fid, props, wkb, pfid, code, use, site, built, subdistrict in rows
        if not built
    ]


def _cells(
    conn: Connection[Any],
    standards: Standards,
    network: RoutableNetwork,
    versions: dict[str, int],
    areas: list[Area],
) -> list[Cell]:
    if standards.population.layer not in versions:
        return []
    rows = conn.execute(
        _CELLS,
        {
            "label": standards.population.label or "",
            "attribute": standards.population.attribute,
            "population": versions[standards.population.layer],
            "network": network.id,
            "snap": standards.network.snap_max_m.value,
        },
    ).fetchall()
    places = _locate(areas, [(r[3], r[4]) for r in rows])
    return [
        Cell(fid, label, pop, sd, reachable)
        for (fid, label, pop, _, _, reachable), sd in zip(rows, places, strict=True)
    ]


def _start_column(conn: Connection[Any]) -> str:
    """The name of pgr_drivingDistance's start column with several starts (3.6 renamed it)."""
    row = conn.execute("SELECT pgr_version()").fetchone()
    major, minor = (int(p) for p in str(row[0] if row else "3.4").split(".")[:2])
    return "start_vid" if (major, minor) >= (3, 6) else "from_v"


def catchments(
    conn: Connection[Any],
    network: RoutableNetwork,
    sites: list[Site],
    population_version: int | None,
    standards: Standards,
    radius_m: float,
) -> list[tuple[str, int, float]]:
    """(site key, cell fid, walking distance) for every cell within ``radius_m`` of every site."""
    if not sites or population_version is None or network.edge_count == 0:
        return []
    query = sql.SQL(_PAIRS).format(start=sql.Identifier(_start_column(conn)))
    rows = conn.execute(
        query,
        {
            "keys": [s.key for s in sites],
            "versions": [s.version_id for s in sites],
            "fids": [s.fid for s in sites],
            "network": network.id,
            "snap": standards.network.snap_max_m.value,
            "population": population_version,
            "attribute": standards.population.attribute,
            "radius": radius_m,
            "tile": CATCHMENT_TILE_M,
            "srid": STORAGE_SRID,
        },
    ).fetchall()
    return [(key, int(fid), float(dist)) for key, fid, dist in rows]


def ensure_access(
    conn: Connection[Any], network_id: int, version_id: int, on_surface: bool, fids: list[int]
) -> int:
    """Store where the features ``fids`` of a layer version join the network, for those not stored yet
    (access.sql); return how many were computed now.

    Computed once per network and feature (about 0.1 s per 1,000 features on the district); two requests
    that find some missing at once compute them once (a transaction-level advisory lock).
    """
    missing_sql = (
        "SELECT u.fid FROM unnest(%s::integer[]) AS u(fid) WHERE NOT EXISTS (SELECT 1 FROM gap.access a"
        " WHERE a.network_id = %s AND a.version_id = %s AND a.on_surface = %s AND a.fid = u.fid)"
    )
    params = (fids, network_id, version_id, on_surface)
    if not fids or conn.execute(missing_sql + " LIMIT 1", params).fetchone() is None:
        return 0
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"duogui.gap.access.{network_id}.{version_id}",)
        )
        missing = [int(r[0]) for r in conn.execute(missing_sql, params).fetchall()]
        if not missing:
            return 0
        conn.execute(
            _ACCESS,
            {
                "network": network_id,
                "version": version_id,
                "on_surface": on_surface,
                "fids": missing,
                "tie": ACCESS_TIE_M,
            },
        )
        # Versions no longer current are dropped once no request can still be reading them.
        conn.execute(
            "DELETE FROM gap.access a WHERE a.created_at < now() - interval '1 hour'"
            " AND NOT EXISTS (SELECT 1 FROM basemap.layer l WHERE l.current_version = a.version_id)"
        )
        conn.execute("SELECT gap.analyze_access()")
    return len(missing)


def gather(conn: Connection[Any], standards: Standards, standard: FacilityStandard) -> GapInputs:
    """Read (and, for the network and the access legs, build if missing) everything one facility type's
    answer needs.

    JIT compilation is off for these queries: their row estimates (laterals, pgRouting) are far too high,
    so PostgreSQL compiled the catchment query for 1.4–2 s to run it for about as long.
    """
    network = ensure_network(conn, standards.network)
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")
        layers = _versions(conn, standards, standard)
        versions = {s.layer: s.version_id for s in layers}
        population = versions.get(standards.population.layer)
        areas = _areas(conn, standards, versions)
        facilities = _facilities(conn, standards, standard, versions, areas)
        candidates = _candidates(conn, standards, standard, versions, facilities)
        if network.edge_count > 0:
            if population is not None:
                people = conn.execute(
                    "SELECT fid FROM basemap.feature WHERE version_id = %s AND (props ->> %s)::numeric > 0",
                    (population, standards.population.attribute),
                ).fetchall()
                ensure_access(conn, network.id, population, True, [int(r[0]) for r in people])
            for sites in (facilities, candidates):
                if sites and sites[0].version_id is not None:
                    ensure_access(conn, network.id, sites[0].version_id, False, [s.fid for s in sites])
        cells = _cells(conn, standards, network, versions, areas)
        radius = standard.radius_m.value
        reach = catchments(conn, network, facilities + candidates, population, standards, radius)
    key = _key(standards, standard, network.source_key, layers)
    return GapInputs(standard, standards, network, layers, cells, facilities, candidates, reach, key)


def _key(
    standards: Standards, standard: FacilityStandard, network_key: str, layers: list[SourceVersion]
) -> str:
    parts = [standard.code, standards.fingerprint, f"method={METHOD_VERSION}", f"net={network_key}"]
    return "|".join(parts + [f"{s.layer}@{s.version_id}" for s in layers])


def cache_key(conn: Connection[Any], standards: Standards, standard: FacilityStandard) -> str:
    """The key an answer would be stored under now (the same parts as :func:`gather`, without the work)."""
    sources = current_sources(conn, standards.network.layers)
    network_key = source_key(sources, standards.network.node_tolerance_m.value)
    return _key(standards, standard, network_key, _versions(conn, standards, standard))
