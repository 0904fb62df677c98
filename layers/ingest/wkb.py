"""Vectorised work on WKB without building geometry objects.

Reprojecting prepared geometry to EPSG:3857 only moves coordinates: the WKB structure (byte order, types,
counts) stays the same. :func:`transform_wkb` therefore finds the byte offset of every coordinate with a
numpy walk over the WKB headers, transforms all coordinates in one pyproj call and writes them back into
a copy of the buffer — no shapely object is created or serialised. Geometries with very many parts or
rings (where the walk would need too many steps) go through shapely instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.ingest.simple_features import Candidates, write_group

_MAX_STEPS = 64  # parts or rings walked per geometry before it is handed to shapely
_PLAIN_TYPES = (1, 2, 3, 4, 5, 6)  # ISO/OGC 2D Point … MultiPolygon


def _buffer(wkb: NDArray[np.object_]) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """The WKB values concatenated (uint8), and each value's start and length."""
    array = pa.array(wkb, type=pa.large_binary())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]].copy()
    starts = offsets[:-1] - offsets[0]
    return data, starts, np.diff(offsets)


def arrow_buffer(
    array: pa.Array,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """Zero-copy view of a large_binary array (without nulls): its data, each value's start and length."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return data, offsets[:-1], np.diff(offsets)


def with_coordinates(array: pa.Array, candidates: Candidates) -> pa.Array:
    """A copy of a large_binary WKB array with the coordinates of its values replaced by those of
    ``candidates`` (value ``i`` is the ``i``-th candidate, group after group)."""
    data, starts, lengths = arrow_buffer(array)
    base = int(starts[0]) if len(starts) else 0
    end = int(starts[-1] + lengths[-1]) if len(starts) else 0
    result = data[base:end].copy()
    at = 0
    for group in candidates.groups:
        n = len(group.rows)
        write_group(result, starts[at : at + n] - base + group.coord_at, group.xy)
        at += n
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return pa.Array.from_buffers(
        pa.large_binary(), len(array), [None, pa.py_buffer(offsets), pa.py_buffer(result)]
    )


def _u32(data: NDArray[np.uint8], pos: NDArray[np.int64]) -> NDArray[np.int64]:
    """Little-endian uint32 at each byte position."""
    b = data[pos[:, None] + np.arange(4)].astype(np.int64)
    return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)


def plain_2d_wkb(wkb: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Which values are little-endian 2D WKB of a simple type (safe to store as they are)."""
    if len(wkb) == 0:
        return np.zeros(0, dtype=bool)
    data, starts, lengths = _buffer(wkb)
    big_enough = lengths >= 5
    at = np.where(big_enough, starts, 0)
    if len(data) < 5:
        return np.zeros(len(wkb), dtype=bool)
    return big_enough & (data[at] == 1) & np.isin(_u32(data, at + 1), _PLAIN_TYPES)


class _Walk:
    """Collects coordinate blocks (byte position, number of points) of little-endian 2D WKB."""

    def __init__(self, data: NDArray[np.uint8]) -> None:
        self.data = data
        self.positions: list[NDArray[np.int64]] = []
        self.counts: list[NDArray[np.int64]] = []
        self.owners: list[NDArray[np.int64]] = []
        self.too_complex: list[NDArray[np.int64]] = []

    def block(self, pos: NDArray[np.int64], n: NDArray[np.int64], owner: NDArray[np.int64]) -> None:
        self.positions.append(pos)
        self.counts.append(n)
        self.owners.append(owner)

    def sequence(self, cursor: NDArray[np.int64], owner: NDArray[np.int64]) -> NDArray[np.int64]:
        """A point count followed by the points; returns the position after it."""
        n = _u32(self.data, cursor)
        self.block(cursor + 4, n, owner)
        return cursor + 4 + 16 * n

    def rings(self, cursor: NDArray[np.int64], owner: NDArray[np.int64]) -> NDArray[np.int64]:
        """A polygon body (ring count, rings) at each cursor; returns the positions after them."""
        count = _u32(self.data, cursor)
        cursor = cursor + 4
        steps = int(count.max()) if len(count) else 0
        if steps > _MAX_STEPS:
            self.too_complex.append(owner[count > _MAX_STEPS])
        for step in range(min(steps, _MAX_STEPS)):
            active = count > step
            cursor[active] = self.sequence(cursor[active], owner[active])
        return cursor

    def parts(self, cursor: NDArray[np.int64], owner: NDArray[np.int64], part_type: int) -> None:
        """A multi-geometry body (part count, parts with their own headers) at each cursor."""
        count = _u32(self.data, cursor)
        cursor = cursor + 4
        steps = int(count.max()) if len(count) else 0
        if steps > _MAX_STEPS:
            self.too_complex.append(owner[count > _MAX_STEPS])
        for step in range(min(steps, _MAX_STEPS)):
            active = count > step
            at, who = cursor[active] + 5, owner[active]  # skip the part's byte order and type
            if part_type == 1:
                self.block(at, np.ones(len(at), dtype=np.int64), who)
                cursor[active] = at + 16
            elif part_type == 2:
                cursor[active] = self.sequence(at, who)
            else:
                cursor[active] = self.rings(at, who)


def transform_wkb(wkb: NDArray[np.object_], transformer: Transformer) -> NDArray[np.object_]:
    """Reproject little-endian 2D WKB values (as written by shapely or passed through) coordinate-wise."""
    out = np.empty(len(wkb), dtype=object)
    if len(wkb) == 0:
        return out
    data, starts, lengths = _buffer(wkb)
    types = _u32(data, starts + 1)
    walk = _Walk(data)
    index = np.arange(len(wkb), dtype=np.int64)
    unknown = (data[starts] != 1) | ~np.isin(types, _PLAIN_TYPES)
    walk.too_complex.append(index[unknown])
    for kind, body in ((1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (6, 5)):
        chosen = (types == kind) & ~unknown
        if not chosen.any():
            continue
        cursor, owner = starts[chosen] + body, index[chosen]
        if kind == 1:
            walk.block(cursor, np.ones(len(cursor), dtype=np.int64), owner)
        elif kind == 2:
            walk.sequence(cursor, owner)
        elif kind == 3:
            walk.rings(cursor, owner)
        else:
            walk.parts(cursor, owner, kind - 3)
    complex_ = np.zeros(len(wkb), dtype=bool)
    complex_[np.concatenate(walk.too_complex)] = True
    result = data.copy()
    if walk.positions:
        pos, n, owner = (np.concatenate(a) for a in (walk.positions, walk.counts, walk.owners))
        simple = ~complex_[owner]
        pos, n = pos[simple], n[simple]
        first = np.repeat(pos - 16 * np.cumsum(np.concatenate(([0], n[:-1]))), n)
        coord = first + 16 * np.arange(int(n.sum()), dtype=np.int64)  # byte position of each x
        _move(data, result, coord, transformer)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    rebuilt = pa.Array.from_buffers(
        pa.large_binary(), len(wkb), [None, pa.py_buffer(offsets), pa.py_buffer(result)]
    )
    out[:] = rebuilt.to_numpy(zero_copy_only=False)
    if complex_.any():
        geoms = shapely.from_wkb(wkb[complex_])
        out[complex_] = shapely.to_wkb(
            shapely.transform(geoms, lambda x, y: transformer.transform(x, y), interleaved=False)
        )
    return out


def _move(
    data: NDArray[np.uint8], result: NDArray[np.uint8], coord: NDArray[np.int64], transformer: Transformer
) -> None:
    """Transform the (x, y) doubles at byte positions ``coord`` of ``data`` into ``result``.

    A coordinate is 16 bytes at any offset; grouped by offset modulo 16, each group is one fancy index
    into a 16-byte-record view of the buffer (a memcpy per coordinate, no per-byte index arrays).
    """
    xy = np.empty((len(coord), 2), dtype="<f8")
    offset = coord % 16
    order = np.argsort(offset, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(offset, minlength=16))))
    groups = [(r, order[bounds[r] : bounds[r + 1]]) for r in range(16) if bounds[r + 1] > bounds[r]]
    for r, rows in groups:
        xy[rows] = _records(data, r)[(coord[rows] - r) // 16].view("<f8").reshape(-1, 2)
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    xy[:, 0], xy[:, 1] = x, y
    for r, rows in groups:
        _records(result, r)[(coord[rows] - r) // 16] = np.ascontiguousarray(xy[rows]).view("V16").ravel()


def _records(buffer: NDArray[np.uint8], offset: int) -> NDArray[np.void]:
    """A (writable) view of ``buffer`` from byte ``offset`` as 16-byte records."""
    count = (len(buffer) - offset) // 16
    return buffer[offset : offset + 16 * count].view("V16")
