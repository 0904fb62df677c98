"""PostgreSQL binary COPY rows for ``basemap.feature``, built a batch at a time without per-row Python.

The fixed-width parts of a row (field count, integers, length words, floats) are laid out for the whole
batch with numpy structured arrays and seen by Arrow as binary arrays (no copy); the variable parts
(text, JSON, WKB) are the batch's Arrow arrays. Arrow joins them row by row in C
(``binary_join_element_wise``), and the joined array's data buffer is the COPY payload. jsonb is a
version byte plus the text, geometry is plain WKB (PostGIS's binary input), numbers are big-endian.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from layers.ingest.prepare import PreparedFeatures

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
COLUMNS = "version_id, fid, source_fid, props, extra, area_m2, length_m, vertices, geom, geom_3857"
_NULL = struct.pack(">i", -1)

_HEAD = np.dtype(
    [
        ("count", ">i2"),
        ("vid_len", ">i4"),
        ("vid", ">i4"),
        ("fid_len", ">i4"),
        ("fid", ">i4"),
        ("sf_len", ">i4"),
    ]
)
_JSONB_HEAD = np.dtype([("len", ">i4"), ("version", "u1")])
_FLOAT = np.dtype([("len", ">i4"), ("value", ">f8")])
_TAIL = np.dtype([("vert_len", ">i4"), ("vertices", ">i4"), ("geom_len", ">i4")])
_LEN = np.dtype([("len", ">i4")])


def _fixed(block: NDArray[Any]) -> pa.Array:
    """Each record of a structured array as one large_binary value (a view, no copy)."""
    n, size = len(block), block.dtype.itemsize
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    data = np.ascontiguousarray(block).view(np.uint8)
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _lengths(values: pa.Array) -> NDArray[np.int64]:
    """Byte lengths of the values (0 for NULL)."""
    return np.asarray(pc.fill_null(pc.binary_length(values), 0).to_numpy(zero_copy_only=False))


def _float_fields(values: NDArray[np.float64]) -> pa.Array | pa.Scalar:
    """float8 fields (length word + value), NULL (length word -1 only) for NaN."""
    nan = np.isnan(values)
    if nan.all():
        return pa.scalar(_NULL, pa.large_binary())
    block = np.zeros(len(values), _FLOAT)
    block["len"], block["value"] = 8, np.where(nan, 0.0, values)
    fields = _fixed(block)
    if nan.any():
        fields = pc.if_else(pa.array(nan), pa.scalar(_NULL, pa.large_binary()), fields)
    return fields


def _jsonb_head(values: pa.Array | None, n: int) -> pa.Array | pa.Scalar:
    """jsonb length word and version byte of each value; the NULL length word when there are none."""
    if values is None:
        return pa.scalar(_NULL, pa.large_binary())
    head = np.zeros(n, _JSONB_HEAD)
    head["len"], head["version"] = _lengths(values) + 1, 1
    return _fixed(head)


def copy_rows(version_id: int, features: PreparedFeatures) -> memoryview:
    """The batch's rows in PostgreSQL's binary COPY format (no header or trailer)."""
    n = len(features)
    if n == 0:
        return memoryview(b"")
    source_fids = features.source_fids
    head = np.zeros(n, _HEAD)
    head["count"], head["vid_len"], head["vid"], head["fid_len"] = 10, 4, version_id, 4
    head["fid"] = features.fids
    head["sf_len"] = np.where(source_fids.is_null().to_numpy(zero_copy_only=False), -1, _lengths(source_fids))
    tail = np.zeros(n, _TAIL)
    tail["vert_len"], tail["vertices"], tail["geom_len"] = 4, features.vertices, _lengths(features.wkb_stored)
    geom_3857_len = np.zeros(n, _LEN)
    geom_3857_len["len"] = _lengths(features.wkb_3857)
    empty = pa.scalar(b"", pa.large_binary())
    pieces = [
        _fixed(head),
        pc.fill_null(source_fids, empty),
        _jsonb_head(features.props, n),
        features.props,
        _jsonb_head(features.extra, n),
        empty if features.extra is None else features.extra,
        _float_fields(features.area_m2),
        _float_fields(features.length_m),
        _fixed(tail),
        features.wkb_stored,
        _fixed(geom_3857_len),
        features.wkb_3857,
    ]
    joined = pc.binary_join_element_wise(*pieces, empty)
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset : joined.offset + n + 1]
    return memoryview(joined.buffers()[2])[offsets[0] : offsets[-1]]
