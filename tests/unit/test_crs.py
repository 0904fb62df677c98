"""Source CRS resolution and the district check with its diagnoses of common coordinate mistakes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyproj
import pytest
from shapely.geometry import Polygon

from layers.district import DISTRICT
from layers.ingest.crs import (
    STORAGE_CRS,
    check_in_district,
    resolve_crs,
    transformer_to_storage,
)
from layers.ingest.errors import IngestError
from layers.ingest.intake import open_upload

# A block around Longgang's centre (lon/lat, CGCS2000).
LONGGANG = (114.20, 22.65, 114.30, 22.75)


def bounds_in(code: int) -> tuple[float, float, float, float]:
    """LONGGANG expressed in another CRS (x = east, y = north)."""
    transformer = pyproj.Transformer.from_crs(4490, code, always_xy=True)
    return transformer.transform_bounds(*LONGGANG)


def outside(bounds: tuple[float, float, float, float], code: int | str) -> IngestError:
    with pytest.raises(IngestError) as caught:
        check_in_district(bounds, pyproj.CRS.from_user_input(code))
    error = caught.value
    assert (error.code, error.status) == ("outside_district", 422)
    assert error.message_zh.startswith("数据不在龙岗区范围内") and "Longgang" in error.message_en
    return error


def forest(crs: int) -> gpd.GeoDataFrame:
    square = Polygon([(114.20, 22.70), (114.21, 22.70), (114.21, 22.71), (114.20, 22.71)])
    return gpd.GeoDataFrame({"name": ["龙岗区林地"]}, geometry=[square], crs=4490).to_crs(crs)


# --- resolve_crs ---------------------------------------------------------------------------------------


def test_no_crs_and_no_override() -> None:
    with pytest.raises(IngestError) as caught:
        resolve_crs(None, None)
    assert caught.value.code == "no_crs" and caught.value.status == 422
    assert caught.value.message_zh == (
        "文件未包含坐标系信息，请用 --crs 指定（例如 EPSG:4547 CGCS2000 / 3° 高斯-克吕格 114°E）"
    )
    assert "--crs" in caught.value.message_en


def test_shapefile_without_prj_needs_crs(tmp_path: Path) -> None:
    shp = tmp_path / "noprj.shp"
    forest(4547).to_file(shp, encoding="UTF-8")
    shp.with_suffix(".prj").unlink()
    source = open_upload(shp, "noprj.shp", tmp_path / "work")
    assert source.crs is None
    with pytest.raises(IngestError) as caught:
        resolve_crs(source.crs, None)
    assert caught.value.code == "no_crs"
    crs = resolve_crs(source.crs, "EPSG:4547")
    assert crs.to_epsg() == 4547
    assert source.bounds is not None
    check_in_district(source.bounds, crs)


@pytest.mark.parametrize(
    ("override", "epsg"),
    [
        ("EPSG:4490", 4490),
        ("4490", 4490),
        ("epsg:4547", 4547),
        (" EPSG:2383 ", 2383),
        (pyproj.CRS.from_epsg(4547).to_wkt(), 4547),
        ("+proj=tmerc +lat_0=0 +lon_0=114 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs", None),
        ("EPSG:4547+5773", 4547),  # compound: its horizontal part
        ("EPSG:4979", 4326),  # 3D geographic: reduced to 2D
    ],
)
def test_override_forms(override: str, epsg: int | None) -> None:
    crs = resolve_crs(pyproj.CRS.from_epsg(4326), override)
    assert crs.is_projected or crs.is_geographic
    assert len(crs.axis_info) == 2
    if epsg is not None:
        assert crs.to_epsg() == epsg
    else:
        assert crs.is_projected and crs.to_dict()["lon_0"] == 114  # a PROJ string: GRS80, CM 114E


def test_override_wins_over_the_file() -> None:
    assert resolve_crs(pyproj.CRS.from_epsg(4326), "EPSG:4547").to_epsg() == 4547
    assert resolve_crs(pyproj.CRS.from_epsg(4326), None).to_epsg() == 4326
    assert resolve_crs(pyproj.CRS.from_epsg(4326), "  ").to_epsg() == 4326


@pytest.mark.parametrize(
    "code",
    [
        4490,
        4513,
        4526,
        4533,
        4534,
        4547,
        4554,
        4610,
        2327,
        2362,
        2383,
        2390,
        4214,
        2414,
        2435,
        21457,
        4326,
        3857,
    ],
)
def test_accepted_families(code: int) -> None:
    assert resolve_crs(None, f"EPSG:{code}").to_epsg() == code


@pytest.mark.parametrize(
    "override", ["EPSG:5773", "EPSG:4978", "not a crs", "EPSG:999999", "+init=epsg:4326"]
)
def test_bad_overrides(override: str) -> None:
    with pytest.raises(IngestError) as caught:
        resolve_crs(None, override)
    assert caught.value.code == "bad_crs" and "--crs" in caught.value.message_zh


def test_vertical_file_crs_is_refused() -> None:
    with pytest.raises(IngestError) as caught:
        resolve_crs(pyproj.CRS.from_epsg(5773), None)
    assert caught.value.code == "bad_crs"


# --- check_in_district: files that are right -------------------------------------------------------------


@pytest.mark.parametrize("code", [4490, 4547, 2383, 4326, 3857])
def test_correct_files_pass(tmp_path: Path, code: int) -> None:
    upload = tmp_path / f"forest_{code}.gpkg"
    forest(code).to_file(upload, driver="GPKG")
    source = open_upload(upload, upload.name, tmp_path / "work")
    crs = resolve_crs(source.crs, None)
    assert crs.to_epsg() == code
    assert source.bounds is not None
    check_in_district(source.bounds, crs)


def test_margin() -> None:
    east = DISTRICT.extent[2]
    check_in_district((east + 0.03, 22.7, east + 0.04, 22.71), pyproj.CRS.from_epsg(4490))  # ~3 km out
    outside((east + 0.2, 22.7, east + 0.21, 22.71), 4490)  # ~20 km out
    check_in_district((east + 0.2, 22.7, east + 0.21, 22.71), pyproj.CRS.from_epsg(4490), margin_m=25_000)


def test_empty_extent_is_not_checked() -> None:
    nan = float("nan")
    check_in_district((nan, nan, nan, nan), STORAGE_CRS)


# --- check_in_district: diagnoses ------------------------------------------------------------------------


def test_swapped_latitude_and_longitude() -> None:
    west, south, east, north = LONGGANG
    error = outside((south, west, north, east), 4326)
    assert "经纬度顺序颠倒（纬度在前）" in error.message_zh
    assert "latitude and longitude look swapped" in error.message_en
    assert error.details[0]["cause"] == "axis_swapped"


def test_zone_prefix_on_a_crs_without_it() -> None:
    error = outside(bounds_in(4526), 4547)
    assert "坐标带号前缀 38，应为 EPSG:4526（3° 带 38 带号坐标）" in error.message_zh
    assert "EPSG:4526" in error.message_en and error.details[0]["suggested_crs"] == "EPSG:4526"


def test_no_zone_prefix_on_a_crs_with_it() -> None:
    error = outside(bounds_in(4547), 4526)
    assert "不带带号前缀" in error.message_zh and "EPSG:4547" in error.message_zh
    assert error.details[0]["cause"] == "zone_prefix"


def test_zone_prefix_in_xian_1980() -> None:
    error = outside(bounds_in(2362), 2383)
    assert "坐标带号前缀 38" in error.message_zh and "EPSG:2362" in error.message_zh


@pytest.mark.parametrize(
    ("declared", "data", "suggested"), [(4546, 4547, 4547), (4548, 4547, 4547), (4527, 4526, 4526)]
)
def test_wrong_central_meridian(declared: int, data: int, suggested: int) -> None:
    error = outside(bounds_in(data), declared)
    assert "中央经线错误" in error.message_zh and f"EPSG:{suggested}" in error.message_zh
    assert "central meridian" in error.message_en and error.details[0]["suggested_crs"] == f"EPSG:{suggested}"


def test_lonlat_declared_as_projected() -> None:
    error = outside(LONGGANG, 4547)
    assert "坐标为经纬度，但声明为投影坐标系" in error.message_zh
    assert "EPSG:4490" in error.message_zh and "EPSG:4326" in error.message_zh


def test_web_mercator_declared_as_something_else() -> None:
    x_min, y_min, x_max, y_max = bounds_in(3857)
    assert 12.6e6 < x_min < 12.8e6 and 2.5e6 < y_min < 2.7e6
    error = outside((x_min, y_min, x_max, y_max), 4547)
    assert "EPSG:3857" in error.message_zh and error.details[0]["cause"] == "web_mercator"


def test_gauss_kruger_metres_declared_as_lonlat() -> None:
    error = outside(bounds_in(4547), 4490)
    assert "EPSG:4547" in error.message_zh and error.details[0]["cause"] == "projected_as_geographic"


def test_a_place_in_beijing_gets_the_generic_message() -> None:
    error = outside((116.30, 39.90, 116.40, 40.00), 4326)
    assert error.details[0]["cause"] == "unknown" and error.details[0]["suggested_crs"] is None
    assert "116.3000–116.4000°E" in error.message_zh and "114.05–114.40°E" in error.message_zh
    assert "39.9000–40.0000°N" in error.message_en


# --- transformer_to_storage ------------------------------------------------------------------------------


def test_transformer_to_storage_is_cached_and_east_north() -> None:
    crs = pyproj.CRS.from_epsg(4490)
    transformer = transformer_to_storage(crs)
    assert transformer is transformer_to_storage(pyproj.CRS.from_epsg(4490))
    x, y = transformer.transform(114.25, 22.70)
    assert 525_000 < x < 526_500 and 2_510_000 < y < 2_513_000
    identity = transformer_to_storage(STORAGE_CRS)
    assert identity.transform(525_000.0, 2_511_000.0) == pytest.approx((525_000.0, 2_511_000.0))
