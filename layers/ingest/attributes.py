"""Attribute mapping to the catalog schema: column matching, typed conversion, JSON encoding.

Columns are matched once; conversion (vectorised pandas) and JSON encoding run batch by batch, so the
database parses one batch while the next is converted, and the first batch goes out without waiting
for the whole layer. Decisions that look at a whole column (whether a float column holds only whole
numbers, the format pandas infers for dates) are taken once on the whole layer, so every batch is
converted the same way; the report adds up the batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


def _whole_numbers(values: pd.Series) -> bool:
    """Whether a float column holds only whole numbers (then it reads as text without ".0")."""
    return pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all())


def _as_text(values: pd.Series, whole_numbers: bool = False) -> pd.Series:
    """Column values as stripped text (integral floats without ".0"), None where missing or blank."""
    if whole_numbers:
        text = values.astype("Int64").astype("string")
    else:
        text = values.astype("string").str.strip()
    return text.where(text.notna() & (text != ""), None)


def _convert(values: pd.Series, attr: Attribute, whole_numbers: bool = False) -> tuple[pd.Series, pd.Series]:
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
    text = _as_text(values, whole_numbers)
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
        converted = _look_up(lowered, _code_labels(attr))
    converted = converted.where(converted.notna(), None)
    return converted, present & converted.isna()


def _convert_in_arrow(values: pd.Series, attr: Attribute) -> tuple[pa.Array, NDArray[np.bool_], int] | None:
    """JSON texts, rejected mask and number of missing values of a column converted with Arrow, for
    the common cases where this is exactly what :func:`_convert` and :func:`_json_texts` give (pandas
    runs the same Arrow kernels for its pyarrow-backed strings); None for the other cases."""
    n = len(values)
    none = np.zeros(n, dtype=bool)
    if attr.type is AttributeType.INTEGER and values.dtype == np.int64:
        return _json_texts(values), none, 0
    if attr.type is AttributeType.NUMBER and values.dtype in (np.int64, np.float64):
        numbers = values.astype("float64")
        return _json_texts(numbers), none, int(numbers.isna().sum())
    arrow_strings = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
    if attr.type not in (AttributeType.TEXT, AttributeType.CODE) or not arrow_strings:
        return None
    array = pa.array(values, type=pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    text = pc.utf8_trim_whitespace(array)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)  # blank: missing
    if attr.type is AttributeType.TEXT:
        return _string_texts(text), none, text.null_count
    found = pc.index_in(pc.utf8_lower(text), value_set=pa.array(list(_code_labels(attr)), pa.string()))
    codes = pa.array(list(_code_labels(attr).values()), pa.string()).take(found)
    rejected = pc.and_(pc.is_valid(text), pc.is_null(codes)).to_numpy(zero_copy_only=False)
    return _string_texts(codes), np.asarray(rejected, dtype=bool), codes.null_count


def _code_labels(attr: Attribute) -> dict[str, str]:
    """Lower-cased code values and their Chinese and English labels, each to its code value."""
    labels: dict[str, str] = {}
    for c in attr.codes or []:
        labels[c.value.lower()] = c.value
        labels[c.label_zh.lower()] = c.value
        if c.label_en:
            labels[c.label_en.lower()] = c.value
    return labels


def _look_up(keys: pd.Series, table: dict[str, str]) -> pd.Series:
    """Each key's value in ``table`` (missing where absent): an exact match, as ``Series.map`` with a
    dict, done by Arrow in C."""
    array = pa.array(keys, type=pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    found = pc.index_in(array, value_set=pa.array(list(table), pa.string()))
    values = pa.array(list(table.values()), pa.string()).take(found)
    mapped = values.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    return mapped.set_axis(keys.index)


@dataclass
class MappedAttributes:
    """Source columns matched to the catalog schema; converted and encoded as JSON batch by batch.

    Call :meth:`json_rows` for consecutive row ranges covering the layer (each once, in order); the
    :attr:`report` then describes the whole layer.
    """

    frame: pd.DataFrame
    entry: LayerEntry
    mapped: dict[str, str]  # source column -> attribute name
    unknown: list[str]
    whole_numbers: set[str] = field(default_factory=set)  # float columns with only whole numbers
    converted: dict[str, tuple[pd.Series, pd.Series]] = field(default_factory=dict)  # done up front
    _invalid: dict[str, list[int]] = field(default_factory=dict)  # rejected rows (first ten) per column
    _invalid_count: dict[str, int] = field(default_factory=dict)
    _nulls: dict[str, int] = field(default_factory=dict)  # missing values of required attributes

    def json_rows(self, start: int, stop: int, rows: NDArray[np.intp]) -> tuple[pa.Array, pa.Array | None]:
        """Convert rows ``start:stop`` (0-based) and return the UTF-8 JSON objects (large_binary) of
        ``props`` and ``extra`` (None: no unknown column) of the given ``rows`` among them."""
        pieces: list[tuple[str, pa.Array]] = []
        for column, name in self.mapped.items():
            attr = self.entry.attribute(name)
            assert attr is not None
            source = self.frame[column].iloc[start:stop]
            arrow = None if column in self.converted else _convert_in_arrow(source, attr)
            if arrow is None:
                if column in self.converted:
                    values, rejected = (v.iloc[start:stop] for v in self.converted[column])
                else:
                    values, rejected = _convert(source, attr, column in self.whole_numbers)
                arrow = (_json_texts(values), rejected.to_numpy(), int(values.isna().sum()))
            texts, rejected_rows, missing = arrow
            pieces.append((json.dumps(name, ensure_ascii=False), texts))
            self._note(column, attr, rejected_rows, missing, start)
        take = np.asarray(rows) - start
        props = _objects(_in_jsonb_order(pieces), take)
        if not self.unknown:
            return props, None
        return props, _objects(_in_jsonb_order(_encoded(self.frame[self.unknown].iloc[start:stop])), take)

    def _note(
        self, column: str, attr: Attribute, rejected: NDArray[np.bool_], missing: int, start: int
    ) -> None:
        """Add a batch's rejected and missing values to the report's counts."""
        bad = np.flatnonzero(rejected)
        if len(bad):
            self._invalid_count[column] = self._invalid_count.get(column, 0) + len(bad)
            examples = self._invalid.setdefault(column, [])
            examples.extend(int(r) + start for r in bad[: 10 - len(examples)])
        if attr.required:
            self._nulls[attr.name] = self._nulls.get(attr.name, 0) + missing

    @property
    def report(self) -> dict[str, Any]:
        """Mapped, unknown and missing columns, missing required values, and rejected values."""
        invalid = [
            {
                "attribute": name,
                "column": column,
                "count": self._invalid_count[column],
                "examples": [
                    {"feature": r + 1, "value": str(self.frame[column].iloc[r])}
                    for r in self._invalid[column]
                ],
            }
            for column, name in self.mapped.items()
            if self._invalid_count.get(column)
        ]
        names = set(self.mapped.values())
        return {
            "mapped_columns": self.mapped,
            "unknown_columns": self.unknown,
            "missing_required": [a.name for a in self.entry.attributes if a.required and a.name not in names],
            "null_required": {
                a.name: self._nulls[a.name]
                for a in self.entry.attributes
                if a.required and a.name in names and self._nulls.get(a.name)
            },
            "invalid_values": invalid,
        }


def _in_jsonb_order(columns: list[tuple[str, pa.Array]]) -> list[tuple[str, pa.Array]]:
    """The keys in the order jsonb keeps them (shorter first, then bytewise), so the server's parser
    finds them already sorted; the stored jsonb is the same. The sort is stable: with repeated keys,
    the last one still wins."""

    def key(column: tuple[str, pa.Array]) -> tuple[int, bytes]:
        raw = str(json.loads(column[0])).encode()
        return len(raw), raw

    return sorted(columns, key=key)


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
        return _string_texts(array)
    else:  # dates, times, bytes, mixed objects: per value, as pandas' encoder would render them
        text = pa.array(
            [None if _missing(v) else json.dumps(_plain(v), ensure_ascii=False, default=str) for v in values],
            type=pa.string(),
        )
    result = pc.cast(pc.fill_null(text, "null"), pa.large_binary())
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def _string_texts(array: pa.Array) -> pa.Array:
    """JSON texts (large_binary) of string values, ``null`` where missing."""
    result = pc.cast(pc.fill_null(_json_strings(pc.cast(array, pa.string())), "null"), pa.large_binary())
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def _json_strings(array: pa.Array) -> pa.Array:
    """JSON string literals; only values with quotes, backslashes or control characters go through json."""
    quoted = pc.binary_join_element_wise('"', array, '"', "")
    if not _may_need_escapes(array):
        return quoted
    special = pc.fill_null(pc.match_substring_regex(array, _NEEDS_ESCAPE), False)
    if not pc.any(special).as_py():
        return quoted
    rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
    escaped = quoted.to_pylist()
    for row in rows:
        escaped[row] = json.dumps(array[int(row)].as_py(), ensure_ascii=False)
    return pa.array(escaped, type=pa.string())


def _may_need_escapes(array: pa.Array) -> bool:
    """Whether any byte of the array's data is a quote, a backslash or a control character (in UTF-8
    these bytes are never part of another character); checked once over the buffer, not per value."""
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        data = chunk.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if ((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)).any():
            return True
    return False


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and not np.isfinite(value)


def _encoded(frame: pd.DataFrame) -> list[tuple[str, pa.Array]]:
    return [(json.dumps(str(c), ensure_ascii=False), _json_texts(frame[c])) for c in frame.columns]


def map_attributes(frame: pd.DataFrame, entry: LayerEntry) -> MappedAttributes:
    """Match source columns to the catalog schema (unknown columns go to ``extra``).

    Decisions that look at a whole column are taken here, on the whole layer, so every batch is
    converted the same way: whether a float column holds only whole numbers, and dates (pandas infers
    a date format from the values it is given, so date columns are converted whole, here).
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
    result = MappedAttributes(frame, entry, mapped, unknown)
    for column, name in mapped.items():
        attr = entry.attribute(name)
        assert attr is not None
        if _whole_numbers(frame[column]):
            result.whole_numbers.add(column)
        if attr.type is AttributeType.DATE:
            result.converted[column] = _convert(frame[column], attr, column in result.whole_numbers)
    return result


def _plain(value: Any) -> Any:
    """Values pandas cannot encode as JSON (bytes, dates, times) as text."""
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
