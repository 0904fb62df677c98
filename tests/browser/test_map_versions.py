"""A planner keeps a layer current from the map: uploads, version history, comparison, fresh tiles.

Runs on its own empty database (no demo), so the versions it adds cannot change what other tests read.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import psycopg
import pytest

from app import migrate
from app.auth import users
from app.auth.policy import Role
from app.main import create_app
from app.orgs import service as orgs
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.store.versions import register_layers
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog, live_server
from tests.browser.mapapp import ALL, assert_offline, details_facts, only, open_map, text
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import Account, unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
LAYER = "green_pocket"  # 街头绿地: areas, drawn from zoom 14, no required attribute
LON, LAT = 114.25, 22.70


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[str, RequestLog, Account]]:
    """An empty migrated database with the catalog registered, served live, and a planner account."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_webmap")
        migrate.upgrade(settings)
    try:
        password = "Passw0rd-" + uuid.uuid4().hex[:6]
        with psycopg.connect(settings.owner_dsn) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            register_layers(conn, get_catalog())
            user, _ = users.create_user(
                conn,
                Actor.system("tests"),
                users.UserCreate(
                    username=unique("planner"), role=Role.PLANNER, org_code="pnr", password=password
                ),
            )
        planner = Account(user.id, user.username, password, user.org_id, "")
        log = RequestLog(create_app(settings))
        with live_server(log) as url:
            yield url, log, planner
    finally:
        drop_database(name)


def _pocket_parks(path: Path) -> Path:
    """Two 40 m squares of pocket green near the view's centre, as GeoJSON in CRS84."""
    d = 0.0002
    features = [
        {
            "type": "Feature",
            "properties": {"name": name, "area": 1700.0},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[x - d, LAT - d], [x + d, LAT - d], [x + d, LAT + d], [x - d, LAT + d], [x - d, LAT - d]]
                ],
            },
        }
        for name, x in (("龙城口袋公园", LON - 0.001), ("龙岗街头绿地", LON + 0.001))
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8"
    )
    return path


def _upload(page: Page, file: Path, note: str) -> str:
    """Send the details panel's upload form; return the import's status line."""
    page.wait_for("document.querySelector('#details form.upload button[type=submit]:not([disabled])')")
    shown = "document.querySelector('#details .report p.ok')?.textContent"
    before = page.js(shown)  # the previous import's line stays until the details are drawn again
    page.set_files("#upload-uploadFile", str(file))
    page.js(
        f"document.getElementById('upload-versionNote').value = {json.dumps(note)};"
        " document.querySelector('#details form.upload').requestSubmit()"
    )
    return str(page.wait_for(f"{shown} !== {json.dumps(before)} && {shown}", 60))


