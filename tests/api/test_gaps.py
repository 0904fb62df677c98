"""Facility gap analysis on the hand-made world of tests/gap_world.py: network catchments, covered
population, shortfall and candidate ranking computed by hand; a road cut; bad input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analysis.gaps.inputs import gather
from analysis.standards.model import get_standards
from app.auth.policy import Role
from layers.audit import Actor
from layers.catalog.model import get_catalog
from layers.ingest.load import import_path
from tests.conftest import DemoEnv
from tests.gap_world import branch_roads, frames
from tests.preeval_world import build_world

K = Fraction(70, 1000)  # seats per resident (70 per 1,000)
# Shares of the cells both schools reach, in proportion to capacity: S1 180 / (180 + 360) = 1/3.
L1 = 1000 + 2000 + Fraction(3000, 3) + Fraction(4000, 3)  # residents allotted to S1 (C1, C2, ⅓ C3, ⅓ C4)
L2 = Fraction(2, 3) * 3000 + Fraction(2, 3) * 4000 + 1500  # to S2 (⅔ C3, ⅔ C4, C5)
R1 = Fraction(180) / (L1 * K)  # the share of its demand each school meets (both are over capacity)
R2 = Fraction(360) / (L2 * K)
BOTH = R1 / 3 + 2 * R2 / 3  # met fraction of a cell both reach
SHORT = {  # label → seats short
    "C1": 1000 * K * (1 - R1),
    "C2": 2000 * K * (1 - R1),
    "C3": 3000 * K * (1 - BOTH),
    "C4": 4000 * K * (1 - BOTH),
    "C5": 1500 * K * (1 - R2),
    "C9": 500 * K,  # not covered: 520 m by road
    "C6": 800 * K,  # not covered: no road within 300 m
}


def _world(tmp: Path) -> Iterator[DemoEnv]:
    yield from build_world(tmp, frames())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnv]:
    """The gap world, shared by the tests that only read it."""
    yield from _world(tmp_path_factory.mktemp("gap-world"))


def _get(env: DemoEnv, role: Role, **params: Any) -> Any:
    return env.client.get("/api/gaps", params=params, headers=env.account(role).headers)


def _labels(env: DemoEnv) -> tuple[dict[int, str], dict[str, str]]:
    """Cell fid → grid id, and site key → name (schools by name, planned sites K1…K5 in order)."""
    with psycopg.connect(env.settings.owner_dsn) as conn:
        cells = conn.execute(
            "SELECT fid, props->>'grid_id' FROM basemap.feature f JOIN basemap.layer l"
            " ON l.current_version = f.version_id WHERE l.code = 'cur_population'"
        ).fetchall()
        sites = conn.execute(
            "SELECT l.code, fid, coalesce(props->>'name', '') FROM basemap.feature f JOIN basemap.layer l"
            " ON l.current_version = f.version_id WHERE l.code IN ('pub_school', 'sp_facility') ORDER BY fid"
        ).fetchall()
    names = {f"f{fid}": name for code, fid, name in sites if code == "pub_school"}
    planned = [fid for code, fid, _ in sites if code == "sp_facility"]
    names |= {f"c{fid}": f"K{i + 1}" for i, fid in enumerate(planned)}
    return dict(cells), names


def test_catchments_are_walking_distances_along_the_roads(world: DemoEnv) -> None:
    standards = get_standards()
    with psycopg.connect(world.settings.owner_dsn) as conn:
        inputs = gather(conn, standards, standards.get("primary_school"))  # type: ignore[arg-type]
    cells, names = _labels(world)
    reach = {(names[key], cells[fid]): round(dist, 3) for key, fid, dist in inputs.reach}
    assert reach == {
        ("东小学", "C1"): 400.0,
        ("东小学", "C2"): 200.0,
        ("东小学", "C3"): 400.0,
        ("东小学", "C4"): 400.0,
        ("北小学", "C3"): 400.0,
        ("北小学", "C4"): 400.0,
        ("北小学", "C5"): 400.0,
        ("K1", "C9"): 80.0,
        ("K1", "C1"): 400.0,
        ("K1", "C4"): 400.0,
        ("K2", "C9"): 480.0,
        ("K2", "C4"): 400.0,
        ("K2", "C5"): 400.0,
        ("K4", "C2"): 400.0,
        ("K4", "C3"): 400.0,
        ("K4", "C5"): 400.0,
    }
    # C9 is 432 m from 东小学 in a straight line but 520 m by road: outside the 500 m radius.
    # The junior school is not a primary school; K3 stands 10 m from 东小学 (built); K5 is a kindergarten.
    assert sorted(f.name or "" for f in inputs.facilities) == ["东小学", "北小学"]
    assert sorted(names[c.key] for c in inputs.candidates) == ["K1", "K2", "K4"]
    assert inputs.network.edge_count == 24 and inputs.network.node_count == 16
    assert inputs.network.length_m == pytest.approx(4800.0)


def test_covered_population_and_shortfall_by_hand(world: DemoEnv) -> None:
    r = _get(world, Role.PLANNER, facility="primary_school", cells_limit=100)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"  # built from the restricted population grid
    body = r.json()
    d = body["district"]
    assert (d["population"], d["covered"], d["not_covered"], d["unreachable"]) == (12800, 11500, 1300, 800)
    assert d["demand"] == 896.0
    assert d["met"] == 540.0  # both schools full: 180 + 360 seats
    assert d["shortfall"] == pytest.approx(float(sum(SHORT.values())), abs=0.11) == 356.0
    by_sd = {row["subdistrict"]: row for row in body["subdistricts"]}
    assert by_sd["buji"]["population"] == 5500 and by_sd["buji"]["covered"] == 5000
    assert by_sd["bantian"]["population"] == 7300 and by_sd["bantian"]["not_covered"] == 800
    assert by_sd["buji"]["shortfall"] == round(float(SHORT["C1"] + SHORT["C4"] + SHORT["C9"]), 1)
    assert by_sd["bantian"]["shortfall"] == round(
        float(SHORT["C2"] + SHORT["C3"] + SHORT["C5"] + SHORT["C6"]), 1
    )
    schools = {f["name"]: f for f in body["facilities"]}
    assert schools["东小学"]["capacity"] == 180.0 and schools["北小学"]["capacity"] == 360.0
    assert schools["东小学"]["population_served"] == round(L1) == 5333
    assert schools["北小学"]["population_served"] == round(L2) == 6167
    assert schools["东小学"]["shortfall"] == round(float(L1 * K - 180), 1) == 193.3
    assert schools["北小学"]["shortfall"] == round(float(L2 * K - 360), 1) == 71.7
    cells = {c["label"]: c for c in body["deficit_cells"]}
    assert set(cells) == set(SHORT) and body["deficit_cells_total"] == 7
    for label, short in SHORT.items():
        assert cells[label]["shortfall"] == round(float(short), 1), label
    assert cells["C9"]["covered"] is False and cells["C4"]["facilities"] == 2
    # Reproducible: the answer names what it was computed from.
    assert body["standard"]["standards_fingerprint"] == get_standards().fingerprint
    assert body["standard"]["radius_m"]["value"] == 500
    assert {s["layer"] for s in body["network"]["sources"]} == {"trans_arterial", "trans_branch"}
    assert {s["layer"] for s in body["layers"]} >= {"cur_population", "pub_school", "sp_facility"}
    assert body["allocation_rule"] == "capacity_share"


def test_candidates_ranked_by_population_newly_served(world: DemoEnv) -> None:
    body = _get(world, Role.PLANNER, facility="primary_school").json()
    ranked = [
        (c["rank"], c["newly_served"], c["shortfall_reached"], c["subdistrict"]) for c in body["candidates"]
    ]
    # K1 and K2 both reach C9 (500 residents nobody serves); K1 reaches more shortfall (C1, C4 against
    # C4, C5); K4 reaches only covered cells.
    assert ranked == [
        (1, 500, round(float(SHORT["C9"] + SHORT["C1"] + SHORT["C4"]), 1), "buji"),
        (2, 500, round(float(SHORT["C9"] + SHORT["C4"] + SHORT["C5"]), 1), "bantian"),
        (3, 0, round(float(SHORT["C2"] + SHORT["C3"] + SHORT["C5"]), 1), "bantian"),
    ]
    first = body["candidates"][0]
    assert (first["parcel_code"], first["land_use"], first["site_m2"]) == ("P1", "GIC5", 10000.0)
    assert first["meets_min_site"] is False  # a 36-class primary school needs 20,000 m² (assumed)
    assert first["capacity"] == 1620.0
    assert body["candidates"][1]["parcel_code"] is None


def test_subdistrict_filter_and_cached_answer(world: DemoEnv) -> None:
    whole = _get(world, Role.PLANNER, facility="primary_school").json()
    again = _get(world, Role.PLANNER, facility="primary_school", subdistrict="buji").json()
    assert again["cached"] is True and again["cache_key"] == whole["cache_key"]
    assert again["area"]["subdistrict"] == "buji" and again["area"]["population"] == 5500
    assert [r["subdistrict"] for r in again["subdistricts"]] == ["buji"]
    assert {c["label"] for c in again["deficit_cells"]} == {"C1", "C4", "C9"}
    assert [c["rank"] for c in again["candidates"]] == [1]
    assert {f["name"] for f in again["facilities"]} == {"东小学"}
    assert again["district"] == whole["district"]


def test_population_cells_only_for_roles_that_may_see_them(world: DemoEnv) -> None:
    for role in (Role.VIEWER, Role.REVIEWER):
        body = _get(world, role, facility="primary_school").json()
        assert body["deficit_cells_hidden"] is True and body["deficit_cells"] == []
        assert body["district"]["shortfall"] == 356.0
    assert _get(world, Role.PROJECT_UNIT, facility="primary_school").status_code == 403
    listing = world.client.get("/api/gaps/facilities", headers=world.account(Role.VIEWER).headers).json()
    assert len(listing["facilities"]) >= 7


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"facility": "hospital"}, "unknown_facility"),
        ({"facility": "primary_school", "subdistrict": "atlantis"}, "unknown_subdistrict"),
        ({"facility": "x" * 5000}, None),
        ({"facility": "primary\x00school"}, None),
        ({"facility": "primary_school", "cells_limit": str(10**30)}, None),
        ({}, None),
    ],
)
def test_bad_input_is_refused(world: DemoEnv, params: dict[str, str], code: str | None) -> None:
    r = _get(world, Role.PLANNER, **params)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert r.json()["code"] == code


def test_a_road_cut_changes_the_catchment_and_rebuilds_the_network(tmp_path: Path) -> None:
    for env in _world(tmp_path):
        before = _get(env, Role.PLANNER, facility="primary_school").json()
        path = tmp_path / f"cut-{uuid.uuid4().hex[:6]}.gpkg"
        branch_roads(cut=True).to_file(path, driver="GPKG")
        with psycopg.connect(env.settings.owner_dsn) as conn:
            import_path(conn, get_catalog().get("trans_branch"), path, path.name, Actor.system("tests"))
        after = _get(env, Role.PLANNER, facility="primary_school").json()
        assert after["cached"] is False
        assert after["network"]["source_key"] != before["network"]["source_key"]
        assert after["network"]["id"] != before["network"]["id"]
        # One segment fewer, and y = 0 is no longer split at (200, 0): its first two edges become one.
        assert (after["network"]["edge_count"], after["network"]["node_count"]) == (22, 15)
        served = {f["name"]: f["population_served"] for f in after["facilities"]}
        # 东小学 now reaches (200, 200) only round the block (500 m): C3 and C4 are 600 m away.
        assert served == {"东小学": 3000, "北小学": 8500}
        assert after["district"]["covered"] == before["district"]["covered"] == 11500
        with psycopg.connect(env.settings.owner_dsn) as conn:
            keys = [r[0] for r in conn.execute("SELECT source_key FROM gap.network ORDER BY id")]
        assert keys == [before["network"]["source_key"], after["network"]["source_key"]]


def test_a_candidate_becomes_a_reserve_project_with_its_parcel_and_pre_evaluation(tmp_path: Path) -> None:
    for env in _world(tmp_path):
        planner = env.account(Role.PLANNER)
        body = env.client.get(
            "/api/gaps", params={"facility": "primary_school"}, headers=planner.headers
        ).json()
        first, second = body["candidates"][0], body["candidates"][1]
        url = f"/api/gaps/candidates/primary_school/{first['fid']}/project"
        # Planners generate projects from the map (gaps:propose); units and departments do not.
        for role, org in ((Role.PROJECT_UNIT, "works"), (Role.REVIEWER, "education")):
            refused = env.client.post(
                url,
                json={"unit_org_code": "works", "investment_wan": 1},
                headers=env.account(role, org).headers,
            )
            assert refused.status_code == 403, (role, refused.text)
        # The department and the unit default to the facility type's (教育局, 建筑工务署).
        r = env.client.post(url, json={"investment_wan": 12000}, headers=planner.headers)
        assert r.status_code == 201, r.text
        made = r.json()
        project = made["project"]
        assert (project["tier"], project["project_type"], project["initiation"]) == (
            "reserve",
            "house_building",
            "top_down",
        )
        assert project["name"] == "小学（P1）"
        link = project["plan_link"]
        assert (link["layer"], link["fid"]) == ("sp_parcel", first["parcel_fid"])
        assert "新增服务 500 人" in link["objective"]
        assert made["footprint_area_m2"] == 10000.0
        assert made["plan_items"] > 0 and made["cache_key"] == body["cache_key"]
        with psycopg.connect(env.settings.owner_dsn) as conn:
            code = conn.execute(
                "SELECT project_code FROM project.pre_evaluation WHERE id = %s", (made["pre_evaluation_id"],)
            ).fetchone()
            audited = conn.execute(
                "SELECT count(*) FROM audit.event WHERE action = 'gap.candidate_project' AND object_id = %s",
                (str(project["id"]),),
            ).fetchone()
            parties = conn.execute(
                "SELECT o.code, u.code FROM project.project p"
                " JOIN auth.organisation o ON o.id = p.owner_dept_id"
                " JOIN auth.organisation u ON u.id = p.unit_org_id WHERE p.id = %s",
                (project["id"],),
            ).fetchone()
        assert code == (project["code"],) and audited == (1,)
        assert parties == ("education", "works")
        # The candidate became a project once: a second project or a demand is refused, naming it.
        for kind in ("project", "demand"):
            again = env.client.post(
                f"/api/gaps/candidates/primary_school/{first['fid']}/{kind}",
                json={"investment_wan": 1} if kind == "project" else {},
                headers=planner.headers,
            )
            assert again.status_code == 409, again.text
            problem = again.json()
            assert problem["code"] == "candidate_taken"
            assert problem["taken"] == {"kind": "project", "id": project["id"], "code": project["code"]}
            assert project["code"] in problem["detail"]
        # A planned site on no parcel has no footprint; a built or unknown one is no candidate.
        r = env.client.post(
            f"/api/gaps/candidates/primary_school/{second['fid']}/project",
            json={"unit_org_code": "works", "investment_wan": 1},
            headers=planner.headers,
        )
        assert (r.status_code, r.json()["code"]) == (422, "no_parcel")
        r = env.client.post(
            "/api/gaps/candidates/primary_school/999999/project",
            json={"unit_org_code": "works", "investment_wan": 1},
            headers=planner.headers,
        )
        assert (r.status_code, r.json()["code"]) == (404, "not_a_candidate")
        with psycopg.connect(env.settings.owner_dsn) as conn:
            projects = conn.execute("SELECT count(*) FROM project.project").fetchone()
            demands = conn.execute("SELECT count(*) FROM project.demand").fetchone()
        assert projects == (1,) and demands == (0,)  # the refusals left nothing behind
