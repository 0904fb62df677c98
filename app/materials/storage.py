"""Where material files live: a small content-addressed blob interface, on local disk or an S3 store.

A blob is named by the SHA-256 of its bytes, so the same bytes are stored once however often they are
used, and a stored blob never changes. The catalogue (who owns which version of what) is in PostgreSQL
(``material.blob``, ``material.material``); the store only keeps bytes.

* :class:`LocalBlobStore` (the default, no extra service): ``<files_dir>/sha256/ab/cd/<sha>``. A file
  arrives as a temporary file in ``<files_dir>/tmp`` (the same file system), already fsync'ed, and is
  renamed into place: a reader never sees half a file, a crash leaves at most a temporary file. The
  rename is local and instant, so it happens inside the catalogue's transaction
  (``places_in_transaction``).
* :class:`S3BlobStore`: an S3-compatible object store (MinIO, Ceph, 政务云 OSS), spoken to with the
  standard library and AWS Signature Version 4 (path-style addressing), so no extra dependency. An upload
  is a network transfer of up to the size limit, so it is sent *before* the catalogue's transaction (no
  pooled connection or lock is held while it runs); the transaction only checks and records.

Either way a file can outlive its row (a crash between placing and commit, a caller's rollback, an S3
upload whose transaction then failed): such orphans are never served (no row names them) and are removed
by ``duogui materials sweep`` (:mod:`app.materials.sweep`) once older than an upload can take.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import os
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

from app.settings import Settings

CHUNK = 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class BlobStore(Protocol):
    """A content-addressed store of files named by their SHA-256 (lower-case hex)."""

    #: True: :meth:`put` is cheap and local (a rename) and runs inside the catalogue's transaction, under
    #: the blob's lock. False: :meth:`put` is a network upload, done before the transaction.
    places_in_transaction: bool

    def staging_dir(self) -> Path:
        """A local folder for temporary files on their way in (same file system as the store if local)."""
        ...

    def put(self, source: Path, sha256: str) -> bool:
        """Store the (fsync'ed) temporary file ``source`` whose bytes hash to ``sha256``. The local store
        consumes it (renames it into place); the caller discards it afterwards either way.

        Returns True when the blob was newly stored, False when the same bytes were already there.
        """
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes for reading (FileNotFoundError when absent)."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the blob (nothing when absent)."""
        ...

    def list_blobs(self) -> Iterator[tuple[str, dt.datetime]]:
        """Every stored blob: its SHA-256 and when it was stored (UTC), in no particular order."""
        ...


def iter_blob(store: BlobStore, sha256: str, chunk: int = CHUNK) -> Iterator[bytes]:
    """The blob's bytes in chunks, for a streamed response (the handle is closed at the end)."""
    with store.open(sha256) as fh:
        while data := fh.read(chunk):
            yield data


def _check_name(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def fsync_dir(path: Path) -> None:
    """Make a rename or creation inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs as files under ``root``: ``sha256/ab/cd/<sha>``, written by atomic rename."""

    places_in_transaction = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def staging_dir(self) -> Path:
        """``<root>/tmp``: temporary files are renamed from here into place (one file system)."""
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path_of(self, sha256: str) -> Path:
        """Where the blob lives on disk."""
        name = _check_name(sha256)
        return self.root / "sha256" / name[:2] / name[2:4] / name

    def put(self, source: Path, sha256: str) -> bool:
        """Rename ``source`` into place (atomic); the same bytes already stored: drop ``source``."""
        target = self.path_of(sha256)
        if target.exists():
            source.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        source.chmod(0o440)
        os.replace(source, target)
        fsync_dir(target.parent)
        return True

    def open(self, sha256: str) -> BinaryIO:
        """The stored file, opened for reading."""
        return self.path_of(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        """Whether the file is there."""
        return self.path_of(sha256).is_file()

    def delete(self, sha256: str) -> None:
        """Remove the file."""
        self.path_of(sha256).unlink(missing_ok=True)

    def list_blobs(self) -> Iterator[tuple[str, dt.datetime]]:
        """The files under ``sha256/`` whose names are digests, with their modification times."""
        base = self.root / "sha256"
        if not base.exists():
            return
        for path in base.glob("*/*/*"):
            name = path.name
            if len(name) == 64 and all(c in "0123456789abcdef" for c in name) and path.is_file():
                yield name, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)

    def count(self) -> int:
        """How many blobs are stored (for tests and ``duogui`` checks)."""
        base = self.root / "sha256"
        return sum(1 for p in base.rglob("*") if p.is_file()) if base.exists() else 0


# --- S3 ------------------------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sigv4_headers(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    now: dt.datetime,
    service: str = "s3",
) -> dict[str, str]:
    """The request's headers with ``x-amz-date``, ``x-amz-content-sha256`` and the SigV4 Authorization.

    ``url`` is the full request URL with its path and query already percent-encoded as sent (S3 does not
    encode the path a second time for the signature; query names and values are signed encoded once);
    ``headers`` are the other headers to sign (Host is added).
    """
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    signed["x-amz-content-sha256"] = payload_sha256
    names = sorted(signed)
    query = "&".join(
        sorted(
            f"{quote(unquote(k), safe='-_.~')}={quote(unquote(v), safe='-_.~')}"
            for k, _, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
        )
    )
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _hmac(
        _hmac(_hmac(_hmac(("AWS4" + secret_key).encode("utf-8"), day), region), service), "aws4_request"
    )
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out = dict(headers)
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_sha256
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return out


class S3Error(RuntimeError):
    """The object store answered with an unexpected status."""


class S3BlobStore:
    """Blobs as objects ``<prefix>sha256/ab/cd/<sha>`` of one bucket of an S3-compatible store."""

    places_in_transaction = False

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        region: str,
        access_key: str,
        secret_key: str,
        prefix: str,
        scratch: Path,
        timeout_s: float = 60.0,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"materials_s3_endpoint is not an http(s) URL: {endpoint!r}")
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.bucket, self.region, self.prefix = bucket, region, prefix
        self.access_key, self.secret_key = access_key, secret_key
        self.scratch = scratch
        self.timeout_s = timeout_s

    def staging_dir(self) -> Path:
        """A private scratch folder: uploads are hashed and checked there before they are sent."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    def _path(self, sha256: str) -> str:
        name = _check_name(sha256)
        key = f"{self.prefix}sha256/{name[:2]}/{name[2:4]}/{name}"
        return f"{self.base_path}/{quote(self.bucket, safe='')}/{quote(key, safe='/')}"

    def _request(
        self, method: str, sha256: str, body: BinaryIO | None = None, size: int = 0, *, path: str = ""
    ) -> http.client.HTTPResponse:
        path = path or self._path(sha256)
        url = f"{self.scheme}://{self.netloc}{path}"
        extra = {"Content-Length": str(size)} if method == "PUT" else {}
        payload = sha256 if method == "PUT" else EMPTY_SHA256
        headers = sigv4_headers(
            method,
            url,
            extra,
            payload,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            now=dt.datetime.now(dt.UTC),
        )
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        connection = cls(self.netloc, timeout=self.timeout_s)
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse()

    def put(self, source: Path, sha256: str) -> bool:
        """Upload the file unless the object already exists (the local file stays: the caller keeps it
        until its transaction has checked the object is there, then discards it)."""
        if self.exists(sha256):
            return False
        with source.open("rb") as fh:
            response = self._request("PUT", sha256, fh, source.stat().st_size)
            response.read()
        if response.status != 200:
            raise S3Error(f"PUT {sha256}: HTTP {response.status}")
        return True

    def open(self, sha256: str) -> BinaryIO:
        """The object's body as a stream."""
        response = self._request("GET", sha256)
        if response.status == 404:
            response.read()
            raise FileNotFoundError(sha256)
        if response.status != 200:
            response.read()
            raise S3Error(f"GET {sha256}: HTTP {response.status}")
        return response

    def exists(self, sha256: str) -> bool:
        """HEAD the object."""
        response = self._request("HEAD", sha256)
        response.read()
        if response.status in (200, 404):
            return response.status == 200
        raise S3Error(f"HEAD {sha256}: HTTP {response.status}")

    def delete(self, sha256: str) -> None:
        """DELETE the object (S3 answers 204 whether or not it existed)."""
        response = self._request("DELETE", sha256)
        response.read()
        if response.status not in (200, 204, 404):
            raise S3Error(f"DELETE {sha256}: HTTP {response.status}")

    def list_blobs(self) -> Iterator[tuple[str, dt.datetime]]:
        """ListObjectsV2 under ``<prefix>sha256/``, page by page (keys whose names are digests)."""
        bucket = f"{self.base_path}/{quote(self.bucket, safe='')}"
        token: str | None = None
        while True:
            query = f"list-type=2&prefix={quote(self.prefix + 'sha256/', safe='-_.~')}"
            if token is not None:
                query += f"&continuation-token={quote(token, safe='-_.~')}"
            response = self._request("GET", "", path=f"{bucket}?{query}")
            body = response.read()
            if response.status != 200:
                raise S3Error(f"LIST {self.bucket}: HTTP {response.status}")
            root = ElementTree.fromstring(body)
            ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for item in root.iter(f"{ns}Contents"):
                key = item.findtext(f"{ns}Key") or ""
                name = key.rsplit("/", 1)[-1]
                stamp = item.findtext(f"{ns}LastModified") or ""
                if len(name) == 64 and all(c in "0123456789abcdef" for c in name) and stamp:
                    yield name, dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            token = root.findtext(f"{ns}NextContinuationToken")
            if root.findtext(f"{ns}IsTruncated") != "true" or not token:
                return


