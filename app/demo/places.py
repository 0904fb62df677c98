"""Where the demo history's projects stand: footprints taken from the base map.

A building project takes a planned parcel of the statutory plan (``sp_parcel``) whose land use fits it
(a school a GIC5 parcel, a park a G1 parcel…), shrunk a few metres inside its boundary (so it does not
touch the road red line beside it) and simplified; a road project takes a stretch of a planned road
red line (``sp_road_redline``) at its planned width; a river project a stretch of a river
(``water_river``) with its banks. Each site lies in the sub-district the project names (its point on
the surface falls in the ``admin_subdistrict`` polygon) and, at scale ``small``, inside the small demo
window. Footprints are GeoJSON in the storage CRS (EPSG:4547), as the footprint API takes them.

Candidates are ordered by a hash of the seed and the feature id, so the same seed picks the same sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from psycopg import Connection

from app.demo.context import Scale
from layers.demo.core import scale_bounds
from layers.district import STORAGE_SRID

SiteKind = Literal["parcel", "road", "river"]


@dataclass(frozen=True)
class Site:
    """One candidate footprint."""

    layer: str
    fid: int
    geometry: dict[str, Any]  # GeoJSON, EPSG:4547
    area_m2: float
    label: str | None  # the road's or river's name
    subdistrict: str  # the admin_subdistrict key (e.g. buji) its point on the surface lies in


# Inside the small window: a test on the feature's own box (the spatial index would scan every version).
_WINDOW = (
    " AND (ST_XMin(f.geom::box2d) + ST_XMax(f.geom::box2d)) / 2 BETWEEN %(x0)s AND %(x1)s"
    " AND (ST_YMin(f.geom::box2d) + ST_YMax(f.geom::box2d)) / 2 BETWEEN %(y0)s AND %(y1)s"
)

_PICK = (
    "SELECT f.fid, f.geom, f.props FROM basemap.feature f JOIN basemap.layer l"
    " ON l.current_version = f.version_id AND l.code = %(layer)s"
    " WHERE f.fid <> ALL(%(used)s) {filter} {window}"
    " ORDER BY md5(%(seed)s || ':' || f.fid) LIMIT %(n)s"
)
_SHAPE = {
    "parcel": "ST_SimplifyPreserveTopology(ST_Buffer(c.geom, -4), 1.5)",
    "road": (
        "ST_SimplifyPreserveTopology(ST_Buffer(ST_LineSubstring(ST_GeometryN(ST_LineMerge(c.geom), 1), 0,"
        " least(1.0, 900 / greatest(ST_Length(ST_GeometryN(ST_LineMerge(c.geom), 1)), 1))),"
        " coalesce((c.props->>'redline_width')::float, 20) / 2, 'endcap=flat'), 1)"
    ),
    "river": (
        "ST_SimplifyPreserveTopology(ST_Buffer(ST_LineSubstring(ST_GeometryN(ST_LineMerge(c.geom), 1), 0,"
        " least(1.0, 1500 / greatest(ST_Length(ST_GeometryN(ST_LineMerge(c.geom), 1)), 1))), 12,"
        " 'endcap=flat'), 1)"
    ),
}
_FILTER = {
    "parcel": "AND f.props->>'land_use' = ANY(%(uses)s) AND f.area_m2 BETWEEN 3000 AND 60000",
    "road": "AND f.length_m > 150",
    "river": "AND f.length_m > 300",
}
_LABEL = {"parcel": "NULL", "road": "c.props->>'road_name'", "river": "c.props->>'river_name'"}
_LAYER = {"parcel": "sp_parcel", "road": "sp_road_redline", "river": "water_river"}


def subdistricts(conn: Connection[Any], scale: Scale) -> list[str]:
    """The sub-districts (their ``subdistrict`` key, e.g. ``buji``) the scale's window touches, in order."""
    x0, y0, x1, y1 = scale_bounds(scale)
    rows = conn.execute(
        "SELECT f.props->>'subdistrict' FROM basemap.feature f JOIN basemap.layer l"
        " ON l.current_version = f.version_id AND l.code = 'admin_subdistrict'"
        " WHERE ST_Intersects(f.geom, ST_MakeEnvelope(%s, %s, %s, %s, %s)) ORDER BY f.fid",
        (x0, y0, x1, y1, STORAGE_SRID),
    ).fetchall()
    return [str(r[0]) for r in rows]


def candidates(
    conn: Connection[Any],
    kind: SiteKind,
    *,
    scale: Scale,
    seed: int,
    land_uses: tuple[str, ...] = (),
    used: tuple[int, ...] = (),
    n: int = 8,
) -> list[Site]:
    """Up to ``n`` candidate sites of ``kind`` (features not in ``used``), in the seed's order."""
    x0, y0, x1, y1 = scale_bounds(scale)
    window = _WINDOW if scale == "small" else ""
    pick = _PICK.replace("{filter}", _FILTER[kind]).replace("{window}", window)
    query = (
        "SELECT fid, ST_AsGeoJSON(g, 2)::json, ST_Area(g), label, sd FROM"
        f" (SELECT c.fid, {_SHAPE[kind]} AS g,"
        f" {_LABEL[kind]} AS label, (SELECT s.props->>'subdistrict' FROM basemap.feature s"
        " WHERE s.version_id = (SELECT current_version FROM basemap.layer WHERE code = 'admin_subdistrict')"
        " AND ST_Intersects(s.geom, ST_PointOnSurface(c.geom)) LIMIT 1) AS sd"
        f" FROM ({pick}) c) x WHERE NOT ST_IsEmpty(g) AND ST_IsValid(g) AND sd IS NOT NULL"
        " AND ST_GeometryType(g) IN ('ST_Polygon', 'ST_MultiPolygon') ORDER BY md5(%(seed)s || ':' || fid)"
    )
    params = {
        "layer": _LAYER[kind],
        "uses": list(land_uses),
        "used": list(used),
        "seed": str(seed),
        "n": n,
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "srid": STORAGE_SRID,
    }
    rows = conn.execute(query, params).fetchall()
    return [Site(_LAYER[kind], int(r[0]), r[1], float(r[2]), r[3], str(r[4])) for r in rows]
