"""The numpy fast path for simple features gives exactly what the shapely path gives, feature by feature."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from pyproj import Transformer

from layers.catalog.model import get_catalog
from layers.ingest import prepare
from layers.ingest.crs import transformer_to_storage
from layers.ingest.errors import IngestError
from layers.ingest.prepare import FeatureBatches
from layers.ingest.simple_features import Candidates, find_candidates
from layers.ingest.wkb import arrow_buffer
from layers.store.payload import copy_rows

X0, Y0 = 520_000.0, 2_510_000.0
STORAGE = transformer_to_storage(Transformer.from_crs(4547, 4547).source_crs)


def _ring_wkb(coords: list[tuple[float, float]], multi: bool = False) -> bytes:
    """A one-ring polygon written by hand (so unclosed rings and odd values can be made)."""
    body = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(coords))
    body += b"".join(struct.pack("<dd", x, y) for x, y in coords)
    return struct.pack("<BII", 1, 6, 1) + body if multi else body


def _square(x: float, y: float, size: float = 10.0) -> list[tuple[float, float]]:
    return [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]


def _area_samples() -> list[Any]:
    """Valid, invalid, near-degenerate and structurally different polygons (and other kinds)."""
    rng = np.random.default_rng(3)
    samples: list[Any] = [
        _ring_wkb(_square(X0, Y0)),
        _ring_wkb(_square(X0 + 20, Y0), multi=True),
        _ring_wkb(_square(X0, Y0)[::-1]),  # clockwise
        _ring_wkb([(X0, Y0), (X0 + 5, Y0 + 9), (X0 + 9, Y0), (X0, Y0)]),  # triangle
        # L-shaped (non-convex) footprint
        _ring_wkb(
            [
                (X0, Y0),
                (X0 + 20, Y0),
                (X0 + 20, Y0 + 5),
                (X0 + 5, Y0 + 5),
                (X0 + 5, Y0 + 20),
                (X0, Y0 + 20),
                (X0, Y0),
            ]
        ),
        _ring_wkb([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10), (X0, Y0)]),  # bow-tie
        _ring_wkb([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0, Y0)]),  # repeated point
        _ring_wkb([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0 + 10, Y0 + 10), (X0, Y0)]),  # collinear
        _ring_wkb([(X0, Y0), (X0 + 10, Y0), (X0 + 5, Y0), (X0 + 5, Y0 + 5), (X0, Y0)]),  # spike
        _ring_wkb([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0, Y0)]),  # flat
        _ring_wkb(_square(X0, Y0)[:-1]),  # unclosed
        _ring_wkb([(X0, Y0), (X0 + 10, Y0), (X0, Y0)]),  # too few points
        # ring touching itself at a vertex (an "inverted" ring: invalid for GEOS)
        _ring_wkb([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0 + 5, Y0), (X0, Y0 + 10), (X0, Y0)]),
        _ring_wkb([(X0, Y0), (X0 + 1e-9, Y0 + 1e-9), (X0 + 2e-9, Y0 + 2.000000001e-9), (X0, Y0)]),  # sliver
        _ring_wkb([(X0, Y0), (np.nan, Y0), (X0 + 10, Y0 + 10), (X0, Y0)]),
        _ring_wkb([(X0, Y0), (np.inf, Y0), (X0 + 10, Y0 + 10), (X0, Y0)]),
        shapely.to_wkb(shapely.box(X0, Y0, X0 + 10, Y0 + 10), byte_order=0),  # big-endian
        shapely.to_wkb(
            shapely.box(X0, Y0, X0 + 10, Y0 + 10).difference(shapely.box(X0 + 2, Y0 + 2, X0 + 3, Y0 + 3))
        ),
        shapely.to_wkb(
            shapely.MultiPolygon(
                [shapely.box(X0, Y0, X0 + 1, Y0 + 1), shapely.box(X0 + 5, Y0, X0 + 7, Y0 + 2)]
            )
        ),
        shapely.to_wkb(shapely.force_3d(shapely.box(X0, Y0, X0 + 10, Y0 + 10))),
        shapely.to_wkb(shapely.Point(X0, Y0)),
        shapely.to_wkb(shapely.Point(X0, Y0).buffer(50, quad_segs=16)),  # 65 points: beyond the fast path
        shapely.to_wkb(shapely.Point(X0, Y0).buffer(50, quad_segs=4)),  # 17 points
        None,
        b"\x01\x03\x00",  # truncated
    ]
    for _ in range(300):  # random small rings, most of them self-intersecting
        k = int(rng.integers(3, 9))
        pts = [(X0 + float(x), Y0 + float(y)) for x, y in rng.uniform(0, 30, (k, 2))]
        samples.append(_ring_wkb([*pts, pts[0]], multi=bool(rng.integers(0, 2))))
    return samples


def _run(wkb: list[Any], layer: str, to_storage: Any, *, fast: bool, monkeypatch: Any) -> dict[str, Any]:
    """What a layer import prepares from these values: the COPY payload, the report and the totals."""
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(prepare, "find_candidates", lambda *args: Candidates([]))
        features = FeatureBatches(
            pa.array(wkb, pa.large_binary()),
            pd.DataFrame({"name": [f"n{i}" for i in range(len(wkb))]}),
            get_catalog().get(layer),
            to_storage,
            skip_invalid=True,
            batch_size=37,
        )
        try:
            payload = b"".join(bytes(copy_rows(5, batch)) for batch in features)
        except IngestError as exc:
            return {"error": exc.code, "details": exc.details}
        return {
            "payload": payload,
            "report": features.report,
            "bounds": features.bounds,
            "source_bounds": features.source_bounds,
            "totals": (features.count, features.area_m2, features.length_m, features.max_vertices),
        }


@pytest.mark.parametrize("source_epsg", [4547, 4490])
def test_fast_path_prepares_exactly_what_shapely_prepares(source_epsg: int, monkeypatch: Any) -> None:
    samples = _area_samples()
    to_storage = transformer_to_storage(Transformer.from_crs(source_epsg, 4547).source_crs)
    if source_epsg != 4547:  # the same shapes, written in the source CRS
        back = Transformer.from_crs(4547, source_epsg, always_xy=True)
        samples = [
            s
            if s is None or len(s) < 9
            else shapely.to_wkb(
                shapely.transform(
                    shapely.from_wkb(s, on_invalid="ignore"),
                    lambda x, y: back.transform(x, y),
                    interleaved=False,
                )
            )
            if shapely.from_wkb(s, on_invalid="ignore") is not None
            else s
            for s in samples
        ]
    found = find_candidates(
        *arrow_buffer(pa.array(samples, pa.large_binary())), get_catalog().get("cur_building").kind
    )
    assert len(found.finite().certified().rows) > 50  # the fast path is taken by many of them
    slow = _run(samples, "cur_building", to_storage, fast=False, monkeypatch=monkeypatch)
    fast = _run(samples, "cur_building", to_storage, fast=True, monkeypatch=monkeypatch)
    assert "payload" in slow and slow["report"]["repaired_count"] > 50 and slow["report"]["skipped_count"] > 5
    assert fast == slow


def test_fast_path_points_and_lines(monkeypatch: Any) -> None:
    points = [shapely.to_wkb(shapely.Point(X0 + i, Y0 + i)) for i in range(50)]
    points += [
        shapely.to_wkb(shapely.Point(X0, np.nan)),
        shapely.to_wkb(shapely.LineString([(X0, Y0), (X0 + 1, Y0)])),
    ]
    for layer, values in (("cur_poi", points), ("sp_road_redline", points[-1:] * 3)):
        slow = _run(values, layer, STORAGE, fast=False, monkeypatch=monkeypatch)
        assert _run(values, layer, STORAGE, fast=True, monkeypatch=monkeypatch) == slow


def test_certified_rings_are_valid_for_geos() -> None:
    rng = np.random.default_rng(11)
    rings = []
    for _ in range(4000):
        k = int(rng.integers(3, 12))
        scale = 10.0 ** float(rng.uniform(-9, 3))  # down to slivers where the filter must give up
        pts = rng.uniform(0, 1, (k, 2)) * scale + np.array([X0, Y0])
        if rng.integers(0, 3) == 0:  # convex ones, so that many are certified
            hull = shapely.convex_hull(shapely.multipoints(pts))
            if hull.geom_type != "Polygon":
                continue
            pts = np.asarray(hull.exterior.coords)[:-1]
        rings.append(_ring_wkb([*map(tuple, pts), tuple(pts[0])]))
    wkb = pa.array(rings, pa.large_binary())
    found = find_candidates(*arrow_buffer(wkb), get_catalog().get("cur_building").kind).certified()
    certified = np.zeros(len(rings), dtype=bool)
    certified[found.rows] = True
    valid = shapely.is_valid(shapely.from_wkb(rings))
    assert certified.sum() > 1000
    assert not (certified & ~valid).any()
