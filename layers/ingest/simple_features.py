"""Features that provably need no repair, recognised in their WKB with numpy (no shapely objects).

Most features of a real layer are small and simple: a building footprint or a parcel is one ring of a
handful of vertices, a point of interest one coordinate pair. For those, parsing into GEOS objects,
``is_valid``, ``area`` and ``to_wkb`` were most of an import's client time. :func:`find_candidates`
finds, in a batch's WKB buffer, little-endian 2D single-ring polygons (a Polygon, or a MultiPolygon of
one such polygon) of at most :data:`MAX_RING_POINTS` points, and points; :meth:`Candidates.certified`
then proves validity with filtered orientation predicates: a sign is trusted only when the determinant
exceeds Shewchuk's error bound for ``orient2d``, so a ring is declared valid only when the ring is
closed, every vertex is a strict turn and every pair of non-adjacent edges is provably apart — then
GEOS says valid too. Anything else (holes, several parts, a near-degenerate or self-touching ring, a
non-finite coordinate) goes through shapely exactly as before. Areas follow GEOS's order of operations,
so they are equal to the bit.

Candidates are kept in groups of equal point count, each an ``(m, k, 2)`` array, so every check is a
handful of whole-array operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from layers.catalog.model import LayerKind

MAX_RING_POINTS = 33  # closing point included: 32 edges, 464 edge pairs to check per ring
_ERRBOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53  # Shewchuk's ccwerrboundA
Transform = Callable[[NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], ...]]


@dataclass
class Group:
    """Candidates with the same number of points ``k`` (a ring's closing point included).

    ``rows`` are positions in the batch, ``coord_at`` the byte offset of the first x inside each
    feature's own WKB value, ``xy`` the coordinates, shape ``(m, k, 2)``.
    """

    rows: NDArray[np.int64]
    coord_at: NDArray[np.int64]
    xy: NDArray[np.float64]

    @property
    def ring(self) -> bool:
        """Whether these are polygon rings (points otherwise)."""
        return self.xy.shape[1] >= 4

    def select(self, mask: NDArray[np.bool_]) -> Group:
        """The group's candidates where ``mask`` holds."""
        return Group(self.rows[mask], self.coord_at[mask], self.xy[mask])


@dataclass
class Candidates:
    """Features of a batch whose WKB has a simple structure, grouped by point count."""

    groups: list[Group]

    @property
    def rows(self) -> NDArray[np.int64]:
        """Positions in the batch, group after group."""
        return np.concatenate([g.rows for g in self.groups] or [np.zeros(0, np.int64)])

    @property
    def coord_at(self) -> NDArray[np.int64]:
        """Offset of the first x in each feature's WKB value, in the order of :attr:`rows`."""
        return np.concatenate([g.coord_at for g in self.groups] or [np.zeros(0, np.int64)])

    @property
    def counts(self) -> NDArray[np.int64]:
        """Number of points of each feature, in the order of :attr:`rows`."""
        counts = [np.full(len(g.rows), g.xy.shape[1], np.int64) for g in self.groups]
        return np.concatenate(counts or [np.zeros(0, np.int64)])

    def xy(self) -> NDArray[np.float64]:
        """All coordinates, feature after feature, shape ``(n, 2)``."""
        return np.concatenate([g.xy.reshape(-1, 2) for g in self.groups] or [np.zeros((0, 2))])

    def box(self) -> NDArray[np.float64]:
        """(xmin, ymin, xmax, ymax) of all coordinates; NaN when there are none."""
        groups = [g.xy for g in self.groups if g.xy.size]
        if not groups:
            return np.full(4, np.nan)
        # One contiguous pass per axis (a reduction along axis 0 of (n, 2) is many times slower).
        x = [np.ascontiguousarray(xy[..., 0]) for xy in groups]
        y = [np.ascontiguousarray(xy[..., 1]) for xy in groups]
        return np.array(
            [
                min(v.min() for v in x),
                min(v.min() for v in y),
                max(v.max() for v in x),
                max(v.max() for v in y),
            ]
        )

    def finite(self) -> Candidates:
        """The candidates whose coordinates are all finite and whose rings are closed."""
        kept = []
        for group in self.groups:
            ok = np.asarray(np.isfinite(group.xy).all(axis=(1, 2)), dtype=bool)
            if group.ring:
                ok &= (group.xy[:, 0] == group.xy[:, -1]).all(axis=1)
            kept.append(group.select(ok))
        return Candidates(kept)

    def certified(self) -> Candidates:
        """The candidates that are provably valid (finite; rings closed, simple, strict turns)."""
        kept = []
        for group in self.finite().groups:
            kept.append(group.select(_simple_rings(group.xy)) if group.ring else group)
        return Candidates(kept)

    def transformed(self, transform: Transform) -> Candidates:
        """The (finite, closed) candidates with coordinates transformed; a ring's closing point is not
        computed twice: it is the same input, so the same output."""
        groups = [g for g in self.groups if len(g.rows)]
        if not groups:
            return Candidates([])
        parts = [g.xy[:, :-1] if g.ring else g.xy for g in groups]
        flat = np.concatenate([p.reshape(-1, 2) for p in parts])
        x, y = transform(np.ascontiguousarray(flat[:, 0]), np.ascontiguousarray(flat[:, 1]))
        moved = np.column_stack((x, y))
        out, at = [], 0
        for group, part in zip(groups, parts, strict=True):
            xy = np.empty_like(group.xy)
            size = part.shape[0] * part.shape[1]
            xy[:, : part.shape[1]] = moved[at : at + size].reshape(part.shape)
            at += size
            if group.ring:
                xy[:, -1] = xy[:, 0]
            out.append(Group(group.rows, group.coord_at, xy))
        return Candidates(out)

    def areas(self) -> NDArray[np.float64]:
        """Ring areas in the order of :attr:`rows` (NaN for points), as GEOS computes them."""
        return np.concatenate([_ring_areas(g.xy) for g in self.groups] or [np.zeros(0)])


def _u32(data: NDArray[np.uint8], pos: NDArray[np.int64]) -> NDArray[np.int64]:
    b = data[pos[:, None] + np.arange(4)].astype(np.int64)
    return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)


