"""PostgreSQL binary COPY rows for ``basemap.feature``, built a batch at a time without per-value adapters.

The fixed-width parts of a row (field count, integers, length words) are laid out for the whole batch
with numpy structured arrays; the variable parts (text, JSON, WKB) are the batch's own bytes objects.
Both are interleaved row by row and joined once (``bytes.join`` copies in C). jsonb is a version byte
plus the text, geometry is plain WKB (PostGIS's binary input), numbers are big-endian.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
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


def _rows(block: NDArray[Any]) -> list[bytes]:
    """Each record of a structured array as its own bytes object (no trailing-NUL stripping)."""
    return list(block.view(f"V{block.dtype.itemsize}").tolist())


def _lengths(values: list[bytes]) -> NDArray[np.int64]:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _nullable(values: Any) -> tuple[list[bytes], NDArray[np.bool_]]:
    """UTF-8 bytes (b"" for NULL) and the NULL mask of text or bytes values."""
    null: NDArray[np.bool_] = np.asarray(values, dtype=object) == None  # noqa: E711 - elementwise
    if null.all():
        return [b""] * len(values), null
    if not null.any() and all(isinstance(v, bytes) for v in values[:1]):
        return list(values), null
    encoded = [b"" if v is None else v if isinstance(v, bytes) else v.encode() for v in values]
    return encoded, null


def _float_fields(values: NDArray[np.float64]) -> NDArray[np.object_]:
    """float8 fields (length word + value), NULL for NaN."""
    nan = np.isnan(values)
    out = np.empty(len(values), dtype=object)
    if nan.all():
        out[:] = [_NULL] * len(values)
        return out
    block = np.zeros(len(values), _FLOAT)
    block["len"], block["value"] = 8, np.where(nan, 0.0, values)
    out[:] = _rows(block)
    out[nan] = _NULL
    return out


def copy_rows(version_id: int, features: PreparedFeatures) -> bytes:
    """The batch's rows in PostgreSQL's binary COPY format (no header or trailer)."""
    n = len(features)
    if n == 0:
        return b""
    source_fids, sf_null = _nullable(features.source_fids)
    props = list(features.props)
    extra, extra_null = _nullable(features.extra)
    geom = list(features.wkb_4547)
    geom_3857 = list(features.wkb_3857)

    head = np.zeros(n, _HEAD)
    head["count"], head["vid_len"], head["vid"], head["fid_len"] = 10, 4, version_id, 4
    head["fid"] = features.fids
    head["sf_len"] = np.where(sf_null, -1, _lengths(source_fids))
    props_head = np.zeros(n, _JSONB_HEAD)
    props_head["len"], props_head["version"] = _lengths(props) + 1, 1
    extra_head = np.zeros(n, _JSONB_HEAD)
    extra_head["len"], extra_head["version"] = _lengths(extra) + 1, 1
    extra_heads = np.array(_rows(extra_head), dtype=object)
    extra_heads[extra_null] = _NULL  # NULL: the length word only, no version byte
    tail = np.zeros(n, _TAIL)
    tail["vert_len"], tail["vertices"], tail["geom_len"] = 4, features.vertices, _lengths(geom)
    geom_3857_len = np.zeros(n, _LEN)
    geom_3857_len["len"] = _lengths(geom_3857)

    matrix = np.empty((n, 12), dtype=object)
    for column, values in enumerate(
        (
            _rows(head),
            source_fids,
            _rows(props_head),
            props,
            extra_heads,
            extra,
            _float_fields(features.area_m2),
            _float_fields(features.length_m),
            _rows(tail),
            geom,
            _rows(geom_3857_len),
            geom_3857,
        )
    ):
        matrix[:, column] = values
    return b"".join(matrix.ravel().tolist())
