"""QGIS 3.22 (Debian's python3-qgis) opens the platform's layers with its built-in HTTP Basic auth config:
an OGC API – Features layer with the server's exact feature count, a vector-tile layer that draws — with
a person's password and with a service account's key — and a revoked key fails on its next request.

The application runs on a real port (uvicorn in a thread); QGIS runs headless (offscreen) in a subprocess
of /usr/bin/python3 with a fresh profile, so nothing is shared with a previous run (no disk cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.auth.policy import Role
from app.main import create_app
from layers.district import DISTRICT
from layers.tiles.grid import lonlat_to_tile
from tests.browser.live import RequestLog, live_server
from tests.conftest import DemoEnv
from tests.helpers import unique

SYSTEM_PYTHON = Path("/usr/bin/python3")
DRIVER = Path(__file__).with_name("qgis_driver.py")
LAYER = "pub_kindergarten"  # a few hundred points: every page of the OAPIF layer is fetched quickly
TILE_LAYER = "sp_parcel"
Z = 15


def _qgis_available() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(
    not _qgis_available(), reason="python3-qgis is not installed (.ci/install-system-deps installs it)"
)


def run_qgis(credentials: tuple[str, str], steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the QGIS driver in a fresh profile with one Basic auth config; its results, one per step."""
    job = {"master_password": "qgis-master-" + unique("m"), "credentials": credentials, "steps": steps}
    with tempfile.TemporaryDirectory(prefix="qgis-home-") as home:
        job_file = Path(home) / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        # HOME and TMPDIR here: the profile, QGIS's network cache and its auth database go with the folder.
        env = {
            **os.environ,
            "HOME": home,
            "TMPDIR": home,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_RUNTIME_DIR": home,
        }
        env.pop("PYTHONPATH", None)
        try:
            done = subprocess.run(
                [SYSTEM_PYTHON, DRIVER, job_file],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
                cwd=home,
                stdin=subprocess.DEVNULL,  # nothing to answer a console credentials prompt with
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"QGIS driver timed out:\n{exc.stderr!r}"[-4000:]) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"QGIS driver failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    results: list[dict[str, Any]] = json.loads(lines[-1])["results"]
    return results


def _tile_with(conn: psycopg.Connection[Any], code: str, offset: int) -> tuple[int, int]:
    row = conn.execute(
        """
        SELECT ST_X(c), ST_Y(c) FROM (
          SELECT ST_Transform(ST_PointOnSurface(f.geom), 4326) AS c FROM basemap.feature f
          JOIN basemap.layer l ON l.current_version = f.version_id WHERE l.code = %s
          ORDER BY f.fid LIMIT 1 OFFSET %s) s
        """,
        (code, offset),
    ).fetchone()
    assert row is not None
    return lonlat_to_tile(row[0], row[1], Z)


def test_qgis_opens_layers_with_basic_auth_and_a_service_key_and_a_revoked_key_fails(demo: DemoEnv) -> None:
    person = demo.account(Role.PLANNER)
    admin = demo.account(Role.SECURITY_ADMIN, "gov-data")
    expires = (datetime.now(DISTRICT.tz).date() + timedelta(days=30)).isoformat()
    body = {"name": unique("qgis"), "org_code": "pnr", "layers": [LAYER, TILE_LAYER], "expires_on": expires}
    created = demo.client.post("/api/service-accounts", json=body, headers=admin.headers).json()
    service = (created["account"]["name"], created["api_key"])
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        x, y = _tile_with(conn, TILE_LAYER, 0)
    # The exact count, as the API reports it (numberMatched), not as any QGIS code computes it.
    matched = demo.client.get(f"/ogc/collections/{LAYER}/items?limit=1", headers=person.headers).json()
    app = RequestLog(create_app(demo.settings))
    with live_server(app) as base:
        # One QGIS session (a fresh profile) per credential: QGIS's cache would otherwise answer a request
        # made before whatever the credentials (why restricted layers are sent no-store).
        steps = [
            {"kind": "oapif", "url": base + "/ogc", "collection": LAYER},
            {
                "kind": "tiles",
                "template": base + f"/tiles/{TILE_LAYER}/{{z}}/{{x}}/{{y}}.mvt",
                "z": Z,
                "x": x,
                "y": y,
            },
        ]
        opened = {
            name: run_qgis(credentials, steps)
            for name, credentials in (
                ("person", (person.username, person.password)),
                ("service", service),
                ("wrong", (person.username, "Not-the-password-1")),
            )
        }
        revoke = f"/api/service-accounts/{created['account']['id']}/revoke"
        assert demo.client.post(revoke, headers=admin.headers).status_code == 200
        seen_before = len(app.seen)
        revoked = run_qgis(service, steps)
        refused = [(path, status) for _, path, _, status in app.seen[seen_before:]]
    for name in ("person", "service"):
        features, tile = opened[name]
        assert features["valid"] and features["count"] == features["iterated"] == matched["numberMatched"] > 0
        assert tile["valid"] and tile["drawn"] > 0, (name, tile)
    for features, tile in (opened["wrong"], revoked):
        assert not features["valid"] or features["iterated"] == 0
        assert tile["drawn"] == 0
    assert refused and all(status == 401 for _, status in refused), refused
