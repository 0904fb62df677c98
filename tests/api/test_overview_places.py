"""The leaders' overview on the hand-made gap world (tests/gap_world.py): projects placed in the sub-district
of their footprint (largest overlap, computed here with shapely), investment by sub-district, and facility
gaps by sub-district read from the stored gap answer (never computed by the overview).

Sub-districts: 布吉 buji x < 250, 坂田 bantian x ≥ 250 (boxes x -500…250 and 250…1200, y -500…1500).
Footprints (world metres):
* P1 x 200…260, y 100…150: 50 × 50 in buji, 10 × 50 in bantian → buji (straddles, counted once);
* P2 x 240…400, y 300…320: 10 × 20 in buji, 150 × 20 in bantian → bantian (straddles);
* P3 x 500…560, y 0…40: bantian only;
* P4 none, P5 x 2000…2050 (outside every sub-district) → not located.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import shapely
from openpyxl import load_workbook

from app.auth.policy import Role
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.load import import_path
from tests.api.test_gaps import SHORT
from tests.conftest import DemoEnv
from tests.gap_world import CELLS, branch_roads, frames
from tests.preeval_world import WX0, WY0, build_world

BOXES = {  # project name: (footprint box in world metres or None, investment)
    "P1": ((200, 100, 260, 150), 100),
    "P2": ((240, 300, 400, 320), 200),
    "P3": ((500, 0, 560, 40), 300),
    "P4": (None, 400),
    "P5": ((2000, 0, 2050, 50), 500),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnv]:
    yield from build_world(tmp_path_factory.mktemp("overview-world"), frames())


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    return shapely.box(WX0 + x0, WY0 + y0, WX0 + x1, WY0 + y1)


def _by_hand_subdistrict(box: tuple[int, int, int, int] | None) -> str:
    """The sub-district with the largest overlap, by shapely on the world's own boundary frames."""
    if box is None:
        return "unassigned"
    sd = frames()["admin_subdistrict"]
    footprint = _box(*box)
    pairs = zip(sd["subdistrict"], sd.geometry, strict=True)
    areas = {code: footprint.intersection(g).area for code, g in pairs}
    best = max(sorted(areas), key=lambda c: areas[c])
    return best if areas[best] > 0 else "unassigned"


