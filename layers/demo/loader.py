"""Loading the demo district into PostGIS through the same import path as user files.

Each generated layer is written to a GeoPackage (rasters to GeoTIFF) and imported with
:func:`layers.ingest.load.import_path` / :func:`layers.ingest.raster.import_raster`, so the demo
exercises intake, CRS checks, repair, attribute mapping, COPY and versioning exactly as a planner's
upload does.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyogrio
import shapely
from psycopg import Connection

from layers.audit import Actor
from layers.catalog.model import Catalog, LayerKind
from layers.demo.core import Scale, scale_bounds
from layers.demo.generate import expected_feature_count, iter_layers
from layers.demo.terrain import write_rasters
from layers.ingest.intake import IntakeLimits
from layers.ingest.load import import_path
from layers.ingest.raster import import_raster
from layers.store.coverage import Coverage

Progress = Callable[[str], None]


@dataclass
class DemoReport:
    """What a demo load stored."""

    scale: str
    layers: int = 0
    features: int = 0
    seconds: float = 0.0
    per_layer: dict[str, int] = field(default_factory=dict)


def demo_loaded(conn: Connection[Any]) -> bool:
    """Whether any layer already has a version (the demo is then not loaded again)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM basemap.layer WHERE current_version IS NOT NULL)"
    ).fetchone()
    return bool(row and row[0])


def load_demo(
    conn: Connection[Any],
    catalog: Catalog,
    scale: Scale,
    data_dir: Path,
    *,
    seed: int = 2017,
    actor: Actor | None = None,
    progress: Progress = print,
) -> DemoReport:
    """Generate the demo district at ``scale`` and import every catalog layer of it."""
    actor = actor or Actor.system(f"demo:{scale}")
    report = DemoReport(scale=scale)
    started = time.monotonic()
    target = expected_feature_count(scale)
    limits = IntakeLimits(max_upload_bytes=16 * 1024**3)
    note = f"演示数据（{scale}，种子 {seed}）"
    # The small demo is a window of the district: its data answers there only (a partial survey).
    coverage = (
        Coverage("declared", wkb=shapely.to_wkb(shapely.box(*scale_bounds(scale))))
        if scale == "small"
        else None
    )
    with tempfile.TemporaryDirectory(prefix="duogui-demo-") as tmp:
        folder = Path(tmp)
        for code, frame in iter_layers(scale, seed):
            entry = catalog.get(code)
            path = folder / f"{code}.gpkg"
            pyogrio.write_dataframe(frame, path, layer=code, driver="GPKG")
            info, _ = import_path(
                conn,
                entry,
                path,
                f"demo-{scale}-{code}.gpkg",
                actor,
                note=note,
                limits=limits,
                coverage=coverage,
            )
            path.unlink()
            report.layers += 1
            report.features += info.feature_count
            report.per_layer[code] = info.feature_count
            progress(
                f"  [{report.layers:>3}] {code:<28} {info.feature_count:>9,} 要素  "
                f"累计 {report.features:>10,} / ~{target:,}  {time.monotonic() - started:6.1f}s"
            )
        rasters = write_rasters(scale, folder / "rasters", seed)
        for code, path in rasters.items():
            entry = catalog.get(code)
            if entry.kind is not LayerKind.RASTER:
                continue
            name = f"demo-{scale}-{path.name}"
            import_raster(conn, entry, path, name, actor, data_dir, note=note, coverage=coverage)
            report.layers += 1
            report.per_layer[code] = 0
            progress(f"  [{report.layers:>3}] {code:<28} 栅格  {time.monotonic() - started:6.1f}s")
    report.seconds = time.monotonic() - started
    return report
