"""The project chooser of the demolition page and the ledger as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project, new_unit, step


def test_projects_with_units_come_first_with_progress_and_threshold(
    client: TestClient, make_account: Any
) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    empty = new_project(client, admin)
    p = new_project(client, admin)
    a = new_unit(client, coord, p["id"], "O-1", floor_area_m2="300")
    new_unit(client, coord, p["id"], "O-2", floor_area_m2="100")
    assert step(client, coord, a, "demolished", reason="危房先拆").status_code == 200

    r = client.get("/api/demolition/projects", headers=coord.headers)
    assert r.status_code == 200
    rows = r.json()
    ids = [row["id"] for row in rows]
    assert ids.index(p["id"]) < ids.index(empty["id"])
    assert all(row["units"] > 0 for row in rows[: ids.index(p["id"])])  # every ledger before any empty one
    mine = rows[ids.index(p["id"])]
    assert (mine["units"], mine["cleared_units"], mine["floor_area_m2"]) == (2, 1, 400)
    assert mine["progress_pct"] == 75 and mine["demolition_threshold_pct"] == "100.00"
    assert mine["code"] == p["code"] and mine["name"] == p["name"]
    assert rows[ids.index(empty["id"])]["progress_pct"] is None

    # A project unit sees only its own organisation's projects; a role without demolition:read nothing.
    def seen_by(acct: Any) -> list[int]:
        return [row["id"] for row in client.get("/api/demolition/projects", headers=acct.headers).json()]

    assert p["id"] not in seen_by(make_account(Role.PROJECT_UNIT, "education"))
    assert p["id"] in seen_by(make_account(Role.PROJECT_UNIT, "works"))
    assert client.get("/api/demolition/projects").status_code == 401


def test_ledger_csv_has_the_units_under_chinese_headers(client: TestClient, make_account: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    viewer = make_account(Role.VIEWER, "pnr")
    p = new_project(client, admin)
    new_unit(client, coord, p["id"], "C-2", owner_name="李四", owner_type="collective", households=3)
    u = new_unit(client, coord, p["id"], "C-1", address="龙岗街道, 1 号", floor_area_m2="88.50")
    assert step(client, coord, u, "valued").status_code == 200

    r = client.get(f"/api/demolition/projects/{p['id']}/units.csv", headers=viewer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    # A viewer has no need to know the residents: the file says it is masked, and it is.
    assert f'filename="demolition-ledger-{p["code"]}-masked.csv"' in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    headers = ["单元编号", "版本号", "状态", "地址", "权属类型", "权利人", "身份证号", "联系电话"]
    assert rows[0][:10] == [*headers, "建筑面积（m²）", "户数"]
    assert [r[:10] for r in rows[1:]] == [
        ["C-1", "2", "评估", "龙岗街道****", "", "", "", "", "88.50", "1"],
        ["C-2", "1", "调查", "", "集体", "李*", "", "", "100.00", "3"],
    ]
    # The CSV goes back as a bulk update unchanged: nothing to do, no problem.
    r = client.post(
        f"/api/demolition/projects/{p['id']}/bulk?dry_run=true",
        files={"file": ("ledger.csv", r.content)},
        headers=coord.headers,
    )
    assert r.status_code == 200 and r.json()["problems"] == [] and r.json()["changes"] == []
    assert client.get(f"/api/demolition/projects/{p['id']}/units.csv").status_code == 401
