"""Compensation estimate (补偿估算) for the buildings a footprint would demolish.

Each demolished building is priced at the unit price (元/m² of floor area) of the compensation zone
(``demo_compensation_zone.zone_grade``) and the land ownership (``cur_ownership``: 国有 state / 集体
collective) under a point inside it. The price table is data: ``compensation`` in
``analysis/rules/_ruleset.yaml``, versioned with the rule set. A building whose zone or ownership is
unknown is listed as unpriced — never priced at zero.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
from psycopg import Connection, sql

from analysis.compensation_model import Compensation, CompensationLine, UnpricedBuilding
from analysis.findings import Finding
from analysis.rules.model import RuleSet
from analysis.snapshot import Snapshot
from layers.district import STORAGE_SRID

BUILDING_RULE = "cur_building.demolition"
ZONE_RULE = "demo_compensation_zone.price"
BUILDING_LAYER = "cur_building"
ZONE_LAYER = "demo_compensation_zone"
ZONE_ATTRIBUTE = "zone_grade"
OWNERSHIP_LAYER = "cur_ownership"
OWNERSHIP_ATTRIBUTE = "ownership"
# cur_ownership codes → owner types of the price table.
OWNER_TYPE_BY_CODE = {"10": "state", "30": "collective"}


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _lookup(version: int | None, attribute: str, *, few_large: bool = False) -> sql.Composable:
    """Per building of ``b``: the attribute of the layer's feature under its point (lowest fid on ties).

    One join for all buildings (a subquery per building cost twice as much); a building under no
    feature has no row, and the caller's left join makes that NULL. ``few_large``: the layer holds a
    few large polygons (compensation zones), so each polygon near the buildings tests every point in
    turn, which keeps PostGIS's cache of the repeated polygon hot; probing the index per building
    re-read a polygon of a thousand vertices for every building.
    """
    if version is None:
        return sql.SQL("SELECT NULL::integer AS fid, NULL::text AS value WHERE false")
    if few_large:
        return sql.SQL(
            "SELECT DISTINCT ON (b.fid) b.fid, z.props->>{attr} AS value FROM {layer} z"
            " CROSS JOIN LATERAL (SELECT b.fid FROM b WHERE ST_Intersects(z.geom, b.pt)) b"
            " WHERE z.geom && ST_SetSRID((SELECT ST_Extent(pt) FROM b)::geometry, {srid})"
            " ORDER BY b.fid, z.fid"
        ).format(
            attr=sql.Literal(attribute),
            layer=sql.Identifier("basemap", f"f_{version}"),
            srid=sql.Literal(STORAGE_SRID),
        )
    return sql.SQL(
        "SELECT DISTINCT ON (b.fid) b.fid, z.props->>{attr} AS value FROM b"
        " JOIN {layer} z ON ST_Intersects(z.geom, b.pt) ORDER BY b.fid, z.fid"
    ).format(attr=sql.Literal(attribute), layer=sql.Identifier("basemap", f"f_{version}"))


def estimate_compensation(
    conn: Connection[Any],
    findings: Mapping[str, Finding],
    ruleset: RuleSet,
    current: Mapping[str, int] | None = None,
    snapshot: Snapshot | None = None,
) -> Compensation:
    """Price every building of the demolition finding by zone and ownership; fill the zone message.

    ``current`` maps layer codes to their current version ids when the caller has read them already
    (the engine has, with the layer states); otherwise they are read here. With a ``snapshot`` of the
    check index that holds the three layers at those versions, zone and ownership are looked up in
    memory, under the same points (the database's ST_PointOnSurface, held with the snapshot).
    """
    table = ruleset.settings.compensation
    buildings = findings.get(BUILDING_RULE)
    hits = buildings.features if buildings else []
    versions: dict[str, int] = {}
    layers = (BUILDING_LAYER, ZONE_LAYER, OWNERSHIP_LAYER)
    if hits and current is not None:
        versions = {code: current[code] for code in layers if code in current}
    elif hits:  # most footprints demolish nothing: no query then
        versions = dict(
            conn.execute(
                "SELECT l.code, l.current_version FROM basemap.layer l"
                " WHERE l.code = ANY(%s) AND l.current_version IS NOT NULL",
                (list(layers),),
            ).fetchall()
        )
    zones: dict[int, str | None] = {}
    owners: dict[int, str | None] = {}
    looked_up = None
    if BUILDING_LAYER in versions and snapshot is not None and snapshot.held(versions, layers):
        looked_up = _look_up_in_memory(snapshot, [h.fid for h in hits])
    if looked_up is not None:
        zones, owners = looked_up
    elif BUILDING_LAYER in versions:
        # Zone and ownership under a point inside each building, in one statement.
        query = sql.SQL(
            "WITH b AS MATERIALIZED (SELECT fid, ST_PointOnSurface(geom) AS pt FROM {buildings}"
            " WHERE fid = ANY(%s)), zone AS ({zone}), owner AS ({owner})"
            " SELECT b.fid, zone.value, owner.value FROM b"
            " LEFT JOIN zone USING (fid) LEFT JOIN owner USING (fid)"
        ).format(
            zone=_lookup(versions.get(ZONE_LAYER), ZONE_ATTRIBUTE, few_large=True),
            owner=_lookup(versions.get(OWNERSHIP_LAYER), OWNERSHIP_ATTRIBUTE),
            buildings=sql.Identifier("basemap", f"f_{versions[BUILDING_LAYER]}"),
        )
        for fid, zone_value, owner_value in conn.execute(query, ([h.fid for h in hits],)):
            zones[fid], owners[fid] = zone_value, owner_value
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    unpriced: list[UnpricedBuilding] = []
    for hit in sorted(hits, key=lambda h: h.fid):
        area = _number(hit.attributes.get("floor_area"))
        zone, owner = zones.get(hit.fid), OWNER_TYPE_BY_CODE.get(owners.get(hit.fid) or "")
        why = None
        if zone is None or zone not in table.zones:
            why = ("不在补偿区片内", "outside every compensation zone")
        elif owner is None:
            why = ("土地权属未知", "land ownership unknown")
        if why:
            code = hit.attributes.get("building_code")
            unpriced.append(
                UnpricedBuilding(
                    fid=hit.fid,
                    building_code=None if code is None else str(code),
                    floor_area_m2=round(area, 2),
                    reason_zh=why[0],
                    reason_en=why[1],
                )
            )
            continue
        assert zone is not None and owner is not None
        groups[(zone, owner)].append(area)
    lines = [
        CompensationLine(
            zone=zone,
            owner_type=owner,
            owner_type_zh=table.owner_types[owner],
            buildings=len(areas),
            floor_area_m2=round(sum(areas), 2),
            unit_price=table.price(zone, owner),
            amount_yuan=round(sum(areas) * table.price(zone, owner), 2),
        )
        for (zone, owner), areas in sorted(groups.items())
    ]
    _fill_zone_message(findings.get(ZONE_RULE), lines)
    return Compensation(
        total_yuan=round(sum(line.amount_yuan for line in lines), 2),
        unit=table.unit,
        table_version=ruleset.version,
        source_zh=table.source_zh,
        lines=lines,
        unpriced=unpriced,
    )


def _look_up_in_memory(
    snapshot: Snapshot, fids: list[int]
) -> tuple[dict[int, str | None], dict[int, str | None]] | None:
    """Zone and ownership under each building's point, from the snapshot (None: a building has no point
    there, so the database answers instead). As in SQL: the lowest fid among the features whose parts
    the point meets, and the attribute as ``->>`` gives it."""
    anchors = snapshot.anchors.get(BUILDING_LAYER)
    if anchors is None or not fids:
        return None
    held_fids, xy = anchors
    wanted = np.asarray(fids, dtype=np.int64)
    at = np.searchsorted(held_fids, wanted)
    if (at >= len(held_fids)).any() or (held_fids[np.minimum(at, len(held_fids) - 1)] != wanted).any():
        return None
    points = shapely.points(xy[at])
    near_point, near_part = snapshot.tree.query(points)
    found: list[dict[int, str | None]] = []
    for layer, attribute in ((ZONE_LAYER, ZONE_ATTRIBUTE), (OWNERSHIP_LAYER, OWNERSHIP_ATTRIBUTE)):
        values: dict[int, str | None] = {}
        if layer in snapshot.layers:
            mine = snapshot.layer_of[near_part] == snapshot.layers.index(layer)
            point_at, part_at = near_point[mine], near_part[mine]
            meets = shapely.intersects(snapshot.parts[part_at], points[point_at])
            lowest: dict[int, tuple[int, int]] = {}
            for p, q in zip(point_at[meets].tolist(), part_at[meets].tolist(), strict=True):
                fid = int(snapshot.fids[q])
                if p not in lowest or fid < lowest[p][0]:
                    lowest[p] = (fid, q)
            decoded: dict[int, str | None] = {}  # by part: a zone covers many buildings
            for p, (_, q) in lowest.items():
                if q not in decoded:
                    decoded[q] = _as_text(json.loads(snapshot.props[q]).get(attribute))
                values[fids[p]] = decoded[q]
        found.append(values)
    return found[0], found[1]


def _as_text(value: Any) -> str | None:
    """A JSON value as PostgreSQL's ``->>`` returns it."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _fill_zone_message(finding: Finding | None, lines: list[CompensationLine]) -> None:
    """Each zone's message names the estimated cost of that zone; the finding's message too when it
    is one zone's (a finding over several zones states its own figures, not one zone's cost)."""
    if finding is None or not finding.features:
        return
    zones = {str(hit.attributes.get(ZONE_ATTRIBUTE)) for hit in finding.features}
    for hit in finding.features:
        zone = str(hit.attributes.get(ZONE_ATTRIBUTE))
        amount = f"{sum(line.amount_yuan for line in lines if line.zone == zone):,.0f}"
        if hit.message_zh is not None and hit.message_en is not None:
            hit.message_zh = hit.message_zh.replace("{cost_yuan}", amount)
            hit.message_en = hit.message_en.replace("{cost_yuan}", amount)
        if len(finding.features) == 1:
            finding.message_zh = finding.message_zh.replace("{cost_yuan}", amount)
            finding.message_en = finding.message_en.replace("{cost_yuan}", amount)
    if len(finding.features) > 1:
        total = f"{sum(line.amount_yuan for line in lines if line.zone in zones):,.0f}"
        finding.message_zh += f"，估算补偿合计 {total} 元"
        finding.message_en += f"; estimated {total} yuan in all"
