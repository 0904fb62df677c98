"""The demo district loads every catalog layer through the import path, consistently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.warp import calculate_default_transform, reproject

from app import migrate
from app.settings import Settings
from layers.audit import Actor
from layers.catalog.model import LayerKind, get_catalog
from layers.demo import iter_layers
from layers.demo.generate import build_layer
from layers.demo.world import World
from layers.ingest.errors import IngestError
from layers.ingest.load import import_path
from layers.ingest.raster import import_raster
from layers.store.versions import register_layers
from tests.conftest import cluster_lock, create_throwaway_database, drop_database

DUOGUI = str(Path(sys.executable).with_name("duogui"))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings, name = create_throwaway_database("duogui_demo")
    data_dir = tmp_path_factory.mktemp("data")
    env = {
        **os.environ,
        "DATABASE_URL": settings.owner_dsn,
        "DUOGUI_DATA_DIR": str(data_dir),
        "DUOGUI_DEMO_SCALE": "none",
    }
    try:
        with cluster_lock():
            subprocess.run([DUOGUI, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=300)
        run = subprocess.run(
            [DUOGUI, "demo", "generate", "--scale", "small", "--no-history"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        yield settings.model_copy(update={"data_dir": data_dir}), run.stdout
    finally:
        drop_database(name)


def test_every_catalog_layer_is_loaded_with_the_generated_counts(demo_db: Any) -> None:
    settings, stdout = demo_db
    expected = {code: len(frame) for code, frame in iter_layers("small")}
    with psycopg.connect(settings.owner_dsn) as conn:
        rows = dict(
            conn.execute(
                """
            SELECT l.code, v.feature_count FROM basemap.layer l
            JOIN basemap.layer_version v ON v.id = l.current_version
            """
            ).fetchall()
        )
        stored = dict(
            conn.execute(
                "SELECT l.code, count(*) FROM basemap.feature f JOIN basemap.layer l"
                " ON l.current_version = f.version_id GROUP BY l.code"
            ).fetchall()
        )
        imports = conn.execute("SELECT count(*) FROM audit.event WHERE action = 'layer.import'").fetchone()
    # Every stored layer (the live project library is drawn from the platform's records, never loaded; the
    # deficit layers are written by the gap analysis).
    loaded = {
        code for code, entry in get_catalog().layers.items() if entry.live is None and entry.derived is None
    }
    assert set(rows) == loaded
    for code, count in expected.items():
        assert count > 0 and rows[code] == count == stored[code], code
    assert imports is not None and imports[0] == len(loaded)
    assert f"{len(loaded)} layers" in stdout


def test_rasters_are_cogs_in_the_storage_crs(demo_db: Any) -> None:
    settings, _ = demo_db
    with psycopg.connect(settings.owner_dsn) as conn:
        paths = dict(
            conn.execute(
                "SELECT l.code, v.raster_path FROM basemap.layer l JOIN basemap.layer_version v"
                " ON v.id = l.current_version WHERE l.kind = 'raster'"
            ).fetchall()
        )
    assert set(paths) == {e.code for e in get_catalog().layers.values() if e.kind is LayerKind.RASTER}
    for code, rel in paths.items():
        with rasterio.open(settings.data_dir / rel) as src:
            assert src.crs.to_epsg() == 4547, code
            assert src.profile.get("tiled"), code
            # GDAL's COG driver adds overviews once the image exceeds one 512-pixel block.
            assert src.overviews(1) or max(src.width, src.height) <= 512, code
    with rasterio.open(settings.data_dir / paths["base_slope"]) as src:
        slope = src.read(1, masked=True)
        assert 0 <= float(slope.min()) and float(slope.max()) <= 90


def test_the_planted_contradictions_are_in_the_database(demo_db: Any) -> None:
    settings, _ = demo_db

    def overlaps(a: str, b: str) -> int:
        row = conn.execute(
            """
            SELECT count(*) FROM basemap.feature x
            JOIN basemap.layer la ON la.code = %s AND la.current_version = x.version_id
            JOIN basemap.layer lb ON lb.code = %s
            WHERE EXISTS (SELECT 1 FROM basemap.feature y WHERE y.version_id = lb.current_version
                          AND y.geom && x.geom AND ST_Intersects(y.geom, x.geom))
            """,
            (a, b),
        ).fetchone()
        return int(row[0]) if row else 0

    with psycopg.connect(settings.owner_dsn) as conn:
        assert overlaps("cur_building", "eco_control_line") > 0
        assert overlaps("sp_parcel", "forest_land") > 0
        assert (
            overlaps("trans_arterial", "water_source_2") + overlaps("trans_expressway", "water_source_2") > 0
        )


def test_a_raster_in_another_crs_is_reprojected_and_versioned(demo_db: Any, tmp_path: Path) -> None:
    settings, _ = demo_db
    with psycopg.connect(settings.owner_dsn) as conn:
        current = conn.execute(
            "SELECT v.raster_path, v.number FROM basemap.layer l JOIN basemap.layer_version v"
            " ON v.id = l.current_version WHERE l.code = 'base_dem'"
        ).fetchone()
        assert current is not None
        source = settings.data_dir / current[0]
        lonlat = tmp_path / "dem_4326.tif"
        with rasterio.open(source) as src:
            transform, width, height = calculate_default_transform(
                src.crs, "EPSG:4326", src.width, src.height, *src.bounds
            )
            profile = {
                **src.profile,
                "driver": "GTiff",
                "crs": "EPSG:4326",
                "transform": transform,
                "width": width,
                "height": height,
            }
            with rasterio.open(lonlat, "w", **profile) as dst:
                reproject(rasterio.band(src, 1), rasterio.band(dst, 1))
            original_max = float(src.read(1, masked=True).max())
        entry = get_catalog().get("base_dem")
        number, report = import_raster(
            conn, entry, lonlat, "dem_4326.tif", Actor.system("test"), settings.data_dir
        )
        assert number == current[1] + 1 and report["source_crs"] == "EPSG:4326"
        stored = conn.execute(
            "SELECT v.raster_path FROM basemap.layer l JOIN basemap.layer_version v"
            " ON v.id = l.current_version WHERE l.code = 'base_dem'"
        ).fetchone()
        assert stored is not None
        with rasterio.open(settings.data_dir / stored[0]) as out:
            assert out.crs.to_epsg() == 4547
            assert abs(float(out.read(1, masked=True).max()) - original_max) < 0.05 * original_max
        text = tmp_path / "not.tif"
        text.write_bytes(b"hello")
        with pytest.raises(IngestError) as refused:
            import_raster(conn, entry, text, "not.tif", Actor.system("test"), settings.data_dir)
        assert refused.value.code == "unsupported_format"
        with pytest.raises(IngestError):
            import_raster(
                conn, get_catalog().get("forest_land"), lonlat, "x.tif", Actor.system("t"), settings.data_dir
            )
    assert np.isfinite(original_max)


@pytest.mark.slow
def test_the_full_demos_plan_units_import_with_their_ninety_hole_part(tmp_path: Path) -> None:
    """Regression: `full`'s cdp_unit has a part with 90 holes before other parts; its import crashed.

    In a database of its own: the imported plan units would otherwise cover points other tests of the
    session's database expect to be empty (identify, tiles), depending on which worker ran first."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_cdp")
        migrate.upgrade(settings)
    try:
        with psycopg.connect(settings.owner_dsn) as conn:
            register_layers(conn, get_catalog())
        _import_full_cdp_units(settings, tmp_path)
    finally:
        drop_database(name)


