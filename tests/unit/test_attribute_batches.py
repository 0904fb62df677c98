"""Attributes converted batch by batch give the same rows and report as the whole layer at once."""

from __future__ import annotations

import datetime
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from pyproj import Transformer

from layers.catalog.model import get_catalog
from layers.ingest.attributes import _convert, _convert_in_arrow, _in_jsonb_order, _json_texts
from layers.ingest.crs import transformer_to_storage
from layers.ingest.prepare import FeatureBatches
from layers.store.payload import copy_rows

X0, Y0 = 520_000.0, 2_510_000.0
N = 60


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            # whole numbers in the first batches only: the whole column decides (not whole: "1.0")
            "plan_code": [float(i) if i < 40 else i + 0.5 for i in range(N)],
            "approved_date": (["2020-01-02", "2020/03/04", "bad", None, "", "20190101"] * 10)[:N],
            "version": [" v1 ", "", None, 'q"x', "中文\n", "b\\s"] * 10,
            "area": [str(i * 1.5) if i % 4 else "n/a" for i in range(N)],
            "extra_dt": [datetime.datetime(2020, 1, 1 + i % 28) if i % 5 else None for i in range(N)],
            "extra_int": pd.array([i if i % 6 else None for i in range(N)], dtype="Int64"),
        }
    )


def _buildings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_code": [f"B{i}" for i in range(N)],
            "structure": (["1", "2", "砖混", "钢结构", "bogus", None] * 10)[:N],  # values and labels
            "use": (["residential", "住宅", "COMMERCIAL", "x", None, " public "] * 10)[:N],
        }
    )


def _prepared(batch_size: int, layer: str = "sp_plan_boundary") -> tuple[bytes, dict[str, Any]]:
    boxes = [shapely.box(X0 + i * 30, Y0, X0 + i * 30 + 20, Y0 + 20) for i in range(N)]
    features = FeatureBatches(
        pa.array(shapely.to_wkb(boxes), pa.large_binary()),
        _frame() if layer == "sp_plan_boundary" else _buildings(),
        get_catalog().get(layer),
        transformer_to_storage(Transformer.from_crs(4547, 4547).source_crs),
        batch_size=batch_size,
    )
    payload = b"".join(bytes(copy_rows(1, batch)) for batch in features)
    return payload, features.report


def test_batches_convert_like_the_whole_layer() -> None:
    whole_payload, whole_report = _prepared(10_000)
    payload, report = _prepared(7)
    assert payload == whole_payload
    assert report == whole_report
    assert report["null_required"]["approved_date"] > 0
    invalid = {v["attribute"]: v for v in report["invalid_values"]}
    assert invalid["area"]["count"] == 15
    assert [e["feature"] for e in invalid["area"]["examples"]] == [1, 5, 9, 13, 17, 21, 25, 29, 33, 37]
    assert report["unknown_columns"] == ["extra_dt", "extra_int"]
    assert b'"plan_code":"1.0"' in payload  # not "1": the column is not all whole numbers
    assert np.char.count(np.array([payload]), b'"version":"q\\"x"')[0] == 10


def test_code_labels_are_looked_up_in_every_batch() -> None:
    whole_payload, whole_report = _prepared(10_000, "cur_building")
    payload, report = _prepared(7, "cur_building")
    assert (payload, report) == (whole_payload, whole_report)
    invalid = {v["attribute"]: v["count"] for v in report["invalid_values"]}
    assert invalid == {
        "structure": 20,
        "use": 10,
    }  # "砖混" (not a label), "bogus", "x"; 钢结构, COMMERCIAL pass
    assert report["null_required"] == {"structure": 30, "use": 20}  # rejected values count as missing


@pytest.mark.parametrize(
    ("layer", "name", "values"),
    [
        ("cur_building", "year_built", pd.Series([1990, 2001, -5, 0], dtype="int64")),
        ("cur_building", "floor_area", pd.Series([1.0, 2.5, np.nan, 1e21, -0.0], dtype="float64")),
        ("cur_building", "floor_area", pd.Series([3, 4], dtype="int64")),
        ("cur_building", "building_code", pd.Series([" B1 ", "", None, "  ", 'q"x', "中文\n"], dtype="str")),
        (
            "cur_building",
            "use",
            pd.Series(["住宅", " Commercial ", "x", None, "", "PUBLIC SERVICE"], dtype="str"),
        ),
    ],
)
def test_arrow_conversion_is_the_pandas_conversion(layer: str, name: str, values: pd.Series) -> None:
    attr = get_catalog().get(layer).attribute(name)
    assert attr is not None
    converted = _convert_in_arrow(values, attr)
    assert converted is not None  # the fast path is taken
    texts, rejected, missing = converted
    expected, expected_rejected = _convert(values, attr)
    assert texts.to_pylist() == _json_texts(expected).to_pylist()
    assert rejected.tolist() == expected_rejected.tolist()
    assert missing == int(expected.isna().sum())


def test_keys_are_sent_in_the_order_jsonb_keeps_them() -> None:
    values = pa.array([b"1"], pa.large_binary())
    columns = [(json.dumps(k, ensure_ascii=False), values) for k in ["bb", "中", "a", "ab", "a"]]
    ordered = [json.loads(key) for key, _ in _in_jsonb_order(columns)]
    assert ordered == ["a", "a", "ab", "bb", "中"]  # length in bytes first (中 is 3), then bytes; stable
