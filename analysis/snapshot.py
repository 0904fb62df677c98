"""One snapshot of the check index held in memory: its parts at known layer versions, spatially indexed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The check index's parts at the versions in ``versions``, with a spatial index over them."""

    versions: Mapping[str, int]
    layers: tuple[str, ...]
    layer_of: np.ndarray  # per part: its layer's position in ``layers``
    fids: np.ndarray
    props: np.ndarray  # per part: the attributes as JSON text (decoded for the parts a check keeps)
    parts: np.ndarray  # per part: its geometry
    bounds: np.ndarray  # per part: xmin, ymin, xmax, ymax
    tree: shapely.STRtree
    # Per anchored layer: its fids in order and each feature's ST_PointOnSurface (x, y), computed by
    # the database so that both paths of the compensation estimate price by the same point.
    anchors: Mapping[str, tuple[np.ndarray, np.ndarray]]

    def held(self, current: Mapping[str, int], codes: tuple[str, ...]) -> bool:
        """Whether every layer of ``codes`` is held at its version in ``current``."""
        return all(code in current and self.versions.get(code) == current[code] for code in codes)

    def near(self, box: tuple[float, float, float, float], reaches: Mapping[str, float]) -> np.ndarray:
        """Positions of the parts of the layers in ``reaches`` whose boxes come within their layer's
        reach of ``box`` (the same test as the database's ``&&`` on expanded boxes)."""
        if not reaches or not len(self.parts):
            return np.zeros(0, dtype=np.intp)
        x0, y0, x1, y1 = box
        widest = max(reaches.values())
        found = self.tree.query(shapely.box(x0 - widest, y0 - widest, x1 + widest, y1 + widest))
        # NaN for layers not asked for: every comparison with it is false.
        reach = np.full(len(self.layers), np.nan)
        for position, code in enumerate(self.layers):
            if code in reaches:
                reach[position] = reaches[code]
        r = reach[self.layer_of[found]]
        b = self.bounds[found]
        inside = (b[:, 0] <= x1 + r) & (b[:, 2] >= x0 - r) & (b[:, 1] <= y1 + r) & (b[:, 3] >= y0 - r)
        return np.sort(found[inside])
