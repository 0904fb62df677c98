"""An independent check of a report's figures: every finding's overlap and share recomputed with shapely
from its features' geometries, as the OGC API serves them (used by a test on the `small` demo and by
``bench/figures.py`` on the `district` one).

The engine measures subdivided parts of the check index; this side reads each whole feature through
``/ogc/collections/{layer}/items/{fid}`` in EPSG:4547 and intersects the union of a finding's features
with the footprint — different code, different geometry source, the same answer to 0.01 m².
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import shapely
import shapely.affinity
from fastapi.testclient import TestClient

from analysis.report import Report
from analysis.rules.schema import Grade

EPSG4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"
TOLERANCE_M2 = 0.01
FeatureOf = Callable[[str, int], shapely.Geometry]
Bounds = tuple[float, float, float, float]


def random_footprints(
    rng: np.random.Generator,
    bounds: Bounds,
    n: int,
    area_range: tuple[float, float],
) -> list[shapely.Geometry]:
    """``n`` rotated rectangles of an area in ``area_range`` (m²) wholly inside ``bounds``."""
    x0, y0, x1, y1 = bounds
    out: list[shapely.Geometry] = []
    while len(out) < n:
        area, ratio = rng.uniform(*area_range), rng.uniform(0.5, 2.0)
        w, h = (area * ratio) ** 0.5, (area / ratio) ** 0.5
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        geom = shapely.affinity.rotate(box, rng.uniform(0, 90))
        gx0, gy0, gx1, gy1 = geom.bounds
        if gx0 >= x0 and gy0 >= y0 and gx1 <= x1 and gy1 <= y1:
            out.append(geom)
    return out


class OgcFeatures:
    """Feature geometries in EPSG:4547 read through the OGC API (each feature once); the few layers the
    API does not publish (compensation zones) are read from the stored current version instead."""

    def __init__(self, client: TestClient, headers: dict[str, str], conn: psycopg.Connection[Any]) -> None:
        self.client, self.headers, self.conn = client, headers, conn
        self.cache: dict[tuple[str, int], shapely.Geometry] = {}
        self.unpublished: set[str] = set()

    def __call__(self, layer: str, fid: int) -> shapely.Geometry:
        """The feature's geometry, easting first (EPSG:4547 serves northing first)."""
        key = (layer, fid)
        if key not in self.cache:
            self.cache[key] = (
                self._stored(layer, fid) if layer in self.unpublished else self._served(layer, fid)
            )
        return self.cache[key]

    def prefetch(self, layer: str, fids: list[int], bounds: Bounds) -> None:
        """Read every feature of ``layer`` whose box meets ``bounds`` in one request when several of
        ``fids`` are not read yet (a large footprint meets thousands of buildings: one request each
        would take minutes)."""
        if layer in self.unpublished or sum((layer, fid) not in self.cache for fid in fids) < 2:
            return
        x0, y0, x1, y1 = bounds
        params = {"crs": EPSG4547, "bbox-crs": EPSG4547, "bbox": f"{y0},{x0},{y1},{x1}", "limit": "10000"}
        r = self.client.get(f"/ogc/collections/{layer}/items", params=params, headers=self.headers)
        if r.status_code == 404:
            self.unpublished.add(layer)
            return
        assert r.status_code == 200, (layer, r.text)
        body = r.json()
        for item in body["features"]:
            geometry = shapely.geometry.shape(item["geometry"])
            self.cache[(layer, item["id"])] = shapely.transform(geometry, lambda xy: xy[:, ::-1])

    def _served(self, layer: str, fid: int) -> shapely.Geometry:
        url = f"/ogc/collections/{layer}/items/{fid}"
        r = self.client.get(url, params={"crs": EPSG4547}, headers=self.headers)
        if r.status_code == 404 and r.json()["message_en"].startswith("No feature collection"):
            self.unpublished.add(layer)
            return self._stored(layer, fid)
        assert r.status_code == 200, (layer, fid, r.text)
        geometry = shapely.geometry.shape(r.json()["geometry"])
        return shapely.transform(geometry, lambda xy: xy[:, ::-1])

    def _stored(self, layer: str, fid: int) -> shapely.Geometry:
        row = self.conn.execute(
            "SELECT ST_AsBinary(f.geom) FROM basemap.feature f JOIN basemap.layer l"
            " ON l.current_version = f.version_id WHERE l.code = %s AND f.fid = %s",
            (layer, fid),
        ).fetchone()
        assert row is not None, (layer, fid)
        return shapely.from_wkb(row[0])


