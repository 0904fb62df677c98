"""Vectorised work on WKB without building geometry objects.

Reprojecting prepared geometry to EPSG:3857 only moves coordinates: the WKB structure (byte order, types,
counts) stays the same. :func:`transform_wkb` therefore finds the byte offset of every coordinate with a
numpy walk over the WKB headers, transforms all coordinates in one pyproj call and writes them back into
a copy of the buffer — no shapely object is created or serialised. Geometries the walk cannot finish
(very many parts or rings, parts in another byte order) go through shapely instead; the walk never reads
past the value it is in, so one such geometry cannot send it into its neighbours' bytes.
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

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]


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
    """Collects coordinate blocks (byte position, number of points) of little-endian 2D WKB.

    Every read is checked against the end of its own value, and a value whose walk cannot finish — more
    parts or rings than ``_MAX_STEPS``, a part in another byte order or of another type, a count that runs
    past its end — is dropped from the walk at once (its cursor would be meaningless for the parts after
    it) and listed in ``too_complex``, for shapely to handle.
    """

    def __init__(self, data: NDArray[np.uint8], ends: NDArray[np.int64]) -> None:
        self.data = data
        self.ends = ends  # byte position after each value
        self.positions: list[NDArray[np.int64]] = []
        self.counts: list[NDArray[np.int64]] = []
        self.owners: list[NDArray[np.int64]] = []
        self.too_complex: list[NDArray[np.int64]] = []

    def block(self, pos: NDArray[np.int64], n: NDArray[np.int64], owner: NDArray[np.int64]) -> None:
        """Record ``n`` points at byte position ``pos`` of value ``owner``."""
        self.positions.append(pos)
        self.counts.append(n)
        self.owners.append(owner)

    def give_up(self, owner: NDArray[np.int64]) -> None:
        """Hand these values to shapely."""
        self.too_complex.append(owner)

    def count(self, cursor: NDArray[np.int64], owner: NDArray[np.int64]) -> tuple[Ints, Bools]:
        """The uint32 count at each cursor, and whether it lies inside its value."""
        ok = cursor + 4 <= self.ends[owner]
        count = np.zeros(len(cursor), dtype=np.int64)
        count[ok] = _u32(self.data, cursor[ok])
        return count, ok

    def points(self, cursor: Ints, n: Ints, owner: Ints, ok: Bools) -> tuple[Ints, Bools]:
        """``n`` points at each cursor (where ``ok``); returns the positions after them, and ``ok``."""
        after = cursor + 16 * n
        ok = ok & (after <= self.ends[owner])
        self.block(cursor[ok], n[ok], owner[ok])
        return after, ok

    def sequence(self, cursor: Ints, owner: Ints) -> tuple[Ints, Bools]:
        """A point count followed by the points; returns the positions after them, and which were whole."""
        n, ok = self.count(cursor, owner)
        return self.points(cursor + 4, n, owner, ok)

    def rings(self, cursor: Ints, owner: Ints) -> tuple[Ints, Bools]:
        """A polygon body (ring count, rings) at each cursor; returns the positions after them, and which
        were walked to their end."""
        count, ok = self.count(cursor, owner)
        ok &= count <= _MAX_STEPS
        cursor = cursor + 4
        for step in range(int(count[ok].max()) if ok.any() else 0):
            active = np.flatnonzero(ok & (count > step))
            cursor[active], whole = self.sequence(cursor[active], owner[active])
            ok[active[~whole]] = False
        return cursor, ok

    def parts(self, cursor: Ints, owner: Ints, part_type: int) -> Bools:
        """A multi-geometry body (part count, parts with their own headers) at each cursor; returns which
        were walked to their end."""
        count, ok = self.count(cursor, owner)
        ok &= count <= _MAX_STEPS
        cursor = cursor + 4
        for step in range(int(count[ok].max()) if ok.any() else 0):
            active = np.flatnonzero(ok & (count > step))
            at, who = cursor[active], owner[active]
            header = at + 5 <= self.ends[who]
            header[header] = (self.data[at[header]] == 1) & (_u32(self.data, at[header] + 1) == part_type)
            at = at + 5  # the part's byte order and type
            if part_type == 1:
                cursor[active], whole = self.points(at, np.ones(len(at), dtype=np.int64), who, header)
            else:
                walk = self.sequence if part_type == 2 else self.rings
                chosen = np.flatnonzero(header)
                after, done = walk(at[chosen], who[chosen])
                at[chosen], whole = after, np.zeros(len(at), dtype=bool)
                whole[chosen] = done
                cursor[active] = at
            ok[active[~whole]] = False
        return ok


def transform_wkb(wkb: NDArray[np.object_], transformer: Transformer) -> NDArray[np.object_]:
    """Reproject little-endian 2D WKB values (as written by shapely or passed through) coordinate-wise."""
    out = np.empty(len(wkb), dtype=object)
    if len(wkb) == 0:
        return out
    data, starts, lengths = _buffer(wkb)
    walk = _Walk(data, starts + lengths)
    index = np.arange(len(wkb), dtype=np.int64)
    unknown = ~plain_2d_wkb(wkb)
    walk.give_up(index[unknown])
    types = np.zeros(len(wkb), dtype=np.int64)
    types[~unknown] = _u32(data, starts[~unknown] + 1)
    for kind in _PLAIN_TYPES:
        chosen = (types == kind) & ~unknown
        if not chosen.any():
            continue
        cursor, owner = starts[chosen] + 5, index[chosen]
        if kind == 1:
            _, whole = walk.points(
                cursor, np.ones(len(cursor), dtype=np.int64), owner, np.ones(len(owner), bool)
            )
        elif kind == 2:
            _, whole = walk.sequence(cursor, owner)
        elif kind == 3:
            _, whole = walk.rings(cursor, owner)
        else:
            whole = walk.parts(cursor, owner, kind - 3)
        walk.give_up(owner[~whole])
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
