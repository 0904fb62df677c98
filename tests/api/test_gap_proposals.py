"""A candidate site of the gap analysis becomes a demand in the pool (项目需求库) in one call, on the
hand-made world of tests/gap_world.py: its footprint, plan link, the gap it closes (hand-computed) and its
pre-evaluation; once only; and no pooled connection is held while the answer is computed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.auth.policy import Role
from app.gaps import routes as gap_routes
from tests.api.test_gaps import SHORT, _labels, _world
from tests.conftest import DemoEnv


def _observed(env: DemoEnv, seen: list[int], real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, noting the database gate's places in use when it runs (requests run one at a time here)."""
    gate = env.client.app.state.db_gate  # type: ignore[attr-defined]

    def run(*args: Any, **kwargs: Any) -> Any:
        seen.append(gate.in_use)
        return real(*args, **kwargs)

    return run


def test_a_candidate_becomes_a_demand_computed_holding_no_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in _world(tmp_path):
        seen: list[int] = []
        monkeypatch.setattr(gap_routes, "build_answer", _observed(env, seen, gap_routes.build_answer))
        _, names = _labels(env)
        k1 = next(int(key[1:]) for key, name in names.items() if name == "K1")
        planner = env.account(Role.PLANNER)
        url = f"/api/gaps/candidates/primary_school/{k1}/demand"
        # Nothing is stored yet: the route computes the answer (once), holding no pooled connection.
        assert env.client.post(url, json={}, headers=env.account(Role.VIEWER).headers).status_code == 403
        assert seen == []
        r = env.client.post(url, json={}, headers=planner.headers)
        assert r.status_code == 201, r.text
        assert seen == [0]
        made = r.json()
        demand = made["demand"]
        assert demand["source_kind"] == "gap_analysis" and demand["status"] == "open"
        assert demand["title"] == "新建小学（规划地块 P1）"
        # K1 reaches C9 (500 residents no school serves), and the shortfall of C9, C1 and C4.
        reached = round(float(SHORT["C9"] + SHORT["C1"] + SHORT["C4"]), 1)
        gap = demand["gap"]
        assert (gap["facility"], gap["newly_served"], gap["shortfall_reached"], gap["rank"]) == (
            "primary_school",
            500,
            reached,
            1,
        )
        assert gap["cache_key"] == made["cache_key"]
        link = demand["plan_link"]
        assert link["layer"] == "sp_parcel" and "新增服务 500 人" in link["objective"]
        assert demand["footprint_area_m2"] == made["footprint_area_m2"] == 10000.0
        # Located on its parcel (P1 is the 100 m square centred on (0, 500)).
        assert demand["lon"] is not None and demand["pre_evaluation_id"] == made["pre_evaluation_id"]
        with psycopg.connect(env.settings.owner_dsn) as conn:
            report = conn.execute(
                "SELECT project_code, round(footprint_area_m2) FROM project.pre_evaluation WHERE id = %s",
                (made["pre_evaluation_id"],),
            ).fetchone()
            actions = conn.execute(
                "SELECT action FROM audit.event WHERE object_type = 'demand' AND object_id = %s ORDER BY id",
                (str(demand["id"]),),
            ).fetchall()
            deficit = conn.execute(
                "SELECT v.number, v.feature_count FROM basemap.layer l JOIN basemap.layer_version v"
                " ON v.id = l.current_version WHERE l.code = 'gap_primary_school'"
            ).fetchone()
        assert report == (None, 10000)
        assert [a for (a,) in actions] == ["demand.submit", "gap.candidate_demand"]
        assert deficit == (1, 7)  # the route published the answer it computed
        # The triagers find it in the pool.
        listed = env.client.get("/api/demands", headers=planner.headers).json()
        assert [d["id"] for d in listed] == [demand["id"]]
        # Once only: a second demand or a project is refused, naming the demand.
        for kind in ("demand", "project"):
            again = env.client.post(
                f"/api/gaps/candidates/primary_school/{k1}/{kind}",
                json={"investment_wan": 1} if kind == "project" else {},
                headers=planner.headers,
            )
            assert again.status_code == 409, again.text
            assert again.json()["taken"] == {"kind": "demand", "id": demand["id"], "code": None}
        assert seen == [0]  # the answer was stored: never computed again
        # The answer marks the candidate as taken (and only it), for every reader of the gaps.
        for who in (planner, env.account(Role.VIEWER)):
            view = env.client.get("/api/gaps", params={"facility": "primary_school"}, headers=who.headers)
            assert view.json()["taken"] == [{"fid": k1, "kind": "demand", "id": demand["id"], "code": None}]
        assert seen == [0]
        # The GET route computes another type's answer holding no connection either.
        r = env.client.get("/api/gaps", params={"facility": "middle_school"}, headers=planner.headers)
        assert r.status_code == 200 and r.json()["cached"] is False
        assert seen == [0, 0]
        # A plain submission cannot claim to come from the gap analysis.
        r = env.client.post(
            "/api/demands",
            json={"source_kind": "gap_analysis", "title": "x", "description": "y"},
            headers=planner.headers,
        )
        assert (r.status_code, r.json()["code"]) == (422, "bad_source_kind")
