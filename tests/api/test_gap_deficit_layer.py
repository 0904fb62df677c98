"""The cells in deficit as base-map layers (gap_<facility>), on the hand-made world of tests/gap_world.py:
each version holds exactly the hand-computed deficit cells, is served by the OGC API and the layer list
like any other layer, names its answer key, and is written again only when the inputs change."""

from __future__ import annotations

import hashlib
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import psycopg
import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from analysis.gaps.refresh import refresh
from analysis.standards.model import get_standards
from app.auth.policy import Role
from app.cli import cli
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.errors import IngestError
from layers.ingest.load import import_path
from layers.tiles.grid import lonlat_to_tile
from tests.api.test_gaps import SHORT, K, _world
from tests.conftest import DemoEnv
from tests.gap_world import CELLS, WX0, WY0, branch_roads

# After the cut (tests/gap_world.py): 东小学 serves C1 and C2 (3,000 residents, 210 seats asked, 180 met),
# 北小学 C3, C4 and C5 (8,500 residents, 595 asked, 360 met); C9 and C6 stay uncovered.
R1_CUT = Fraction(180, 210)
R2_CUT = Fraction(360, 595)
SHORT_CUT = {
    "C1": 1000 * K * (1 - R1_CUT),
    "C2": 2000 * K * (1 - R1_CUT),
    "C3": 3000 * K * (1 - R2_CUT),
    "C4": 4000 * K * (1 - R2_CUT),
    "C5": 1500 * K * (1 - R2_CUT),
    "C9": 500 * K,
    "C6": 800 * K,
}
UNCOVERED = {"C9", "C6"}  # primary school: C9 is 520 m by road, C6 400 m from any road


def _version(env: DemoEnv, code: str) -> tuple[int, str, str, dict[str, dict[str, Any]]]:
    """(number, source digest, note, grid id → attributes) of the layer's current version."""
    with psycopg.connect(env.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT v.id, v.number, v.source_sha256, v.note FROM basemap.layer l"
            " JOIN basemap.layer_version v ON v.id = l.current_version WHERE l.code = %s",
            (code,),
        ).fetchone()
        assert row is not None, code
        features = conn.execute(
            "SELECT props FROM basemap.feature WHERE version_id = %s", (row[0],)
        ).fetchall()
    return row[1], row[2], row[3], {p["grid_id"]: p for (p,) in features}


def _expected(short: dict[str, Fraction], uncovered: set[str]) -> dict[str, dict[str, Any]]:
    return {
        label: {
            "population": CELLS[label][2],
            "not_covered": CELLS[label][2] if label in uncovered else 0,
            "shortfall": round(float(value), 1),
            "subdistrict": "buji" if CELLS[label][0] < 250 else "bantian",
        }
        for label, value in short.items()
    }


