"""Preparing features for storage: 2D, reprojected, validated and repaired geometry; mapped attributes.

Everything here is vectorised (shapely 2 / pandas) and database-free. Every feature that is repaired,
skipped or refused is named by its 1-based feature number in the report: nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.catalog.model import Attribute, AttributeType, LayerEntry, LayerKind
from layers.ingest.errors import IngestError

MAX_LISTED_PROBLEMS = 200

_KIND_TYPES: dict[LayerKind, tuple[int, ...]] = {
    # shapely type ids: 0 Point, 1 LineString, 2 LinearRing, 3 Polygon, 4 MultiPoint, 5 MultiLineString,
    # 6 MultiPolygon, 7 GeometryCollection
    LayerKind.AREA: (3, 6),
    LayerKind.LINE: (1, 5),
    LayerKind.POINT: (0, 4),
}
_KIND_ZH = {LayerKind.AREA: "面", LayerKind.LINE: "线", LayerKind.POINT: "点"}


@dataclass
class PreparedFeatures:
    """Features ready for COPY: geometry in EPSG:4547 and 3857 as WKB, attributes as JSON text."""

    fids: NDArray[np.int32]
    source_fids: list[str | None]
    wkb_4547: NDArray[np.object_]
    wkb_3857: NDArray[np.object_]
    area_m2: NDArray[np.float64]
    length_m: NDArray[np.float64]
    vertices: NDArray[np.int64]
    props: list[str]
    extra: list[str | None]
    bounds: tuple[float, float, float, float]
    report: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.fids)


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
    geoms: NDArray[np.object_], kind: LayerKind, to_storage: Transformer, *, skip_invalid: bool
) -> tuple[NDArray[np.object_], NDArray[np.bool_], list[dict[str, Any]]]:
    """Force 2D, reproject to EPSG:4547, repair; return geometries, the kept mask and the problems."""
    n = len(geoms)
    problems: list[dict[str, Any]] = []
    keep = np.ones(n, dtype=bool)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    out = np.array(geoms, dtype=object)
    present = ~missing
    if shapely.has_z(out[present]).any():
        out[present] = shapely.force_2d(out[present])
    if not to_storage.source_crs or not to_storage.source_crs.equals(to_storage.target_crs):
        out[present] = shapely.transform(
            out[present], lambda x, y: to_storage.transform(x, y), interleaved=False
        )
    finite = present.copy()
    coords, owner = shapely.get_coordinates(out, return_index=True)
    finite[np.unique(owner[~np.isfinite(coords).all(axis=1)])] = False
    for i in np.flatnonzero(missing):
        problems.append(_problem(i + 1, "empty_geometry", "几何为空", "empty or missing geometry", "refused"))
        keep[i] = False
    for i in np.flatnonzero(present & ~finite):
        problems.append(
            _problem(i + 1, "bad_coordinates", "坐标无法转换", "coordinates cannot be reprojected", "refused")
        )
        keep[i] = False
    check = keep.copy()
    invalid = np.zeros(n, dtype=bool)
    invalid[check] = ~shapely.is_valid(out[check])
    if invalid.any():
        reasons = shapely.is_valid_reason(out[invalid])
        repaired = shapely.make_valid(out[invalid])
        for idx, reason, fixed in zip(np.flatnonzero(invalid), reasons, repaired, strict=True):
            out[idx] = fixed
            problems.append(
                _problem(
                    idx + 1,
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
            continue
        found = _TYPE_NAMES.get(int(shapely.get_type_id(out[idx])), "?")
        problems.append(
            _problem(
                idx + 1,
                "wrong_kind",
                f"几何类型不符：图层要求{_KIND_ZH[kind]}要素，实际为 {found}",
                f"wrong geometry kind: the layer needs {kind.value} features, got {found}",
                "refused",
            )
        )
        keep[idx] = False
    refused = [p for p in problems if p["action"] == "refused"]
    if refused and not skip_invalid:
        raise IngestError(
            f"{len(refused)} 个要素无法入库（首个：第 {refused[0]['feature']} 个，"
            f"{refused[0]['reason_zh']}）；可修正后重新导入，或选择跳过无效要素。",
            f"{len(refused)} feature(s) cannot be stored (first: feature {refused[0]['feature']}, "
            f"{refused[0]['reason_en']}); fix them or ask to skip invalid features.",
            code="invalid_features",
            details=refused[:MAX_LISTED_PROBLEMS],
        )
    for p in refused:
        p["action"] = "skipped"
    return out, keep, problems


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


def _column_lookup(entry: LayerEntry) -> dict[str, Attribute]:
    lookup: dict[str, Attribute] = {}
    for attr in entry.attributes:
        for key in (attr.name, attr.label_zh, attr.label_en):
            if key:
                lookup.setdefault(key.strip().lower(), attr)
    return lookup


_TRUTH = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "是"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "否"), False),
}


def _as_text(values: pd.Series) -> pd.Series:
    """Column values as stripped text (integral floats without ".0"), None where missing or blank."""
    if pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
        text = values.astype("Int64").astype("string")
    else:
        text = values.astype("string").str.strip()
    return text.where(text.notna() & (text != ""), None).astype(object)


def _convert(values: pd.Series, attr: Attribute) -> tuple[pd.Series, pd.Series]:
    """Convert a column to the attribute's type (vectorised); return the values and the rejected mask."""
    if attr.type in (AttributeType.INTEGER, AttributeType.NUMBER):
        num = pd.to_numeric(values, errors="coerce")
        if attr.type is AttributeType.INTEGER:
            num = num.where((num % 1) == 0)
            converted = num.astype("Int64").astype(object).where(num.notna(), None)
        else:
            converted = num.astype(object).where(num.notna(), None)
        present = values.notna() if values.dtype != object else _as_text(values).notna()
        return converted, present & num.isna()
    text = _as_text(values)
    present = text.notna()
    if attr.type is AttributeType.TEXT:
        return text, pd.Series(False, index=values.index)
    if attr.type is AttributeType.DATE:
        parsed = pd.to_datetime(values, errors="coerce")
        converted = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None)
        return converted.astype(object), present & parsed.isna()
    lowered = text.astype("string").str.lower()
    if attr.type is AttributeType.BOOLEAN:
        converted = lowered.map(_TRUTH).astype(object)
    else:  # code: a value, or its Chinese or English label
        labels: dict[str, str] = {}
        for c in attr.codes or []:
            labels[c.value.lower()] = c.value
            labels[c.label_zh.lower()] = c.value
            if c.label_en:
                labels[c.label_en.lower()] = c.value
        converted = lowered.map(labels).astype(object)
    converted = converted.where(converted.notna(), None)
    return converted, present & converted.isna()


