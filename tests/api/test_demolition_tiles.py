"""Vector tiles of ledger units: coloured by status, ETag follows the ledger, visibility as the ledger."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.orgs.service import OrgKind
from layers.tiles.grid import lonlat_to_tile
from tests.api.test_demolition_ledger import new_project, new_unit, step

LON, LAT = 114.25, 22.65
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[LON, LAT], [LON + 0.0002, LAT], [LON + 0.0002, LAT + 0.0002], [LON, LAT + 0.0002], [LON, LAT]]
    ],
}


def test_unit_tiles_follow_the_ledger(client: TestClient, make_account: Any, make_org: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    _, other_code = make_org(OrgKind.PROJECT_UNIT)
    stranger = make_account(Role.PROJECT_UNIT, other_code)
    p = new_project(client, admin)
    u = new_unit(client, coord, p["id"], "T-1", geometry=SQUARE)
    x, y = lonlat_to_tile(LON + 0.0001, LAT + 0.0001, 16)
    url = f"/tiles/demolition/{p['id']}/16/{x}/{y}.mvt"
    r = client.get(url, headers=coord.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = mapbox_vector_tile.decode(r.content)["demolition_unit"]["features"]
    assert [(f["id"], f["properties"]["status"], f["properties"]["colour"]) for f in features] == [
        (u["id"], "surveyed", "#D73027")
    ]
    assert (
        features[0]["properties"]["status_zh"] == "调查" and features[0]["properties"]["unit_code"] == "T-1"
    )
    etag = r.headers["etag"]
    assert client.get(url, headers={**coord.headers, "If-None-Match": etag}).status_code == 304
    # A transition changes the ledger: a new ETag and the new colour.
    assert step(client, coord, u, "valued").status_code == 200
    r = client.get(url, headers={**coord.headers, "If-None-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag
    props = mapbox_vector_tile.decode(r.content)["demolition_unit"]["features"][0]["properties"]
    assert (props["status"], props["colour"]) == ("valued", "#F46D43")
    # Empty tile, out-of-range tile, someone else's project.
    assert (
        client.get(f"/tiles/demolition/{p['id']}/16/{x + 5}/{y}.mvt", headers=coord.headers).status_code
        == 204
    )
    assert client.get(f"/tiles/demolition/{p['id']}/2/9/9.mvt", headers=coord.headers).status_code == 404
    assert client.get(url, headers=stranger.headers).status_code == 404
    style = client.get(f"/tiles/demolition/{p['id']}/style.json", headers=coord.headers).json()
    assert style["sources"]["demolition"]["tiles"][0].endswith(
        f"/tiles/demolition/{p['id']}/{{z}}/{{x}}/{{y}}.mvt"
    )
    assert style["layers"][0]["paint"]["fill-color"] == ["get", "colour"]
