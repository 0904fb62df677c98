"""Preparing features for storage: 2D, reprojected, validated and repaired geometry; mapped attributes.

Everything here is vectorised (numpy / Arrow / shapely 2 / pandas) and database-free. Simple features are
certified and measured from their WKB (:mod:`layers.ingest.simple_features`); the others go through
shapely (:mod:`layers.ingest.repair`). A layer is prepared in batches (:class:`FeatureBatches`) so that
the database parses one batch while the next is prepared. Every feature that is repaired, skipped or
refused is named by its 1-based feature number in the report: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.catalog.model import LayerEntry, LayerKind
from layers.district import STORAGE_SRID
from layers.ingest.attributes import MappedAttributes, map_attributes
from layers.ingest.errors import IngestError
from layers.ingest.repair import prepare_geometries
from layers.ingest.simple_features import Candidates, find_candidates
from layers.ingest.wkb import arrow_buffer, plain_2d_wkb, transform_wkb, with_coordinates

MAX_LISTED_PROBLEMS = 200
BATCH_SIZE = 20_000

_TO_3857 = Transformer.from_crs(STORAGE_SRID, 3857, always_xy=True)


@dataclass
class PreparedFeatures:
    """One batch ready for COPY: geometry in the storage CRS and EPSG:3857 as WKB, attributes as JSON text."""

    fids: NDArray[np.int32]
    source_fids: pa.Array  # large_binary: UTF-8 text or null
    wkb_stored: pa.Array  # large_binary
    wkb_3857: pa.Array  # large_binary
    area_m2: NDArray[np.float64]
    length_m: NDArray[np.float64]
    vertices: NDArray[np.int64]
    props: pa.Array  # large_binary: UTF-8 JSON text
    extra: pa.Array | None  # large_binary UTF-8 JSON text; None when the source has no unknown column

    def __len__(self) -> int:
        return len(self.fids)


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

    wkb: pa.Array  # large_binary WKB, one value per source feature
    attributes: pd.DataFrame
    entry: LayerEntry
    to_storage: Transformer
    source_fids: pa.Array | None = None  # large_binary UTF-8 text or null
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
        self.wkb = _large_binary(self.wkb)
        if self.source_fids is None:
            self.source_fids = pa.nulls(len(self.wkb), pa.large_binary())
        self._source_fids = _large_binary(self.source_fids)
        self._reprojects = not self.to_storage.source_crs or not self.to_storage.source_crs.equals(
            self.to_storage.target_crs
        )
        self._mapped: MappedAttributes = map_attributes(self.attributes, self.entry)

    def __len__(self) -> int:
        return len(self.wkb)

    def __iter__(self) -> Iterator[PreparedFeatures]:
        # A small first batch, so the database starts parsing sooner: it is the slower side of the COPY.
        first = min(self.batch_size, max(1, self.batch_size // 8))
        bounds = [0, *range(first, len(self.wkb), self.batch_size), len(self.wkb)]
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            batch = self._prepare(start, stop)
            if batch is not None and len(batch):
                yield batch
        self._finish()

    def _prepare(self, start: int, stop: int) -> PreparedFeatures | None:
        raw = self.wkb.slice(start, stop - start)
        fast, fast_source_box = self._simple_features(raw)
        slow_rows = np.setdiff1d(np.arange(len(raw)), fast.rows, assume_unique=True)
        slow_raw = _objects(raw, slow_rows)
        geoms = shapely.from_wkb(slow_raw, on_invalid="ignore")
        self._widen_source_bounds(np.vstack((fast_source_box, shapely.bounds(geoms))))
        prepared = prepare_geometries(geoms, self.entry.kind, self.to_storage, numbers=slow_rows + start + 1)
        self._problems.extend(prepared.problems)
        refused = [p for p in self._problems if p["action"] == "refused"]
        if refused and not self.skip_invalid:
            return None  # nothing more is written; the remaining batches are only checked
        keep = np.flatnonzero(prepared.keep)
        kept = prepared.geoms[keep]
        passthrough = ~prepared.changed[keep] & plain_2d_wkb(slow_raw[keep])
        slow_stored = np.empty(len(keep), dtype=object)
        slow_stored[passthrough] = slow_raw[keep][passthrough]
        slow_stored[~passthrough] = shapely.to_wkb(kept[~passthrough])
        fast_rows = fast.rows
        in_order = bool(np.array_equal(fast_rows, np.arange(len(raw))))
        fast_stored = raw if in_order else raw.take(pa.array(fast_rows))
        if self._reprojects:
            fast_stored = with_coordinates(fast_stored, fast)
        fast_3857 = with_coordinates(fast_stored, fast.transformed(_TO_3857.transform))
        rows = np.concatenate((fast_rows, slow_rows[keep]))
        order = np.argsort(rows, kind="stable")
        area = np.full(len(rows), np.nan)
        length = np.full(len(rows), np.nan)
        if self.entry.kind is LayerKind.AREA:
            area = np.concatenate((fast.areas(), shapely.area(kept)))[order]
        elif self.entry.kind is LayerKind.LINE:
            length = shapely.length(kept)[order]
        vertices = np.concatenate((fast.counts, shapely.get_num_coordinates(kept)))[order]
        self._accumulate(np.vstack((fast.box(), shapely.bounds(kept))), area, length, vertices)
        rows = rows[order]
        props, extra = self._mapped.json_rows(start, stop, rows + start)
        return PreparedFeatures(
            fids=(rows + start + 1).astype(np.int32),
            source_fids=self._source_fids.take(pa.array(rows + start)),
            wkb_stored=_merged(fast_stored, slow_stored, order),
            wkb_3857=_merged(fast_3857, transform_wkb(slow_stored, _TO_3857), order),
            area_m2=area,
            length_m=length,
            vertices=vertices,
            props=props,
            extra=extra,
        )

    def _simple_features(self, raw: pa.Array) -> tuple[Candidates, NDArray[np.float64]]:
        """The batch's provably valid simple features (in the storage CRS) and their source box."""
        found = find_candidates(*arrow_buffer(raw), self.entry.kind).finite()
        source_box = found.box()
        if self._reprojects:
            found = found.transformed(self.to_storage.transform)
        # What GEOS would check: the geometry as stored (reprojected)
        return found.certified(), source_box

    def _widen_source_bounds(self, boxes: NDArray[np.float64]) -> None:
        """Widen by the batch's total bounds, unless they are not finite (as ``shapely.total_bounds``)."""
        box = _total(boxes)
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
        boxes: NDArray[np.float64],
        area: NDArray[np.float64],
        length: NDArray[np.float64],
        vertices: NDArray[np.int64],
    ) -> None:
        if len(vertices) == 0:
            return
        box = _total(boxes)
        old = self.bounds
        self.bounds = (
            float(min(old[0], box[0])),
            float(min(old[1], box[1])),
            float(max(old[2], box[2])),
            float(max(old[3], box[3])),
        )
        self.count += len(vertices)
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


