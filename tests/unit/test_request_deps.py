"""The shared request helpers: one upload saver and its limits, If-Match reading, the ETag answer."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Response
from starlette.datastructures import Headers, UploadFile

from app.deps import UploadKind, VersionCheck, saved_upload, upload_limit, with_etag
from app.errors import PayloadTooLarge, Unprocessable

MIB = 1024 * 1024


class _Request:
    """Just what the helpers read from a request: the settings and the headers."""

    def __init__(
        self, data_dir: Path, max_upload_mb: int, content_length: int | None = None, **kinds: int
    ) -> None:
        limits = {"max_footprint_upload_mb": 50, "max_sheet_upload_mb": 10, **kinds}
        settings = SimpleNamespace(data_dir=data_dir, max_upload_mb=max_upload_mb, **limits)
        self.app = SimpleNamespace(state=SimpleNamespace(settings=settings))
        self.headers = Headers({"content-length": str(content_length)} if content_length else {})


class _CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    pulled = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.pulled += len(data)
        return data


def _request(tmp_path: Path, max_upload_mb: int = 2, content_length: int | None = None, **kinds: int) -> Any:
    return _Request(tmp_path, max_upload_mb, content_length, **kinds)


def test_an_upload_is_saved_privately_with_its_bare_name_and_removed_afterwards(tmp_path: Path) -> None:
    body = b"x" * (MIB + 7)
    with saved_upload(
        _request(tmp_path), UploadFile(io.BytesIO(body), filename="a/b/楼栋.gpkg"), UploadKind.LAYER
    ) as up:
        assert (up.name, up.path.read_bytes()) == ("楼栋.gpkg", body)
        assert up.path.parent.parent == tmp_path / "tmp"
        saved = up.path
    assert not saved.exists() and not saved.parent.exists()


@pytest.mark.parametrize(("filename", "name"), [(None, "upload"), ("", "upload"), ("dir/", "dir")])
def test_an_upload_without_a_usable_name_is_called_upload(
    tmp_path: Path, filename: str | None, name: str
) -> None:
    with saved_upload(
        _request(tmp_path), UploadFile(io.BytesIO(b"1"), filename=filename), UploadKind.LAYER
    ) as up:
        assert up.name == name


def test_each_kind_has_its_configured_limit_never_above_the_general_one(tmp_path: Path) -> None:
    assert upload_limit(_request(tmp_path, 2)) == 2 * MIB
    assert upload_limit(_request(tmp_path, 2), UploadKind.SHEET) == 2 * MIB
    assert upload_limit(_request(tmp_path, 512), UploadKind.FOOTPRINT) == 50 * MIB
    assert upload_limit(_request(tmp_path, 512), UploadKind.SHEET) == 10 * MIB
    assert upload_limit(_request(tmp_path, 512, max_sheet_upload_mb=3), UploadKind.SHEET) == 3 * MIB


def test_a_stream_past_the_limit_is_refused_as_soon_as_it_passes(tmp_path: Path) -> None:
    source = _CountingFile(b"x" * (5 * MIB))
    with (
        pytest.raises(PayloadTooLarge) as refused,
        saved_upload(_request(tmp_path), UploadFile(source), UploadKind.LAYER),
    ):
        pytest.fail("an oversized upload was handed over")
    # 2 MiB allowed: the third 1 MiB chunk passes it; the remaining 2 MiB are never read.
    assert source.pulled == 3 * MIB
    assert (refused.value.status, refused.value.code) == (413, "payload_too_large")
    assert refused.value.message_zh == "上传文件超过 2 MB 上限。"
    assert refused.value.message_en == "The upload exceeds the 2 MB limit."
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_declared_length_past_the_limit_is_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    source = _CountingFile(b"x")
    request = _request(tmp_path, content_length=3 * MIB + 1)
    with pytest.raises(PayloadTooLarge), saved_upload(request, UploadFile(source), UploadKind.SHEET):
        pytest.fail("an oversized upload was handed over")
    assert source.pulled == 0


def test_the_kind_of_upload_sets_the_limit_enforced(tmp_path: Path) -> None:
    request = _request(tmp_path, 512, max_sheet_upload_mb=1)
    with pytest.raises(PayloadTooLarge) as refused:
        with saved_upload(request, UploadFile(io.BytesIO(b"x" * (MIB + 1))), UploadKind.SHEET):
            pytest.fail("an oversized upload was handed over")
    assert refused.value.message_en == "The upload exceeds the 1 MB limit."


@pytest.mark.parametrize(
    ("if_match", "body_version", "expected"),
    [('"7"', 3, (7, True)), ('W/"7"', None, (7, True)), (" 7 ", None, (7, True)), (None, 3, (3, False))],
)
def test_if_match_wins_over_the_version_field(
    if_match: str | None, body_version: int | None, expected: tuple[int, bool]
) -> None:
    assert VersionCheck(Response(), if_match).expected(body_version) == expected


@pytest.mark.parametrize(("if_match", "code"), [('"seven"', "bad_if_match"), (None, "version_required")])
def test_a_missing_or_foreign_version_is_refused(if_match: str | None, code: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        VersionCheck(Response(), if_match).expected(None)
    assert refused.value.code == code


def test_the_answer_carries_the_new_version_as_its_etag() -> None:
    response = Response()
    obj = SimpleNamespace(version=12)
    assert VersionCheck(response, None).answer(obj) is obj
    assert response.headers["ETag"] == '"12"'
    assert with_etag(response, SimpleNamespace(version=13)).version == 13
    assert response.headers["ETag"] == '"13"'
