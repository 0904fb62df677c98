"""Bulk updates: the dry run reports every change and every problem; the apply is all-or-nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.settings import Settings
from tests.api.test_demolition_creation import _xlsx
from tests.api.test_demolition_ledger import new_project, new_unit
from tests.concurrency import race_on_locked_row

HEADER = ["单元编号", "版本号", "目标状态", "理由", "备注", "评估价（元）", "责任街道"]


def _post(client: TestClient, acct: Any, pid: int, sheet: bytes, dry_run: bool) -> Any:
    return client.post(
        f"/api/demolition/projects/{pid}/bulk?dry_run={'true' if dry_run else 'false'}",
        files={"file": ("bulk.xlsx", sheet)},
        headers=acct.headers,
    )


def _state(client: TestClient, acct: Any, pid: int) -> dict[str, tuple[str, int, str | None]]:
    units = client.get(f"/api/demolition/projects/{pid}/units", headers=acct.headers).json()
    return {u["unit_code"]: (u["status"], u["version"], u["valuation_yuan"]) for u in units}


def test_dry_run_lists_every_problem_and_apply_is_atomic(client: TestClient, make_account: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    unit_acct = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, admin)
    for code in ("U1", "U2", "U3"):
        new_unit(client, coord, p["id"], code)
    before = _state(client, coord, p["id"])

    bad = _xlsx(
        [
            HEADER,
            ["U1", 1, "评估", None, "评估完成", 880000, "平湖"],
            ["U2", 1, "签约", None, None, None, None],
            ["U3", 7, "评估", None, None, None, None],
            ["X-9", 1, "评估", None, None, None, None],
            ["U1", 1, "签约", None, None, None, None],
            ["U3", None, "调查", None, None, None, None],
            [None, 1, "评估", None, None, None, None],
            ["U2", 1, "飞升", None, None, "很多", None],
        ]
    )
    r = _post(client, coord, p["id"], bad, dry_run=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dry_run"] and not report["applied"] and report["rows"] == 8
    assert [(q["row"], q["unit_code"], q["code"]) for q in report["problems"]] == [
        (3, "U2", "reason_required"),
        (4, "U3", "stale_version"),
        (5, "X-9", "unknown_unit"),
        (6, "U1", "duplicate_unit_code"),
        (7, "U3", "duplicate_unit_code"),
        (8, None, "missing_unit_code"),
        (9, "U2", "invalid_cell"),
        (9, "U2", "invalid_cell"),
        (9, "U2", "duplicate_unit_code"),
    ]
    assert [(c["unit_code"], c["field"], c["from_value"], c["to_value"]) for c in report["changes"]] == [
        ("U1", "valuation_yuan", None, "880000.00"),
        ("U1", "subdistrict_code", None, "sd-pinghu"),
        ("U1", "status", "surveyed", "valued"),
    ]
    assert _state(client, coord, p["id"]) == before  # a dry run writes nothing

    # Apply with problems: 409 with the report; nothing changes, not even the good row.
    r = _post(client, coord, p["id"], bad, dry_run=False)
    assert r.status_code == 409 and r.json()["code"] == "bulk_refused"
    assert len(r.json()["report"]["problems"]) == 9
    assert _state(client, coord, p["id"]) == before
    events = client.get(
        "/api/demolition/units/{}/events".format(
            client.get(f"/api/demolition/projects/{p['id']}/units", headers=coord.headers).json()[0]["id"]
        ),
        headers=coord.headers,
    ).json()
    assert [e["kind"] for e in events] == ["create"]

    # Wrong roles may not even dry-run.
    assert _post(client, unit_acct, p["id"], bad, dry_run=True).status_code == 403

    good = _xlsx(
        [
            HEADER,
            ["U1", 1, "评估", None, "评估完成", 880000, "平湖"],
            ["U2", 1, "签约", "评估与签约同日完成", None, None, None],
            ["U3", 1, "调查", None, None, None, None],  # unchanged: same status, blank cells
        ]
    )
    r = _post(client, coord, p["id"], good, dry_run=True)
    assert r.status_code == 200 and r.json()["problems"] == [] and r.json()["units_changed"] == 2
    # Someone changes U2 between the dry run and the apply: the apply refuses, nothing changes.
    u2 = next(
        u
        for u in client.get(f"/api/demolition/projects/{p['id']}/units", headers=coord.headers).json()
        if u["unit_code"] == "U2"
    )
    assert (
        client.patch(
            f"/api/demolition/units/{u2['id']}",
            json={"version": 1, "owner_name": "李四"},
            headers=coord.headers,
        ).status_code
        == 200
    )
    r = _post(client, coord, p["id"], good, dry_run=False)
    assert r.status_code == 409 and [q["code"] for q in r.json()["report"]["problems"]] == ["stale_version"]
    assert _state(client, coord, p["id"])["U1"] == before["U1"]

    fixed = _xlsx(
        [
            HEADER,
            ["U1", 1, "评估", None, "评估完成", 880000, "平湖"],
            ["U2", 2, "签约", "同日签约", None, None, None],
        ]
    )
    r = _post(client, coord, p["id"], fixed, dry_run=False)
    assert r.status_code == 200 and r.json()["applied"]
    after = _state(client, coord, p["id"])
    assert after["U1"] == ("valued", 3, "880000.00") and after["U2"] == ("signed", 3, None)
    assert after["U3"] == before["U3"]
    events = client.get(f"/api/demolition/units/{u2['id']}/events", headers=coord.headers).json()
    assert events[-1]["irregular"] and events[-1]["reason"] == "同日签约"


@pytest.mark.parametrize("first", ["bulk", "patch"])
def test_a_bulk_apply_racing_a_patch_of_one_unit_loses_nothing(
    first: str, client: TestClient, make_account: Any, settings: Settings
) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    p = new_project(client, admin)
    units = {code: new_unit(client, coord, p["id"], code) for code in ("R1", "R2")}
    sheet = _xlsx(
        [HEADER, ["R1", 1, "评估", None, None, 500000, None], ["R2", 1, "评估", None, None, 600000, None]]
    )
    contested = units["R2"]["id"]
    calls = {
        "bulk": lambda: _post(client, coord, p["id"], sheet, dry_run=False),
        "patch": lambda: client.patch(
            f"/api/demolition/units/{contested}",
            json={"version": 1, "owner_name": "王五"},
            headers=coord.headers,
        ),
    }
    order = [first, "patch" if first == "bulk" else "bulk"]
    # Both wait on R2's row, held by a third connection; the first queued takes it first.
    results = dict(
        zip(
            order,
            race_on_locked_row(
                settings.owner_dsn,
                "SELECT 1 FROM demolition.unit WHERE id = %s FOR UPDATE",
                [contested],
                [calls[name] for name in order],
            ),
            strict=True,
        )
    )
    after = _state(client, coord, p["id"])
    owner = client.get(f"/api/demolition/units/{contested}", headers=coord.headers).json()["owner_name"]
    if first == "bulk":
        assert results["bulk"].status_code == 200 and results["bulk"].json()["applied"]
        patched = results["patch"]
        assert patched.status_code == 409 and patched.json()["code"] == "stale_version"
        # Each unit: one update (the valuation) and one transition, as in the apply above.
        assert after == {"R1": ("valued", 3, "500000.00"), "R2": ("valued", 3, "600000.00")}
        assert owner is None
    else:
        assert results["patch"].status_code == 200
        refused = results["bulk"]
        assert refused.status_code == 409 and refused.json()["code"] == "bulk_refused"
        assert [(q["unit_code"], q["code"]) for q in refused.json()["report"]["problems"]] == [
            ("R2", "stale_version")
        ]
        # All or nothing: R1, not contested, is left as it was too.
        assert after == {"R1": ("surveyed", 1, None), "R2": ("surveyed", 2, None)}
        assert owner == "王五"
