"""OGC API – Features under /ogc: documents, items, filters, CRS, HTML, and GDAL's OAPIF driver."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import uvicorn

from app.auth.policy import Role
from app.main import create_app
from app.ogc import html
from layers.catalog.model import AttributeType, LayerKind, get_catalog
from tests.conftest import DemoEnv
from tests.helpers import Account

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"
PAGED_LAYER = "pub_kindergarten"  # a few hundred points
COPIED_LAYER = "cur_poi"  # a few thousand points
BBOX_LAYER = "cur_building"  # ten thousand polygons
PROBLEM = "application/problem+json"
OGR2OGR = Path("/usr/bin/ogr2ogr")
OGRINFO = Path("/usr/bin/ogrinfo")
ROUTES = [
    "/ogc",
    "/ogc/conformance",
    "/ogc/collections",
    f"/ogc/collections/{COPIED_LAYER}",
    f"/ogc/collections/{COPIED_LAYER}/items?limit=5",
    f"/ogc/collections/{COPIED_LAYER}/items/1",
]
BAD_QUERIES = [
    "properties=name,no_such",
    "no_such_param=1",
    "limit=0",
    "limit=x",
    "offset=-1",
    "bbox=1,2,3",
    "bbox=114.3,22.7,114.2,22.8",
    "bbox=200,22.7,201,22.8",
    "crs=EPSG:3857",
    "bbox-crs=EPSG:4326&bbox=1,2,3,4",
    "f=xml",
    "limit=5&limit=6",
    "datetime=yesterday",
]


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Account:
    return demo.account(Role.PLANNER)


@pytest.fixture(scope="module")
def viewer(demo: DemoEnv) -> Account:
    return demo.account(Role.VIEWER)


@pytest.fixture(scope="module")
def system_admin(demo: DemoEnv) -> Account:
    return demo.account(Role.SYSTEM_ADMIN)


@pytest.fixture(scope="module")
def db(demo: DemoEnv) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        yield conn


def _version(db: psycopg.Connection[Any], code: str) -> int:
    row = db.execute("SELECT current_version FROM basemap.layer WHERE code = %s", (code,)).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def _count(db: psycopg.Connection[Any], code: str, where: str = "true", params: tuple[Any, ...] = ()) -> int:
    query = f"SELECT count(*) FROM basemap.feature WHERE version_id = %s AND {where}"
    row = db.execute(query, (_version(db, code), *params)).fetchone()
    assert row is not None
    return int(row[0])


def _visible_vector_layers(role: Role) -> list[str]:
    return [
        e.code
        for e in get_catalog().layers.values()
        if e.kind is not LayerKind.RASTER and e.visible_to(role.value)
    ]


def _rels(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {link["rel"]: link for link in doc["links"]}


def _path(href: str) -> str:
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --- documents -------------------------------------------------------------------------------------


def test_landing_page_has_the_required_links(demo: DemoEnv, planner: Account) -> None:
    r = demo.client.get("/ogc", headers=planner.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rels = _rels(r.json())
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["self"]["type"] == "application/json" and rels["alternate"]["type"] == "text/html"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert urlsplit(rels["service-desc"]["href"]).path == "/ogc/api"
    assert urlsplit(rels["service-doc"]["href"]).path == "/api/docs"
    assert urlsplit(rels["conformance"]["href"]).path == "/ogc/conformance"
    assert urlsplit(rels["data"]["href"]).path == "/ogc/collections"
    served = demo.client.get(_path(rels["service-desc"]["href"]), headers=planner.headers)
    assert served.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    api = served.json()
    assert "/ogc/collections/{code}/items" in api["paths"]


def test_the_api_definition_is_valid_openapi_3_0_and_covers_only_ogc(demo: DemoEnv, planner: Account) -> None:
    import json

    from openapi_spec_validator import OpenAPIV30SpecValidator

    api = demo.client.get("/ogc/api", headers=planner.headers).json()
    assert api["openapi"] == "3.0.3"
    OpenAPIV30SpecValidator(api).validate()
    assert all(p == "/ogc" or p.startswith("/ogc/") for p in api["paths"])
    paths = set(api["paths"])
    assert {"/ogc", "/ogc/api", "/ogc/conformance", "/ogc/collections/{code}/items/{feature_id}"} <= paths
    text = json.dumps(api)
    # No OpenAPI 3.1 / JSON Schema 2020-12 constructs left.
    assert '"type": "null"' not in text and '"const"' not in text and '"examples": [' not in text


def test_conformance_declares_core_geojson_html_oas30_and_crs(demo: DemoEnv, planner: Account) -> None:
    r = demo.client.get("/ogc/conformance", headers=planner.headers)
    assert r.status_code == 200
    assert set(r.json()["conformsTo"]) >= {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    }


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PLANNER, Role.SYSTEM_ADMIN])
def test_collections_are_the_visible_vector_layers(demo: DemoEnv, role: Role, request: Any) -> None:
    account: Account = request.getfixturevalue(role.value)
    r = demo.client.get("/ogc/collections", headers=account.headers)
    assert r.status_code == 200
    ids = [c["id"] for c in r.json()["collections"]]
    assert ids == _visible_vector_layers(role)
    assert "base_dem" not in ids  # a raster layer is not a feature collection
    assert ("cur_cadastre" in ids) is (role is not Role.VIEWER)


def test_restricted_collection_is_hidden_from_viewer_and_shown_to_admin(
    demo: DemoEnv, viewer: Account, system_admin: Account
) -> None:
    for path in ("/ogc/collections/cur_cadastre", "/ogc/collections/cur_cadastre/items"):
        hidden = demo.client.get(path, headers=viewer.headers)
        assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
        assert demo.client.get(path, headers=system_admin.headers).status_code == 200
    unknown = demo.client.get("/ogc/collections/no_such_layer", headers=system_admin.headers)
    assert unknown.status_code == 404
    assert hidden.json()["detail"].replace("cur_cadastre", "X") == unknown.json()["detail"].replace(
        "no_such_layer", "X"
    )
    assert demo.client.get("/ogc/collections/base_dem", headers=system_admin.headers).status_code == 404


def test_collection_document(demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]) -> None:
    entry = get_catalog().layers[COPIED_LAYER]
    r = demo.client.get(f"/ogc/collections/{COPIED_LAYER}", headers=planner.headers)
    assert r.status_code == 200
    doc = r.json()
    assert doc["id"] == COPIED_LAYER and doc["title"] == entry.name_zh and doc["itemType"] == "feature"
    for text in (entry.name_en, entry.department, entry.source, entry.vintage.isoformat()):
        assert text in doc["description"]
    assert doc["crs"] == [CRS84, EPSG4547] and doc["storageCrs"] == EPSG4547
    (bbox,) = doc["extent"]["spatial"]["bbox"]
    assert doc["extent"]["spatial"]["crs"] == CRS84
    row = db.execute(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)"
        " FROM (SELECT ST_Transform(extent, 4326)::box2d b FROM basemap.layer_version WHERE id = %s) t",
        (_version(db, COPIED_LAYER),),
    ).fetchone()
    assert row is not None
    assert bbox == pytest.approx(list(row), abs=2e-5)
    items = [link for link in doc["links"] if link["rel"] == "items"]
    assert {link["type"] for link in items} == {"application/geo+json", "text/html"}


# --- items -----------------------------------------------------------------------------------------


def test_number_matched_is_the_exact_count_of_every_layer(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    for code in _visible_vector_layers(Role.PLANNER):
        r = demo.client.get(f"/ogc/collections/{code}/items?limit=1", headers=planner.headers)
        assert r.status_code == 200, code
        body = r.json()
        if get_catalog().layers[code].live is not None:
            continue  # no stored version: the live project library is counted in test_project_layer.py
        if get_catalog().layers[code].derived is not None:
            # No gap answer was computed on this demo: the deficit layer has no version yet (its versions are
            # counted in test_gap_deficit_layer.py).
            assert body["numberMatched"] == 0 and body["features"] == [], code
            continue
        assert body["numberMatched"] == _count(db, code), code
        assert body["numberReturned"] == len(body["features"]) == min(1, body["numberMatched"])
        assert body["timeStamp"].endswith("Z")


def test_paging_through_next_links_visits_every_feature_once(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    expected = {
        r[0]
        for r in db.execute(
            "SELECT fid FROM basemap.feature WHERE version_id = %s", (_version(db, PAGED_LAYER),)
        )
    }
    assert 200 <= len(expected) <= 1000
    first_attribute = get_catalog().layers[PAGED_LAYER].attributes[0].name
    url: str | None = f"/ogc/collections/{PAGED_LAYER}/items?limit=37&properties={first_attribute}"
    seen: list[int] = []
    pages = 0
    while url:
        r = demo.client.get(url, headers=planner.headers)
        assert r.status_code == 200
        body = r.json()
        assert body["numberMatched"] == len(expected)
        seen += [f["id"] for f in body["features"]]
        assert all(set(f["properties"]) == {first_attribute} for f in body["features"])
        rels = _rels(body)
        if pages > 0:
            prev = parse_qs(urlsplit(rels["prev"]["href"]).query)
            assert prev["offset"] == [str((pages - 1) * 37)]
        url = _path(rels["next"]["href"]) if "next" in rels else None
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["properties"] == [first_attribute] and query["limit"] == ["37"]
            assert rels["next"]["type"] == "application/geo+json"
        pages += 1
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert seen == sorted(seen)
    assert pages == -(-len(expected) // 37)


def test_limit_above_the_maximum_is_clamped(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    assert _count(db, BBOX_LAYER) > 10_000
    r = demo.client.get(f"/ogc/collections/{BBOX_LAYER}/items?limit=50000", headers=planner.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["numberReturned"] == 10_000
    assert parse_qs(urlsplit(_rels(body)["next"]["href"]).query)["limit"] == ["10000"]
    default = demo.client.get(f"/ogc/collections/{BBOX_LAYER}/items", headers=planner.headers).json()
    assert default["numberReturned"] == 100


def _district_quarter(db: psycopg.Connection[Any]) -> tuple[float, float, float, float]:
    row = db.execute(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)"
        " FROM (SELECT ST_Transform(extent, 4326)::box2d b FROM basemap.layer_version WHERE id = %s) t",
        (_version(db, BBOX_LAYER),),
    ).fetchone()
    assert row is not None
    x0, y0, x1, y1 = row
    w, h = x1 - x0, y1 - y0
    return (x0 + w * 0.3, y0 + h * 0.35, x0 + w * 0.55, y0 + h * 0.6)


def _ids(demo: DemoEnv, account: Account, url: str) -> list[int]:
    r = demo.client.get(url, headers=account.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberMatched"] == body["numberReturned"]
    return [f["id"] for f in body["features"]]


def test_bbox_filter_returns_exactly_the_features_whose_bbox_intersects(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    x0, y0, x1, y1 = _district_quarter(db)
    got = _ids(demo, planner, f"/ogc/collections/{BBOX_LAYER}/items?limit=10000&bbox={x0},{y0},{x1},{y1}")
    expected = [
        r[0]
        for r in db.execute(
            "SELECT fid FROM basemap.feature WHERE version_id = %s AND geom && ST_Transform("
            "ST_Segmentize(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 0.001), 4547) ORDER BY fid",
            (_version(db, BBOX_LAYER), x0, y0, x1, y1),
        )
    ]
    assert got == expected
    assert 0 < len(got) < _count(db, BBOX_LAYER) / 2
    # Every feature answered really has a bounding box touching the area (checked in CRS84).
    inside = db.execute(
        "SELECT bool_and(ST_Transform(geom, 4326) && ST_Expand(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 2e-4))"
        " FROM basemap.feature WHERE version_id = %s AND fid = ANY(%s)",
        (x0, y0, x1, y1, _version(db, BBOX_LAYER), got),
    ).fetchone()
    assert inside == (True,)


def test_bbox_in_epsg_4547_is_northing_first(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    row = db.execute(
        "SELECT ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent)"
        " FROM basemap.layer_version WHERE id = %s",
        (_version(db, BBOX_LAYER),),
    ).fetchone()
    assert row is not None
    e0, n0, e1, n1 = row
    e0, e1 = e0 + (e1 - e0) * 0.4, e0 + (e1 - e0) * 0.6
    n0, n1 = n0 + (n1 - n0) * 0.4, n0 + (n1 - n0) * 0.6
    url = f"/ogc/collections/{BBOX_LAYER}/items?limit=10000&bbox={n0},{e0},{n1},{e1}&bbox-crs={EPSG4547}"
    expected = [
        r[0]
        for r in db.execute(
            "SELECT fid FROM basemap.feature WHERE version_id = %s"
            " AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4547) ORDER BY fid",
            (_version(db, BBOX_LAYER), e0, n0, e1, n1),
        )
    ]
    assert expected and _ids(demo, planner, url) == expected


def test_output_crs_epsg_4547_and_content_crs(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    stored = {
        r[0]: (json.loads(r[1]), json.loads(r[2]))
        for r in db.execute(
            "SELECT fid, ST_AsGeoJSON(geom), ST_AsGeoJSON(ST_Transform(geom, 4326), 7)"
            " FROM basemap.feature WHERE version_id = %s AND fid <= 20",
            (_version(db, PAGED_LAYER),),
        )
    }
    projected = demo.client.get(
        f"/ogc/collections/{PAGED_LAYER}/items?limit=20&crs=EPSG:4547", headers=planner.headers
    )
    assert projected.status_code == 200
    assert projected.headers["content-crs"] == f"<{EPSG4547}>"
    for feature in projected.json()["features"]:
        easting, northing = stored[feature["id"]][0]["coordinates"]
        # EPSG:4547 orders its axes northing, easting; the stored (PostGIS) order is easting, northing.
        assert feature["geometry"]["coordinates"] == [northing, easting]
    default = demo.client.get(f"/ogc/collections/{PAGED_LAYER}/items?limit=20", headers=planner.headers)
    assert default.headers["content-crs"] == f"<{CRS84}>"
    for feature in default.json()["features"]:
        assert feature["geometry"] == stored[feature["id"]][1]
    by_uri = demo.client.get(
        f"/ogc/collections/{PAGED_LAYER}/items/3", params={"crs": EPSG4547}, headers=planner.headers
    )
    assert by_uri.status_code == 200 and by_uri.headers["content-crs"] == f"<{EPSG4547}>"
    assert by_uri.json()["geometry"]["coordinates"] == stored[3][0]["coordinates"][::-1]


def test_single_feature(demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]) -> None:
    r = demo.client.get(f"/ogc/collections/{COPIED_LAYER}/items/7", headers=planner.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feature = r.json()
    props = db.execute(
        "SELECT props FROM basemap.feature WHERE version_id = %s AND fid = 7", (_version(db, COPIED_LAYER),)
    ).fetchone()
    assert props is not None
    assert feature["type"] == "Feature" and feature["id"] == 7
    assert {k: v for k, v in feature["properties"].items() if v is not None} == {
        k: v for k, v in props[0].items() if v is not None
    }
    assert {"self", "alternate", "collection"} <= set(_rels(feature))
    # Properties are every catalog attribute, in catalog order.
    names = [a.name for a in get_catalog().layers[COPIED_LAYER].attributes]
    assert list(feature["properties"])[: len(names)] == names


def test_properties_selection_and_errors(demo: DemoEnv, planner: Account) -> None:
    base = f"/ogc/collections/{COPIED_LAYER}/items"
    r = demo.client.get(f"{base}?limit=5&properties=name,category", headers=planner.headers)
    assert r.status_code == 200
    assert all(list(f["properties"]) == ["name", "category"] for f in r.json()["features"])
    for bad in BAD_QUERIES:
        r = demo.client.get(f"{base}?{bad}", headers=planner.headers)
        assert r.status_code == 400, bad
        assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "invalid_parameter", bad
    assert (
        demo.client.get(f"{base}?datetime=2024-01-01T00:00:00Z/..", headers=planner.headers).status_code
        == 200
    )


def _typed_samples(db: psycopg.Connection[Any]) -> dict[AttributeType, tuple[str, str, Any]]:
    """A (layer, attribute, stored value) of each attribute type, taken from the demo data."""
    samples: dict[AttributeType, tuple[str, str, Any]] = {}
    for entry in get_catalog().layers.values():
        if entry.kind is LayerKind.RASTER or not entry.visible_to("planner"):
            continue
        for attribute in entry.attributes:
            if attribute.type in samples:
                continue
            row = db.execute(
                "SELECT props -> %s FROM basemap.feature WHERE version_id = %s AND props ->> %s IS NOT NULL"
                " ORDER BY fid LIMIT 1",
                (attribute.name, _version(db, entry.code), attribute.name),
            ).fetchone()
            if row is not None:
                samples[attribute.type] = (entry.code, attribute.name, row[0])
    return samples


def test_attribute_filters_are_typed(demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]) -> None:
    samples = _typed_samples(db)
    assert set(samples) == set(AttributeType)
    bad_values = {
        AttributeType.INTEGER: "1.5",
        AttributeType.NUMBER: "abc",
        AttributeType.DATE: "2024-13-45",
        AttributeType.BOOLEAN: "maybe",
        AttributeType.CODE: "not-a-code",
    }
    for kind, (code, name, value) in samples.items():
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        r = demo.client.get(
            f"/ogc/collections/{code}/items", params={name: text, "limit": 10000}, headers=planner.headers
        )
        assert r.status_code == 200, (kind, r.text)
        body = r.json()
        expected = _count(db, code, "props @> %s::jsonb", (json.dumps({name: value}),))
        assert body["numberMatched"] == expected > 0, kind
        assert all(f["properties"][name] == value for f in body["features"]), kind
        if kind in bad_values:
            r = demo.client.get(
                f"/ogc/collections/{code}/items", params={name: bad_values[kind]}, headers=planner.headers
            )
            assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, kind


def test_code_filter_accepts_the_chinese_label(
    demo: DemoEnv, planner: Account, db: psycopg.Connection[Any]
) -> None:
    r = demo.client.get(
        f"/ogc/collections/{COPIED_LAYER}/items",
        params={"category": "医疗", "limit": 1},
        headers=planner.headers,
    )
    assert r.status_code == 200
    assert r.json()["numberMatched"] == _count(db, COPIED_LAYER, "props ->> 'category' = 'medical'") > 0


def test_unknown_collection_or_feature_is_404(demo: DemoEnv, planner: Account) -> None:
    for path in (
        "/ogc/collections/nope",
        "/ogc/collections/nope/items",
        "/ogc/collections/nope/items/1",
        f"/ogc/collections/{COPIED_LAYER}/items/999999",
        f"/ogc/collections/{COPIED_LAYER}/items/abc",
        f"/ogc/collections/{COPIED_LAYER}/items/0",
    ):
        r = demo.client.get(path, headers=planner.headers)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == PROBLEM


def test_every_route_requires_a_token(demo: DemoEnv) -> None:
    for path in ROUTES:
        r = demo.client.get(path)
        assert r.status_code == 401, path
        assert r.headers["content-type"] == PROBLEM


# --- HTML ------------------------------------------------------------------------------------------

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_html_pages_for_browsers(demo: DemoEnv, planner: Account) -> None:
    headers = {**planner.headers, "Accept": BROWSER_ACCEPT}
    entry = get_catalog().layers[COPIED_LAYER]
    for path in ROUTES:
        r = demo.client.get(path, headers=headers)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert "<script" not in r.text and 'src="' not in r.text and "style=" not in r.text, path
        # One stylesheet, from this server (the Content-Security-Policy refuses inline style).
        assert re.findall(r"<link[^>]*>", r.text) == ['<link rel="stylesheet" href="/assets/ogc/ogc.css">'], (
            path
        )
    assert demo.client.get("/assets/ogc/ogc.css").headers["content-type"].startswith("text/css")
    page = demo.client.get(
        f"/ogc/collections/{COPIED_LAYER}/items?f=html&limit=5", headers=planner.headers
    ).text
    assert all(f'<th title="{a.name}">{a.label_zh}</th>' in page for a in entry.attributes)
    category = entry.attribute("category")
    assert category is not None and category.codes
    assert any(f"<td>{c.label_zh}（{c.value}）</td>" in page for c in category.codes)
    assert "下一页" in page and "上一页" not in page
    listing = demo.client.get("/ogc/collections?f=html", headers=planner.headers).text
    assert entry.name_zh in listing
    # f=json wins over a browser's Accept header; items default to GeoJSON.
    assert (
        demo.client.get("/ogc/collections?f=json", headers=headers).headers["content-type"]
        == "application/json"
    )
    items = demo.client.get(f"/ogc/collections/{COPIED_LAYER}/items?limit=1", headers=planner.headers)
    assert items.headers["content-type"] == "application/geo+json"


def test_html_escapes_text() -> None:
    page = html.render("conformance", "/ogc", "<b>标题</b>", [], classes=['<script>alert("x")</script>'])
    assert "<script>" not in page.body.decode() and "&lt;script&gt;" in page.body.decode()
    assert "&lt;b&gt;标题&lt;/b&gt;" in page.body.decode()


# --- GDAL ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server(demo: DemoEnv) -> Iterator[str]:
    """The app served by uvicorn on a free localhost port, in a background thread."""
    if not OGR2OGR.exists():
        pytest.skip("GDAL's ogr2ogr is not installed at /usr/bin/ogr2ogr")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(demo.settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/ogc"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _gdal(args: list[str], token: str) -> subprocess.CompletedProcess[str]:
    # The bearer token travels in the environment (GDAL_HTTP_HEADERS), not on the command line.
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}", "CPL_DEBUG": "OFF"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_gdal_lists_every_visible_vector_layer(live_server: str, planner: Account) -> None:
    result = _gdal([str(OGRINFO), "-ro", "-so", f"OAPIF:{live_server}"], planner.token)
    assert result.returncode == 0, result.stderr
    listed = [
        line.split(":", 1)[1].split("(")[0].strip()
        for line in result.stdout.splitlines()
        if line.split(":", 1)[0].strip().isdigit()
    ]
    assert listed == _visible_vector_layers(Role.PLANNER)


def test_gdal_refused_without_token(live_server: str) -> None:
    result = subprocess.run(
        [str(OGRINFO), "-ro", "-so", f"OAPIF:{live_server}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0


def test_ogr2ogr_copies_every_feature(
    live_server: str, planner: Account, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _count(db, COPIED_LAYER)
    assert 1000 <= expected <= 10_000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "copy.gpkg"
        started = time.perf_counter()
        result = _gdal(
            [str(OGR2OGR), "-f", "GPKG", str(out), f"OAPIF:{live_server}", COPIED_LAYER], planner.token
        )
        elapsed = time.perf_counter() - started
        assert result.returncode == 0, result.stderr
        info = _gdal([str(OGRINFO), "-ro", "-so", str(out), COPIED_LAYER], planner.token)
        assert f"Feature Count: {expected}\n" in info.stdout, info.stdout
        fields = {line.split(":")[0] for line in info.stdout.splitlines()}
        assert {a.name for a in get_catalog().layers[COPIED_LAYER].attributes} <= fields
    with capsys.disabled():
        print(
            f"\nogr2ogr OAPIF → GPKG: {expected} features of {COPIED_LAYER} in {elapsed:.2f} s (page size 10)"
        )