def _header_is(
    data: NDArray[np.uint8], at: NDArray[np.int64], type_id: int, count: int | None
) -> NDArray[np.bool_]:
    """Little-endian byte order and the given type (and element count) at each position."""
    ok = (data[at] == 1) & (_u32(data, at + 1) == type_id)
    return ok & (_u32(data, at + 5) == count) if count is not None else ok


def find_candidates(
    data: NDArray[np.uint8], starts: NDArray[np.int64], lengths: NDArray[np.int64], kind: LayerKind
) -> Candidates:
    """Single-ring polygons (area layers) or points (point layers) among the batch's WKB values."""
    if kind is LayerKind.POINT:
        rows = np.flatnonzero(lengths == 21)
        rows = rows[_header_is(data, starts[rows], 1, None)]
        coord_at = np.full(len(rows), 5, np.int64)
        return Candidates([_group(data, starts, rows, coord_at, 1)])
    if kind is not LayerKind.AREA:
        return Candidates([])
    # Polygon: header, ring count 1, point count, points. MultiPolygon: header, part count 1, a Polygon.
    rows = np.flatnonzero(lengths >= 13)
    at = starts[rows]
    types, elements = _u32(data, at + 1), _u32(data, at + 5)
    ok = (data[at] == 1) & (elements == 1) & ((types == 3) | (types == 6))
    rows, at, types = rows[ok], at[ok], types[ok]
    multi = np.flatnonzero(types == 6)
    inner = np.zeros(len(rows), dtype=bool)
    inner[multi] = lengths[rows[multi]] >= 22
    inner[inner] = _header_is(data, at[inner] + 9, 3, 1)
    single = (types == 3) | inner
    rows, at = rows[single], at[single]
    coord_at = np.where(inner[single], 22, 13).astype(np.int64)
    counts = _u32(data, at + coord_at - 4)
    ok = (counts >= 4) & (counts <= MAX_RING_POINTS) & (lengths[rows] == coord_at + 16 * counts)
    rows, coord_at, counts = rows[ok], coord_at[ok], counts[ok]
    return Candidates(
        [_group(data, starts, rows[counts == k], coord_at[counts == k], int(k)) for k in np.unique(counts)]
    )


