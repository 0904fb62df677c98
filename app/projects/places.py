"""Where a project lies: the sub-district (街道) of its current footprint on the base map.

A project's sub-district is the ``admin_subdistrict`` area its current footprint overlaps most (the
overlap summed over a sub-district's features, ties to the lower code); a footprint spanning several
sub-districts is counted once, in the largest. A project without a footprint, or whose footprint meets
no sub-district (or only along an edge), is not located (:data:`UNLOCATED`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import Connection

from layers.catalog.model import Catalog

SUBDISTRICT_LAYER, SUBDISTRICT_ATTRIBUTE = "admin_subdistrict", "subdistrict"
UNLOCATED = "unassigned"

_SUBDISTRICTS = """
SELECT f.project_id, best.code
FROM project.footprint f
LEFT JOIN LATERAL (
  SELECT s.props ->> %(attribute)s AS code
  FROM basemap.feature s
  WHERE s.version_id = %(version)s AND s.geom && f.geom AND ST_Intersects(s.geom, f.geom)
  GROUP BY 1
  HAVING sum(ST_Area(ST_Intersection(s.geom, f.geom))) > 0
  ORDER BY sum(ST_Area(ST_Intersection(s.geom, f.geom))) DESC, 1
  LIMIT 1
) best ON true
WHERE f.superseded_at IS NULL AND f.project_id = ANY(%(ids)s)
"""


def subdistricts_of(conn: Connection[Any], project_ids: Iterable[int]) -> dict[int, str]:
    """Project id → sub-district code of its current footprint, or :data:`UNLOCATED`."""
    ids = list(project_ids)
    # The version as a constant, so the planner prunes the feature table's partitions to that layer's:
    # joined through basemap.layer it probed every partition's index per footprint (6–7 s for the
    # district's 300 projects, 30 ms now).
    row = conn.execute(
        "SELECT current_version FROM basemap.layer WHERE code = %s", (SUBDISTRICT_LAYER,)
    ).fetchone()
    if row is None or row[0] is None:
        return dict.fromkeys(ids, UNLOCATED)
    found = dict(
        conn.execute(
            _SUBDISTRICTS,
            {"ids": ids, "version": row[0], "attribute": SUBDISTRICT_ATTRIBUTE},
        ).fetchall()
    )
    return {pid: found.get(pid) or UNLOCATED for pid in ids}


def subdistrict_labels(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """Sub-district code → (Chinese, English) name, from the catalog's code list."""
    entry = catalog.layers.get(SUBDISTRICT_LAYER)
    attributes = entry.attributes if entry else []
    attribute = next((a for a in attributes if a.name == SUBDISTRICT_ATTRIBUTE), None)
    codes = (attribute.codes if attribute else None) or []
    return {c.value: (c.label_zh, c.label_en or c.value) for c in codes}


def subdistrict_codes(catalog: Catalog) -> set[str]:
    """The codes a sub-district filter accepts: the catalog's, and :data:`UNLOCATED`."""
    return {*subdistrict_labels(catalog), UNLOCATED}
