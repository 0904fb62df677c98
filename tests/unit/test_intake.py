"""Intake of uploaded layer files: formats, layers, DBF encodings and the guards against hostile uploads."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import LineString, Polygon

from layers.ingest.errors import IngestError
from layers.ingest.intake import IntakeLimits, open_upload

OGR2OGR = shutil.which("ogr2ogr")
needs_ogr2ogr = pytest.mark.skipif(OGR2OGR is None, reason="GDAL's ogr2ogr (gdal-bin) is not installed")

NAMES = ["龙岗区林地", "坂田街道"]


def forest(crs: int | str = 4490) -> gpd.GeoDataFrame:
    """Two small polygons in Longgang with Chinese attribute text."""
    squares = [
        Polygon([(114.20, 22.70), (114.21, 22.70), (114.21, 22.71), (114.20, 22.71)]),
        Polygon([(114.05, 22.62), (114.06, 22.62), (114.06, 22.63), (114.05, 22.63)]),
    ]
    frame = gpd.GeoDataFrame({"name": NAMES, "grade": [1, 2]}, geometry=squares, crs=4490)
    return frame.to_crs(crs)


def zip_files(target: Path, entries: Mapping[str, bytes | Path]) -> Path:
    """Write a zip whose entries are given as bytes or as files to copy."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
    return target


def shapefile_parts(shp: Path, folder: str = "") -> dict[str, Path]:
    """The files of a Shapefile set as zip entries (``folder`` + file name)."""
    return {folder + path.name: path for path in shp.parent.iterdir() if path.name.startswith(shp.stem + ".")}


def ogr2ogr(*args: str | Path) -> None:
    assert OGR2OGR is not None
    subprocess.run([OGR2OGR, *map(str, args)], check=True, capture_output=True)


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def refused(upload: Path, name: str, work: Path, **kwargs: Any) -> IngestError:
    with pytest.raises(IngestError) as caught:
        open_upload(upload, name, work, **kwargs)
    error = caught.value
    assert error.message_zh and error.message_en and error.code
    return error


# --- formats -------------------------------------------------------------------------------------------


def test_geopackage_with_one_layer(inbox: Path, work: Path) -> None:
    upload = inbox / "upload.bin"  # the app stores uploads under its own names
    forest().to_file(inbox / "written.gpkg", driver="GPKG", layer="forest_land")
    (inbox / "written.gpkg").rename(upload)
    source = open_upload(upload, "林地.gpkg", work)
    assert source.driver == "GPKG" and source.layer == "forest_land"
    assert source.feature_count == 2 and source.encoding is None
    assert source.crs is not None and source.crs.to_epsg() == 4490
    assert source.path.is_relative_to(work) and source.path.is_file()
    assert source.sha256 == hashlib.sha256(upload.read_bytes()).hexdigest()
    assert source.size_bytes == upload.stat().st_size and source.original_name == "林地.gpkg"
    assert source.bounds is not None and 114.0 < source.bounds[0] < source.bounds[2] < 114.3


def test_geopackage_with_two_layers_needs_a_layer(inbox: Path, work: Path) -> None:
    upload = inbox / "two.gpkg"
    forest().to_file(upload, driver="GPKG", layer="forest_land")
    roads = gpd.GeoDataFrame(
        {"name": ["深惠路"]}, geometry=[LineString([(114.2, 22.7), (114.3, 22.7)])], crs=4490
    )
    roads.to_file(upload, driver="GPKG", layer="roads")
    error = refused(upload, "two.gpkg", work)
    assert error.code == "layer_required" and error.status == 422
    assert {item["layer"] for item in error.details} == {"forest_land", "roads"}
    assert "forest_land" in error.message_zh and "roads" in error.message_en
    assert open_upload(upload, "two.gpkg", work, layer="roads").feature_count == 1
    unknown = refused(upload, "two.gpkg", work, layer="rivers")
    assert (
        unknown.code == "unknown_layer"
        and "forest_land" in unknown.message_zh
        and "roads" in unknown.message_zh
    )


def test_zipped_shapefile_with_cpg_in_a_subfolder(inbox: Path, work: Path) -> None:
    shp = inbox / "forest.shp"
    forest(4547).to_file(shp, encoding="UTF-8")
    entries: dict[str, bytes | Path] = dict(shapefile_parts(shp, "数据/"))
    assert "数据/forest.cpg" in entries
    entries["__MACOSX/数据/._forest.shp"] = b"mac resource fork"
    upload = zip_files(inbox / "forest.zip", entries)
    source = open_upload(upload, "forest.zip", work)
    assert source.driver == "ESRI Shapefile" and source.layer is None and source.encoding == "UTF-8"
    assert source.crs is not None and source.crs.equals(4547, ignore_axis_order=True)
    frame = pyogrio.read_dataframe(source.path, layer=source.layer, encoding=source.encoding)
    assert frame["name"].tolist() == NAMES