def _attributes(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = ("population", "not_covered", "shortfall", "subdistrict")
    return {label: {k: props[k] for k in keys} for label, props in found.items()}


def _get(env: DemoEnv, facility: str) -> dict[str, Any]:
    r = env.client.get("/api/gaps", params={"facility": facility}, headers=env.account(Role.PLANNER).headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_deficit_layers_hold_the_cells_in_deficit_and_change_only_with_their_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in _world(tmp_path):
        primary = _get(env, "primary_school")
        number, digest, note, found = _version(env, "gap_primary_school")
        assert number == 1
        # Both schools are over capacity: every cell with people is short of seats (hand values, test_gaps).
        assert _attributes(found) == _expected(SHORT, UNCOVERED)
        assert {p["facility"] for p in found.values()} == {"primary_school"}
        assert digest == hashlib.sha256(primary["cache_key"].encode()).hexdigest()
        assert primary["cache_key"] in note and get_standards().version in note

        # 中学 (12 classes × 50 = 600 seats) reaches every cell on the network within 1,000 m (the farthest,
        # C2, is 600 m away): 12,000 residents ask 420 seats, all met. Only C6 (no road) is short: 800 × 35‰.
        _get(env, "middle_school")
        number, _, _, found = _version(env, "gap_middle_school")
        assert number == 1
        assert _attributes(found) == {
            "C6": {"population": 800, "not_covered": 800, "shortfall": 28.0, "subdistrict": "bantian"}
        }

        # The OGC API serves it like any other layer, to the roles that see the population grid.
        planner, viewer = env.account(Role.PLANNER), env.account(Role.VIEWER)
        r = env.client.get("/ogc/collections/gap_middle_school/items", headers=planner.headers)
        assert r.status_code == 200, r.text
        items = r.json()["features"]
        assert [(f["properties"]["grid_id"], f["properties"]["shortfall"]) for f in items] == [("C6", 28.0)]
        r = env.client.get("/ogc/collections/gap_primary_school/items", headers=planner.headers)
        assert sorted(f["properties"]["grid_id"] for f in r.json()["features"]) == sorted(SHORT)
        assert (
            env.client.get("/ogc/collections/gap_middle_school/items", headers=viewer.headers).status_code
            == 404
        )
        # Identify and the composite vector tiles find C6 (centred on (300, 1000)) like any other feature.
        lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(WX0 + 300, WY0 + 1000)
        found = env.client.get(
            "/api/identify",
            params={"lon": lon, "lat": lat, "layers": "gap_middle_school,gap_primary_school", "zoom": 17},
            headers=planner.headers,
        ).json()
        shown = {(f["layer"], a["name"], a["value"]) for f in found for a in f["attributes"]}
        assert {("gap_middle_school", "shortfall", 28.0), ("gap_primary_school", "grid_id", "C6")} <= shown
        x, y = lonlat_to_tile(lon, lat, 15)
        r = env.client.get(f"/tiles/gap_middle_school,cur_population/15/{x}/{y}.mvt", headers=planner.headers)
        assert r.status_code == 200
        tile = mapbox_vector_tile.decode(r.content)
        assert len(tile["gap_middle_school"]["features"]) == 1  # C6 alone
        listed = {layer["code"] for layer in env.client.get("/api/layers", headers=planner.headers).json()}
        assert {f"gap_{f.code}" for f in get_standards().facilities} <= listed

        # The same inputs: a cached answer and a full recomputation keep the versions.
        assert _get(env, "primary_school")["cached"] is True
        with psycopg.connect(env.settings.owner_dsn, autocommit=True) as conn:
            standards = get_standards()
            chosen = [standards.get("primary_school"), standards.get("middle_school")]
            done = refresh(conn, get_catalog(), standards, chosen, Actor.system("tests"))  # type: ignore[arg-type]
        assert [(d.published.number, d.published.written) for d in done if d.published] == [
            (1, False),
            (1, False),
        ]

        # A road cut: new inputs, a new version with the changed cells.
        path = tmp_path / f"cut-{uuid.uuid4().hex[:6]}.gpkg"
        branch_roads(cut=True).to_file(path, driver="GPKG")
        with psycopg.connect(env.settings.owner_dsn) as conn:
            import_path(conn, get_catalog().get("trans_branch"), path, path.name, Actor.system("tests"))
        after = _get(env, "primary_school")
        assert after["cached"] is False
        number, digest, _, found = _version(env, "gap_primary_school")
        assert number == 2 and digest == hashlib.sha256(after["cache_key"].encode()).hexdigest()
        assert _attributes(found) == _expected(SHORT_CUT, UNCOVERED)
        assert found["C1"]["shortfall"] == 10.0 and found["C2"]["shortfall"] == 20.0  # 70 and 140 seats × 1/7

        # The command line recomputes the middle school on the cut network: new inputs, a new version with the
        # same cell (C6 alone); once more, nothing new. An unknown type is refused.
        monkeypatch.setenv("DUOGUI_DATABASE_URL", env.settings.database_url.get_secret_value())  # type: ignore[union-attr]
        runner = CliRunner()
        r = runner.invoke(cli, ["gaps", "refresh", "--facility", "middle_school"])
        assert r.exit_code == 0, r.output
        assert "gap_middle_school v2 (1 格, 新版本 new version)" in r.output
        r = runner.invoke(cli, ["gaps", "refresh", "--facility", "middle_school"])
        assert "gap_middle_school v2 (1 格, 未变 unchanged)" in r.output
        r = runner.invoke(cli, ["gaps", "refresh", "--facility", "hospital"])
        assert r.exit_code == 1 and "未知的设施类型" in r.output
        assert _attributes(_version(env, "gap_middle_school")[3]) == {
            "C6": {"population": 800, "not_covered": 800, "shortfall": 28.0, "subdistrict": "bantian"}
        }

        # Every import of the analysis is in the audit trail; a derived layer cannot be imported by hand.
        with psycopg.connect(env.settings.owner_dsn) as conn:
            audited = conn.execute(
                "SELECT count(*) FROM audit.event"
                " WHERE action = 'layer.import' AND object_id = 'gap_primary_school'"
            ).fetchone()
            assert audited == (2,)
            with pytest.raises(IngestError) as refused:
                import_path(conn, get_catalog().get("gap_primary_school"), path, path.name, Actor.system("t"))
        assert refused.value.code == "derived_layer"
