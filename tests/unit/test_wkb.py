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
