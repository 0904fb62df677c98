"""Service accounts (机器客户端): an API key as the HTTP Basic password, scoped to layers and actions,
expiring, revocable at once, usage counted per client; restricted layers are never stored by clients."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.auth.policy import Role
from layers.district import DISTRICT
from layers.tiles.grid import lonlat_to_tile
from tests.conftest import DemoEnv
from tests.helpers import Account, unique

PUBLIC_LAYER = "sp_parcel"
OTHER_LAYER = "pub_kindergarten"
RESTRICTED_LAYER = "cur_population"  # restricted to administrators and planners


def basic(username: str, password: str) -> dict[str, str]:
    """An Authorization header for HTTP Basic."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def admin(demo: DemoEnv) -> Account:
    return demo.account(Role.SECURITY_ADMIN, "gov-data")


@pytest.fixture(scope="module")
def planner(demo: DemoEnv) -> Account:
    return demo.account(Role.PLANNER)


@pytest.fixture
def db(demo: DemoEnv) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        yield conn


def _tile_with(db: psycopg.Connection[Any], code: str, z: int) -> tuple[int, int, int]:
    """A tile at zoom ``z`` holding a feature of ``code`` (computed by PostGIS, not by the tile code)."""
    row = db.execute(
        """
        SELECT ST_X(c), ST_Y(c) FROM (
          SELECT ST_Transform(ST_PointOnSurface(f.geom), 4326) AS c FROM basemap.feature f
          JOIN basemap.layer l ON l.current_version = f.version_id WHERE l.code = %s
          ORDER BY f.fid LIMIT 1) s
        """,
        (code,),
    ).fetchone()
    assert row is not None
    return (z, *lonlat_to_tile(row[0], row[1], z))


def _count(db: psycopg.Connection[Any], code: str) -> int:
    row = db.execute(
        "SELECT count(*) FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id"
        " WHERE l.code = %s",
        (code,),
    ).fetchone()
    return int(row[0]) if row else 0


def _today() -> date:
    return datetime.now(DISTRICT.tz).date()