@needs_ogr2ogr
def test_gbk_shapefile_without_cpg_is_detected(inbox: Path, work: Path) -> None:
    geojson = inbox / "forest.geojson"
    forest().to_file(geojson, driver="GeoJSON")
    ogr2ogr("-f", "ESRI Shapefile", inbox / "gbk.shp", geojson, "-lco", "ENCODING=GBK")
    (inbox / "gbk.cpg").unlink()
    upload = zip_files(inbox / "gbk.zip", shapefile_parts(inbox / "gbk.shp"))
    source = open_upload(upload, "gbk.zip", work)
    assert source.encoding == "GB18030"
    frame = pyogrio.read_dataframe(source.path, encoding=source.encoding)
    assert frame["name"].tolist() == NAMES
    assert pyogrio.read_dataframe(source.path)["name"].tolist() != NAMES  # what GDAL guesses alone


def test_utf8_shapefile_without_cpg_is_detected(inbox: Path, work: Path) -> None:
    shp = inbox / "u8.shp"
    forest().to_file(shp, encoding="UTF-8")
    (inbox / "u8.cpg").unlink()
    source = open_upload(zip_files(inbox / "u8.zip", shapefile_parts(shp)), "u8.zip", work)
    assert source.encoding == "UTF-8"
    assert pyogrio.read_dataframe(source.path, encoding=source.encoding)["name"].tolist() == NAMES


def test_undetectable_encoding_asks_for_one(inbox: Path, work: Path) -> None:
    shp = inbox / "latin.shp"
    frame = forest()
    frame["name"] = ["ÿÿ forêt", "ÿ"]  # 0xFF is neither UTF-8 nor GB18030
    frame.to_file(shp, encoding="cp1252")
    (inbox / "latin.cpg").unlink(missing_ok=True)
    upload = zip_files(inbox / "latin.zip", shapefile_parts(shp))
    error = refused(upload, "latin.zip", work)
    assert error.code == "unknown_encoding" and "--encoding" in error.message_zh
    source = open_upload(upload, "latin.zip", work, encoding="1252")
    assert source.encoding == "CP1252"
    assert (
        pyogrio.read_dataframe(source.path, encoding=source.encoding)["name"].tolist()
        == frame["name"].tolist()
    )
    assert refused(upload, "latin.zip", work, encoding="klingon").code == "bad_encoding"


def test_several_shapefiles_need_a_layer(inbox: Path, work: Path) -> None:
    entries: dict[str, Path] = {}
    for stem in ("a", "b"):
        forest().to_file(inbox / f"{stem}.shp", encoding="UTF-8")
        entries.update(shapefile_parts(inbox / f"{stem}.shp"))
    upload = zip_files(inbox / "two.zip", entries)
    error = refused(upload, "two.zip", work)
    assert error.code == "layer_required" and [item["layer"] for item in error.details] == ["a", "b"]
    assert open_upload(upload, "two.zip", work, layer="b").path.name == "b.shp"
    assert refused(upload, "two.zip", work, layer="c").code == "unknown_layer"


def test_incomplete_shapefile(inbox: Path, work: Path) -> None:
    forest().to_file(inbox / "x.shp")
    parts = {name: path for name, path in shapefile_parts(inbox / "x.shp").items() if name != "x.dbf"}
    error = refused(zip_files(inbox / "x.zip", parts), "x.zip", work)
    assert error.code == "incomplete_shapefile" and ".dbf" in error.message_zh


def test_shapefile_in_a_zip_with_gbk_entry_names(inbox: Path, work: Path) -> None:
    """Archives made on zh-CN Windows store GBK names without the UTF-8 flag."""
    forest().to_file(inbox / "QZQZ.shp", encoding="UTF-8")
    upload = zip_files(inbox / "gbk-names.zip", shapefile_parts(inbox / "QZQZ.shp"))
    data = upload.read_bytes()
    assert len("林地".encode("gbk")) == len(b"QZQZ")
    upload.write_bytes(data.replace(b"QZQZ", "林地".encode("gbk")))
    source = open_upload(upload, "gbk-names.zip", work, layer="林地")
    assert source.path.name == "林地.shp" and source.feature_count == 2


