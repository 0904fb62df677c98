"""Request helpers shared by every domain's routes: the catalog and check plan, the district clock,
versions, uploads.

Route packages (``app.api``, ``app.tiles``, ``app.ogc``, the workflow domains) import these from here,
never from one another. The storage side of versioned updates (the stale check) is :mod:`app.versioning`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NamedTuple, Protocol, TypeVar

from fastapi import Depends, Header, Request, Response, UploadFile

from analysis.checkplan import CheckPlan
from app.auth.deps import LAYERS_READ_BY_SERVICE, RESTRICTED_LAYERS, Grant
from app.edge.middleware import MEBIBYTE, too_large
from app.errors import NotFound, Unprocessable
from app.versioning import etag
from layers.catalog.model import Catalog, LayerEntry
from layers.district import DISTRICT


def today() -> date:
    """Today in the district's time zone."""
    return datetime.now(DISTRICT.tz).date()


def catalog_of(request: Request) -> Catalog:
    """The catalog loaded at start-up."""
    catalog: Catalog = request.app.state.catalog
    return catalog


def check_plan_of(request: Request) -> CheckPlan:
    """The catalog and the rule set compiled for checks at start-up."""
    plan: CheckPlan = request.app.state.check_plan
    return plan


def visible_layers(request: Request, grant: Grant) -> list[LayerEntry]:
    """The catalog entries the caller may see, in catalog order (the answer is not stored by clients when
    it holds a restricted one)."""
    entries = [e for e in catalog_of(request).layers.values() if grant.may_see(e)]
    if any(e.restricted for e in entries):
        setattr(request.state, RESTRICTED_LAYERS, True)
    return entries


def seen_entry(request: Request, grant: Grant, code: str) -> LayerEntry | None:
    """The catalog entry ``code`` if the caller may see it, noted for the response (None: hidden).

    A restricted layer's answer is sent ``no-store``; a service account's request counts the layer.
    """
    entry = catalog_of(request).layers.get(code)
    if entry is None or not grant.may_see(entry):
        return None
    if entry.restricted:
        setattr(request.state, RESTRICTED_LAYERS, True)
    if grant.principal.service is not None:
        read: set[str] = getattr(request.state, LAYERS_READ_BY_SERVICE, set())
        read.add(code)
        setattr(request.state, LAYERS_READ_BY_SERVICE, read)
    return entry


def visible_entry(request: Request, grant: Grant, code: str) -> LayerEntry:
    """A catalog entry the caller may see, else 404 (restricted layers are not revealed)."""
    entry = seen_entry(request, grant, code)
    if entry is None:
        raise NotFound(f"图层“{code}”不存在。", f"No layer '{code}'.")
    return entry


IfMatch = Annotated[str | None, Header(description="读取时的 ETag（版本号）")]


def _parse_if_match(value: str) -> int:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    try:
        return int(text.strip('"'))
    except ValueError as exc:
        raise Unprocessable(
            f"If-Match 值“{value}”无效，应为读取时的 ETag。",
            f"If-Match '{value}' is not an ETag of this API.",
            code="bad_if_match",
        ) from exc


def expected_version(body_version: int | None, if_match: str | None) -> tuple[int, bool]:
    """The version the client read and whether it came from If-Match; 422 when neither is given."""
    if if_match is not None:
        return _parse_if_match(if_match), True
    if body_version is not None:
        return body_version, False
    raise Unprocessable(
        "缺少版本号：请在请求中提供 version 字段或 If-Match 头。",
        "A version is required: send the 'version' field or an If-Match header.",
        code="version_required",
    )


class HasVersion(Protocol):
    """An object carrying the version a later change must send back."""

    @property
    def version(self) -> int:
        """The object's current version."""
        ...


VersionedT = TypeVar("VersionedT", bound=HasVersion)


def with_etag(response: Response, obj: VersionedT) -> VersionedT:
    """``obj``, with its version sent as the response's ETag (the version a later change must carry)."""
    response.headers["ETag"] = etag(obj.version)
    return obj


class VersionCheck:
    """A versioned change's precondition (If-Match or the body's version field) and its answer's ETag."""

    def __init__(self, response: Response, if_match: IfMatch = None) -> None:
        self.response = response
        self.if_match = if_match

    def expected(self, body_version: int | None) -> tuple[int, bool]:
        """The version the client read and whether it came from If-Match; 422 when neither is given."""
        return expected_version(body_version, self.if_match)

    def answer(self, obj: VersionedT) -> VersionedT:
        """The changed object, with its new version as the ETag."""
        return with_etag(self.response, obj)


Versioned = Annotated[VersionCheck, Depends()]


def scratch_dir(request: Request) -> Path:
    """The service's private scratch folder under the data directory (created on first use)."""
    root: Path = request.app.state.settings.data_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


class UploadKind(StrEnum):
    """What an upload route accepts; each kind has its configured size limit (a setting in MB)."""

    LAYER = "max_upload_mb"
    FOOTPRINT = "max_footprint_upload_mb"
    SHEET = "max_sheet_upload_mb"


def upload_limit(request: Request, kind: UploadKind = UploadKind.LAYER) -> int:
    """The largest upload of this kind accepted, in bytes (never above the general upload limit)."""
    settings = request.app.state.settings
    configured: int = min(getattr(settings, kind.value), settings.max_upload_mb) * MEBIBYTE
    return configured


class SavedUpload(NamedTuple):
    """An uploaded file saved privately: where it is and the client's file name (without folders)."""

    path: Path
    name: str


@contextmanager
def saved_upload(request: Request, file: UploadFile, kind: UploadKind) -> Iterator[SavedUpload]:
    """The upload saved in a private folder removed afterwards; 413 past ``upload_limit(request, kind)``.

    A declared Content-Length well past the limit is refused before a byte is read, a longer stream as
    soon as its bytes pass the limit (the multipart framing gets 1 MiB of slack in the first check).
    """
    cap = upload_limit(request, kind)
    if int(request.headers.get("content-length") or 0) > cap + MEBIBYTE:
        raise too_large(cap, upload=True)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=scratch_dir(request)) as tmp:
        target = Path(tmp) / "upload.bin"
        written = 0
        with target.open("wb") as out:
            while chunk := file.file.read(MEBIBYTE):
                written += len(chunk)
                if written > cap:
                    raise too_large(cap, upload=True)
                out.write(chunk)
        yield SavedUpload(target, Path(file.filename or "upload").name or "upload")