def _create(demo: DemoEnv, admin: Account, **fields: Any) -> dict[str, Any]:
    body = {
        "name": unique("svc"),
        "org_code": "pnr",
        "expires_on": str(_today() + timedelta(days=90)),
        **fields,
    }
    r = demo.client.post("/api/service-accounts", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_an_administrator_creates_a_key_shown_once_and_audited(
    demo: DemoEnv, admin: Account, planner: Account, db: Any
) -> None:
    created = _create(demo, admin, layers=[PUBLIC_LAYER], description="QGIS 工作站")
    account, key = created["account"], created["api_key"]
    assert key.startswith("dgk_") and len(key) == 47 and account["key_hint"] == key[:8]
    assert account["layers"] == [PUBLIC_LAYER] and account["active"] and account["actions"] == ["layers:read"]
    listed = demo.client.get("/api/service-accounts", headers=admin.headers)
    assert account["id"] in [a["id"] for a in listed.json()] and key not in listed.text
    (stored,) = db.execute(
        "SELECT key_hash FROM auth.service_account WHERE id = %s", (account["id"],)
    ).fetchone()
    assert bytes(stored) == hashlib.sha256(key.encode()).digest()
    audit = db.execute(
        "SELECT actor_username, after->>'name' FROM audit.event WHERE action = 'service_account.create'"
        " AND object_id = %s",
        (str(account["id"]),),
    ).fetchall()
    assert len(audit) == 1 and audit[0][1] == account["name"] and key not in str(audit)
    assert demo.client.get("/api/service-accounts", headers=planner.headers).status_code == 403
    r = demo.client.post("/api/service-accounts", json={"name": "x"}, headers=planner.headers)
    assert r.status_code == 403


def test_a_key_reads_its_layers_and_nothing_else(demo: DemoEnv, admin: Account, db: Any) -> None:
    created = _create(demo, admin, layers=[PUBLIC_LAYER])
    headers = basic(created["account"]["name"], created["api_key"])
    r = demo.client.get(f"/ogc/collections/{PUBLIC_LAYER}/items?limit=1", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["numberMatched"] == _count(db, PUBLIC_LAYER) > 0
    listed = demo.client.get("/ogc/collections", headers=headers).json()["collections"]
    assert [c["id"] for c in listed] == [PUBLIC_LAYER]
    z, x, y = _tile_with(db, OTHER_LAYER, 15)
    assert demo.client.get(f"/tiles/{OTHER_LAYER}/{z}/{x}/{y}.mvt", headers=headers).status_code == 404
    assert (
        demo.client.get(f"/tiles/{PUBLIC_LAYER},{OTHER_LAYER}/{z}/{x}/{y}.mvt", headers=headers).status_code
        == 404
    )
    assert demo.client.get(f"/ogc/collections/{OTHER_LAYER}/items", headers=headers).status_code == 404
    # Only the actions it was given: no account, project or administration routes.
    for path in ("/api/auth/me", "/api/users", "/api/projects", "/api/service-accounts"):
        assert demo.client.get(path, headers=headers).status_code == 403, path
    # The name must match the key; a key of the right shape that was never issued is refused.
    assert (
        demo.client.get("/ogc/collections", headers=basic("someone-else", created["api_key"])).status_code
        == 401
    )
    assert demo.client.get("/ogc/collections", headers=basic("x", "dgk_" + "A" * 43)).status_code == 401


def test_all_public_layers_exclude_restricted_ones(demo: DemoEnv, admin: Account, db: Any) -> None:
    created = _create(demo, admin)  # no layers named: every public layer
    assert created["account"]["all_public"] and created["account"]["layers"] is None
    headers = basic(created["account"]["name"], created["api_key"])
    assert demo.client.get(f"/ogc/collections/{OTHER_LAYER}", headers=headers).status_code == 200
    assert demo.client.get(f"/ogc/collections/{RESTRICTED_LAYER}", headers=headers).status_code == 404
    z, x, y = _tile_with(db, RESTRICTED_LAYER, 14)
    assert demo.client.get(f"/tiles/{RESTRICTED_LAYER}/{z}/{x}/{y}.mvt", headers=headers).status_code == 404


def test_expired_and_revoked_keys_fail_at_once(demo: DemoEnv, admin: Account, db: Any) -> None:
    expiring, revoked = _create(demo, admin), _create(demo, admin)
    url = f"/ogc/collections/{PUBLIC_LAYER}/items?limit=1"
    for created in (expiring, revoked):
        assert (
            demo.client.get(url, headers=basic(created["account"]["name"], created["api_key"])).status_code
            == 200
        )
    db.execute(
        "UPDATE auth.service_account SET expires_at = now() - interval '1 second' WHERE id = %s",
        (expiring["account"]["id"],),
    )
    r = demo.client.get(url, headers=basic(expiring["account"]["name"], expiring["api_key"]))
    assert r.status_code == 401 and r.json()["code"] == "key_expired"
    assert 'Basic realm="Duogui", charset="UTF-8"' in r.headers.get_list("www-authenticate")

    account_id = revoked["account"]["id"]
    r = demo.client.post(f"/api/service-accounts/{account_id}/revoke", headers=admin.headers)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None and not r.json()["active"]
    r = demo.client.get(url, headers=basic(revoked["account"]["name"], revoked["api_key"]))
    assert r.status_code == 401 and r.json()["code"] == "key_revoked"
    z, x, y = _tile_with(db, PUBLIC_LAYER, 15)
    tile = demo.client.get(
        f"/tiles/{PUBLIC_LAYER}/{z}/{x}/{y}.mvt",
        headers=basic(revoked["account"]["name"], revoked["api_key"]),
    )
    assert tile.status_code == 401
    # Revoking again changes nothing and leaves no second audit row.
    assert (
        demo.client.post(f"/api/service-accounts/{account_id}/revoke", headers=admin.headers).status_code
        == 200
    )
    (n,) = db.execute(
        "SELECT count(*) FROM audit.event WHERE action = 'service_account.revoke' AND object_id = %s",
        (str(account_id),),
    ).fetchone()
    assert n == 1


def test_usage_counts_the_requests_layers_and_bytes_made(demo: DemoEnv, admin: Account, db: Any) -> None:
    created = _create(demo, admin, layers=[PUBLIC_LAYER, OTHER_LAYER])
    account_id = created["account"]["id"]
    headers = {**basic(created["account"]["name"], created["api_key"]), "Accept-Encoding": "identity"}
    z, x, y = _tile_with(db, PUBLIC_LAYER, 15)
    responses = [
        demo.client.get(f"/tiles/{PUBLIC_LAYER}/{z}/{x}/{y}.mvt", headers=headers),
        demo.client.get(f"/tiles/{PUBLIC_LAYER}/{z}/{x + 1}/{y}.mvt", headers=headers),
        demo.client.get(f"/tiles/{PUBLIC_LAYER},{OTHER_LAYER}/{z}/{x}/{y}.mvt", headers=headers),
        demo.client.get(f"/ogc/collections/{OTHER_LAYER}/items?limit=3", headers=headers),
        demo.client.get("/ogc/collections", headers=headers),
        demo.client.get("/api/users", headers=headers),  # refused (403), but made with the key: counted
    ]
    assert [r.status_code for r in responses][:1] == [200]
    # Requests without a valid key are nobody's usage.
    demo.client.get("/ogc/collections", headers=basic(created["account"]["name"], "dgk_" + "B" * 43))
    r = demo.client.get(f"/api/service-accounts/{account_id}/usage", headers=admin.headers)
    assert r.status_code == 200, r.text
    usage = r.json()
    total = sum(len(resp.content) for resp in responses)
    assert (usage["requests"], usage["bytes"]) == (6, total)
    (day,) = usage["days"]
    assert day["day"] == str(_today())
    assert day["layers"] == {PUBLIC_LAYER: 3, OTHER_LAYER: 2}
    # Read again: counts are written once, not again.
    assert (
        demo.client.get(f"/api/service-accounts/{account_id}/usage", headers=admin.headers).json()["requests"]
        == 6
    )


def test_the_list_tells_last_use_and_recent_requests_and_the_layers_are_named(
    demo: DemoEnv, admin: Account, db: Any
) -> None:
    created = _create(demo, admin, layers=[PUBLIC_LAYER], expires_on=str(_today() + timedelta(days=10)))
    name, key = created["account"]["name"], created["api_key"]

    def listed() -> dict[str, Any]:
        r = demo.client.get("/api/service-accounts", headers=admin.headers)
        assert r.status_code == 200, r.text
        return next(a for a in r.json() if a["name"] == name)

    fresh = listed()
    assert (fresh["last_used_on"], fresh["requests_30d"]) == (None, 0)
    assert fresh["valid_through"] == str(_today() + timedelta(days=10))  # the day given: it works all of it
    for _ in range(4):
        demo.client.get(f"/ogc/collections/{PUBLIC_LAYER}/items?limit=1", headers=basic(name, key))
    # Older usage: 40 days ago counts as a use but not in the last 30 days (written as a server would).
    db.execute(
        "INSERT INTO auth.service_account_usage (service_account_id, day, layer_code, requests, bytes)"
        " VALUES (%s, %s, '', 7, 70)",
        (fresh["id"], _today() - timedelta(days=40)),
    )
    used = listed()  # the list writes this process's counts first
    assert (used["last_used_on"], used["requests_30d"]) == (str(_today()), 4)

    r = demo.client.get("/api/service-accounts/layers", headers=admin.headers)
    assert r.status_code == 200
    by_code = {layer["code"]: layer for layer in r.json()}
    assert by_code[PUBLIC_LAYER]["name_zh"] == "规划地块" and by_code[PUBLIC_LAYER]["restricted"] is False
    assert by_code[RESTRICTED_LAYER]["restricted"] is True
    sysadmin = demo.account(Role.SYSTEM_ADMIN, "gov-data")
    for path in ("/api/service-accounts", "/api/service-accounts/layers"):
        assert demo.client.get(path, headers=sysadmin.headers).status_code == 403


def test_bad_service_accounts_are_refused_and_nothing_is_written(
    demo: DemoEnv, admin: Account, planner: Account, db: Any
) -> None:
    today = _today()
    taken = _create(demo, admin)["account"]["name"]
    (before,) = db.execute("SELECT count(*) FROM auth.service_account").fetchone()
    cases = [
        ({"expires_on": str(today)}, 422),
        ({"expires_on": str(today - timedelta(days=1))}, 422),
        ({"expires_on": str(today + timedelta(days=367))}, 422),
        ({"expires_on": None}, 422),
        ({"layers": ["no_such_layer"]}, 422),
        ({"layers": []}, 422),
        ({"actions": ["preeval:run"]}, 422),
        ({"org_code": "no-such-org"}, 422),
        ({"name": "Bad Name"}, 422),
        ({"name": taken}, 409),
        ({"name": planner.username}, 409),
    ]
    for fields, status in cases:
        body = {
            "name": unique("svc"),
            "org_code": "pnr",
            "expires_on": str(today + timedelta(days=30)),
            **fields,
        }
        r = demo.client.post("/api/service-accounts", json=body, headers=admin.headers)
        assert r.status_code == status, (fields, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    (after,) = db.execute("SELECT count(*) FROM auth.service_account").fetchone()
    assert after == before
    assert demo.client.get("/api/service-accounts/999999999/usage", headers=admin.headers).status_code == 404
    assert (
        demo.client.post("/api/service-accounts/999999999/revoke", headers=admin.headers).status_code == 404
    )


def test_restricted_tiles_and_features_are_no_store_public_ones_keep_their_caching(
    demo: DemoEnv, planner: Account, db: Any
) -> None:
    z, x, y = _tile_with(db, RESTRICTED_LAYER, 14)
    public = demo.client.get(f"/tiles/{PUBLIC_LAYER}/{z}/{x}/{y}.mvt", headers=planner.headers)
    assert public.status_code in (200, 204)
    assert public.headers["cache-control"] == "private, max-age=300" and public.headers["etag"]
    for codes in (
        RESTRICTED_LAYER,
        f"{PUBLIC_LAYER},{RESTRICTED_LAYER}",
        f"{RESTRICTED_LAYER},{PUBLIC_LAYER}",
    ):
        r = demo.client.get(f"/tiles/{codes}/{z}/{x}/{y}.mvt", headers=planner.headers)
        assert r.status_code == 200, codes
        assert r.headers.get_list("cache-control") == ["no-store"] and "etag" not in r.headers, codes
        # The OGC API – Tiles path answers the same way.
        r = demo.client.get(
            f"/ogc/collections/{codes.split(',')[0]}/tiles/WebMercatorQuad/{z}/{y}/{x}",
            headers=planner.headers,
        )
        expected = ["no-store"] if codes.startswith(RESTRICTED_LAYER) else ["private, max-age=300"]
        assert r.headers.get_list("cache-control") == expected, codes
    items = demo.client.get(f"/ogc/collections/{RESTRICTED_LAYER}/items?limit=2", headers=planner.headers)
    assert items.status_code == 200 and items.headers["cache-control"] == "no-store"
    one = demo.client.get(f"/ogc/collections/{RESTRICTED_LAYER}/items/1", headers=planner.headers)
    assert one.headers["cache-control"] == "no-store"
    plain = demo.client.get(f"/ogc/collections/{PUBLIC_LAYER}/items?limit=2", headers=planner.headers)
    assert plain.status_code == 200 and "no-store" not in plain.headers.get("cache-control", "")
    raster = demo.client.get(f"/tiles/raster/base_dem/{z}/{x}/{y}.png", headers=planner.headers)
    assert (
        raster.status_code in (200, 204)
        and raster.headers.get("cache-control") == "no-store"
        and "etag" not in raster.headers
    )