def test_projects_and_gaps_by_subdistrict(world: DemoEnv, tmp_path: Path) -> None:
    planner = world.account(Role.PLANNER)
    leader = world.account(Role.LEADER, "drc")
    unit = world.account(Role.PROJECT_UNIT, "works")
    ids: dict[str, int] = {}
    for name, (box, investment) in BOXES.items():
        body = {"name": name, "project_type": "house_building", "investment_wan": str(investment),
                "funding_source": "区财政", "owner_dept_code": "education"}  # fmt: skip
        r = world.client.post("/api/projects", json=body, headers=unit.headers)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
        if box is not None:
            footprint = shapely.geometry.mapping(_box(*box))
            r = world.client.post(
                f"/api/projects/{ids[name]}/footprints",
                json={"footprint": footprint, "crs": "EPSG:4547"},
                headers=unit.headers,
            )
            assert r.status_code == 201, r.text
    # By hand: P1 buji (2500 m² against 500 m²), P2 bantian (3000 against 200), P3 bantian, P4/P5 none.
    hand = {name: _by_hand_subdistrict(box) for name, (box, _) in BOXES.items()}
    assert hand == {"P1": "buji", "P2": "bantian", "P3": "bantian", "P4": "unassigned", "P5": "unassigned"}

    with psycopg.connect(world.settings.owner_dsn) as conn:
        stored_before = conn.execute("SELECT count(*) FROM gap.result").fetchone()
    r = world.client.get("/api/overview", headers=leader.headers)
    assert r.status_code == 200, r.text
    ov = r.json()
    expected: dict[str, tuple[list[int], Decimal]] = {}
    for name, sd in hand.items():
        got = expected.setdefault(sd, ([], Decimal(0)))
        expected[sd] = (sorted([*got[0], ids[name]]), got[1] + BOXES[name][1])
    by_sd = {f["key"]: f for f in ov["by_subdistrict"]}
    assert {k: (sorted(f["ids"]), Decimal(f["investment_wan"])) for k, f in by_sd.items()} == expected
    assert {k: f["count"] for k, f in by_sd.items()} == {"buji": 1, "bantian": 2, "unassigned": 2}
    assert sum(f["count"] for f in by_sd.values()) == ov["projects"]["count"] == 5  # each counted once
    assert (by_sd["buji"]["name_zh"], by_sd["buji"]["name_en"]) == ("布吉街道", "Buji")
    assert by_sd["bantian"]["link"] == "#/projects?subdistrict=bantian"
    assert {p["project_id"]: p["subdistrict"] for p in ov["places"]} == {
        ids[n]: hand[n] for n in ("P1", "P2", "P3", "P5")
    }
    # The list behind each figure: the project library filtered by sub-district holds the same projects.
    for key, figure in by_sd.items():
        listed = world.client.get(figure["filter"], headers=leader.headers)
        assert listed.status_code == 200, listed.text
        assert sorted(p["id"] for p in listed.json()) == sorted(figure["ids"]), key
    bad = world.client.get("/api/projects?subdistrict=atlantis", headers=leader.headers)
    assert bad.status_code == 422 and "未知的街道" in bad.json()["detail"]

    # Gaps: nothing stored yet — every facility type is "not computed", with a link to the gaps page.
    assert {g["state"] for g in ov["gaps"]} == {"not_computed"}
    school = next(g for g in ov["gaps"] if g["facility"] == "primary_school")
    assert school["link"] == "#/gaps?facility=primary_school" and school["subdistricts"] == []
    with psycopg.connect(world.settings.owner_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM gap.result").fetchone() == stored_before  # not computed

    # Store the primary-school answer (the gaps API computes it), then read the overview again.
    answer = world.client.get(
        "/api/gaps", params={"facility": "primary_school"}, headers=planner.headers
    ).json()
    ov = world.client.get("/api/overview", headers=leader.headers).json()
    gaps = {g["facility"]: g for g in ov["gaps"]}
    school = gaps["primary_school"]
    assert school["state"] == "current"
    assert {g["state"] for f, g in gaps.items() if f != "primary_school"} == {"not_computed"}
    assert school["standards_version"] == answer["standard"]["standards_version"]
    assert {(s["layer"], s["version_id"]) for s in school["layers"]} == {
        (s["layer"], s["version_id"]) for s in answer["layers"]
    }
    with psycopg.connect(world.settings.owner_dsn) as conn:
        computed_at = conn.execute(
            "SELECT computed_at FROM gap.result WHERE facility = 'primary_school'"
        ).fetchone()
    assert computed_at is not None
    assert datetime.fromisoformat(school["computed_at"]) == computed_at[0]
    fields = ("population", "covered", "not_covered", "shortfall", "deficit_cells")
    rows = {a["subdistrict"]: a for a in school["subdistricts"]}
    assert {k: tuple(a[f] for f in fields) for k, a in rows.items()} == {
        r["subdistrict"]: tuple(r[f] for f in fields) for r in answer["subdistricts"]
    }
    # By hand (tests/gap_world.py, tests/api/test_gaps.py): buji C1 C4 C9, bantian C2 C3 C5 C6.
    buji, bantian = ("C1", "C4", "C9"), ("C2", "C3", "C5", "C6")
    for code, cells, not_covered in (("buji", buji, ("C9",)), ("bantian", bantian, ("C6",))):
        assert rows[code]["population"] == sum(CELLS[c][2] for c in cells)
        assert rows[code]["not_covered"] == sum(CELLS[c][2] for c in not_covered)
        assert rows[code]["shortfall"] == round(float(sum(SHORT[c] for c in cells)), 1)
        assert rows[code]["link"] == f"#/gaps?facility=primary_school&subdistrict={code}"
    # Each cell lies in one sub-district: the rows add up to the district (no cell counted twice).
    district = school["district"]
    assert (district["population"], district["not_covered"], district["deficit_cells"]) == (12800, 1300, 7)
    for f in ("population", "covered", "not_covered", "deficit_cells"):
        assert sum(a[f] for a in rows.values()) == district[f] == answer["district"][f]
    assert sum(a["shortfall"] for a in rows.values()) == pytest.approx(district["shortfall"], abs=1e-9)
    assert district["shortfall"] == answer["district"]["shortfall"] == 356.0

    # The export holds the same gap figures.
    x = world.client.get("/api/overview.xlsx", headers=leader.headers)
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.content))["设施缺口 Facility gaps"]
    lines = [r for r in sheet.iter_rows(min_row=2, values_only=True) if str(r[0]).startswith("小学")]
    assert [(r[1], r[2], r[4], r[5]) for r in lines] == [
        ("坂田街道 Bantian", 7300, 800, rows["bantian"]["shortfall"]),
        ("布吉街道 Buji", 5500, 500, rows["buji"]["shortfall"]),
        ("全区 District", 12800, 1300, 356.0),
    ]
    assert lines[0][7] == "当前 current"
    kindergarten = [r for r in sheet.iter_rows(min_row=2, values_only=True) if str(r[0]).startswith("幼儿园")]
    assert kindergarten and kindergarten[0][7] == "未计算 not computed yet"

    # A road cut (a new version of a network layer): the stored answer is the old inputs' — shown as stale.
    path = tmp_path / "cut.gpkg"
    branch_roads(cut=True).to_file(path, driver="GPKG")
    with psycopg.connect(world.settings.owner_dsn) as conn:
        import_path(conn, get_catalog().get("trans_branch"), path, path.name, Actor.system("tests"))
    ov = world.client.get("/api/overview", headers=leader.headers).json()
    school = next(g for g in ov["gaps"] if g["facility"] == "primary_school")
    assert school["state"] == "stale" and school["district"]["shortfall"] == 356.0