def test_uploads_become_versions_that_the_map_draws_and_compares(
    world: tuple[str, RequestLog, Account], tmp_path: Path
) -> None:
    url, log, planner = world
    parks = _pocket_parks(tmp_path / "街头绿地.geojson")
    with Page() as page:
        open_map(page, url, planner, view=f"#map=16/{LAT}/{LON}")
        only(page, LAYER)
        page.js(f"document.querySelector('#tree button[data-details={LAYER}]').click()")
        page.wait_for("document.querySelector('#details h3 + p.note')")
        assert text(page, "#details h3 + p.note") == "尚无数据版本。"

        assert _upload(page, parks, "首次入库") == "已导入为第 1 版，共 2 个要素。"
        # The import report reads as text: the file, the counts and how its columns were mapped.
        report = details_facts(page)
        assert report["源文件"] == "街头绿地.geojson" and report["格式 / 图层"].startswith("GeoJSON")
        assert report["源文件要素"] == "2" and report["入库要素"] == "2"
        columns = page.js(f"[...{ALL}('#details .report ul.columns li')].map(li => li.textContent)")
        assert sorted(columns) == ["area", "name"]
        page.wait_for(f"{ALL}('#details table.versions tbody tr').length === 1")
        assert _upload(page, parks, "复核后重新入库") == "已导入为第 2 版，共 2 个要素。"
        page.wait_for(f"{ALL}('#details table.versions tbody tr').length === 2")
        rows = page.js(f"[...{ALL}('#details table.versions tbody tr')].map(r => r.textContent)")
        assert (
            rows[0].startswith("2 · 现势") and planner.username in rows[0] and "街头绿地.geojson" in rows[0]
        )
        facts = details_facts(page)
        assert facts["当前版本"] == "2" and facts["要素数量"] == "2"

        page.js("document.querySelector('#details table.versions button').click()")  # 比较 on version 2
        diff = page.wait_for("document.querySelector('#details .diff')?.textContent", 30)
        assert diff == "第 1 版 → 第 2 版：新增 0 个（0 m²），删除 0 个（0 m²），变化 0 个，未变 2 个。"

        # The tile URL follows the layer's version: each version is fetched anew, never from the cache.
        def stamps() -> list[str]:
            asked = [urlsplit(u) for u in page.requests if f"/tiles/{LAYER}/" in u]
            return sorted({parse_qs(u.query)["v"][0] for u in asked})

        page.wait_until(lambda: len(stamps()) >= 3, "tiles of versions 1 and 2")
        assert len(stamps()) == 3  # no data yet, version 1, version 2
        tiles = [(p, s) for m, p, _, s in log.seen if m == "GET" and p.startswith(f"/tiles/{LAYER}/")]
        assert tiles and any(s == 200 for _, s in tiles)
        assert all(s in (200, 204) for _, s in tiles)
        assert_offline(page, url)


def _api(
    url: str,
    path: str,
    token: str | None = None,
    form: dict[str, str] | None = None,
    file: Path | None = None,
) -> tuple[int, dict[str, object]]:
    """One request to the live server as another client (urllib: a form, or a multipart file upload)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if form is not None:
        data = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif file is not None:
        boundary = uuid.uuid4().hex
        data = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
                "Content-Type: application/geo+json\r\n\r\n"
            ).encode()
            + file.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    request = urllib.request.Request(url + path, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_another_users_upload_reaches_an_open_map_when_it_comes_back_into_view(
    world: tuple[str, RequestLog, Account], tmp_path: Path
) -> None:
    url, _, planner = world
    parks = _pocket_parks(tmp_path / "口袋公园.geojson")
    status, body = _api(
        url, "/api/auth/token", form={"username": planner.username, "password": planner.password}
    )
    assert status == 200
    token = str(body["access_token"])
    assert _api(url, f"/api/layers/{LAYER}/versions", token, file=parks)[0] == 201
    before = _api(url, f"/api/layers/{LAYER}", token)[1]["current_version"]
    with Page() as page:
        open_map(page, url, planner, view=f"#map=16/{LAT}/{LON}")
        only(page, LAYER)
        page.js(f"document.querySelector('#tree button[data-details={LAYER}]').click()")
        page.wait_for(f"document.querySelector('#details table.versions tbody tr') && {ALL}('#details dd')")
        assert details_facts(page)["当前版本"] == str(before)
        asked = len(page.requests)
        # Someone else imports a new version in another session; the open page learns of it on focus.
        assert _api(url, f"/api/layers/{LAYER}/versions", token, file=parks)[0] == 201
        page.js("window.dispatchEvent(new Event('focus'))")
        page.wait_for(f"document.body.dataset.layersRefreshed === {json.dumps(LAYER)}", 30)
        page.wait_until(
            lambda: details_facts(page).get("当前版本") == str(int(str(before)) + 1), "the new version"
        )
        # Its tiles are fetched anew under the new version's stamp.
        page.wait_until(
            lambda: any(f"/tiles/{LAYER}/" in u or f",{LAYER}" in u for u in page.requests[asked:]),
            "tiles of the new version",
        )
        assert_offline(page, url)
