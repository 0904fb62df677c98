"""Tile statements are composed once per layer set, zoom and level, and the cache keys on all of them."""

from __future__ import annotations

from layers.catalog.model import get_catalog
from layers.tiles.mvt import TileLayer, statement, tile_query


def test_statements_are_remembered_and_keyed_on_everything_they_depend_on() -> None:
    catalog = get_catalog()
    building, parcel = catalog.get("cur_building"), catalog.get("sp_parcel")
    assert building is not None and parcel is not None
    layers = [TileLayer(building, 7), TileLayer(parcel, 9)]
    first = statement(layers, 14, verify=["cur_building", "sp_parcel"])
    assert first == tile_query(layers, 14, verify=["cur_building", "sp_parcel"]).as_bytes(None)
    # The same request again is the very same bytes (no composition).
    assert statement(list(layers), 14, verify=["cur_building", "sp_parcel"]) is first
    # Anything the text depends on is a different statement.
    assert b"f_7" in first and b"f_8" in statement([TileLayer(building, 8), layers[1]], 14)
    assert statement(layers, 13, verify=["cur_building", "sp_parcel"]) != first
    assert statement(layers, 14) != first  # no version check
    assert statement(layers, 14, [0, 2]) != statement(layers, 14)  # a generalisation level
    renamed = building.model_copy(update={"code": "cur_building_copy"})
    assert b"cur_building_copy" in statement([TileLayer(renamed, 7)], 14)
