"""Attribute mapping to the catalog schema: column matching, typed conversion, JSON encoding.

Conversion runs once on the whole layer (vectorised pandas); JSON text is produced batch by batch so the
encoding of one batch overlaps the database's parsing of the previous one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from layers.catalog.model import Attribute, AttributeType, LayerEntry


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
    return text.where(text.notna() & (text != ""), None)


def _convert(values: pd.Series, attr: Attribute) -> tuple[pd.Series, pd.Series]:
    """Convert a column to the attribute's type (vectorised); return the values and the rejected mask."""
    if attr.type in (AttributeType.INTEGER, AttributeType.NUMBER):
        num = pd.to_numeric(values, errors="coerce")
        if attr.type is AttributeType.INTEGER:
            num = num.where((num % 1) == 0)
            converted = num.astype("Int64")
        else:
            converted = num.astype("float64")
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


@dataclass
class MappedAttributes:
    """Source attributes converted to the catalog schema once; encoded as JSON batch by batch."""

    props: list[tuple[str, pa.Array]]  # (JSON key, JSON text of each value) per mapped attribute
    extra: list[tuple[str, pa.Array]] | None  # the same for unknown columns; None when there are none
    report: dict[str, Any]

    def json_rows(self, rows: NDArray[np.intp]) -> tuple[pa.Array, pa.Array | None]:
        """UTF-8 JSON objects (large_binary) of ``props`` and ``extra`` (None: no unknown column) for
        the given rows (0-based)."""
        props = _objects(self.props, rows)
        return props, None if self.extra is None else _objects(self.extra, rows)


def _objects(columns: list[tuple[str, pa.Array]], rows: NDArray[np.intp]) -> pa.Array:
    """One JSON object per row, joined in C from the per-column value texts."""
    if not columns:
        return pa.array([b"{}"] * len(rows), type=pa.large_binary())
    take = pa.array(rows, type=pa.int64())
    pieces: list[Any] = []
    for position, (key, values) in enumerate(columns):
        pieces.append(pa.scalar(("{" if position == 0 else ",") + key + ":", pa.large_binary()))
        pieces.append(values.take(take))
    pieces.append(pa.scalar(b"}", pa.large_binary()))
    return pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.large_binary()))


_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def _json_texts(values: pd.Series) -> pa.Array:
    """Each value as JSON text (binary, UTF-8), ``null`` where missing; vectorised where possible."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = None
    if array is not None and pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type if array is not None else None
    if kind is not None and (pa.types.is_integer(kind)):
        text = pc.cast(array, pa.string())
    elif kind is not None and pa.types.is_floating(kind):
        array = pc.cast(array, pa.float64())
        finite = pc.is_finite(array)
        text = pc.cast(array, pa.string())
        # Whole numbers keep a ".0" (as Python's json does); non-finite numbers are not JSON: null.
        bare = pc.invert(pc.match_substring_regex(text, r"[.eEn]"))
        text = pc.if_else(bare, pc.binary_join_element_wise(text, ".0", ""), text)
        text = pc.if_else(finite, text, pa.scalar(None, pa.string()))
    elif kind is not None and pa.types.is_boolean(kind):
        text = pc.if_else(array, "true", "false")
    elif kind is not None and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        text = _json_strings(pc.cast(array, pa.string()))
    else:  # dates, times, bytes, mixed objects: per value, as pandas' encoder would render them
        text = pa.array(
            [None if _missing(v) else json.dumps(_plain(v), ensure_ascii=False, default=str) for v in values],
            type=pa.string(),
        )
    result = pc.cast(pc.fill_null(text, "null"), pa.large_binary())
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def _json_strings(array: pa.Array) -> pa.Array:
    """JSON string literals; only values with quotes, backslashes or control characters go through json."""
    quoted = pc.binary_join_element_wise('"', array, '"', "")
    special = pc.fill_null(pc.match_substring_regex(array, _NEEDS_ESCAPE), False)
    if not pc.any(special).as_py():
        return quoted
    rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
    escaped = quoted.to_pylist()
    for row in rows:
        escaped[row] = json.dumps(array[int(row)].as_py(), ensure_ascii=False)
    return pa.array(escaped, type=pa.string())


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and not np.isfinite(value)


def _encoded(frame: pd.DataFrame) -> list[tuple[str, pa.Array]]:
    return [(json.dumps(str(c), ensure_ascii=False), _json_texts(frame[c])) for c in frame.columns]


def map_attributes(frame: pd.DataFrame, entry: LayerEntry) -> MappedAttributes:
    """Map source columns to the catalog schema; unknown columns go to ``extra``; problems are reported.

    Conversion decisions that look at a whole column (e.g. whether a float column holds whole numbers)
    are taken here, on the whole layer, so every batch is encoded the same way.
    """
    frame = frame.reset_index(drop=True)
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
    report = {
        "mapped_columns": mapped,
        "unknown_columns": unknown,
        "missing_required": missing_required,
        "null_required": null_required,
        "invalid_values": invalid,
    }
    return MappedAttributes(_encoded(out), _encoded(frame[unknown]) if unknown else None, report)


def _plain(value: Any) -> Any:
    """Values pandas cannot encode as JSON (bytes, dates, times) as text."""
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
