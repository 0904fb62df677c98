"""The project library as a live map layer: each visible project's current footprint, as it is now.

A catalog entry with ``live: project_library`` (``proj_library``) is served by the composite tiles, identify
and the OGC API like any layer, but read from ``project.footprint`` (the current version of each project's
footprint) joined to ``project.project`` instead of a version partition. What a caller sees is what
``GET /api/projects`` shows them (:func:`app.projects.service.visibility`): a project unit its own projects,
a department those involving it, planners, viewers and administrators all; a service account (which has no
``projects:read``) none. The entry is ``restricted`` in the catalog, so every answer holding it is sent
``no-store`` (one URL answers differently for different callers).

The feature id is the project's id (a project has at most one current footprint), so a click opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from app.auth.deps import Grant
from app.auth.policy import POLICY, Action
from app.projects.service import visibility
from layers.catalog.model import LayerEntry
from layers.district import STORAGE_SRID
from layers.tiles.mvt import TileLayer

LIVE = "project_library"


def projects_grant(grant: Grant) -> Grant | None:
    """The caller's ``projects:read`` grant (its scope decides which projects the layer shows), or None."""
    principal = grant.principal
    if principal.service is not None and Action.PROJECTS_READ.value not in principal.service.actions:
        return None
    scope = POLICY[Action.PROJECTS_READ].get(principal.role)
    return None if scope is None else Grant(principal, Action.PROJECTS_READ, scope, grant.actor)


def _where(grant: Grant) -> tuple[sql.Composable, Any]:
    """The visibility clause with the organisation written in, and the key of what it selects."""
    pg = projects_grant(grant)
    if pg is None:
        return sql.SQL("FALSE"), ("none",)
    clause, _ = visibility(pg, "p", bound=False)
    key = ("any",) if pg.org_filter() is None else (pg.principal.role.value, pg.principal.org_id)
    return clause, key


def source(grant: Grant) -> sql.Composable:
    """The current footprints of the projects ``grant`` may see, with the columns of a version partition.

    fid is the project id; props carry the catalog attributes of ``proj_library``."""
    where, _ = _where(grant)
    return sql.SQL(
        """
        SELECT p.id AS fid, 0 AS version_id, f.geom, ST_Transform(f.geom, 3857) AS geom_3857, f.area_m2,
               NULL::float8 AS length_m, ST_NPoints(f.geom) AS vertices,
               jsonb_build_object(
                 'project_code', p.code, 'name', p.name, 'status', p.status, 'tier', p.tier,
                 'project_type', p.project_type, 'investment', p.investment_wan::float8,
                 'footprint_area', round(f.area_m2::numeric, 1)::float8,
                 'footprint_since', to_char(f.created_at, 'YYYY-MM-DD')) AS props,
               NULL::jsonb AS extra
        FROM project.footprint f JOIN project.project p ON p.id = f.project_id
        WHERE f.superseded_at IS NULL AND {where}
        """
    ).format(where=where)


@dataclass(frozen=True)
class LiveState:
    """What one caller sees of the live layer now: its mark, feature count and CRS84 extent."""

    mark: int
    count: int
    bbox: tuple[float, float, float, float] | None
    source: sql.Composable
    key: Any


def state(conn: Connection[Any], grant: Grant) -> LiveState:
    """The caller's view of the layer. The mark (a positive 52-bit integer) changes with any change the
    caller could see: a footprint added or superseded, a project's attributes (its version), a project
    coming into or out of view."""
    where, key = _where(grant)
    row = conn.execute(
        sql.SQL(
            """
            WITH v AS (
              SELECT p.id, f.id AS fid, p.version, f.geom
              FROM project.footprint f JOIN project.project p ON p.id = f.project_id
              WHERE f.superseded_at IS NULL AND {where}
            ), e AS (
              SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, {srid}), 4326)::box2d AS b FROM v
            )
            SELECT (SELECT count(*) FROM v),
                   coalesce((SELECT ('x' || substr(md5(string_agg(id || ':' || fid || ':' || version, ','
                     ORDER BY id)), 1, 13))::bit(52)::bigint FROM v), 0) + 1,
                   ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
            FROM e
            """
        ).format(where=where, srid=sql.Literal(STORAGE_SRID))
    ).fetchone()
    assert row is not None
    box = None if row[2] is None else (float(row[2]), float(row[3]), float(row[4]), float(row[5]))
    return LiveState(int(row[1]), int(row[0]), box, source(grant), ("proj_library", *key))


def tile_layer(entry: LayerEntry, live: LiveState) -> TileLayer:
    """The layer as the composite tile renders it."""
    return TileLayer(entry, live.mark, source=live.source, source_key=live.key)
