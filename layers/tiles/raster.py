"""Raster tiles: a raster layer's COG rendered as 256×256 RGBA PNG tiles in WebMercatorQuad (EPSG:3857).

Each tile is warped by GDAL (a tile-sized ``WarpedVRT``, bilinear) from the coarsest overview that is still
at least as fine as the tile, so low zooms read a few overview blocks instead of the full raster.
Values are coloured by the catalog's ramp (linear between stops, clamped beyond the ends); nodata and
pixels outside the raster are transparent. A tile with nothing to draw is the one fully transparent PNG.

A rasterio dataset must not be used by two threads at once: :class:`DatasetCache` keeps one open handle per
file and overview level behind its own lock (measured faster than a handle per thread or an open per tile).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from psycopg import Connection
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from layers.tiles.cache import TileCache
from layers.tiles.grid import (
    MAX_ZOOM,
    TILE_SIZE,
    WORLD,
    Bounds,
    tile_bounds,
    tile_centre_latitude,
)

EARTH_CIRCUMFERENCE = WORLD
WEB_MERCATOR = CRS.from_epsg(3857)
# Part of every ETag: bump it when the rendering changes so clients refetch their cached tiles.
RENDERER_REVISION = "1"
PNG_COMPRESSION = 6  # zlib level: ~2 ms per tile, half the size of level 1


class RasterUnavailable(Exception):
    """The raster file of a version is missing or unreadable."""


def zoom_for_resolution(resolution: float, latitude: float) -> int:
    """The lowest zoom whose tile pixels, on the ground at ``latitude``, are no larger than ``resolution``."""
    ground = EARTH_CIRCUMFERENCE * math.cos(math.radians(latitude)) / TILE_SIZE
    zoom = math.ceil(math.log2(ground / resolution) - 1e-9)
    return max(0, min(MAX_ZOOM, zoom))


@dataclass(frozen=True)
class ColourRamp:
    """A catalog colour ramp: ``(value, "#RRGGBB")`` stops, linear between them, clamped beyond the ends."""

    stops: tuple[tuple[float, str], ...]

    @classmethod
    def from_stops(cls, stops: Sequence[tuple[float, str]]) -> ColourRamp:
        """Build from the catalog's ``style.ramp`` (strictly ascending values, validated there)."""
        return cls(tuple((float(value), colour.upper()) for value, colour in stops))

    @cached_property
    def _values(self) -> np.ndarray:
        return np.array([value for value, _ in self.stops], dtype=np.float64)

    @cached_property
    def _channels(self) -> list[np.ndarray]:
        rgb = [[int(colour[i : i + 2], 16) for i in (1, 3, 5)] for _, colour in self.stops]
        return [np.array([c[k] for c in rgb], dtype=np.float64) for k in range(3)]

    @cached_property
    def digest(self) -> str:
        """A short fingerprint of the stops (part of the tile ETag)."""
        text = json.dumps(self.stops, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def colour(self, value: float) -> tuple[int, int, int]:
        """The RGB colour of one value."""
        r, g, b = (int(np.rint(np.interp(value, self._values, channel))) for channel in self._channels)
        return r, g, b

    def apply(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Colour a 2-D array into an (h, w, 4) RGBA array; pixels not ``valid`` are transparent black."""
        rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
        picked = values[valid].astype(np.float64)
        for band, channel in enumerate(self._channels):
            rgba[..., band][valid] = np.rint(np.interp(picked, self._values, channel)).astype(np.uint8)
        rgba[..., 3][valid] = 255
        return rgba


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(rgba: np.ndarray) -> bytes:
    """Encode an (h, w, 4) uint8 array as an 8-bit RGBA PNG (filter type 0 on every row)."""
    height, width, _ = rgba.shape
    raw = np.zeros((height, width * 4 + 1), dtype=np.uint8)
    raw[:, 1:] = rgba.reshape(height, width * 4)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), PNG_COMPRESSION)),
            _png_chunk(b"IEND", b""),
        )
    )


TRANSPARENT_TILE = encode_png(np.zeros((TILE_SIZE, TILE_SIZE, 4), dtype=np.uint8))
"""The tile served wherever a raster has nothing to draw (outside its extent, or all nodata)."""


@dataclass(frozen=True)
class RasterInfo:
    """What tiling needs to know about one raster file."""

    width: int
    height: int
    resolution: float  # the coarser of the two pixel sizes, in the raster's CRS units (metres)
    overview_factors: tuple[int, ...]
    nodata: float | None
    bounds_mercator: Bounds
    bounds_lonlat: Bounds

    @property
    def centre_latitude(self) -> float:
        """Latitude of the raster's centre."""
        return (self.bounds_lonlat[1] + self.bounds_lonlat[3]) / 2

    def overview_level(self, tile_resolution: float) -> int | None:
        """The overview to read for a tile of this ground resolution (None: the full-resolution image)."""
        level = None
        for index, factor in enumerate(self.overview_factors):
            if self.resolution * factor <= tile_resolution:
                level = index
        return level

    def native_zoom(self) -> int:
        """The zoom where tile pixels match the raster's pixels (TileJSON ``maxzoom``)."""
        return zoom_for_resolution(self.resolution, self.centre_latitude)

    def overview_zoom(self) -> int:
        """The zoom where tile pixels match the coarsest overview's pixels."""
        factor = max(self.overview_factors, default=1)
        return zoom_for_resolution(self.resolution * factor, self.centre_latitude)


def _file_identity(path: Path) -> tuple[str, int, int, int]:
    """A key that changes when the file at ``path`` is replaced (a new inode, size or mtime)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise RasterUnavailable(f"cannot read raster {path}: {exc}") from exc
    return str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns


def _bounds_in(ds: Any, crs: Any) -> Bounds:
    x0, y0, x1, y1 = transform_bounds(ds.crs, crs, *ds.bounds, densify_pts=21)
    return float(x0), float(y0), float(x1), float(y1)


def _open(path: Path, overview_level: int | None) -> Any:
    options: dict[str, Any] = {} if overview_level is None else {"overview_level": overview_level}
    try:
        # sharing=False: never hand another thread GDAL's shared handle of the same file.
        return rasterio.open(path, sharing=False, **options)
    except RasterioIOError as exc:
        raise RasterUnavailable(f"cannot open raster {path}: {exc}") from exc


class _OpenDataset:
    """One open dataset and the lock that keeps it to one thread at a time."""

    __slots__ = ("closed", "dataset", "lock")

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.dataset.close()


class DatasetCache:
    """Open rasterio datasets, one per (file, overview level), each used by one thread at a time.

    One shared handle behind a lock beat a handle per thread in measurements: the tiles of a map view hit
    the same compressed blocks, which a single handle decompresses once (GDAL's block cache is per dataset).
    """

    def __init__(self, max_datasets: int = 64) -> None:
        self._max_datasets = max_datasets
        self._lock = threading.Lock()
        self._open: OrderedDict[Hashable, _OpenDataset] = OrderedDict()
        self._info: OrderedDict[Hashable, RasterInfo] = OrderedDict()

    @contextmanager
    def dataset(self, path: Path, overview_level: int | None = None) -> Iterator[Any]:
        """Hold the open dataset of ``path`` (at an overview level) for the duration of the block."""
        key = (_file_identity(path), overview_level)
        while True:
            entry = self._entry(key, path, overview_level)
            with entry.lock:
                if not entry.closed:  # else it was evicted while we waited: look it up again
                    yield entry.dataset
                    return

    def _entry(self, key: Hashable, path: Path, overview_level: int | None) -> _OpenDataset:
        with self._lock:
            entry = self._open.get(key)
            if entry is not None:
                self._open.move_to_end(key)
                return entry
        opened = _open(path, overview_level)
        evicted: list[_OpenDataset] = []
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                entry = self._open[key] = _OpenDataset(opened)
                opened = None
                while len(self._open) > self._max_datasets:
                    evicted.append(self._open.popitem(last=False)[1])
        if opened is not None:  # another thread opened it first
            opened.close()
        for old in evicted:
            old.close()
        return entry

    def info(self, path: Path) -> RasterInfo:
        """Size, resolution, overviews, nodata and bounds of a raster file (read once per file)."""
        key = _file_identity(path)
        with self._lock:
            known = self._info.get(key)
        if known is not None:
            return known
        with self.dataset(path) as ds:
            info = RasterInfo(
                width=ds.width,
                height=ds.height,
                resolution=float(max(abs(ds.res[0]), abs(ds.res[1]))),
                overview_factors=tuple(int(f) for f in ds.overviews(1)),
                nodata=None if ds.nodata is None else float(ds.nodata),
                bounds_mercator=_bounds_in(ds, WEB_MERCATOR),
                bounds_lonlat=_bounds_in(ds, "EPSG:4326"),
            )
        with self._lock:
            self._info[key] = info
            while len(self._info) > self._max_datasets:
                self._info.popitem(last=False)
        return info

    def close(self) -> None:
        """Close every open dataset."""
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
        for entry in entries:
            entry.close()


@dataclass(frozen=True)
class CurrentRaster:
    """The current version of a raster layer and its COG."""

    code: str
    version_id: int
    number: int
    path: Path


def current_raster(conn: Connection[Any], code: str, data_dir: Path) -> CurrentRaster | None:
    """The current version of a raster layer with the absolute path of its file; None when there is none."""
    row = conn.execute(
        """
        SELECT v.id, v.number, v.raster_path
        FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version
        WHERE l.code = %s
        """,
        (code,),
    ).fetchone()
    if row is None or row[2] is None:
        return None
    return CurrentRaster(code, int(row[0]), int(row[1]), data_dir / row[2])


def tile_etag(raster: CurrentRaster, z: int, x: int, y: int, ramp: ColourRamp) -> str:
    """A strong ETag for a tile: it changes with the layer's version, the tile address and the ramp."""
    text = f"{RENDERER_REVISION}|{raster.code}|{raster.version_id}|{z}/{x}/{y}|{ramp.digest}"
    return '"' + hashlib.blake2b(text.encode(), digest_size=16).hexdigest() + '"'


def _intersects(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def render_tile(
    datasets: DatasetCache, path: Path, z: int, x: int, y: int, ramp: ColourRamp, nodata: float | None = None
) -> bytes:
    """Render one tile of a raster file as PNG; ``nodata`` applies when the file declares none."""
    info = datasets.info(path)
    bounds = tile_bounds(z, x, y)
    if not _intersects(bounds, info.bounds_mercator):
        return TRANSPARENT_TILE
    # The storage CRS's (Gauss–Krüger) metres are ground metres; a Mercator metre is cos(lat) of one.
    pixel = (bounds[2] - bounds[0]) / TILE_SIZE
    tile_resolution = pixel * math.cos(math.radians(tile_centre_latitude(z, y)))
    with datasets.dataset(path, info.overview_level(tile_resolution)) as ds:
        try:
            with WarpedVRT(
                ds,
                crs=WEB_MERCATOR,
                transform=Affine(pixel, 0, bounds[0], 0, -pixel, bounds[3]),
                width=TILE_SIZE,
                height=TILE_SIZE,
                src_nodata=info.nodata if info.nodata is not None else nodata,
                nodata=np.nan,
                dtype="float32",
                resampling=Resampling.bilinear,
            ) as vrt:
                values = vrt.read(1)
        except RasterioError as exc:
            raise RasterUnavailable(f"cannot read raster {path}: {exc}") from exc
    valid = ~np.isnan(values)
    if not valid.any():
        return TRANSPARENT_TILE
    return encode_png(ramp.apply(values, valid))


class RasterTiles:
    """Raster tiles of one application: open datasets and the cache of encoded tiles."""

    def __init__(self, cache_bytes: int = 64 * 1024 * 1024) -> None:
        self.datasets = DatasetCache()
        self.cache = TileCache(cache_bytes)

    def tile(
        self, raster: CurrentRaster, z: int, x: int, y: int, ramp: ColourRamp, nodata: float | None = None
    ) -> bytes:
        """The PNG of a tile of the current version, from the cache or freshly rendered."""
        # The version id is in the key, so a new version never meets a tile of the previous one.
        key = (raster.code, raster.version_id, z, x, y)
        data = self.cache.get(key)
        if data is None:
            data = render_tile(self.datasets, raster.path, z, x, y, ramp, nodata)
            self.cache.put(key, data)
        return data

    def info(self, raster: CurrentRaster) -> RasterInfo:
        """Size, resolution and bounds of the version's raster."""
        return self.datasets.info(raster.path)

    def close(self) -> None:
        """Close the open datasets and drop the cached tiles."""
        self.datasets.close()
        self.cache.clear()