def blob_store(settings: Settings) -> BlobStore:
    """The store the settings configure (local unless ``materials_store`` is ``s3``)."""
    if settings.materials_store == "s3":
        assert settings.materials_s3_endpoint and settings.materials_s3_bucket  # checked by Settings
        return S3BlobStore(
            settings.materials_s3_endpoint,
            settings.materials_s3_bucket,
            settings.materials_s3_region,
            settings.materials_s3_access_key.get_secret_value() if settings.materials_s3_access_key else "",
            settings.materials_s3_secret_key.get_secret_value() if settings.materials_s3_secret_key else "",
            settings.materials_s3_prefix,
            settings.data_dir / "tmp" / "materials",
        )
    return LocalBlobStore(settings.stored_files_dir)


# The store of the application serving the current request (set for every request by create_app), so
# that services called without a request at hand (minutes generated inside a route) use the same store.
_CURRENT: ContextVar[BlobStore | None] = ContextVar("duogui_material_store", default=None)


def use_store(store: BlobStore) -> None:
    """Make ``store`` the current request's store (see :func:`current_store`)."""
    _CURRENT.set(store)


def current_store() -> BlobStore:
    """The serving application's store; outside a request, the store the environment's settings name."""
    store = _CURRENT.get()
    return store if store is not None else blob_store(Settings())


def new_temp_file(store: BlobStore) -> tuple[BinaryIO, Path]:
    """A new private temporary file in the store's staging folder, open for writing (its name starts with a
    dot: backups skip it, as they skip every file not yet data)."""
    fd, name = tempfile.mkstemp(prefix=".incoming-", dir=store.staging_dir())
    return os.fdopen(fd, "wb"), Path(name)


def copy_to_temp(store: BlobStore, data: bytes) -> Path:
    """``data`` written to a new fsync'ed temporary file of the store's staging folder."""
    out, path = new_temp_file(store)
    try:
        with out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "blob_store",
    "copy_to_temp",
    "current_store",
    "iter_blob",
    "new_temp_file",
    "use_store",
]