def _group(
    data: NDArray[np.uint8],
    starts: NDArray[np.int64],
    rows: NDArray[np.int64],
    coord_at: NDArray[np.int64],
    k: int,
) -> Group:
    """Read the ``k`` coordinate pairs of each feature into an ``(m, k, 2)`` array."""
    first = starts[rows] + coord_at
    xy = np.empty((len(rows), k, 2), dtype="<f8")
    for r, chosen in _by_alignment(first):
        records = _records(data, r)[((first[chosen] - r) // 16)[:, None] + np.arange(k)]
        xy[chosen] = records.view("<f8").reshape(len(chosen), k, 2)
    return Group(rows, coord_at, xy)


def write_group(result: NDArray[np.uint8], first: NDArray[np.int64], xy: NDArray[np.float64]) -> None:
    """Write each feature's ``(k, 2)`` coordinates at byte position ``first`` of ``result``."""
    k = xy.shape[1]
    for r, chosen in _by_alignment(first):
        pairs = np.ascontiguousarray(xy[chosen], dtype="<f8").view("V16").reshape(len(chosen), k)
        _records(result, r)[((first[chosen] - r) // 16)[:, None] + np.arange(k)] = pairs


def _by_alignment(first: NDArray[np.int64]) -> list[tuple[int, NDArray[np.int64]]]:
    """Features grouped by offset modulo 16: each group is one fancy index into 16-byte records."""
    offset = first % 16
    order = np.argsort(offset, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(offset, minlength=16))))
    return [(r, order[bounds[r] : bounds[r + 1]]) for r in range(16) if bounds[r + 1] > bounds[r]]


def _records(buffer: NDArray[np.uint8], offset: int) -> NDArray[np.void]:
    """A (writable) view of ``buffer`` from byte ``offset`` as 16-byte records."""
    count = (len(buffer) - offset) // 16
    return buffer[offset : offset + 16 * count].view("V16")


def _orient(
    a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Shewchuk's orient2d with its static filter: the determinant and whether its sign is certain."""
    left = (a[..., 0] - c[..., 0]) * (b[..., 1] - c[..., 1])
    right = (a[..., 1] - c[..., 1]) * (b[..., 0] - c[..., 0])
    det = left - right
    return det, np.abs(det) > _ERRBOUND * (np.abs(left) + np.abs(right))


def _simple_rings(rings: NDArray[np.float64]) -> NDArray[np.bool_]:
    """For rings of equal length (m, k, 2): closed, every turn strict, non-adjacent edges apart."""
    closed = (rings[:, 0] == rings[:, -1]).all(axis=1)
    vertices = rings[:, :-1]
    _, sure = _orient(np.roll(vertices, 1, axis=1), vertices, np.roll(vertices, -1, axis=1))
    ok = closed & sure.all(axis=1)
    edges = vertices.shape[1]
    pairs = [(i, j) for i in range(edges) for j in range(i + 2, edges) if not (i == 0 and j == edges - 1)]
    if not pairs or not ok.any():
        return ok
    i, j = (np.array(p) for p in zip(*pairs, strict=True))
    a, b = vertices[:, i], vertices[:, (i + 1) % edges]
    c, d = vertices[:, j], vertices[:, (j + 1) % edges]
    return ok & (_one_side(a, b, c, d) | _one_side(c, d, a, b)).all(axis=1)


def _one_side(
    a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], d: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Whether c and d are certainly strictly on the same side of the line through a and b."""
    dc, sc = _orient(a, b, c)
    dd, sd = _orient(a, b, d)
    return sc & sd & ((dc > 0) == (dd > 0))


def _ring_areas(rings: NDArray[np.float64]) -> NDArray[np.float64]:
    """Areas of rings (m, k, 2) in GEOS's order of operations (the sum rounds the same way)."""
    if rings.shape[1] < 4:
        return np.full(len(rings), np.nan)
    x, y = rings[..., 0], rings[..., 1]
    total = np.zeros(len(rings))
    for i in range(1, rings.shape[1] - 1):
        total = total + (x[:, i] - x[:, 0]) * (y[:, i - 1] - y[:, i + 1])
    return np.abs(total / 2.0)