def test_geojson(inbox: Path, work: Path) -> None:
    upload = inbox / "f.geojson"
    forest(4326).to_file(upload, driver="GeoJSON")
    source = open_upload(upload, "forest.geojson", work)
    assert source.driver == "GeoJSON" and source.layer is None and source.feature_count == 2
    assert source.crs is not None and source.crs.equals(4326, ignore_axis_order=True)


@needs_ogr2ogr
def test_dxf_written_by_ogr2ogr(inbox: Path, work: Path) -> None:
    geojson = inbox / "lines.geojson"
    lines = [
        LineString([(520000, 2510000), (521000, 2511000)]),
        LineString([(522000, 2512000), (523000, 2512500)]),
    ]
    gpd.GeoDataFrame(geometry=lines, crs=4547).to_file(geojson, driver="GeoJSON")
    ogr2ogr("-f", "DXF", inbox / "plan.dxf", geojson)
    source = open_upload(inbox / "plan.dxf", "图则.dxf", work)
    assert source.driver == "DXF" and source.layer == "entities" and source.feature_count == 2
    assert refused(inbox / "plan.dxf", "图则.dxf", work, layer="0").code == "unknown_layer"


@needs_ogr2ogr
def test_filegdb_zipped_and_as_a_folder(inbox: Path, work: Path) -> None:
    geojson = inbox / "forest.geojson"
    forest(4547).to_file(geojson, driver="GeoJSON")
    gdb = inbox / "规划.gdb"
    ogr2ogr("-f", "OpenFileGDB", gdb, geojson, "-nln", "forest_land")
    with_folder = zip_files(inbox / "a.gdb.zip", {f"规划.gdb/{p.name}": p for p in gdb.iterdir()})
    without_folder = zip_files(inbox / "b.zip", {p.name: p for p in gdb.iterdir()})
    for upload in (with_folder, without_folder):
        source = open_upload(upload, upload.name, work)
        assert source.driver == "OpenFileGDB" and source.layer == "forest_land" and source.feature_count == 2
        assert source.path.suffix == ".gdb" and source.path.is_relative_to(work)
    direct = open_upload(gdb, gdb.name, work)
    assert direct.driver == "OpenFileGDB" and direct.path.is_relative_to(work)
    assert pyogrio.read_dataframe(direct.path, layer=direct.layer)["name"].tolist() == NAMES


def test_local_shapefile_path_copies_its_sidecars(inbox: Path, work: Path) -> None:
    shp = inbox / "forest.shp"
    forest(4547).to_file(shp, encoding="UTF-8")
    source = open_upload(shp, "forest.shp", work)
    assert source.path.is_relative_to(work)
    assert {path.suffix for path in source.path.parent.iterdir()} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    assert source.crs is not None and source.feature_count == 2


# --- refusals ------------------------------------------------------------------------------------------


def test_unsupported_format(inbox: Path, work: Path) -> None:
    upload = inbox / "notes.txt"
    upload.write_text("hello")
    error = refused(upload, "notes.txt", work)
    assert error.code == "unsupported_format" and error.status == 422
    assert error.message_zh.startswith("不支持的文件格式") and "GeoPackage" in error.message_en


@pytest.mark.parametrize(
    "name", ["/vsicurl/http://example.com/a.gpkg", "PG:dbname=x", "WFS:http://x/wfs", "GPKG:/tmp/a.gpkg:t"]
)
def test_gdal_paths_and_connection_strings_are_refused(inbox: Path, work: Path, name: str) -> None:
    upload = inbox / "a.gpkg"
    forest().to_file(upload, driver="GPKG")
    assert refused(upload, name, work).code == "unsafe_path"


def test_corrupt_files(inbox: Path, work: Path) -> None:
    noise = inbox / "noise"
    noise.write_bytes(os.urandom(4096))
    assert refused(noise, "broken.gpkg", work).code == "unreadable_file"
    assert refused(noise, "broken.zip", work).code == "unreadable_file"
    assert refused(noise, "broken.geojson", work).code == "unreadable_file"
    fake = inbox / "fake.gpkg"
    fake.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    error = refused(fake, "fake.gpkg", work)
    assert (
        error.code == "unreadable_file"
        and str(work) not in error.message_en
        and "Traceback" not in error.message_en
    )


def test_upload_too_large(inbox: Path, work: Path) -> None:
    upload = inbox / "a.gpkg"
    forest().to_file(upload, driver="GPKG")
    error = refused(upload, "a.gpkg", work, limits=IntakeLimits(max_upload_bytes=1000))
    assert (error.code, error.status) == ("file_too_large", 413)


