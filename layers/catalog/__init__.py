"""Declarative catalog of the base-map layers, validated by pydantic models."""

from layers.catalog.model import (
    DATA_DIR,
    Attribute,
    AttributeType,
    Catalog,
    CatalogError,
    CatalogLoad,
    CodeValue,
    LayerEntry,
    LayerGroup,
    LayerKind,
    RasterSource,
    Role,
    Style,
    get_catalog,
    load_catalog,
)

__all__ = [
    "DATA_DIR",
    "Attribute",
    "AttributeType",
    "Catalog",
    "CatalogError",
    "CatalogLoad",
    "CodeValue",
    "LayerEntry",
    "LayerGroup",
    "LayerKind",
    "RasterSource",
    "Role",
    "Style",
    "get_catalog",
    "load_catalog",
]
