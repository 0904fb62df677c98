"""Materials store: type by content, zip guards, file names, the local store's layout, SigV4 signing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import ezdxf
import openpyxl
import pytest
import weasyprint
from PIL import Image

from app.errors import PayloadTooLarge, Unprocessable
from app.materials.guards import (
    UnsupportedMaterialType,
    check_kind,
    clean_file_name,
    stage_stream,
)
from app.materials.sniff import sniff_head
from app.materials.storage import LocalBlobStore, sigv4_headers
from layers.ingest.errors import IngestError


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _pdf() -> bytes:
    return bytes(weasyprint.HTML(string="<h1>Business licence</h1><p>USCC 91440300</p>").write_pdf())


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def _xlsx() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["材料", "份数"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _docx() -> bytes:
    # No DOCX writer is installed: the minimal WordprocessingML package, by hand (ECMA-376 part names).
    return _zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/content-types"/>',
            "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
            "word/document.xml": "<w:document><w:body>可研报告</w:body></w:document>".encode(),
        }
    )


def _ofd() -> bytes:
    # GB/T 33190: the package's entry file is OFD.xml at the root, documents below Doc_0/.
    return _zip({"OFD.xml": b'<?xml version="1.0"?><ofd:OFD DocType="OFD"/>', "Doc_0/Document.xml": b"<x/>"})


def _dxf(tmp: Path, fmt: str) -> bytes:
    doc = ezdxf.new()
    doc.modelspace().add_line((0, 0), (10, 10))
    path = tmp / f"drawing-{fmt}.dxf"
    doc.saveas(path, fmt=fmt)
    return path.read_bytes()


def test_kinds_of_files_made_by_real_tools(tmp_path: Path) -> None:
    files = {
        "pdf": _pdf(),
        "png": _image("PNG"),
        "jpeg": _image("JPEG"),
        "xlsx": _xlsx(),
        "docx": _docx(),
        "ofd": _ofd(),
        "zip": _zip({"扫描件/第1页.jpg": _image("JPEG")}),
    }
    for expected, data in files.items():
        assert check_kind(_write(tmp_path, f"f.{expected}", data), "f", None) == expected
    assert check_kind(_write(tmp_path, "a.dxf", _dxf(tmp_path, "asc")), "a", None) == "dxf"
    assert check_kind(_write(tmp_path, "b.dxf", _dxf(tmp_path, "bin")), "b", None) == "dxf"
    # No DWG writer is installed: the header of an AutoCAD 2018 file (AC1032) and of R14 (AC1014).
    assert sniff_head(b"AC1032\x00\x00\x00\x00\x00\x00\x01") == "dwg"
    assert sniff_head(b"AC1014\x00\x00\x00") == "dwg"
    # A DXF with leading 999 comments is still a DXF; a stored PDF inside a zip stays a zip.
    assert sniff_head(b"999\ncomment\n  0\nSECTION\n  2\nHEADER\n") == "dxf"
    assert check_kind(_write(tmp_path, "p.zip", _zip({"a.pdf": _pdf()})), "p", None) == "zip"


def test_html_svg_and_scripts_are_refused_naming_detected_and_allowed(tmp_path: Path) -> None:
    for data in (
        b"<!doctype html><script>alert(1)</script>",
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"#!/bin/sh\nrm -rf /\n",
        b"",
    ):
        with pytest.raises(UnsupportedMaterialType) as caught:
            check_kind(_write(tmp_path, "x.pdf", data), "x.pdf", {"pdf", "ofd"})
        assert caught.value.status == 415
        assert "PDF、OFD" in caught.value.message_zh and caught.value.extra["detected"] is None
    with pytest.raises(UnsupportedMaterialType) as caught:
        check_kind(_write(tmp_path, "photo.pdf", _image("PNG")), "photo.pdf", {"pdf", "ofd"})
    assert caught.value.extra == {"detected": "png", "allowed": ["pdf", "ofd"]}
    assert "PNG" in caught.value.message_zh and "PDF、OFD" in caught.value.message_zh


def test_zip_bombs_traversal_and_liars_are_refused(tmp_path: Path) -> None:
    # 300 MiB of zeros deflate to about 300 KiB: a ratio near 1000:1, refused before anything is expanded.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as member:
        zeros = bytes(1024 * 1024)
        for _ in range(300):
            member.write(zeros)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(IngestError) as caught:
        check_kind(bomb, "bomb.zip", None)
    assert caught.value.code == "zip_bomb" and caught.value.status == 413

    many = _zip({f"p{i}.txt": b"x" for i in range(5001)})
    with pytest.raises(IngestError) as caught:
        check_kind(_write(tmp_path, "many.zip", many), "many.zip", None)
    assert caught.value.code == "zip_bomb"

    for entry in ("../../etc/passwd", "/etc/passwd", "docs/../../x.pdf"):
        with pytest.raises(IngestError) as caught:
            check_kind(_write(tmp_path, "slip.zip", _zip({entry: b"x"})), "slip.zip", None)
        assert caught.value.code == "unsafe_zip_path", entry

    # An archive whose directory claims 10 bytes for a member of 100 000: refused, not trusted.
    honest = _zip({"a.txt": b"A" * 100_000})
    liar = honest.replace((100_000).to_bytes(4, "little"), (10).to_bytes(4, "little"))
    assert liar != honest
    with pytest.raises(IngestError) as caught:
        check_kind(_write(tmp_path, "liar.zip", liar), "liar.zip", None)
    assert caught.value.code in ("zip_bomb", "unreadable_file")


def _gbk_zip(names: list[str]) -> bytes:
    """A zip whose member names are GBK bytes without the UTF-8 flag, as zh-CN Windows writes them."""
    placeholders = [chr(ord("Q") + i) * len(n.encode("gbk")) for i, n in enumerate(names)]
    data = _zip(dict.fromkeys(placeholders, b"scan"))
    for name, placeholder in zip(names, placeholders, strict=True):
        assert data.count(placeholder.encode()) == 2  # local header and central directory
        data = data.replace(placeholder.encode(), name.encode("gbk"))
    return data


def test_gbk_member_names_are_read_and_traversal_in_gbk_refused(tmp_path: Path) -> None:
    ofd = _gbk_zip(["OFD.xml", "营业执照/正本.xml"])
    with zipfile.ZipFile(io.BytesIO(ofd)) as zf:
        assert all(not info.flag_bits & 0x800 for info in zf.infolist())
    assert check_kind(_write(tmp_path, "gbk.ofd", ofd), "gbk.ofd", None) == "ofd"
    with pytest.raises(IngestError) as caught:
        check_kind(_write(tmp_path, "gbk.zip", _gbk_zip(["../营业执照.pdf"])), "gbk.zip", None)
    assert caught.value.code == "unsafe_zip_path" and "营业执照" in caught.value.message_zh


def test_file_names_utf8_gbk_folders_and_control_characters() -> None:
    assert clean_file_name("营业执照（副本）.pdf", "pdf") == "营业执照（副本）.pdf"
    # GBK bytes that Starlette decoded as Latin-1 because they are not UTF-8.
    mangled = "营业执照.pdf".encode("gbk").decode("latin-1")
    assert clean_file_name(mangled, "pdf") == "营业执照.pdf"
    assert clean_file_name("café.pdf", "pdf") == "café.pdf"  # a real Latin-1 name stays
    assert clean_file_name("C:\\Users\\张三\\可研报告.docx", "docx") == "可研报告.docx"
    assert clean_file_name("../../etc/passwd", "pdf") == "passwd"
    assert clean_file_name("", "jpeg") == "material.jpg"
    decomposed = "e\u0301.pdf"
    assert clean_file_name(decomposed, "pdf") == "\u00e9.pdf"
    for bad in ("a\x00b.pdf", "a\nb.pdf", "x\x1b.pdf"):
        with pytest.raises(Unprocessable):
            clean_file_name(bad, "pdf")
    with pytest.raises(Unprocessable):
        clean_file_name("长" * 256 + ".pdf", "pdf")


def test_staging_counts_hashes_and_leaves_nothing_on_refusal(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")
    data = _pdf()
    staged = stage_stream(store, io.BytesIO(data), "营业执照.pdf", 10_000_000, {"pdf"})
    assert staged.sha256 == hashlib.sha256(data).hexdigest() and staged.size == len(data)
    assert (staged.kind, staged.media_type, staged.file_name) == ("pdf", "application/pdf", "营业执照.pdf")
    assert store.put(staged.path, staged.sha256) is True
    on_disk = tmp_path / "files" / "sha256" / staged.sha256[:2] / staged.sha256[2:4] / staged.sha256
    assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == staged.sha256
    # The same bytes again: stored once.
    again = stage_stream(store, io.BytesIO(data), "副本.pdf", 10_000_000, None)
    assert store.put(again.path, again.sha256) is False and store.count() == 1
    assert list((tmp_path / "files" / "tmp").iterdir()) == []

    with pytest.raises(PayloadTooLarge):
        stage_stream(store, io.BytesIO(data), "big.pdf", len(data) - 1, None)
    with pytest.raises(UnsupportedMaterialType):
        stage_stream(store, io.BytesIO(b"<html></html>"), "x.html", 10_000_000, None)
    with pytest.raises(Unprocessable):
        stage_stream(store, io.BytesIO(data), "a\x00.pdf", 10_000_000, None)
    assert list((tmp_path / "files" / "tmp").iterdir()) == [] and store.count() == 1


def test_sigv4_signature_matches_the_aws_documentation_example() -> None:
    # "GET Object" of the Amazon S3 API reference (Signature Version 4, header-based authentication).
    headers = sigv4_headers(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_checklist_types_come_from_the_templates_materials_lists(tmp_path: Path) -> None:
    from app.materials.service import template_types

    (tmp_path / "a.yaml").write_text(
        "code: house_building\nmaterials:\n"
        "  - {code: business_licence, name_zh: 营业执照, required: true, types: [pdf, ofd], items: [x]}\n"
        "  - {code: red_line_map, name_zh: 用地红线图, required: true, types: [dwg, dxf], items: [x]}\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "materials:\n  - {code: business_licence, types: [jpeg]}\n  - {code: no_types}\n", encoding="utf-8"
    )
    (tmp_path / "broken.yaml").write_text("materials: [", encoding="utf-8")
    assert template_types((tmp_path,)) == {
        "business_licence": frozenset({"pdf", "ofd", "jpeg"}),
        "red_line_map": frozenset({"dwg", "dxf"}),
    }