def _total(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """The box around boxes, NaN boxes ignored (as ``shapely.total_bounds``)."""
    boxes = np.atleast_2d(boxes)
    if np.isnan(boxes).all():
        return np.full(4, np.nan)
    with np.errstate(invalid="ignore"):
        return np.concatenate((np.nanmin(boxes[:, :2], axis=0), np.nanmax(boxes[:, 2:], axis=0)))


def _objects(wkb: pa.Array, rows: NDArray[np.int64]) -> NDArray[np.object_]:
    """Some values of a WKB array as bytes objects (for shapely)."""
    if len(rows) == 0:
        return np.zeros(0, dtype=object)
    return np.asarray(wkb.take(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)


def _merged(fast: pa.Array, slow: NDArray[np.object_], order: NDArray[np.intp]) -> pa.Array:
    """The fast-path values followed by the others, put back into feature order."""
    both = fast if len(slow) == 0 else pa.concat_arrays([fast, pa.array(list(slow), pa.large_binary())])
    if np.array_equal(order, np.arange(len(order))):
        return both
    return both.take(pa.array(order))


def _large_binary(values: Any) -> pa.Array:
    """WKB or text values as one large_binary Arrow array (without nulls in WKB: they are b"")."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.large_binary())
    return values.cast(pa.large_binary())
