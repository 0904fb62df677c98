"""Demolition ledger: units, the status pipeline, roles, versioned updates under concurrency, the gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.settings import Settings
from tests.api.test_approval_items import move, plan_items
from tests.api.test_projects import new_project as make_project
from tests.concurrency import race_on_locked_row


def upload_agreement(
    client: TestClient, acct: Any, project_id: int, name: str = "协议.pdf"
) -> dict[str, Any]:
    """A demolition agreement (a real PDF) stored in the materials store for the project."""
    import uuid

    import weasyprint

    data = weasyprint.HTML(string=f"<p>Agreement {uuid.uuid4()}</p>").write_pdf()
    r = client.post(
        "/api/materials",
        files={"file": (name, data, "application/pdf")},
        data={
            "material_code": "demolition_agreement",
            "purpose": "demolition",
            "project_id": str(project_id),
        },
        headers=acct.headers,
    )
    assert r.status_code == 201, r.text
    return {**r.json(), "bytes": data}


def new_project(client: TestClient, admin: Any, **extra: Any) -> dict[str, Any]:
    """A project registered top-down by an administrator for the project unit "works"."""
    return make_project(client, admin, owner_dept_code="education", unit_org_code="works", **extra)


def new_unit(client: TestClient, acct: Any, project_id: int, code: str, **extra: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/demolition/projects/{project_id}/units",
        json={"unit_code": code, "floor_area_m2": "100", "households": 1, **extra},
        headers=acct.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def step(client: TestClient, acct: Any, unit: dict[str, Any], to: str, **body: Any) -> Any:
    r = client.post(
        f"/api/demolition/units/{unit['id']}/transitions",
        json={"to_status": to, "version": unit["version"], **body},
        headers=acct.headers,
    )
    if r.status_code == 200:
        unit.update(r.json())
    return r


def test_pipeline_roles_reasons_and_event_log(client: TestClient, make_account: Any, make_org: Any) -> None:
    from app.orgs.service import OrgKind

    unit_acct = make_account(Role.PROJECT_UNIT, "works")
    coord = make_account(Role.COORDINATOR, "land-prep")
    reviewer = make_account(Role.REVIEWER, "education")
    p = new_project(client, make_account(Role.SYSTEM_ADMIN, "gov-data"))
    u = new_unit(
        client,
        coord,
        p["id"],
        "A-001",
        address="平湖街道新南村 12 号",
        owner_type="private",
        subdistrict_code="sd-pinghu",
        geometry={
            "type": "Polygon",
            "coordinates": [
                [[114.2, 22.7], [114.2002, 22.7], [114.2002, 22.7002], [114.2, 22.7002], [114.2, 22.7]]
            ],
        },
    )
    assert u["status"] == "surveyed" and u["status_zh"] == "调查" and u["subdistrict_code"] == "sd-pinghu"
    assert u["geometry"]["type"] == "Polygon" and u["source"] == "manual"

    # Wrong roles: the project unit and a department may read, never move.
    assert step(client, unit_acct, u, "valued").status_code == 403
    assert step(client, reviewer, u, "valued").status_code == 403
    assert client.get(f"/api/demolition/units/{u['id']}", headers=unit_acct.headers).status_code == 200
    r = client.post(
        f"/api/demolition/projects/{p['id']}/units", json={"unit_code": "X"}, headers=reviewer.headers
    )
    assert r.status_code == 403

    # Illegal moves: to the same status; skipping or going back without a reason.
    r = step(client, coord, u, "surveyed")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = step(client, coord, u, "signed")
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    r = step(client, coord, u, "nowhere")
    assert r.status_code == 422
    assert step(client, coord, u, "valued", note="评估报告已出具").status_code == 200
    agreement = upload_agreement(client, coord, p["id"])
    # The client names the stored material; name, size and hash come from the store, whatever is sent.
    r = step(client, coord, u, "signed", attachment={"material_id": agreement["id"], "sha256": "ab" * 32})
    assert r.status_code == 200, r.text
    attachment = {
        "material_id": agreement["id"],
        "name": "协议.pdf",
        "size": len(agreement["bytes"]),
        "sha256": agreement["sha256"],
        "media_type": "application/pdf",
    }
    r = step(client, coord, u, "surveyed")
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    assert step(client, coord, u, "valued", reason="协议作废，重新评估").status_code == 200
    assert step(client, coord, u, "vacated", reason="业主已自行腾空，补偿另行支付").status_code == 200
    r = step(client, coord, u, "demolished", attachment={"material_id": 0})
    assert r.status_code == 422
    # A material of another project (or an unknown one) cannot be attached.
    elsewhere = upload_agreement(
        client, coord, new_project(client, make_account(Role.SYSTEM_ADMIN, "gov-data"))["id"]
    )
    for material_id in (elsewhere["id"], 2**62):
        r = step(client, coord, u, "demolished", attachment={"material_id": material_id})
        assert r.status_code == 422 and r.json()["code"] == "unknown_attachment"
    assert u["status"] == "vacated" and u["version"] == 5

    events = client.get(f"/api/demolition/units/{u['id']}/events", headers=reviewer.headers).json()
    assert [(e["kind"], e["from_status"], e["to_status"], e["irregular"]) for e in events] == [
        ("create", None, "surveyed", False),
        ("transition", "surveyed", "valued", False),
        ("transition", "valued", "signed", False),
        ("transition", "signed", "valued", True),
        ("transition", "valued", "vacated", True),
    ]
    assert events[1]["note"] == "评估报告已出具" and events[2]["attachment"] == attachment
    # Whoever reads the ledger downloads the attachment (the project's unit, a department with items);
    # another unit gets 404.
    content = f"/api/materials/{agreement['id']}/content"
    for acct in (coord, unit_acct):
        r = client.get(content, headers=acct.headers)
        assert r.status_code == 200 and r.content == agreement["bytes"]
    _, stranger_org = make_org(OrgKind.PROJECT_UNIT)
    assert (
        client.get(content, headers=make_account(Role.PROJECT_UNIT, stranger_org).headers).status_code == 404
    )
    assert events[3]["reason"] == "协议作废，重新评估" and events[1]["actor_name"] == coord.username

    # Attribute change, audited, with an event.
    r = client.patch(
        f"/api/demolition/units/{u['id']}",
        json={"version": u["version"], "agreed_compensation_yuan": "1200000.50"},
        headers=coord.headers,
    )
    assert r.status_code == 200 and r.json()["agreed_compensation_yuan"] == "1200000.50"
    assert r.headers["etag"] == '"6"'
    r = client.patch(
        f"/api/demolition/units/{u['id']}",
        json={"version": 6, "subdistrict_code": "nope"},
        headers=coord.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_subdistrict"
    r = client.patch(
        f"/api/demolition/units/{u['id']}", json={"version": 6, "floor_area_m2": None}, headers=coord.headers
    )
    assert r.status_code == 422 and r.json()["code"] == "required_field"
    r = client.patch(
        f"/api/demolition/units/{u['id']}",
        json={"version": 6, "valuation_yuan": "1e20"},
        headers=coord.headers,
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/demolition/projects/{p['id']}/units", json={"unit_code": "A-001"}, headers=coord.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "unit_code_taken"


def test_other_units_projects_are_invisible(client: TestClient, make_account: Any, make_org: Any) -> None:
    from app.orgs.service import OrgKind

    coord = make_account(Role.COORDINATOR, "land-prep")
    mine = make_account(Role.PROJECT_UNIT, "works")
    _, other_code = make_org(OrgKind.PROJECT_UNIT)
    other = make_account(Role.PROJECT_UNIT, other_code)
    p = new_project(client, make_account(Role.SYSTEM_ADMIN, "gov-data"))
    u = new_unit(client, coord, p["id"], "B-1")
    assert client.get(f"/api/demolition/units/{u['id']}", headers=other.headers).status_code == 404
    assert client.get(f"/api/demolition/projects/{p['id']}/units", headers=other.headers).status_code == 404
    assert len(client.get(f"/api/demolition/projects/{p['id']}/units", headers=mine.headers).json()) == 1


def test_two_concurrent_updaters_one_wins_nothing_lost(
    client: TestClient, make_account: Any, settings: Settings
) -> None:
    a, b = make_account(Role.COORDINATOR, "land-prep"), make_account(Role.COORDINATOR, "sd-pinghu")
    p = new_project(client, make_account(Role.SYSTEM_ADMIN, "gov-data"))
    # In 平湖街道, so that both coordinators work the unit and see its owner in full.
    u = new_unit(client, a, p["id"], "C-1", subdistrict_code="sd-pinghu")
    results: dict[str, Any] = {}

    def update(name: str, acct: Any, body: dict[str, Any], header: bool) -> None:
        headers = {**acct.headers, **({"If-Match": f'"{u["version"]}"'} if header else {})}
        payload = body if header else {**body, "version": u["version"]}
        results[name] = client.patch(f"/api/demolition/units/{u['id']}", json=payload, headers=headers)

    def race(*calls: Callable[[], None]) -> None:
        """Both requests wait on the unit's row, held by a third connection, before either reads it."""
        lock = "SELECT 1 FROM demolition.unit WHERE id = %s FOR UPDATE"
        race_on_locked_row(settings.owner_dsn, lock, [u["id"]], calls)

    race(
        lambda: update("a", a, {"valuation_yuan": "100"}, True),
        lambda: update("b", b, {"owner_name": "张三"}, True),
    )
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 412], codes
    loser = next(r for r in results.values() if r.status_code == 412)
    assert loser.json()["current"]["version"] == 2 and loser.headers["etag"] == '"2"'
    final = client.get(f"/api/demolition/units/{u['id']}", headers=a.headers).json()
    assert final["version"] == 2
    winner = next(k for k, r in results.items() if r.status_code == 200)
    assert (final["valuation_yuan"], final["owner_name"]) == (
        ("100.00", None) if winner == "a" else (None, "张三")
    )
    # The loser re-reads and retries: both changes are kept.
    retry = {"owner_name": "张三"} if winner == "a" else {"valuation_yuan": "100"}
    r = client.patch(f"/api/demolition/units/{u['id']}", json={**retry, "version": 2}, headers=b.headers)
    assert (
        r.status_code == 200 and r.json()["valuation_yuan"] == "100.00" and r.json()["owner_name"] == "张三"
    )

    # Two concurrent transitions with a version field: one 200, one 409 carrying the current state.
    u = client.get(f"/api/demolition/units/{u['id']}", headers=a.headers).json()
    results.clear()

    def move_it(name: str, acct: Any) -> None:
        results[name] = client.post(
            f"/api/demolition/units/{u['id']}/transitions",
            json={"to_status": "valued", "version": u["version"]},
            headers=acct.headers,
        )

    race(lambda: move_it("a", a), lambda: move_it("b", b))
    assert sorted(r.status_code for r in results.values()) == [200, 409]
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.json()["code"] == "stale_version" and loser.json()["current"]["status"] == "valued"
    events = client.get(f"/api/demolition/units/{u['id']}/events", headers=a.headers).json()
    assert [e["kind"] for e in events] == ["create", "update", "update", "transition"]