def _import_full_cdp_units(settings: Settings, tmp_path: Path) -> None:
    world = World("full", 2017)
    frame = build_layer(world, get_catalog().get("cdp_unit"))
    holes = [[len(part.interiors) for part in shapely.get_parts(g)] for g in frame.geometry.values]
    assert any(max(h[:-1], default=0) > 64 for h in holes)  # the shape that broke the walk
    path = tmp_path / "cdp_unit.gpkg"
    pyogrio.write_dataframe(frame, path, layer="cdp_unit", driver="GPKG")
    with psycopg.connect(settings.owner_dsn) as conn:
        info, _ = import_path(
            conn, get_catalog().get("cdp_unit"), path, "demo-full-cdp_unit.gpkg", Actor.system("test")
        )
        rows = conn.execute(
            """
            SELECT f.area_m2, f.vertices, ST_NPoints(f.geom_3857), ST_Area(ST_Transform(f.geom_3857, 4547))
            FROM basemap.feature f WHERE f.version_id = %s ORDER BY f.fid
            """,
            (info.id,),
        ).fetchall()
    # Known answers from the generated frame itself (EPSG:4547, valid as generated): shapely's figures.
    assert info.feature_count == len(frame) == len(rows)
    areas = shapely.area(frame.geometry.values)
    assert np.allclose([r[0] for r in rows], areas, rtol=1e-9)
    assert (
        [r[1] for r in rows]
        == [r[2] for r in rows]
        == list(shapely.get_num_coordinates(frame.geometry.values))
    )
    assert np.allclose([r[3] for r in rows], areas, rtol=1e-6)


def test_the_history_is_refused_on_a_database_without_the_demo_layers() -> None:
    settings, name = create_throwaway_database("duogui_nolayers")
    env = {**os.environ, "DATABASE_URL": settings.owner_dsn, "DUOGUI_DEMO_SCALE": "none"}
    try:
        with cluster_lock():
            subprocess.run([DUOGUI, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=300)
        command = [DUOGUI, "demo", "history", "--scale", "small"]
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 1
        assert "演示底图尚未加载" in run.stderr and "demo layers are not loaded" in run.stderr
        with psycopg.connect(settings.owner_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM project.project").fetchone() == (0,)
    finally:
        drop_database(name)
