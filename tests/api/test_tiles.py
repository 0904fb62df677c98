"""Composite vector tiles, TileJSON, style, legend and identify on the small demo district."""

from __future__ import annotations

import json
from typing import Any

import mapbox_vector_tile
import psycopg
import pytest
import shapely

from app.auth.policy import Role
from app.tiles.fast_path import match_tile
from layers.catalog.model import LayerKind, get_catalog
from layers.tiles.grid import lonlat_to_tile
from tests.conftest import DemoEnv

MVT = "application/vnd.mapbox-vector-tile"


def _centre(demo: DemoEnv, code: str) -> tuple[float, float]:
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            """
            SELECT ST_X(c), ST_Y(c) FROM (
              SELECT ST_Transform(ST_PointOnSurface(f.geom), 4326) AS c FROM basemap.feature f
              JOIN basemap.layer l ON l.current_version = f.version_id WHERE l.code = %s
              ORDER BY f.fid LIMIT 1 OFFSET 20) s
            """,
            (code,),
        ).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


def _count_in_tile(demo: DemoEnv, code: str, z: int, x: int, y: int, margin: float) -> int:
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            """
            SELECT count(*) FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id
            WHERE l.code = %s
              AND ST_Intersects(ST_Transform(f.geom, 3857), ST_TileEnvelope(%s, %s, %s, margin => %s))
            """,
            (code, z, x, y, margin),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Any:
    return demo.account(Role.PLANNER)


def test_composite_tile_holds_every_requested_layer_with_attributes(demo: DemoEnv, planner: Any) -> None:
    lon, lat = _centre(demo, "cur_building")
    x, y = lonlat_to_tile(lon, lat, 15)
    r = demo.client.get(
        f"/tiles/cur_building,sp_parcel,admin_community/15/{x}/{y}.mvt", headers=planner.headers
    )
    assert r.status_code == 200 and r.headers["content-type"] == MVT
    tile = mapbox_vector_tile.decode(r.content)
    assert {"cur_building", "sp_parcel", "admin_community"} <= set(tile)
    n = len(tile["cur_building"]["features"])
    assert (
        _count_in_tile(demo, "cur_building", 15, x, y, 0)
        <= n
        <= _count_in_tile(demo, "cur_building", 15, x, y, 64 / 4096)
    )
    # Tiles carry what the style needs (the categorised attribute) and the feature's code; the rest is
    # one identify request away.
    props = tile["cur_building"]["features"][0]["properties"]
    assert set(props) == {"use", "building_code"}
    parcel_codes = {f["properties"].get("land_use") for f in tile["sp_parcel"]["features"]}
    assert parcel_codes <= set(get_catalog().get("sp_parcel").attribute("land_use").code_values())  # type: ignore[union-attr]


def test_layers_below_their_minimum_zoom_are_left_out(demo: DemoEnv, planner: Any) -> None:
    building = get_catalog().get("cur_building")
    lon, lat = _centre(demo, "cur_building")
    z = building.min_zoom - 1
    x, y = lonlat_to_tile(lon, lat, z)
    r = demo.client.get(f"/tiles/cur_building,admin_subdistrict/{z}/{x}/{y}.mvt", headers=planner.headers)
    tile = mapbox_vector_tile.decode(r.content)
    assert "cur_building" not in tile and "admin_subdistrict" in tile


