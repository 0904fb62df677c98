"""Deterministic, realistic demo district (龙岗) generator: vector layers of the catalog and terrain COGs."""

from layers.demo.core import DISTRICT_BOUNDS, Scale, scale_bounds
from layers.demo.generate import expected_feature_count, iter_layers
from layers.demo.terrain import write_rasters

__all__ = [
    "DISTRICT_BOUNDS",
    "Scale",
    "expected_feature_count",
    "iter_layers",
    "scale_bounds",
    "write_rasters",
]