def _code_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() or None


def map_attributes(
    frame: pd.DataFrame, entry: LayerEntry
) -> tuple[list[str], list[str | None], dict[str, Any]]:
    """Map source columns to the catalog schema; unknown columns go to ``extra``; problems are reported."""
    lookup = _column_lookup(entry)
    mapped: dict[str, str] = {}
    unknown: list[str] = []
    for column in frame.columns:
        attr = lookup.get(str(column).strip().lower())
        if attr is not None and attr.name not in mapped.values():
            mapped[str(column)] = attr.name
        else:
            unknown.append(str(column))
    out = pd.DataFrame(index=frame.index)
    invalid: list[dict[str, Any]] = []
    for column, name in mapped.items():
        attr = entry.attribute(name)
        assert attr is not None
        values, rejected = _convert(frame[column], attr)
        out[name] = values
        if rejected.any():
            rows = np.flatnonzero(rejected.to_numpy())
            invalid.append(
                {
                    "attribute": name,
                    "column": column,
                    "count": int(len(rows)),
                    "examples": [
                        {"feature": int(r) + 1, "value": str(frame[column].iloc[r])} for r in rows[:10]
                    ],
                }
            )
    missing_required = [a.name for a in entry.attributes if a.required and a.name not in out.columns]
    null_required = {
        a.name: int(out[a.name].isna().sum())
        for a in entry.attributes
        if a.required and a.name in out.columns and out[a.name].isna().any()
    }
    props = _records_json(out)
    extra = _records_json(frame[unknown]) if unknown else [None] * len(frame)
    report = {
        "mapped_columns": mapped,
        "unknown_columns": unknown,
        "missing_required": missing_required,
        "null_required": null_required,
        "invalid_values": invalid,
    }
    return props, extra, report