def test_gzip_etag_and_conditional_requests(demo: DemoEnv, planner: Any) -> None:
    lon, lat = _centre(demo, "sp_parcel")
    x, y = lonlat_to_tile(lon, lat, 14)
    url = f"/tiles/sp_parcel/14/{x}/{y}.mvt"
    zipped = demo.client.get(url, headers={**planner.headers, "Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    plain = demo.client.get(url, headers={**planner.headers, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert mapbox_vector_tile.decode(plain.content) == mapbox_vector_tile.decode(zipped.content)
    etag = plain.headers["etag"]
    again = demo.client.get(url, headers={**planner.headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert mapbox_vector_tile.decode(plain.content)["sp_parcel"]["features"]  # a tile with parcels


def test_tiles_outside_the_data_are_empty_and_bad_requests_are_refused(demo: DemoEnv, planner: Any) -> None:
    assert demo.client.get("/tiles/sp_parcel/14/0/0.mvt", headers=planner.headers).status_code == 204
    assert demo.client.get("/tiles/sp_parcel/3/8/1.mvt", headers=planner.headers).status_code == 404
    assert demo.client.get("/tiles/sp_parcel/23/0/0.mvt", headers=planner.headers).status_code == 422
    assert demo.client.get("/tiles/no_such_layer/10/0/0.mvt", headers=planner.headers).status_code == 404
    assert demo.client.get("/tiles/base_dem/10/0/0.mvt", headers=planner.headers).status_code == 404
    too_many = ",".join(f"layer{i}" for i in range(201))
    for codes in (",", ",,", "sp_parcel,sp_parcel", too_many):
        for url in (f"/tiles/{codes}/10/0/0.mvt", f"/tiles/{codes}/tilejson.json"):
            r = demo.client.get(url, headers=planner.headers)
            assert r.status_code == 400, (url, r.status_code)
            assert "图层列表无效" in r.json()["message_zh"]
    assert demo.client.get("/tiles/sp_parcel/10/0/0.mvt").status_code == 401
    viewer = demo.account(Role.VIEWER)
    assert demo.client.get("/tiles/cur_cadastre/14/0/0.mvt", headers=viewer.headers).status_code == 404


def test_every_tile_of_the_demo_stays_under_500_kb(demo: DemoEnv, planner: Any) -> None:
    codes = ",".join(
        e.code
        for e in get_catalog().layers.values()
        if e.kind is not LayerKind.RASTER and e.visible_to("system_admin")
    )
    admin = demo.account(Role.SYSTEM_ADMIN, "gov-data")
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        box = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
            "ST_SetSRID(ST_Extent(extent), 4547), 4326)::box2d e FROM basemap.layer_version) s"
        ).fetchone()
    assert box is not None
    largest = 0
    for z in range(8, 15):
        x0, y1 = lonlat_to_tile(box[0], box[1], z)
        x1, y0 = lonlat_to_tile(box[2], box[3], z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                r = demo.client.get(
                    f"/tiles/{codes}/{z}/{x}/{y}.mvt",
                    headers={**admin.headers, "Accept-Encoding": "identity"},
                )
                assert r.status_code in (200, 204)
                largest = max(largest, len(r.content))
    assert 0 < largest < 500 * 1024


def test_tilejson_style_and_legend(demo: DemoEnv, planner: Any) -> None:
    tj = demo.client.get("/tiles/sp_parcel,cur_building/tilejson.json", headers=planner.headers).json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"][0].endswith(
        "/tiles/sp_parcel,cur_building/{z}/{x}/{y}.mvt"
    )
    assert [v["id"] for v in tj["vector_layers"]] == ["sp_parcel", "cur_building"]
    assert 114.0 < tj["bounds"][0] < tj["bounds"][2] < 114.5
    style = demo.client.get("/tiles/style.json", headers=planner.headers).json()
    visible = [e for e in get_catalog().layers.values() if e.visible_to("planner")]
    ids = {layer["id"] for layer in style["layers"]}
    assert {e.code for e in visible} <= ids
    parcel = next(layer for layer in style["layers"] if layer["id"] == "sp_parcel")
    assert parcel["type"] == "fill" and parcel["paint"]["fill-color"][0] == "match"
    assert style["glyphs"].endswith("/tiles/fonts/{fontstack}/{range}.pbf")
    label = next(layer for layer in style["layers"] if layer["id"] == "admin_community-label")
    assert label["type"] == "symbol" and label["layout"]["text-field"] == ["get", "name"]
    # Labels name the font whose glyph ranges the app serves (tests/api/test_glyphs.py decodes them).
    assert label["layout"]["text-font"] == ["Noto Sans SC Regular"]
    glyphs = demo.client.get("/tiles/fonts/Noto%20Sans%20SC%20Regular/0-255.pbf", headers=planner.headers)
    assert glyphs.status_code == 200 and glyphs.content.startswith(b"\n")
    assert b"\n\x14Noto Sans SC Regular\x12\x050-255" in glyphs.content
    hidden = [e.code for e in get_catalog().layers.values() if not e.visible_to("planner")]
    assert hidden and not set(hidden) & ids  # restricted layers stay out of a planner's style
    legend = demo.client.get("/api/layers/legend", headers=planner.headers).json()
    parcel_legend = next(item for item in legend if item["code"] == "sp_parcel")
    r2 = next(c for c in parcel_legend["categories"] if c["value"] == "R2")
    assert r2["label_zh"].startswith("二类居住") and r2["colour"].startswith("#")
    ogc = demo.client.get("/ogc/collections/sp_parcel/tiles", headers=planner.headers).json()
    assert ogc["tilesets"][0]["dataType"] == "vector"


def test_ogc_tile_path_matches_the_xyz_tile(demo: DemoEnv, planner: Any) -> None:
    lon, lat = _centre(demo, "sp_parcel")
    x, y = lonlat_to_tile(lon, lat, 14)
    xyz = demo.client.get(
        f"/tiles/sp_parcel/14/{x}/{y}.mvt", headers={**planner.headers, "Accept-Encoding": "x"}
    )
    ogc = demo.client.get(
        f"/ogc/collections/sp_parcel/tiles/WebMercatorQuad/14/{y}/{x}",
        headers={**planner.headers, "Accept-Encoding": "x"},
    )
    assert ogc.status_code == 200 and ogc.content == xyz.content


def test_the_fast_path_answers_exactly_as_the_routes(demo: DemoEnv, planner: Any) -> None:
    """Well-formed tile URLs are served before FastAPI's routing (app.tiles.fast_path); a zoom written
    with a leading zero is not matched there and goes through the FastAPI route: both must give the
    same tile, headers and errors."""
    lon, lat = _centre(demo, "sp_parcel")
    x, y = lonlat_to_tile(lon, lat, 14)
    assert match_tile(f"/tiles/sp_parcel/14/{x}/{y}.mvt") == ("sp_parcel", 14, x, y)
    assert match_tile(f"/tiles/sp_parcel/014/{x}/{y}.mvt") is None
    for headers in ({"Accept-Encoding": "gzip"}, {"Accept-Encoding": "identity"}):
        fast = demo.client.get(f"/tiles/sp_parcel/14/{x}/{y}.mvt", headers={**planner.headers, **headers})
        routed = demo.client.get(f"/tiles/sp_parcel/014/{x}/{y}.mvt", headers={**planner.headers, **headers})
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        for name in ("etag", "cache-control", "vary", "content-type", "x-content-type-options"):
            assert fast.headers.get(name) == routed.headers.get(name), name
        assert fast.headers.get("content-encoding") == routed.headers.get("content-encoding")
        assert fast.headers["x-request-id"] and fast.headers["x-request-id"] != routed.headers["x-request-id"]
    ogc = f"/ogc/collections/sp_parcel/tiles/WebMercatorQuad/14/{y}/{x}"
    assert match_tile(ogc) == ("sp_parcel", 14, x, y)
    # Errors: the application's own handlers render them, in the caller's language.
    cases: list[tuple[str, dict[str, str], int]] = [
        ("/tiles/no_such_layer/{z}/0/0.mvt", planner.headers, 404),
        ("/tiles/sp_parcel/{z}/0/0.mvt", {}, 401),
        ("/tiles/sp_parcel/{z}/0/0.mvt", {"Authorization": "Bearer not-a-token"}, 401),
        ("/tiles/sp_parcel/{z}/0/0.mvt", {"Authorization": "Basic abc"}, 401),
        ("/tiles/base_dem/{z}/0/0.mvt", planner.headers, 404),
        ("/tiles/sp_parcel/{z}/99999/0.mvt", planner.headers, 404),
    ]
    for template, headers, status in cases:
        for lang in ("zh-CN", "en"):
            h = {**headers, "Accept-Language": lang}
            fast = demo.client.get(template.format(z="10"), headers=h)
            routed = demo.client.get(template.format(z="010"), headers=h)
            assert fast.status_code == routed.status_code == status, template
            a, b = fast.json(), routed.json()
            assert {k: v for k, v in a.items() if k not in ("instance", "request_id")} == {
                k: v for k, v in b.items() if k not in ("instance", "request_id")
            }
            assert fast.headers.get("www-authenticate") == routed.headers.get("www-authenticate")
    # Outside the fast path's shapes the routes validate as before.
    assert match_tile("/tiles/sp_parcel/23/0/0.mvt") is None
    assert demo.client.get("/tiles/sp_parcel/23/0/0.mvt", headers=planner.headers).status_code == 422
    assert demo.client.post(f"/tiles/sp_parcel/14/{x}/{y}.mvt", headers=planner.headers).status_code == 405


def test_identify_returns_the_building_under_the_point_with_labels(demo: DemoEnv, planner: Any) -> None:
    lon, lat = _centre(demo, "cur_building")
    r = demo.client.get(
        "/api/identify",
        params={"lon": lon, "lat": lat, "layers": "cur_building,sp_parcel", "zoom": 18},
        headers=planner.headers,
    )
    assert r.status_code == 200
    found = r.json()
    building = [f for f in found if f["layer"] == "cur_building"]
    assert building and building[0]["distance_m"] == 0
    labels = {a["name"]: a for a in building[0]["attributes"]}
    assert labels["floors"]["label_zh"] == "层数"
    # Code values carry their labels in both languages, from the catalog's code list.
    structure = get_catalog().get("cur_building").attribute("structure")  # type: ignore[union-attr]
    code = next(c for c in structure.codes or [] if c.value == str(labels["structure"]["value"]))
    assert (labels["structure"]["value_label_zh"], labels["structure"]["value_label_en"]) == (
        code.label_zh,
        code.label_en,
    )
    assert building[0]["layer_name_en"] == get_catalog().get("cur_building").name_en  # type: ignore[union-attr]
    assert all(f["geometry"] is None for f in found)  # only when asked for
    # With its geometry, for the map's highlight: at zoom 18 (half a pixel ≈ 0.28 m) a building keeps its
    # outline, so its area matches the stored one; the point lies inside it.
    shaped = demo.client.get(
        "/api/identify",
        params={"lon": lon, "lat": lat, "layers": "cur_building", "zoom": 18, "geometry": "true"},
        headers=planner.headers,
    ).json()[0]
    assert shaped["fid"] == building[0]["fid"]
    outline = shapely.geometry.shape(shaped["geometry"])
    assert outline.intersects(shapely.Point(lon, lat))
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT ST_Area(f.geom), ST_Area(ST_Transform(ST_GeomFromGeoJSON(%s), 4547))"
            " FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id"
            " WHERE l.code = 'cur_building' AND f.fid = %s",
            (json.dumps(shaped["geometry"]), shaped["fid"]),
        ).fetchone()
    assert row is not None and row[1] == pytest.approx(row[0], rel=1e-3)
    far = demo.client.get(
        "/api/identify", params={"lon": 114.0, "lat": 22.0, "layers": "cur_building"}, headers=planner.headers
    )
    assert far.json() == []


def test_a_tile_holds_the_features_meeting_it(demo: DemoEnv, planner: Any) -> None:
    lon, lat = _centre(demo, "cur_building")
    x, y = lonlat_to_tile(lon, lat, 15)  # z15: no generalisation, so nothing is dropped for size
    r = demo.client.get(f"/tiles/cur_building/15/{x}/{y}.mvt", headers=planner.headers)
    fids = {f["id"] for f in mapbox_vector_tile.decode(r.content)["cur_building"]["features"]}
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        rows = conn.execute(
            """
            SELECT f.fid,
                   ST_Area(ST_Intersection(f.geom_3857, ST_TileEnvelope(15, %(x)s, %(y)s))) > 0,
                   ST_Intersects(f.geom_3857, ST_TileEnvelope(15, %(x)s, %(y)s, margin => 64.0 / 4096))
            FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id
            WHERE l.code = 'cur_building' AND f.geom_3857 && ST_TileEnvelope(15, %(x)s, %(y)s, margin => 0.1)
            """,
            {"x": x, "y": y},
        ).fetchall()
    inside = {fid for fid, core, _ in rows if core}
    buffered = {fid for fid, _, near in rows if near}
    # Every building overlapping the tile is in it; the others come only from the 64-unit buffer (a building
    # that merely grazes the buffer's outer edge collapses below one grid unit and is dropped).
    assert inside <= fids <= buffered and len(inside) > 10


def test_a_new_layer_version_changes_the_tile_and_its_etag(
    demo: DemoEnv, planner: Any, tmp_path: Any
) -> None:
    import geopandas as gpd
    import shapely

    lon, lat = _centre(demo, "cur_site")
    x, y = lonlat_to_tile(lon, lat, 14)
    url = f"/tiles/cur_site/14/{x}/{y}.mvt"
    before = demo.client.get(url, headers=planner.headers)
    # The same area at z15 has not been asked for yet: after the import it is a cache miss rendered
    # on the layer version this process saw last, which the tile statement must catch.
    x15, y15 = lonlat_to_tile(lon, lat, 15)
    unseen = f"/tiles/cur_site/15/{x15}/{y15}.mvt"
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 4547)"
            " AS p) s",
            (lon, lat),
        ).fetchone()
    assert row is not None
    site = gpd.GeoDataFrame(
        {"project_name": ["新工地"]},
        geometry=[shapely.box(row[0], row[1], row[0] + 80, row[1] + 60)],
        crs=4547,
    )
    path = tmp_path / "site.gpkg"
    site.to_file(path, driver="GPKG")
    with path.open("rb") as fh:
        imported = demo.client.post(
            "/api/layers/cur_site/versions", headers=planner.headers, files={"file": ("site.gpkg", fh)}
        )
    assert imported.status_code == 201
    fresh = demo.client.get(unseen, headers=planner.headers)
    assert fresh.status_code == 200
    assert {
        f["properties"].get("project_name")
        for f in mapbox_vector_tile.decode(fresh.content)["cur_site"]["features"]
    } == {"新工地"}
    after = demo.client.get(url, headers={**planner.headers, "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    names = {
        f["properties"].get("project_name")
        for f in mapbox_vector_tile.decode(after.content)["cur_site"]["features"]
    }
    assert names == {"新工地"}


def test_a_tile_over_its_byte_budget_is_generalised_until_it_fits(demo: DemoEnv) -> None:
    """Drop-densest-as-needed: the largest layers are generalised level by level, the same way every time."""
    from layers.tiles.mvt import MAX_LEVEL, TileLayer, render_composite

    catalog = get_catalog()
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        versions = dict(
            conn.execute("SELECT code, current_version FROM basemap.layer WHERE current_version IS NOT NULL")
        )
        codes = ["cur_building", "sp_parcel", "base_address", "admin_community"]
        layers = [TileLayer(catalog.get(c), versions[c]) for c in codes if c in versions]
        lon, lat = _centre(demo, "cur_building")
        x, y = lonlat_to_tile(lon, lat, 15)
        full = render_composite(conn, layers, 15, x, y)
        assert full.levels == {} and len(full.data) > 4000
        sizes = {t.entry.code: len(render_composite(conn, [t], 15, x, y).data) for t in layers}
        assert sum(sizes.values()) == len(full.data)
        budget = len(full.data) // 3
        fitted = render_composite(conn, layers, 15, x, y, budget=budget)
        again = render_composite(conn, layers, 15, x, y, budget=budget)
    assert len(fitted.data) <= budget or all(v == MAX_LEVEL for v in fitted.levels.values())
    assert fitted.levels and fitted.data == again.data and fitted.levels == again.levels
    decoded, original = mapbox_vector_tile.decode(fitted.data), mapbox_vector_tile.decode(full.data)
    # Generalised layers keep fewer (or as many) features; untouched layers are exactly as before.
    for code in original:
        before = len(original[code]["features"])
        after = len(decoded.get(code, {"features": []})["features"])
        if code in fitted.levels:
            assert after <= before
        else:
            assert after == before
    # The largest layer of the full tile is the first to give way.
    assert max(sizes, key=lambda c: sizes[c]) in fitted.levels


def test_tile_attributes_keep_their_catalog_type(demo: DemoEnv) -> None:
    """Text and codes as strings, integers as integers (a style may colour buildings by floors); a stored
    value that does not match the catalog type is left out of the tile rather than breaking it."""
    from layers.tiles.mvt import TileLayer, render_composite

    building = get_catalog().get("cur_building")
    assert building is not None
    by_floors = building.model_copy(update={"style": building.style.model_copy(update={"by": "floors"})})
    lon, lat = _centre(demo, "cur_building")
    x, y = lonlat_to_tile(lon, lat, 16)
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        (version,) = conn.execute(
            "SELECT current_version FROM basemap.layer WHERE code = 'cur_building'"
        ).fetchone() or (None,)
        stored = dict(
            conn.execute(
                f"SELECT fid, props FROM basemap.f_{version} WHERE geom && ST_Transform("
                "ST_TileEnvelope(16, %s, %s), 4547)",
                (x, y),
            ).fetchall()
        )
        tile = mapbox_vector_tile.decode(
            render_composite(conn, [TileLayer(by_floors, version)], 16, x, y).data
        )
        features = tile["cur_building"]["features"]
        assert features and all(set(f["properties"]) <= {"floors", "building_code"} for f in features)
        for f in features:
            props = stored[f["id"]]
            assert f["properties"]["floors"] == props["floors"] and isinstance(f["properties"]["floors"], int)
            assert f["properties"].get("building_code") == props.get("building_code")
        # A value of the wrong type (inside a transaction that is rolled back): left out, tile still made.
        victim = features[0]["id"]
        conn.execute(
            f'UPDATE basemap.f_{version} SET props = props || \'{{"floors": "十二"}}\' WHERE fid = %s',
            (victim,),
        )
        again = mapbox_vector_tile.decode(
            render_composite(conn, [TileLayer(by_floors, version)], 16, x, y).data
        )
        broken = next(f for f in again["cur_building"]["features"] if f["id"] == victim)
        assert "floors" not in broken["properties"]
        conn.rollback()


def test_layer_groups_come_with_the_layers_each_role_may_see(demo: DemoEnv, planner: Any) -> None:
    catalog = get_catalog()
    groups = demo.client.get("/api/layers/groups", headers=planner.headers).json()
    assert [g["id"] for g in groups] == list(catalog.groups)
    assert [g["name_zh"] for g in groups] == [g.name_zh for g in catalog.groups.values()]
    for group in groups:
        assert group["layers"] == sum(
            1 for e in catalog.layers.values() if e.group == group["id"] and e.visible_to("planner")
        )
    # A viewer sees fewer layers in some group (restricted ones), never more.
    viewer = demo.account(Role.VIEWER)
    seen = {
        g["id"]: g["layers"] for g in demo.client.get("/api/layers/groups", headers=viewer.headers).json()
    }
    assert all(seen[g["id"]] <= g["layers"] for g in groups)
    assert seen == {
        gid: sum(1 for e in catalog.layers.values() if e.group == gid and e.visible_to("viewer"))
        for gid in seen
    }
    assert demo.client.get("/api/layers/groups").status_code == 401


def test_identify_lists_the_smallest_area_under_the_click_first(demo: DemoEnv, planner: Any) -> None:
    """A click on a building shows the building, then its parcel, then its sub-district and district —
    ordered by the areas PostGIS measures here, not by the catalog's group order (admin first)."""
    lon, lat = _centre(demo, "cur_building")
    codes = ["admin_district", "admin_subdistrict", "sp_parcel", "cur_building"]
    found = demo.client.get(
        "/api/identify",
        params={"lon": lon, "lat": lat, "layers": ",".join(codes), "zoom": 18, "tolerance_px": 0},
        headers=planner.headers,
    ).json()
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        under = conn.execute(
            """
            SELECT l.code, f.fid, ST_Area(f.geom) FROM basemap.feature f
            JOIN basemap.layer l ON l.current_version = f.version_id
            WHERE l.code = ANY(%s)
              AND ST_Intersects(f.geom, ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 4547))
            """,
            (codes, lon, lat),
        ).fetchall()
    expected = [(code, fid) for code, fid, _ in sorted(under, key=lambda r: r[2])]
    assert len(expected) >= 3 and expected[0][0] == "cur_building"
    assert [(f["layer"], f["fid"]) for f in found] == expected
