"""Response models of the OGC API – Features documents (landing page, conformance, collections)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Link(BaseModel):
    """A typed web link (OGC API – Common)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    """The landing page: what the service is and where its resources are."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """The conformance classes the service implements."""

    model_config = _CAMEL

    conforms_to: list[str]


class SpatialExtent(BaseModel):
    """Bounding boxes of a collection's features."""

    bbox: list[list[float]] = Field(description="[minLon, minLat, maxLon, maxLat]（CRS84）")
    crs: str


class TemporalExtent(BaseModel):
    """Time span of a collection's features (unbounded ends are null)."""

    interval: list[list[str | None]]
    trs: str


class Extent(BaseModel):
    """Spatial and temporal extent of a collection."""

    spatial: SpatialExtent | None = None
    temporal: TemporalExtent | None = None


class Collection(BaseModel):
    """One feature collection: a vector layer of the base map."""

    model_config = _CAMEL

    id: str
    title: str
    description: str
    links: list[Link]
    extent: Extent | None = None
    item_type: str = "feature"
    crs: list[str]
    storage_crs: str


class Collections(BaseModel):
    """Every collection the caller may see."""

    links: list[Link]
    collections: list[Collection]