def test_zip_bomb_by_ratio(inbox: Path, work: Path) -> None:
    upload = zip_files(inbox / "bomb.zip", {"forest.shp": bytes(50 * 1024**2)})
    error = refused(upload, "bomb.zip", work)
    assert (error.code, error.status) == ("zip_bomb", 413) and "200" in error.message_zh
    assert not files_under(work)


def test_zip_with_too_many_entries(inbox: Path, work: Path) -> None:
    upload = zip_files(inbox / "many.zip", {f"f{i}.txt": b"x" for i in range(2001)})
    error = refused(upload, "many.zip", work)
    assert (error.code, error.status) == ("zip_bomb", 413) and "2000" in error.message_en


def test_zip_above_the_total_unzipped_size(inbox: Path, work: Path) -> None:
    upload = zip_files(inbox / "big.zip", {"a.shp": os.urandom(3000), "a.dbf": os.urandom(3000)})
    error = refused(upload, "big.zip", work, limits=IntakeLimits(max_unzipped_bytes=5000))
    assert (error.code, error.status) == ("zip_bomb", 413)


def test_zip_lying_about_its_sizes(inbox: Path, work: Path) -> None:
    """Declared sizes say 100 bytes; the deflate stream holds 20 MB of zeros. Nothing large is written."""
    forest().to_file(inbox / "x.shp")
    entries: dict[str, bytes | Path] = dict(shapefile_parts(inbox / "x.shp"))
    entries["x.dbf"] = bytes(20 * 1024**2)
    upload = zip_files(inbox / "liar.zip", entries)
    upload.write_bytes(_patch_sizes(upload.read_bytes(), b"x.dbf", 100))
    with zipfile.ZipFile(upload) as archive:
        assert archive.getinfo("x.dbf").file_size == 100
    error = refused(upload, "liar.zip", work)
    assert error.code in ("zip_bomb", "unreadable_file")
    assert sum(path.stat().st_size for path in files_under(work)) < 1024**2


@pytest.mark.parametrize(
    "entry", ["../evil.shp", "/etc/x.shp", "a/../../evil.shp", "C:/evil.shp", "..\\evil.shp"]
)
def test_zip_slip_entries_are_refused(tmp_path: Path, inbox: Path, work: Path, entry: str) -> None:
    before = files_under(tmp_path)
    upload = zip_files(inbox / "slip.zip", {"ok.txt": b"x", entry: b"evil"})
    error = refused(upload, "slip.zip", work)
    assert error.code == "unsafe_zip_path" and error.status == 422
    assert files_under(tmp_path) - before == {upload}
    assert not (tmp_path / "evil.shp").exists()


def test_symlink_entry_is_refused(inbox: Path, work: Path) -> None:
    upload = inbox / "link.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        link = zipfile.ZipInfo("forest.dbf")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    assert refused(upload, "link.zip", work).code == "unsafe_zip_path"
    assert not files_under(work)


def test_gdal_syntax_inside_a_zip_is_refused(inbox: Path, work: Path) -> None:
    upload = zip_files(inbox / "vsi.zip", {"PG:dbname=x": b"x"})
    assert refused(upload, "vsi.zip", work).code == "unsafe_path"


def test_encrypted_entry_is_refused(inbox: Path, work: Path) -> None:
    upload = zip_files(inbox / "secret.zip", {"forest.shp": b"secret"})
    upload.write_bytes(_patch_flags(upload.read_bytes(), 0x1))
    error = refused(upload, "secret.zip", work)
    assert (error.code, error.status) == ("encrypted_zip", 422)


def test_nested_zips_are_not_opened(inbox: Path, work: Path) -> None:
    inner = zip_files(inbox / "inner.zip", {"a.geojson": b"{}"})
    upload = zip_files(inbox / "outer.zip", {"inner.zip": inner})
    assert refused(upload, "outer.zip", work).code == "unsupported_format"


def test_ingest_error_survives_pickling() -> None:
    error = IngestError("中文", "English", code="zip_bomb", status=413, details=[{"a": 1}])
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message_zh, copy.message_en, copy.code, copy.status, copy.details) == (
        "中文",
        "English",
        "zip_bomb",
        413,
        [{"a": 1}],
    )


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size of one entry in its local header and central directory record."""
    patched = bytearray(data)
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", patched, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", patched, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def _patch_flags(data: bytes, flags: int) -> bytes:
    """Set general-purpose flag bits on every local header and central directory record."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature)
        while position != -1:
            current = struct.unpack_from("<H", data, position + offset)[0]
            struct.pack_into("<H", patched, position + offset, current | flags)
            position = data.find(signature, position + 4)
    return bytes(patched)
