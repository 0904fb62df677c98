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


def test_level_plans_jump_plateaus_and_shrink_gradual_layers_first() -> None:
    from layers.tiles.mvt import MAX_LEVEL, plan_levels

    # A layer of small cells: nothing changes until level 4, where every cell is under the minimum size.
    cells = [100.0, 100.0, 100.0, 100.0, 0.0, 0.0, 0.0]
    # Detailed polygons: each level takes off a fifth.
    detailed = [100.0 * 0.8**level for level in range(MAX_LEVEL + 1)]
    # Within budget: nothing moves.
    assert plan_levels([200, 200], [cells, detailed], [0, 0], 500) == [0, 0]
    # 400 KB of cells and 200 KB of detail for a 450 KB budget: the cells go in one jump (a saving
    # of 100 KB a level), not level by level through their plateau.
    assert plan_levels([400_000, 200_000], [cells, detailed], [0, 0], 450_000) == [4, 0]
    # A small excess is taken from the detailed layer, one level at a time (40 KB, then 32 KB).
    assert plan_levels([100_000, 200_000], [cells, detailed], [0, 0], 250_000) == [0, 2]
    # Plans start from the current levels and never lower them.
    assert plan_levels([100_000, 128_000], [cells, detailed], [0, 2], 500_000) == [0, 2]
    # Nothing left to give: the plan stops at what can be saved.
    assert plan_levels([1000], [[5.0] * (MAX_LEVEL + 1)], [0], 10) == [0]
