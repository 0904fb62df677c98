"""The S3 blob store against a real S3-compatible HTTP server (moto's, run as a separate process).

moto is not a dependency of the project: the test runs when ``moto_server`` is on the PATH or named by
``DUOGUI_TEST_MOTO_SERVER`` (e.g. ``python -m venv /tmp/s3 && /tmp/s3/bin/pip install 'moto[server]'``),
and is skipped otherwise. moto does not check signatures; the signing itself is checked against AWS's
published example in test_material_sniff.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.materials.storage import EMPTY_SHA256, S3BlobStore, copy_to_temp, iter_blob, sigv4_headers

ACCESS, SECRET, REGION = "testing-key", "testing-secret", "us-east-1"


def _moto() -> str | None:
    return os.environ.get("DUOGUI_TEST_MOTO_SERVER") or shutil.which("moto_server")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = _moto()
    if server is None or not Path(server).exists():
        pytest.skip("moto_server is not installed (see the module docstring)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _create_bucket(endpoint: str, bucket: str) -> None:
    url = f"{endpoint}/{bucket}"
    headers = sigv4_headers(
        "PUT",
        url,
        {"Content-Length": "0"},
        EMPTY_SHA256,
        access_key=ACCESS,
        secret_key=SECRET,
        region=REGION,
        now=dt.datetime.now(dt.UTC),
    )
    conn = http.client.HTTPConnection(endpoint.removeprefix("http://"), timeout=10)
    conn.request("PUT", f"/{bucket}", body=b"", headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200


def test_s3_store_puts_once_streams_and_deletes(endpoint: str, tmp_path: Path) -> None:
    _create_bucket(endpoint, "materials")
    store = S3BlobStore(endpoint, "materials", REGION, ACCESS, SECRET, "duogui/", tmp_path / "scratch")
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read chunk
    sha = hashlib.sha256(data).hexdigest()
    assert store.exists(sha) is False
    first = copy_to_temp(store, data)
    assert store.put(first, sha) is True and first.exists()  # kept: the caller discards it after commit
    assert store.exists(sha) is True
    again = copy_to_temp(store, data)
    assert store.put(again, sha) is False  # the same bytes are stored once
    first.unlink()
    again.unlink()
    listed = dict(store.list_blobs())
    assert list(listed) == [sha]
    assert abs((listed[sha] - dt.datetime.now(dt.UTC)).total_seconds()) < 600
    assert hashlib.sha256(b"".join(iter_blob(store, sha))).hexdigest() == sha
    store.delete(sha)
    assert store.exists(sha) is False
    with pytest.raises(FileNotFoundError):
        store.open(sha)


def test_uploads_go_to_the_configured_s3_store(
    endpoint: str, settings: Any, make_org: Any, owner_conn: Any
) -> None:
    from fastapi.testclient import TestClient
    from PIL import Image
    from pydantic import SecretStr

    from app.auth.policy import Role
    from app.main import create_app
    from app.orgs.service import OrgKind
    from tests.helpers import signed_in_account

    _create_bucket(endpoint, "duogui-s3-route")
    s3 = settings.model_copy(
        update={
            "materials_store": "s3",
            "materials_s3_endpoint": endpoint,
            "materials_s3_bucket": "duogui-s3-route",
            "materials_s3_access_key": SecretStr(ACCESS),
            "materials_s3_secret_key": SecretStr(SECRET),
        }
    )
    out = io.BytesIO()
    Image.frombytes("RGB", (32, 32), os.urandom(32 * 32 * 3)).save(out, format="PNG")
    data = out.getvalue()
    local_before = sorted(settings.stored_files_dir.rglob("*")) if settings.stored_files_dir.exists() else []
    with TestClient(create_app(s3)) as client:
        _, code = make_org(OrgKind.PROJECT_UNIT)
        unit = signed_in_account(owner_conn, client, Role.PROJECT_UNIT, code)
        r = client.post(
            "/api/materials",
            files={"file": ("现场照片.png", data, "image/png")},
            data={"material_code": "site_photo", "purpose": "application"},
            headers=unit.headers,
        )
        assert r.status_code == 201, r.text
        m = r.json()
        assert m["sha256"] == hashlib.sha256(data).hexdigest()
        r = client.get(f"/api/materials/{m['id']}/content", headers=unit.headers)
        assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "image/png"
    # Nothing went to the local store.
    after = sorted(settings.stored_files_dir.rglob("*")) if settings.stored_files_dir.exists() else []
    assert [p for p in after if p.is_file()] == [p for p in local_before if p.is_file()]


def test_s3_upload_goes_before_the_transaction_and_sweep_removes_orphans(
    endpoint: str, tmp_path: Path, make_org: Any, owner_conn: Any
) -> None:
    from app.materials import service
    from app.materials.guards import stage_bytes
    from app.materials.sweep import sweep
    from app.orgs.service import OrgKind
    from layers.audit import Actor

    _create_bucket(endpoint, "duogui-s3-sweep")
    store = S3BlobStore(endpoint, "duogui-s3-sweep", REGION, ACCESS, SECRET, "", tmp_path / "scratch")
    org_id, _ = make_org(OrgKind.PROJECT_UNIT)
    actor = Actor.system("tests")
    data = os.urandom(2048)
    sha = hashlib.sha256(data).hexdigest()
    staged = stage_bytes(store, data, "a.bin", "application/octet-stream")
    service.upload_ahead(store, staged)  # no connection anywhere near
    assert staged.ahead == "new" and store.exists(sha)
    assert owner_conn.execute("SELECT 1 FROM material.blob WHERE sha256 = %s", (sha,)).fetchone() is None
    stored = service.store_staged(
        owner_conn, store, actor, org_id, staged, purpose="application", code="s3_sweep", project_id=None
    )
    assert stored.sha256 == sha and not staged.path.exists()
    again = stage_bytes(store, data, "b.bin", "application/octet-stream")
    service.upload_ahead(store, again)
    assert again.ahead == "existing"
    again.discard()

    # An upload whose transaction then failed: the object stays, an orphan (no row names it).
    orphan_bytes = os.urandom(1024)
    orphan = hashlib.sha256(orphan_bytes).hexdigest()
    failing = stage_bytes(store, orphan_bytes, "c.bin", "application/octet-stream")
    with pytest.raises(Exception):  # noqa: B017,PT011 - any database error
        service.store_staged(
            owner_conn, store, actor, -1, failing, purpose="application", code="s3_sweep", project_id=None
        )
    assert store.exists(orphan) and not failing.path.exists()
    assert owner_conn.execute("SELECT 1 FROM material.blob WHERE sha256 = %s", (orphan,)).fetchone() is None

    # Young: kept (it may be an upload in flight); seen two days later: removed; the recorded one stays.
    now = dt.datetime.now(dt.UTC)
    report = sweep(owner_conn, store, actor, now=now, min_age=dt.timedelta(hours=24), dry_run=False)
    assert report.orphans == [] and report.young_orphans == 1 and store.exists(orphan)
    later = now + dt.timedelta(hours=48)
    report = sweep(owner_conn, store, actor, now=later, min_age=dt.timedelta(hours=24), dry_run=True)
    assert [o for o, _ in report.orphans] == [orphan] and store.exists(orphan)
    report = sweep(owner_conn, store, actor, now=later, min_age=dt.timedelta(hours=24), dry_run=False)
    assert [o for o, _ in report.orphans] == [orphan] and not store.exists(orphan)
    assert store.exists(sha)
    # Every other test's blob row is "missing" from this bucket; this test's own row is not.
    assert sha not in report.missing
