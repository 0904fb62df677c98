"""Preparing features for storage: 2D, reprojected, validated and repaired geometry; mapped attributes.

Everything here is vectorised (shapely 2 / pandas / numpy) and database-free. A layer is prepared in
batches (:class:`FeatureBatches`) so that the database parses one batch while the next is prepared.
Every feature that is repaired, skipped or refused is named by its 1-based feature number in the
report: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.catalog.model import LayerEntry, LayerKind
from layers.ingest.attributes import MappedAttributes, map_attributes
from layers.ingest.errors import IngestError
from layers.ingest.wkb import plain_2d_wkb, transform_wkb

MAX_LISTED_PROBLEMS = 200
BATCH_SIZE = 20_000

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
_TO_3857 = Transformer.from_crs(4547, 3857, always_xy=True)


@dataclass
class PreparedFeatures:
    """One batch ready for COPY: geometry in EPSG:4547 and 3857 as WKB, attributes as JSON text."""

    fids: NDArray[np.int32]
    source_fids: NDArray[np.object_]  # UTF-8 text (bytes) or None
    wkb_4547: NDArray[np.object_]
    wkb_3857: NDArray[np.object_]
    area_m2: NDArray[np.float64]
    length_m: NDArray[np.float64]
    vertices: NDArray[np.int64]
    props: NDArray[np.object_]  # UTF-8 JSON text (bytes)
    extra: NDArray[np.object_]  # UTF-8 JSON text (bytes) or None

    def __len__(self) -> int:
        return len(self.fids)


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
    geoms: NDArray[np.object_], kind: LayerKind, to_storage: Transformer, *, first: int = 1
) -> Geometries:
    """Force 2D, reproject to EPSG:4547, repair, check the kind; features are numbered from ``first``."""
    n = len(geoms)
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
            _problem(i + first, "empty_geometry", "几何为空", "empty or missing geometry", "refused")
        )
        keep[i] = False
    for i in np.flatnonzero(present & ~finite):
        problems.append(
            _problem(
                i + first, "bad_coordinates", "坐标无法转换", "coordinates cannot be reprojected", "refused"
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
                    idx + first,
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
                idx + first,
                "wrong_kind",
                f"几何类型不符：图层要求{_KIND_ZH[kind]}要素，实际为 {found}",
                f"wrong geometry kind: the layer needs {kind.value} features, got {found}",
                "refused",
            )
        )
        keep[idx] = False
    problems.sort(key=lambda p: p["feature"])
    return Geometries(out, keep, changed, problems)


def refusal(refused: list[dict[str, Any]]) -> IngestError:
    """The error for features that cannot be stored (the caller did not ask to skip them)."""
    return IngestError(
        f"{len(refused)} 个要素无法入库（首个：第 {refused[0]['feature']} 个，"
        f"{refused[0]['reason_zh']}）；可修正后重新导入，或选择跳过无效要素。",
        f"{len(refused)} feature(s) cannot be stored (first: feature {refused[0]['feature']}, "
        f"{refused[0]['reason_en']}); fix them or ask to skip invalid features.",
        code="invalid_features",
        details=refused[:MAX_LISTED_PROBLEMS],
    )


@dataclass
class FeatureBatches:
    """A whole source layer, prepared batch by batch while it is being written.

    Iterate to get :class:`PreparedFeatures` batches; refused features raise :func:`refusal` (counting
    every refused feature of the layer first) unless ``skip_invalid``. After the iteration, ``report``,
    ``bounds``, ``count``, ``area_m2``, ``length_m`` and ``max_vertices`` describe what was prepared.
    """

    wkb: NDArray[np.object_]
    attributes: pd.DataFrame
    entry: LayerEntry
    to_storage: Transformer
    source_fids: NDArray[np.object_] | None = None
    skip_invalid: bool = False
    batch_size: int = BATCH_SIZE
    check_extent: Callable[[tuple[float, float, float, float]], None] | None = None
    source: dict[str, Any] | None = None  # described in the report
    report: dict[str, Any] = field(default_factory=dict)
    bounds: tuple[float, float, float, float] = (np.inf, np.inf, -np.inf, -np.inf)
    source_bounds: tuple[float, float, float, float] = (np.inf, np.inf, -np.inf, -np.inf)
    count: int = 0
    area_m2: float | None = None
    length_m: float | None = None
    max_vertices: int = 0
    _problems: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.entry.kind is LayerKind.RASTER:
            raise IngestError(
                "栅格图层不能导入矢量文件。",
                "A raster layer cannot take a vector file.",
                code="wrong_layer_kind",
            )
        if len(self.wkb) == 0:
            raise IngestError("文件中没有要素。", "The file has no features.", code="no_features")
        self._mapped: MappedAttributes = map_attributes(self.attributes, self.entry)

    def __len__(self) -> int:
        return len(self.wkb)

    def __iter__(self) -> Iterator[PreparedFeatures]:
        for start in range(0, len(self.wkb), self.batch_size):
            batch = self._prepare(start, min(start + self.batch_size, len(self.wkb)))
            if batch is not None and len(batch):
                yield batch
        self._finish()

    def _prepare(self, start: int, stop: int) -> PreparedFeatures | None:
        raw = self.wkb[start:stop]
        geoms = shapely.from_wkb(raw, on_invalid="ignore")
        self._widen_source_bounds(geoms)
        prepared = prepare_geometries(geoms, self.entry.kind, self.to_storage, first=start + 1)
        self._problems.extend(prepared.problems)
        refused = [p for p in self._problems if p["action"] == "refused"]
        if refused and not self.skip_invalid:
            return None  # nothing more is written; the remaining batches are only checked
        idx = np.flatnonzero(prepared.keep)
        kept = prepared.geoms[idx]
        passthrough = ~prepared.changed[idx] & plain_2d_wkb(raw[idx])
        wkb_4547 = np.empty(len(idx), dtype=object)
        wkb_4547[passthrough] = raw[idx][passthrough]
        wkb_4547[~passthrough] = shapely.to_wkb(kept[~passthrough])
        area = shapely.area(kept) if self.entry.kind is LayerKind.AREA else np.full(len(idx), np.nan)
        length = shapely.length(kept) if self.entry.kind is LayerKind.LINE else np.full(len(idx), np.nan)
        vertices = shapely.get_num_coordinates(kept)
        self._accumulate(kept, area, length, vertices)
        props, extra = self._mapped.json_rows(idx + start)
        return PreparedFeatures(
            fids=(idx + start + 1).astype(np.int32),
            source_fids=(
                self.source_fids[idx + start]
                if self.source_fids is not None
                else np.full(len(idx), None, dtype=object)
            ),
            wkb_4547=wkb_4547,
            wkb_3857=transform_wkb(wkb_4547, _TO_3857),
            area_m2=area,
            length_m=length,
            vertices=vertices,
            props=props,
            extra=extra,
        )

    def _widen_source_bounds(self, geoms: NDArray[np.object_]) -> None:
        box = shapely.total_bounds(geoms)
        if np.isfinite(box).all():
            old = self.source_bounds
            self.source_bounds = (
                min(old[0], box[0]),
                min(old[1], box[1]),
                max(old[2], box[2]),
                max(old[3], box[3]),
            )

    def _accumulate(
        self,
        kept: NDArray[np.object_],
        area: NDArray[np.float64],
        length: NDArray[np.float64],
        vertices: NDArray[np.int64],
    ) -> None:
        if len(kept) == 0:
            return
        box = shapely.total_bounds(kept)
        old = self.bounds
        self.bounds = (
            float(min(old[0], box[0])),
            float(min(old[1], box[1])),
            float(max(old[2], box[2])),
            float(max(old[3], box[3])),
        )
        self.count += len(kept)
        if not np.isnan(area).all():
            self.area_m2 = (self.area_m2 or 0.0) + float(np.nansum(area))
        if not np.isnan(length).all():
            self.length_m = (self.length_m or 0.0) + float(np.nansum(length))
        self.max_vertices = max(self.max_vertices, int(vertices.max()))

    def _finish(self) -> None:
        if self.check_extent is not None and np.isfinite(self.source_bounds).all():
            self.check_extent(self.source_bounds)
        problems = self._problems
        refused = [p for p in problems if p["action"] == "refused"]
        if refused and not self.skip_invalid:
            raise refusal(refused)
        for p in refused:
            p["action"] = "skipped"
        if self.count == 0:
            raise IngestError(
                "没有可入库的要素。",
                "No feature can be stored.",
                code="no_features",
                details=problems[:MAX_LISTED_PROBLEMS],
            )
        repaired = [p for p in problems if p["action"] == "repaired"]
        skipped = [p for p in problems if p["action"] == "skipped"]
        self.report = {
            **self._mapped.report,
            "source_features": len(self.wkb),
            "stored_features": self.count,
            "repaired": repaired[:MAX_LISTED_PROBLEMS],
            "skipped": skipped[:MAX_LISTED_PROBLEMS],
            "repaired_count": len(repaired),
            "skipped_count": len(skipped),
        }
        if self.source is not None:
            self.report["source"] = self.source