def test_construction_permit_gate_reads_the_ledger(client: TestClient, make_account: Any) -> None:
    unit_acct, admin = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.SYSTEM_ADMIN, "gov-data")
    coord = make_account(Role.COORDINATOR, "land-prep")
    p = new_project(
        client, make_account(Role.SYSTEM_ADMIN, "gov-data"), investment_wan="800", demolition_progress_pct=100
    )
    items = plan_items(client, unit_acct, p["id"])
    for code, item in items.items():
        if item["status"] == "not_started" and code not in (
            "construction_permit",
            "joint_acceptance",
            "completion_filing",
        ):
            assert move(client, admin, item, "cancel").status_code == 200
    small = new_unit(client, coord, p["id"], "G-1", floor_area_m2="100")
    big = new_unit(client, coord, p["id"], "G-2", floor_area_m2="300")
    permit = items["construction_permit"]
    # The ledger overrides the project's own (optimistic) 100 %.
    r = move(client, unit_acct, permit, "submit")
    assert r.status_code == 409 and r.json()["code"] == "demolition_gate" and r.json()["progress_pct"] == 0.0
    assert step(client, coord, small, "demolished", reason="危房，先行拆除").status_code == 200
    r = move(client, unit_acct, permit, "submit")
    assert r.status_code == 409 and r.json()["progress_pct"] == 25.0 and r.json()["threshold_pct"] == 100.0
    assert step(client, coord, big, "handed_over", reason="整体移交").status_code == 200
    prog = client.get(f"/api/demolition/projects/{p['id']}/progress", headers=unit_acct.headers).json()
    assert prog["total"]["progress_pct"] == 100.0 and prog["total"]["cleared_floor_area_m2"] == 400.0
    assert move(client, unit_acct, permit, "submit").status_code == 200


def test_event_log_and_blocker_thread_are_append_only_for_the_service(settings: Any) -> None:
    import psycopg
    import pytest

    from app.db import connection_options

    with psycopg.connect(settings.app_dsn, options=connection_options(settings), autocommit=True) as conn:
        for table, column in (("demolition.unit_event", "note"), ("demolition.blocker_comment", "body")):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"UPDATE {table} SET {column} = {column}")  # noqa: S608 - fixed names
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608