def _covered(fp: shapely.Geometry, geometries: list[shapely.Geometry]) -> float:
    return float(shapely.intersection(fp, shapely.union_all(geometries)).area) if geometries else 0.0


def problems(report: Report, fp: shapely.Geometry, feature: FeatureOf) -> list[str]:
    """Where the report's figures differ from the independent ones (empty when they all agree)."""
    found: list[str] = []
    area = float(fp.area)
    by_grade: dict[Grade, list[shapely.Geometry]] = {Grade.PROHIBITED: [], Grade.CONDITIONAL: []}
    for finding in report.findings:
        if finding.overlap_m2 is None or not finding.features:
            continue  # a line or point layer, or terrain (a raster, not features)
        if isinstance(feature, OgcFeatures):
            feature.prefetch(finding.layer, [hit.fid for hit in finding.features], fp.bounds)
        geometries = [feature(finding.layer, hit.fid) for hit in finding.features]
        for hit, geometry in zip(finding.features, geometries, strict=True):
            own = float(shapely.intersection(fp, geometry).area)
            if abs((hit.overlap_m2 or 0.0) - own) > TOLERANCE_M2:
                found.append(f"{finding.rule_id} fid {hit.fid}: {hit.overlap_m2} ≠ {own}")
        expected = _covered(fp, geometries)
        if abs(finding.overlap_m2 - expected) > TOLERANCE_M2:
            found.append(f"{finding.rule_id}: overlap {finding.overlap_m2} ≠ {expected}")
        share = 100 * expected / area
        if finding.share_pct is None or abs(finding.share_pct - share) > 1e-4 + 100 * TOLERANCE_M2 / area:
            found.append(f"{finding.rule_id}: share {finding.share_pct} ≠ {share}")
        if finding.share_pct is not None and finding.share_pct > 100:
            found.append(f"{finding.rule_id}: share {finding.share_pct} > 100")
        if finding.grade in by_grade:
            by_grade[finding.grade] += geometries
    prohibited = _covered(fp, by_grade[Grade.PROHIBITED])
    if abs(report.prohibited_area_m2() - prohibited) > TOLERANCE_M2:
        found.append(f"prohibited {report.prohibited_area_m2()} ≠ {prohibited}")
    if report.prohibited_area_m2() + report.buildable.area_m2 > report.footprint_area_m2 + TOLERANCE_M2:
        found.append("prohibited + buildable > footprint")
    assert report.conditional is not None
    terrain = any(f.grade is Grade.CONDITIONAL and not f.features for f in report.findings)
    conditional = _covered(fp, by_grade[Grade.CONDITIONAL])
    if not terrain and abs(report.conditional.area_m2 - conditional) > TOLERANCE_M2:
        found.append(f"conditional {report.conditional.area_m2} ≠ {conditional}")
    if report.conditional.area_m2 > report.footprint_area_m2 + TOLERANCE_M2:
        found.append("conditional > footprint")
    return found


def check_all(
    evaluate: Callable[[shapely.Geometry], Report],
    footprints: list[shapely.Geometry],
    feature: FeatureOf,
) -> tuple[int, list[str]]:
    """Check every footprint's report; the number of findings checked and every problem found."""
    checked, found = 0, []
    for index, fp in enumerate(footprints):
        report = evaluate(fp)
        checked += sum(1 for f in report.findings if f.overlap_m2 is not None and f.features)
        found += [f"footprint {index}: {problem}" for problem in problems(report, fp, feature)]
    return checked, found
