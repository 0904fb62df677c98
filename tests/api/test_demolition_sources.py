"""Creating the ledger from stored pre-evaluations of the hand-made world (tests/preeval_world.py).

Known answers: B1 1200 m², 10 households, state land; B2 800 m², 5 households, collective land;
B3 600 m², 4 households, collective land. Site 甲+丁 = [50,250]×[0,100] holds B1 and B2;
site [150,480]×[0,100] holds B2 and B3.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project, new_unit, step
from tests.conftest import DemoEnv
from tests.preeval_world import box, geojson


def _report(world: DemoEnv, acct: Any, site: Any, project_code: str | None) -> int:
    r = world.client.post(
        "/api/pre-evaluations",
        json={"footprint": geojson(site), "project_type": "school", "project_code": project_code},
        headers=acct.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_units_from_stored_reports_known_figures_and_no_duplicates(preeval_world: DemoEnv) -> None:
    client = preeval_world.client
    admin = preeval_world.account(Role.SYSTEM_ADMIN, "gov-data")
    coord = preeval_world.account(Role.COORDINATOR, "land-prep")
    viewer = preeval_world.account(Role.VIEWER, "pnr")
    project = new_project(client, admin)
    west = _report(preeval_world, coord, box(50, 0, 250, 100), project["code"])
    east = _report(preeval_world, coord, box(150, 0, 480, 100), None)
    empty = _report(preeval_world, coord, box(250, 0, 350, 100), project["code"])  # no building

    choices_url = f"/api/demolition/projects/{project['id']}/pre-evaluations"
    assert client.get(choices_url, headers=viewer.headers).status_code == 403
    r = client.get(choices_url, headers=coord.headers)
    assert r.status_code == 200, r.text
    listed = [(c["id"], c["linked"], c["buildings"], c["households"], c["floor_area_m2"]) for c in r.json()]
    assert empty not in [c[0] for c in listed]  # nothing to demolish: not offered
    assert listed[0] == (west, True, 2, 15, 2000.0)  # the project's own report first
    assert (east, False, 2, 9, 1400.0) in listed
    assert all(c["in_ledger"] == 0 for c in r.json())

    url = f"/api/demolition/projects/{project['id']}/units/from-pre-evaluation"
    assert client.post(url, json={"pre_evaluation_id": west}, headers=viewer.headers).status_code == 403
    r = client.post(url, json={"pre_evaluation_id": west}, headers=coord.headers)
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("created", "unit_codes", "skipped", "households", "floor_area_m2")} == {
        "created": 2,
        "unit_codes": ["B1", "B2"],
        "skipped": [],
        "households": 15,
        "floor_area_m2": 2000.0,
    }
    listed_units = client.get(f"/api/demolition/projects/{project['id']}/units", headers=viewer.headers)
    units = {u["unit_code"]: u for u in listed_units.json()}
    assert {c: (u["floor_area_m2"], u["households"], u["owner_type"]) for c, u in units.items()} == {
        "B1": ("1200.00", 10, "state"),
        "B2": ("800.00", 5, "collective"),
    }

    # The second time adds nothing; the overlapping report adds only B3.
    r = client.post(url, json={"pre_evaluation_id": west}, headers=coord.headers)
    assert r.status_code == 201
    assert (r.json()["created"], r.json()["skipped"], r.json()["households"]) == (0, ["B1", "B2"], 0)
    in_ledger = {c["id"]: c["in_ledger"] for c in client.get(choices_url, headers=coord.headers).json()}
    assert in_ledger[west] == 2 and in_ledger[east] == 1
    r = client.post(url, json={"pre_evaluation_id": east}, headers=coord.headers)
    assert (r.json()["unit_codes"], r.json()["skipped"]) == (["B3"], ["B2"])
    assert (r.json()["households"], r.json()["floor_area_m2"]) == (4, 600.0)
    progress = client.get(f"/api/demolition/projects/{project['id']}/progress", headers=viewer.headers).json()
    assert (progress["total"]["units"], progress["total"]["households"]) == (3, 19)
    assert progress["total"]["floor_area_m2"] == 2600.0


def test_progress_sums_the_ledgers_compensation(preeval_world: DemoEnv) -> None:
    client = preeval_world.client
    admin = preeval_world.account(Role.SYSTEM_ADMIN, "gov-data")
    coord = preeval_world.account(Role.COORDINATOR, "land-prep")
    project = new_project(client, admin)
    url = f"/api/demolition/projects/{project['id']}/progress"
    assert client.get(url, headers=coord.headers).json()["total"]["agreed_compensation_yuan"] is None
    new_unit(client, coord, project["id"], "M-1", subdistrict_code="sd-pinghu")
    new_unit(
        client,
        coord,
        project["id"],
        "M-2",
        subdistrict_code="sd-pinghu",
        agreed_compensation_yuan="1000000.50",
        paid_compensation_yuan="400000",
    )
    m3 = new_unit(
        client, coord, project["id"], "M-3", subdistrict_code="sd-buji", agreed_compensation_yuan="250000.25"
    )
    assert step(client, coord, m3, "valued").status_code == 200
    total = client.get(url, headers=coord.headers).json()
    assert total["total"]["agreed_compensation_yuan"] == pytest.approx(1250000.75, abs=1e-6)
    assert total["total"]["paid_compensation_yuan"] == 400000.0
    by_sd = {
        b["key"]: (b["agreed_compensation_yuan"], b["paid_compensation_yuan"])
        for b in total["by_subdistrict"]
    }
    assert by_sd == {"sd-buji": (250000.25, None), "sd-pinghu": (1000000.5, 400000.0)}
