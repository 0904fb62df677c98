"""The HTML report's map renders in a real browser (headless Chromium) with Leaflet served by the app."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.auth.policy import Role
from app.main import create_app
from tests.browser.live import live_server
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, geojson

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def live_url(preeval_world: DemoEnv) -> Iterator[str]:
    """A real uvicorn serving the world's app on a free local port."""
    with live_server(create_app(preeval_world.settings)) as url:
        yield url


def _dump_dom(url: str) -> str:
    assert CHROMIUM, "chromium is required (.ci/install-system-deps installs it)"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_map_draws_the_footprint_and_every_conflict(
    preeval_world: DemoEnv, live_url: str, tmp_path: Path
) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    http = preeval_world.client
    created = http.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["甲"]), "project_type": "school"},
    )
    assert created.status_code == 201, created.text
    report = created.json()["report"]
    page = http.get(f"/api/pre-evaluations/{created.json()['id']}/report.html", headers=unit.headers).text
    hits = sum(len(f["features"]) for f in report["findings"])
    # The browser cannot send the bearer token, so it opens the page as the user saved it; the page's
    # root-relative /vendor/leaflet/ links then resolve against the live app.
    saved = tmp_path / "report.html"
    saved.write_text(page.replace("<head>", f'<head><base href="{live_url}/">', 1), encoding="utf-8")
    dom = _dump_dom(saved.as_uri())
    assert re.search(r'class="[^"]*leaflet-container', dom), "Leaflet did not initialise the map"
    conflicts = re.findall(r'<path[^>]*class="[^"]*duogui-conflict', dom)
    assert len(conflicts) == hits and hits >= 3
    assert len(re.findall(r'<path[^>]*class="[^"]*duogui-prohibited', dom)) == 1  # the grade Ⅰ forest half
    assert len(re.findall(r'<path[^>]*class="[^"]*duogui-footprint', dom)) == 1


def test_the_downloaded_report_draws_its_map_offline(preeval_world: DemoEnv, tmp_path: Path) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    created = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["乙"]), "project_type": "school"},
    )
    assert created.status_code == 201, created.text
    download = preeval_world.client.get(
        f"/api/pre-evaluations/{created.json()['id']}/report.html",
        params={"download": 1, "lang": "en"},
        headers=unit.headers,
    )
    saved = tmp_path / "saved.html"
    saved.write_bytes(download.content)  # no server behind it: Leaflet must be inside the file
    dom = _dump_dom(saved.as_uri())
    assert re.search(r'class="[^"]*leaflet-container', dom)
    assert len(re.findall(r'<path[^>]*class="[^"]*duogui-conditional', dom)) == 1  # the grade Ⅲ forest half
    assert '<html lang="en">' in download.text
