"""The edge overlay split over two threads gives exactly the single-threaded answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import shapely

from analysis import overlay


def _parts(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    centres = rng.uniform(-200, 200, size=(n, 2))
    return np.array(
        [shapely.Point(x, y).buffer(rng.uniform(5, 60), quad_segs=6) for x, y in centres], dtype=object
    )


class _Counting(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(1)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.submitted += 1
        return super().submit(*args, **kwargs)


def _wkb(geoms: Any) -> list[bytes]:
    return list(shapely.to_wkb(geoms).tolist())


def test_split_overlay_equals_the_single_call_part_by_part(monkeypatch: pytest.MonkeyPatch) -> None:
    helper = _Counting()
    monkeypatch.setattr(overlay, "_helper", helper)
    footprint = shapely.Polygon([(-150, -120), (160, -90), (130, 140), (-20, 60), (-140, 150)])
    parts = _parts(101)
    got = overlay.intersection(parts, footprint)
    assert helper.submitted == 1  # half went to the helper
    assert _wkb(got) == _wkb(shapely.intersection(parts, footprint))  # the same bits, in order
    helper.shutdown()


def test_a_busy_helper_or_few_parts_mean_the_check_does_its_own_overlay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helper = _Counting()
    monkeypatch.setattr(overlay, "_helper", helper)
    footprint = shapely.box(-100, -100, 100, 100)
    parts = _parts(40)
    assert overlay._helper_free.acquire(blocking=False)  # another check holds the helper
    try:
        got = overlay.intersection(parts, footprint)
    finally:
        overlay._helper_free.release()
    assert _wkb(got) == _wkb(shapely.intersection(parts, footprint))
    few = parts[: overlay.SPLIT_MIN - 1]
    assert _wkb(overlay.intersection(few, footprint)) == _wkb(shapely.intersection(few, footprint))
    assert helper.submitted == 0
    helper.shutdown()
