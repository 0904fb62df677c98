"""A layer version's coverage: the area its data answers for ("no feature there" means "no conflict").

Every version stores one (``basemap.layer_version.coverage``, migration 0010): the whole district by
default; a partial survey's lon/lat box when its catalog entry declares ``coverage_box``; or a polygon
file given at import (:mod:`layers.ingest.coverage_file`). The district is the extent of the district
block in CGCS2000 lon/lat with its edges densified to 0.01° before projecting, computed by PostGIS in the
statement that stores it (as migration 0010 did for the versions before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from layers.catalog.model import LayerEntry
from layers.district import DISTRICT, STORAGE_SRID

CoverageSource = Literal["district", "catalog", "declared"]

# The coverage statement's parameters are the lon/lat box (CGCS2000), or a declared polygon's WKB.
COVERAGE_SQL = (
    "CASE WHEN %(coverage_wkb)s::bytea IS NULL"
    " THEN ST_Multi(ST_Transform(ST_Segmentize("
    "ST_MakeEnvelope(%(cw)s, %(cs)s, %(ce)s, %(cn)s, 4490), 0.01), %(srid)s))"
    " ELSE ST_Multi(ST_GeomFromWKB(%(coverage_wkb)s::bytea, %(srid)s)) END"
)


@dataclass(frozen=True)
class Coverage:
    """The coverage to store with a new version: a lon/lat box, or a polygon (WKB, storage CRS)."""

    source: CoverageSource
    box: tuple[float, float, float, float] = DISTRICT.extent
    wkb: bytes | None = None

    def params(self) -> dict[str, object]:
        """The parameters of :data:`COVERAGE_SQL`."""
        west, south, east, north = self.box
        return {
            "coverage_wkb": self.wkb,
            "cw": west,
            "cs": south,
            "ce": east,
            "cn": north,
            "srid": STORAGE_SRID,
        }


def default_coverage(entry: LayerEntry) -> Coverage:
    """The coverage of a version whose import declares none: the catalog's box, else the district."""
    if entry.coverage_box is not None:
        return Coverage("catalog", entry.coverage_box)
    return Coverage("district")


def box_coverage(box: tuple[float, float, float, float]) -> Coverage:
    """A declared lon/lat box (a partial survey known by its bounds, e.g. the demo's small window)."""
    return Coverage("declared", box)
