"""The public generator: one GeoDataFrame per vector catalog layer, streamed in catalog order."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.catalog import LayerEntry, LayerKind, get_catalog
from layers.demo import layers_city, layers_current, layers_nature, layers_water  # noqa: F401  (register recipes)
from layers.demo.core import CRS, Scale, polygonal, stream
from layers.demo.fill import check_codes, fill_attributes
from layers.demo.generic import REGISTRY, generic_layer
from layers.demo.world import World

_TYPE_IDS = {LayerKind.AREA: (3, 6), LayerKind.LINE: (1, 5), LayerKind.POINT: (0,)}
_EXPECTED = {"small": 44_000, "district": 650_000, "full": 1_700_000}


def expected_feature_count(scale: Scale) -> int:
    """Rough number of features a scale produces (for progress printing)."""
    return _EXPECTED[scale]


def _linear(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "LineString" and not p.is_empty]
    if not parts:
        return shapely.LineString()
    return parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)


def _conform(layer: LayerEntry, geoms: np.ndarray, window: shapely.Geometry) -> np.ndarray:
    """Clip to the window and coerce to the layer's geometry kind; empties mark rows to drop."""
    geoms = np.asarray(geoms, dtype=object)
    outside = ~shapely.within(geoms, window)
    if outside.any():
        geoms = geoms.copy()
        geoms[outside] = shapely.intersection(geoms[outside], window)
    if layer.kind is LayerKind.AREA:
        bad = ~shapely.is_valid(geoms) | ~np.isin(shapely.get_type_id(geoms), [3, 6])
        if bad.any():
            geoms[bad] = polygonal(geoms[bad])
        geoms[shapely.area(geoms) < 1.0] = shapely.Polygon()
    elif layer.kind is LayerKind.LINE:
        bad = ~np.isin(shapely.get_type_id(geoms), [1, 5])
        if bad.any():
            geoms[bad] = np.array([_linear(g) for g in geoms[bad]], dtype=object)
    return geoms


def build_layer(world: World, layer: LayerEntry) -> gpd.GeoDataFrame:
    """Generate one layer of the world as a GeoDataFrame with the catalog's columns."""
    rng = stream(world.seed, world.scale, "layer", layer.code)
    make = REGISTRY.get(layer.code)
    geoms, given = make(world, rng) if make else generic_layer(world, layer, rng)
    geoms = _conform(layer, np.asarray(geoms, dtype=object), world.window)
    keep = ~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), _TYPE_IDS[layer.kind])
    given = {k: _subset(v, keep) for k, v in given.items()}
    geoms = geoms[keep]
    if not len(geoms):
        geoms, given = generic_layer(world, layer, rng)
        geoms = _conform(layer, np.asarray(geoms, dtype=object), world.window)
    columns = fill_attributes(layer, geoms, given, rng)
    check_codes(layer, columns)
    frame = pd.DataFrame(
        {name: pd.Series(values, dtype=_dtype(layer, name)) for name, values in columns.items()}
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)


def _subset(value: object, keep: np.ndarray) -> object:
    """Rows of a per-feature value (scalars apply to every row)."""
    column = np.asarray(value, dtype=object)
    return column[keep] if column.ndim else value


def _dtype(layer: LayerEntry, name: str) -> str | None:
    attribute = layer.attribute(name)
    kind = attribute.type.value if attribute else "text"
    return {"integer": "Int64", "number": "Float64", "boolean": "boolean"}.get(kind, "object")


def iter_layers(scale: Scale, seed: int = 2017) -> Iterator[tuple[str, gpd.GeoDataFrame]]:
    """Yield (catalog code, GeoDataFrame in the storage CRS) for every vector catalog layer."""
    world = World(scale, seed)
    for layer in get_catalog().layers.values():
        if layer.kind is LayerKind.RASTER or layer.live is not None or layer.derived is not None:
            continue  # live and derived layers come from the platform's own records, never generated
        yield layer.code, build_layer(world, layer)
