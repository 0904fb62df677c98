"""Drive QGIS headless as a planner's desktop would: run by Debian's /usr/bin/python3 (where python3-qgis
lives), never imported by the test suite's interpreter.

Reads a JSON job from the file named by argv[1]: ``credentials`` ([username, password]) stored as a
QGIS "Basic" auth config under a master password in a fresh profile, and ``steps``: OAPIF layers
(``{"kind": "oapif", "url", "collection"}`` → validity, feature count and features iterated) and
vector-tile layers (``{"kind": "tiles", "template", "z", "x", "y"}`` → validity and the pixels drawn when
the tile's extent is rendered). Prints one JSON object with the results as its last line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402 (the platform must be chosen before Qt loads)
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsDataSourceUri,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QEventLoop, QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

WEB_MERCATOR_HALF = 20037508.342789244
SIZE = 256


def store_basic(name: str, username: str, password: str) -> str:
    """A QGIS 'Basic' auth config in the profile's encrypted auth database; its id."""
    config = QgsAuthMethodConfig("Basic")
    config.setName(name)
    config.setConfig("username", username)
    config.setConfig("password", password)
    stored, config = QgsApplication.authManager().storeAuthenticationConfig(config)
    assert stored, "QGIS did not store the auth config"
    return str(config.id())


def oapif(step: dict[str, Any], authcfg: str) -> dict[str, Any]:
    """Open an OGC API – Features collection with the auth config; its validity and feature count."""
    uri = QgsDataSourceUri()
    uri.setParam("url", step["url"])
    uri.setParam("typename", step["collection"])
    uri.setAuthConfigId(authcfg)
    layer = QgsVectorLayer(uri.uri(False), step["collection"], "OAPIF")
    if not layer.isValid():
        return {"valid": False, "count": None, "iterated": None}
    iterated = sum(1 for _ in layer.getFeatures())
    return {"valid": True, "count": layer.featureCount(), "iterated": iterated}


def tile_extent(z: int, x: int, y: int) -> QgsRectangle:
    """The XYZ tile's bounds in EPSG:3857."""
    size = 2 * WEB_MERCATOR_HALF / 2**z
    west, north = -WEB_MERCATOR_HALF + x * size, WEB_MERCATOR_HALF - y * size
    return QgsRectangle(west, north - size, west + size, north)


def tiles(step: dict[str, Any], authcfg: str) -> dict[str, Any]:
    """Open a vector-tile layer with the auth config and render one tile's extent; pixels drawn."""
    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    uri.setParam("url", step["template"])
    uri.setParam("zmin", "0")
    uri.setParam("zmax", str(step["z"]))
    uri.setAuthConfigId(authcfg)
    layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), "tiles")
    if not layer.isValid():
        return {"valid": False, "drawn": 0}
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(tile_extent(step["z"], step["x"], step["y"]))
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    # Wait in an event loop, as the desktop does, not in waitForFinished(): a 401 makes the render thread
    # ask the main thread for credentials (a blocking queued call), which a blocked main thread never answers.
    loop = QEventLoop()
    job.finished.connect(loop.quit)
    job.start()
    loop.exec_()
    image = job.renderedImage()
    white = QColor(255, 255, 255).rgb()
    drawn = sum(1 for i in range(SIZE) for j in range(SIZE) if image.pixel(i, j) != white)
    return {"valid": True, "drawn": drawn, "errors": [e.message for e in job.errors()]}


def main() -> None:
    """Run the job and print its results."""
    with open(sys.argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    profile = tempfile.mkdtemp(prefix="qgis-profile-")
    app = QgsApplication([], False, profile)
    app.initQgis()
    assert QgsApplication.authManager().setMasterPassword(job["master_password"], True)
    authcfg = store_basic("duogui", *job["credentials"])
    results = []
    for step in job["steps"]:
        run = oapif if step["kind"] == "oapif" else tiles
        results.append(run(step, authcfg))
    print(json.dumps({"qgis": Qgis.QGIS_VERSION, "results": results}))
    app.exitQgis()


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # QGIS 3.22 may crash tearing down its Python bindings; the results are out by now.
    os._exit(0)
