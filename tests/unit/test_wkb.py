"""WKB coordinate moving (the 3857 copy) and Arrow-built attribute JSON match the straightforward paths."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from layers.ingest.attributes import _encoded, _objects
from layers.ingest.wkb import plain_2d_wkb, transform_wkb

TO_3857 = Transformer.from_crs(4547, 3857, always_xy=True)
X0, Y0 = 520_000.0, 2_510_000.0


def _samples() -> np.ndarray:
    hole = shapely.box(X0 + 2, Y0 + 2, X0 + 3, Y0 + 3)
    return np.array(
        [
            shapely.Point(X0, Y0),
            shapely.LineString([(X0, Y0), (X0 + 10, Y0 + 5)]),
            shapely.box(X0, Y0, X0 + 10, Y0 + 10).difference(hole),
            shapely.MultiPoint([(X0, Y0), (X0 + 1, Y0 + 2)]),
            shapely.MultiLineString([[(X0, Y0), (X0 + 1, Y0 + 2)], [(X0 + 3, Y0), (X0 + 4, Y0 + 2)]]),
            shapely.MultiPolygon(
                [shapely.box(X0, Y0, X0 + 1, Y0 + 1), shapely.box(X0 + 5, Y0, X0 + 7, Y0 + 2)]
            ),
            # more parts / holes than the numpy walk takes: handed to shapely
            shapely.MultiPolygon([shapely.box(X0 + i * 2, Y0, X0 + i * 2 + 1, Y0 + 1) for i in range(100)]),
            shapely.Polygon(
                shapely.box(X0, Y0, X0 + 1000, Y0 + 1000).exterior,
                [shapely.box(X0 + i * 10 + 1, Y0 + 1, X0 + i * 10 + 2, Y0 + 2).exterior for i in range(90)],
            ),
        ]
        * 3,
        dtype=object,
    )


def test_transform_wkb_matches_shapely_byte_for_byte() -> None:
    geoms = _samples()
    expected = shapely.to_wkb(
        shapely.transform(geoms, lambda x, y: TO_3857.transform(x, y), interleaved=False)
    )
    got = transform_wkb(shapely.to_wkb(geoms), TO_3857)
    assert list(got) == list(expected)


def _holes(n: int, per_row: int = 100) -> list[shapely.LinearRing]:
    """``n`` 1 m x 1 m holes on a 10 m grid, inside a shell of 1000 m x 1000 m or more."""
    return [
        shapely.box(
            X0 + (i % per_row) * 10 + 1,
            Y0 + (i // per_row) * 10 + 1,
            X0 + (i % per_row) * 10 + 2,
            Y0 + (i // per_row) * 10 + 2,
        ).exterior
        for i in range(n)
    ]


def test_parts_and_rings_past_the_walk_limit_do_not_derail_the_others() -> None:
    """Regression: a non-last part with > 64 holes left the walk's cursor inside it (IndexError)."""
    shell = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000).exterior
    many_holes = shapely.Polygon(shell, _holes(90))
    after = shapely.box(X0 + 2000, Y0, X0 + 2100, Y0 + 100)
    geoms = np.array(
        [
            shapely.MultiPolygon([many_holes, after]),
            shapely.MultiPolygon([after, many_holes, after]),
            shapely.Polygon(shapely.box(X0, Y0, X0 + 1000, Y0 + 1000).exterior, _holes(10_000)),
            after,
            shapely.MultiPolygon([after] * 65 + [many_holes]),
        ],
        dtype=object,
    )
    expected = shapely.to_wkb(
        shapely.transform(geoms, lambda x, y: TO_3857.transform(x, y), interleaved=False)
    )
    got = transform_wkb(shapely.to_wkb(geoms), TO_3857)
    assert list(got) == list(expected)
    # Known answers, independent of the WKB: the holes are 1 m² each, every ring has 5 positions.
    back = shapely.from_wkb(got)
    to_4547 = Transformer.from_crs(3857, 4547, always_xy=True)
    areas = shapely.area(shapely.transform(back, lambda x, y: to_4547.transform(x, y), interleaved=False))
    assert np.allclose(
        areas,
        [
            1_000_000 - 90 + 10_000,
            20_000 - 90 + 1_000_000,
            1_000_000 - 10_000,
            10_000,
            65 * 10_000 + 1_000_000 - 90,
        ],
        rtol=1e-6,
    )
    assert list(shapely.get_num_coordinates(back)) == [5 * 92, 5 * 93, 5 * 10_001, 5, 5 * (65 + 91)]


def test_a_part_in_another_byte_order_goes_through_shapely() -> None:
    """A little-endian multi-geometry may hold big-endian parts: the walk must not read them as its own."""
    parts = [shapely.box(X0, Y0, X0 + 1, Y0 + 1), shapely.box(X0 + 5, Y0, X0 + 7, Y0 + 2)]
    big = shapely.to_wkb(parts[1], byte_order=0)
    mixed = b"\x01" + (6).to_bytes(4, "little") + (2).to_bytes(4, "little") + shapely.to_wkb(parts[0]) + big
    values = np.array([mixed, shapely.to_wkb(parts[0])], dtype=object)
    got = shapely.from_wkb(transform_wkb(values, TO_3857))
    expected = shapely.transform(
        np.array([shapely.MultiPolygon(parts), parts[0]], dtype=object),
        lambda x, y: TO_3857.transform(x, y),
        interleaved=False,
    )
    assert all(shapely.equals_exact(got, expected, tolerance=1e-9))


def test_only_little_endian_2d_simple_wkb_is_passed_through() -> None:
    geoms = _samples()[:6]
    assert plain_2d_wkb(shapely.to_wkb(geoms)).all()
    assert not plain_2d_wkb(shapely.to_wkb(geoms, byte_order=0)).any()
    assert not plain_2d_wkb(shapely.to_wkb(shapely.force_3d(geoms))).any()
    assert not plain_2d_wkb(np.array([None, b""], dtype=object)).any()


def test_attribute_json_is_valid_and_keeps_values() -> None:
    frame = pd.DataFrame(
        {
            "名称": ['a"b', "中文", None, "x\ny", "back\\slash"],
            "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "f": [1.0, 2.5, np.nan, 1e21, 0.1 + 0.2],
            "b": [True, False, None, True, False],
            "d": [datetime.date(2020, 1, 2), None, datetime.date(2021, 3, 4), None, None],
            "raw": [b"\x01", 2, "x", None, 3.5],
        }
    )
    rows = [json.loads(text) for text in _objects(_encoded(frame), np.arange(5)).to_pylist()]
    assert [r["名称"] for r in rows] == ['a"b', "中文", None, "x\ny", "back\\slash"]
    assert [r["n"] for r in rows] == [1, None, 3, 4, 5]
    assert [r["f"] for r in rows] == [1.0, 2.5, None, 1e21, 0.1 + 0.2]
    assert [r["b"] for r in rows] == [True, False, None, True, False]
    assert [r["d"] for r in rows] == ["2020-01-02", None, "2021-03-04", None, None]
    assert [r["raw"] for r in rows] == ["01", 2, "x", None, 3.5]
    assert (
        _objects(_encoded(frame), np.array([3]))[0]
        .as_py()
        .decode()
        .startswith('{"名称":"x\\ny","n":4,"f":1e+21')
    )
