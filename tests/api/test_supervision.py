"""Plan, warnings and KPIs through the API, on an event log dated by hand."""

from __future__ import annotations

import csv
import io
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.auth.policy import Role
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project


def log(conn: psycopg.Connection[Any], item_id: int, status: str, day: str, action: str = "test") -> None:
    """An event at noon (district time) of ``day``, and the item's status to match."""
    conn.execute(
        "INSERT INTO approval.item_event (item_id, action, from_status, to_status, actor_name, at)"
        " VALUES (%s, %s, 'x', %s, 'tests', (%s || ' 12:00')::timestamp AT TIME ZONE 'Asia/Shanghai')",
        (item_id, action, status, day),
    )
    conn.execute("UPDATE approval.item SET status = %s WHERE id = %s", (status, item_id))


def test_plan_back_schedule_through_the_api(client: TestClient, make_account: Any) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(
        client, unit, owner_dept_code="education", investment_wan="800", planned_start="2026-03-02"
    )
    items = plan_items(client, unit, p["id"])
    plan = client.get(f"/api/projects/{p['id']}/plan?as_of=2025-06-02", headers=unit.headers).json()
    by_code = {i["item_code"]: i for i in plan["items"]}
    # Chain: pre-review 20 → land permit 10 → preliminary design 20 → building permit 10 → drawings 10 →
    # construction permit 7. Construction starts Mon 2026-03-02; the last working day before it is the
    # 调休 Saturday 2/28, so the permit must be issued by then (7 days: 2/24-2/28 is 5, then 2/14 Sat and
    # 2/13 Fri across the Spring Festival 2/15-2/23).
    permit = by_code["construction_permit"]["schedule"]
    assert permit["latest_finish"] == "2026-02-28"
    assert permit["latest_start"] == "2026-02-13"
    assert by_code["joint_acceptance"]["schedule"] is None  # after construction starts
    assert by_code["project_proposal"]["schedule"] is None  # merged away
    assert plan["critical_path_codes"][0] == "land_pre_review"
    assert plan["critical_path_codes"][-1] == "construction_permit" and plan["feasible"]
    late = client.get(f"/api/projects/{p['id']}/plan?as_of=2026-01-05", headers=unit.headers).json()
    assert not late["feasible"] and late["float_days"] < 0 and late["forecast_start"] > "2026-03-02"
    assert (plan["provisional_years"], plan["calendar_note_zh"]) == ([], None)  # 2025-2026: official
    # A start in 2027 is back-scheduled on the provisional 2027 calendar, and the plan says so. Target
    # Thu 6-10; Wed 6-9 is 端午 (provisional), so the permit must be issued by Tue 6-8 and its 7 working
    # days are Mon 5-31 .. Tue 6-8 (5-31, 6-1, 6-2, 6-3, 6-4, 6-7, 6-8).
    r = client.get(
        f"/api/projects/{p['id']}/plan?target_start=2027-06-10&as_of=2026-06-01", headers=unit.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["provisional_years"] == [2027]
    assert r.json()["calendar_note_zh"].startswith("2027 年工作日历为暂定：仅含法定节假日")
    permit = {i["item_code"]: i for i in r.json()["items"]}["construction_permit"]["schedule"]
    assert (permit["latest_start"], permit["latest_finish"]) == ("2027-05-31", "2027-06-08")
    # A start far past the generated provisional years is still refused, naming the year.
    r = client.get(
        f"/api/projects/{p['id']}/plan?target_start=2045-06-01&as_of=2026-06-01", headers=unit.headers
    )
    assert r.status_code == 422 and r.json()["year"] == 2045
    assert items["land_pre_review"]["id"] in plan["critical_path"]


def test_warnings_and_kpis_from_the_event_log(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit, pnr, drc = (
        make_account(Role.PROJECT_UNIT, "works"),
        make_account(Role.REVIEWER, "pnr"),
        make_account(Role.REVIEWER, "drc"),
    )
    p = new_project(client, unit, owner_dept_code="education", investment_wan="800")
    items = plan_items(client, unit, p["id"])
    pre, env = items["land_pre_review"]["id"], items["environmental_impact"]["id"]  # pnr 20 days, eco-env 20
    log(owner_conn, pre, "submitted", "2025-03-03")
    log(owner_conn, pre, "accepted", "2025-03-03")
    log(owner_conn, pre, "approved", "2025-03-10")  # 5 days: early, one-time pass
    log(owner_conn, env, "submitted", "2025-09-15")
    log(owner_conn, env, "accepted_conditional", "2025-09-15")
    owner_conn.execute(
        "UPDATE approval.item SET missing_documents = '[\"环评公示\"]', supplement_due = '2025-09-30'"
        " WHERE id = %s",
        (env,),
    )
    # On 2025-10-14: 9/16-9/19 4, 9/22-9/26 9, 9/28 10, 9/29-9/30 12, 10/9-10/10 14, 10/11 15, 10/13-14 17
    # working days of 20 = 85 %: yellow; and the supplement was due 9/30: red.
    q = f"project_id={p['id']}&as_of=2025-10-14"
    warnings = client.get(f"/api/warnings?{q}", headers=unit.headers).json()
    assert [(w["level"], w["kind"], w["elapsed_days"]) for w in warnings] == [
        ("red", "supplement_overdue", 17),
        ("yellow", "near_limit", 17),
    ]
    # Departments see their own items' warnings only.
    assert client.get(f"/api/warnings?{q}", headers=pnr.headers).json() == []
    late = client.get(f"/api/warnings?project_id={p['id']}&as_of=2025-10-20", headers=unit.headers).json()
    assert ("red", "overdue", 21) in [(w["level"], w["kind"], w["elapsed_days"]) for w in late]
    # 环评 has 30 statutory working days: on 10/31 (day 30) it is within them, on 11/3 (day 31) past them.
    kinds = {
        day: [
            (w["kind"], w["elapsed_days"], w["statutory_days"])
            for w in client.get(
                f"/api/warnings?project_id={p['id']}&as_of={day}", headers=unit.headers
            ).json()
            if w["item_id"] == env
        ]
        for day in ("2025-10-31", "2025-11-03")
    }
    assert [k for k in kinds["2025-10-31"] if k[0] == "statutory_overdue"] == []
    assert ("statutory_overdue", 31, 30) in kinds["2025-11-03"]

    kpis = client.get(f"/api/kpis?by=department&{q}", headers=unit.headers).json()
    rows = {r["key"]: r for r in kpis}
    assert rows["pnr"]["early_completion_rate"] == 1.0 and rows["pnr"]["one_time_pass_rate"] == 1.0
    assert rows["pnr"]["mean_working_days"] == 5.0
    assert rows["eco-env"]["finished"] == 0 and rows["eco-env"]["early_completion_rate"] is None
    assert [r["key"] for r in client.get(f"/api/kpis?by=department&{q}", headers=pnr.headers).json()] == [
        "pnr"
    ]
    assert client.get(f"/api/kpis?{q}", headers=drc.headers).json() == []

    r = client.get(f"/api/kpis/export?format=csv&by=department&{q}", headers=unit.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    # People read the department's name; its code has a column of its own, the last.
    assert (table[0][0], table[0][-1]) == ("分组", "分组代码")
    assert [(t[0], t[-1]) for t in table[1:]] == [
        ("深圳市生态环境局龙岗管理局", "eco-env"),
        ("规划和自然资源局龙岗管理局", "pnr"),
    ]
    pnr_row = dict(zip(table[0], table[2], strict=True))
    assert pnr_row["提前办结率（%）"] == "100.0" and pnr_row["平均办理工作日"] == "5.0"
    r = client.get(f"/api/kpis/export?format=xlsx&by=month&{q}", headers=unit.headers)
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["分组", "事项数", "办结数"]
    assert [c.value for c in sheet["A"]][1:] == ["2025-03", "2025-10"]
    assert [c.value for c in sheet["K"]][1:] == [None, None]  # a month has no code
    # By item, the item's name in the chosen language, its code last.
    for lang, head, name in (
        ("zh", ["分组", "事项数"], "用地预审与选址意见书"),
        ("en", ["Group", "Items"], "Land-use pre-review and site selection opinion"),
    ):
        r = client.get(f"/api/kpis/export?format=csv&by=item&lang={lang}&{q}", headers=unit.headers)
        table = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert table[0][:2] == head
        named = {row[-1]: row[0] for row in table[1:]}
        assert named["land_pre_review"] == name
    assert client.get(f"/api/kpis/export?format=pdf&{q}", headers=unit.headers).status_code == 422