def _records_json(frame: pd.DataFrame) -> list[Any]:
    """One JSON object per row (pandas' C encoder), Chinese kept as is, dates as ISO 8601."""
    if frame.shape[1] == 0:
        return ["{}"] * len(frame)
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        kind = pd.api.types.infer_dtype(frame[column], skipna=True)
        if frame[column].dtype == object and kind not in (
            "string",
            "empty",
            "integer",
            "floating",
            "boolean",
        ):
            frame[column] = frame[column].map(_plain)
    text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    return text.splitlines()


def _plain(value: Any) -> Any:
    """Values pandas cannot encode as JSON (bytes, dates, times) as text."""
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


_TO_3857 = Transformer.from_crs(4547, 3857, always_xy=True)


def prepare_features(
    geoms: NDArray[np.object_],
    attributes: pd.DataFrame,
    entry: LayerEntry,
    to_storage: Transformer,
    *,
    source_fids: list[str | None] | None = None,
    skip_invalid: bool = False,
) -> PreparedFeatures:
    """Geometry and attributes of a whole source layer, ready for COPY, with the report."""
    if entry.kind is LayerKind.RASTER:
        raise IngestError(
            "栅格图层不能导入矢量文件。", "A raster layer cannot take a vector file.", code="wrong_layer_kind"
        )
    if len(geoms) == 0:
        raise IngestError("文件中没有要素。", "The file has no features.", code="no_features")
    geoms, keep, problems = prepare_geometries(geoms, entry.kind, to_storage, skip_invalid=skip_invalid)
    props, extra, attr_report = map_attributes(attributes.reset_index(drop=True), entry)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        raise IngestError(
            "没有可入库的要素。",
            "No feature can be stored.",
            code="no_features",
            details=problems[:MAX_LISTED_PROBLEMS],
        )
    kept = geoms[idx]
    in_3857 = shapely.transform(kept, lambda x, y: _TO_3857.transform(x, y), interleaved=False)
    xmin, ymin, xmax, ymax = shapely.total_bounds(kept)
    report = {
        **attr_report,
        "source_features": int(len(geoms)),
        "stored_features": int(len(idx)),
        "repaired": [p for p in problems if p["action"] == "repaired"][:MAX_LISTED_PROBLEMS],
        "skipped": [p for p in problems if p["action"] == "skipped"][:MAX_LISTED_PROBLEMS],
        "repaired_count": sum(p["action"] == "repaired" for p in problems),
        "skipped_count": sum(p["action"] == "skipped" for p in problems),
    }
    fids_source = source_fids or [None] * len(geoms)
    return PreparedFeatures(
        fids=(idx + 1).astype(np.int32),
        source_fids=[fids_source[i] for i in idx],
        wkb_4547=shapely.to_wkb(kept),
        wkb_3857=shapely.to_wkb(in_3857),
        area_m2=shapely.area(kept) if entry.kind is LayerKind.AREA else np.full(len(idx), np.nan),
        length_m=shapely.length(kept) if entry.kind is LayerKind.LINE else np.full(len(idx), np.nan),
        vertices=shapely.get_num_coordinates(kept),
        props=[props[i] for i in idx],
        extra=[extra[i] for i in idx],
        bounds=(float(xmin), float(ymin), float(xmax), float(ymax)),
        report=report,
    )
