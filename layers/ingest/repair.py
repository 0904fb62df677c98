"""The shapely path for features that are not provably simple: 2D, reprojection, validity repair, kind.

Features the numpy fast path (:mod:`layers.ingest.simple_features`) cannot certify come here: they are
parsed into shapely geometries, forced to 2D, reprojected, checked with GEOS and repaired with
``make_valid`` (each repair reported with its feature number and GEOS's reason), and checked against the
layer's geometry kind (a repaired or collected geometry keeps its parts of the right kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.catalog.model import LayerKind

_KIND_TYPES: dict[LayerKind, tuple[int, ...]] = {
    # shapely type ids: 0 Point, 1 LineString, 2 LinearRing, 3 Polygon, 4 MultiPoint, 5 MultiLineString,
    # 6 MultiPolygon, 7 GeometryCollection
    LayerKind.AREA: (3, 6),
    LayerKind.LINE: (1, 5),
    LayerKind.POINT: (0, 4),
}
_KIND_ZH = {LayerKind.AREA: "面", LayerKind.LINE: "线", LayerKind.POINT: "点"}
_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


@dataclass
class Geometries:
    """A batch of geometries after 2D forcing, reprojection and repair."""

    geoms: NDArray[np.object_]
    keep: NDArray[np.bool_]
    changed: NDArray[np.bool_]  # no longer what the source WKB says (forced 2D, reprojected, repaired)
    problems: list[dict[str, Any]]


def _problem(number: int | np.integer[Any], code: str, zh: str, en: str, action: str) -> dict[str, Any]:
    return {"feature": int(number), "problem": code, "reason_zh": zh, "reason_en": en, "action": action}


def _keep_kind(geom: shapely.Geometry, kind: LayerKind) -> shapely.Geometry | None:
    """The parts of a (repaired) geometry that fit the layer kind, as one geometry, or None."""
    wanted = _KIND_TYPES[kind]
    parts = shapely.get_parts(geom)
    if kind is LayerKind.LINE:
        parts = np.array([shapely.LineString(p.coords) if p.geom_type == "LinearRing" else p for p in parts])
    types = shapely.get_type_id(parts)
    keep = parts[np.isin(types, wanted) & ~shapely.is_empty(parts)]
    if len(keep) == 0:
        return None
    if len(keep) == 1:
        return keep[0]
    if kind is LayerKind.AREA:
        return shapely.union_all(keep)
    if kind is LayerKind.LINE:
        return shapely.multilinestrings(list(keep))
    return shapely.multipoints(list(keep))


def prepare_geometries(
    geoms: NDArray[np.object_],
    kind: LayerKind,
    to_storage: Transformer,
    *,
    numbers: NDArray[np.int64] | None = None,
) -> Geometries:
    """Force 2D, reproject to the storage CRS, repair, check the kind; ``numbers`` are the feature numbers
    (1, 2, … when not given)."""
    n = len(geoms)
    number = np.arange(1, n + 1) if numbers is None else numbers
    problems: list[dict[str, Any]] = []
    keep = np.ones(n, dtype=bool)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    out = np.array(geoms, dtype=object)
    present = ~missing
    changed = np.zeros(n, dtype=bool)
    if shapely.has_z(out[present]).any():
        out[present] = shapely.force_2d(out[present])
        changed[present] = True
    if not to_storage.source_crs or not to_storage.source_crs.equals(to_storage.target_crs):
        out[present] = shapely.transform(
            out[present], lambda x, y: to_storage.transform(x, y), interleaved=False
        )
        changed[present] = True
    finite = present.copy()
    coords, owner = shapely.get_coordinates(out, return_index=True)
    finite[np.unique(owner[~np.isfinite(coords).all(axis=1)])] = False
    for i in np.flatnonzero(missing):
        problems.append(
            _problem(number[i], "empty_geometry", "几何为空", "empty or missing geometry", "refused")
        )
        keep[i] = False
    for i in np.flatnonzero(present & ~finite):
        problems.append(
            _problem(
                number[i], "bad_coordinates", "坐标无法转换", "coordinates cannot be reprojected", "refused"
            )
        )
        keep[i] = False
    check = keep.copy()
    invalid = np.zeros(n, dtype=bool)
    invalid[check] = ~shapely.is_valid(out[check])
    if invalid.any():
        reasons = shapely.is_valid_reason(out[invalid])
        repaired = shapely.make_valid(out[invalid])
        changed |= invalid
        for idx, reason, fixed in zip(np.flatnonzero(invalid), reasons, repaired, strict=True):
            out[idx] = fixed
            problems.append(
                _problem(
                    number[idx],
                    "repaired",
                    f"几何无效（{reason}），已修复",
                    f"invalid geometry ({reason}), repaired",
                    "repaired",
                )
            )
    types = np.full(n, -1)
    types[check] = shapely.get_type_id(out[check])
    wrong = check & ~np.isin(types, _KIND_TYPES[kind])
    for idx in np.flatnonzero(wrong):
        fitted = _keep_kind(out[idx], kind) if types[idx] == 7 or invalid[idx] else None
        if fitted is not None and not fitted.is_empty and fitted.is_valid:
            out[idx] = fitted
            changed[idx] = True
            continue
        found = _TYPE_NAMES.get(int(shapely.get_type_id(out[idx])), "?")
        problems.append(
            _problem(
                number[idx],
                "wrong_kind",
                f"几何类型不符：图层要求{_KIND_ZH[kind]}要素，实际为 {found}",
                f"wrong geometry kind: the layer needs {kind.value} features, got {found}",
                "refused",
            )
        )
        keep[idx] = False
    problems.sort(key=lambda p: p["feature"])
    return Geometries(out, keep, changed, problems)
