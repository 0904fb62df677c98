"""The overlay of a check's parts across the footprint's edge, split over two threads when one is free."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely

# The overlay of the parts across the footprint's edge is most of a check's geometry work. shapely
# releases the interpreter lock while GEOS runs, so a second thread halves it on an idle machine. The
# helper takes half of a check's overlay only when it is free: under load a check never waits for
# another check's half, it does its own overlay whole.
SPLIT_MIN = 16  # fewer parts: the hand-over (~50 µs) costs more than it saves
_helper: ThreadPoolExecutor | None = None
_helper_free = threading.Semaphore(1)


def intersection(parts: Any, fp: shapely.Geometry) -> Any:
    """``shapely.intersection(parts, fp)``, half of it on the helper thread when that one is free."""
    global _helper
    if len(parts) < SPLIT_MIN or not _helper_free.acquire(blocking=False):
        return shapely.intersection(parts, fp)
    try:
        if _helper is None:
            _helper = ThreadPoolExecutor(1, thread_name_prefix="preeval-overlay")
        half = len(parts) // 2
        other = _helper.submit(shapely.intersection, parts[half:].copy(), fp)
        mine = shapely.intersection(parts[:half].copy(), fp)
        return np.concatenate([mine, other.result()])
    finally:
        _helper_free.release()
