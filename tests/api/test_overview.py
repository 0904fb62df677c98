"""The leaders' overview (领导驾驶舱) against a hand computation from the event log.

Three projects of one fresh project unit, an event log dated by hand on days clear of holidays (March,
June and July 2025: no public holiday or 调休 day after Tue 2025-06-03 until October, none in March), and
a demolition ledger. The test reads the event-log rows itself and counts working days (Monday to Friday)
with its own code; the overview's figures must equal that count, and its per-department and per-month
rates must equal the KPI API's (GET /api/kpis, as the project unit, who sees exactly these projects).

Hand count (working days after the acceptance day up to the decision, the clock stopped while with the
unit), as of Mon 2025-07-14:
* A 用地预审 (pnr): accepted Mon 3/03, approved Mon 3/10: 5 days < 20 promised — early, one-time pass.
* A 环评 (eco-env): accepted 3/03, returned for correction Wed 3/05 (2 days), resubmitted Mon 3/10,
  approved Fri 3/28 (14 days): 16 < 20 — early; one correction, so no one-time pass.
* B 用地预审 (pnr): accepted Mon 6/09, approved Mon 7/07: 20 days, not < 20 — not early; one-time pass.
* B 环评 (eco-env): accepted 6/09, still running on 7/14: 25 days > 20 — overdue, in flight.
* B 水保 (water): accepted Mon 6/16, rejected Fri 6/20: 4 days — early, not approved.
* A 建设用地规划许可 (pnr): submitted Thu 7/10, not accepted: in flight, no clock, no KPI.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.auth.policy import Role
from app.orgs.service import OrgKind
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project
from tests.api.test_supervision import log

AS_OF = date(2025, 7, 14)
RUNNING = {"accepted", "accepted_conditional", "under_review"}


def workdays_after(start: date, end: date) -> int:
    """Weekdays after ``start`` up to and including ``end`` (the chosen days have no holidays)."""
    return sum(1 for n in range(1, (end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


def by_hand(conn: psycopg.Connection[Any], items: dict[int, tuple[str, int]]) -> dict[str, Any]:
    """Per department and per month: started, finished, early, approved, one-time pass; overdue ids."""
    rows = conn.execute(
        "SELECT item_id, to_status, (at AT TIME ZONE 'Asia/Shanghai')::date FROM approval.item_event"
        " WHERE item_id = ANY(%s) ORDER BY at, id",
        (list(items),),
    ).fetchall()
    log_of: dict[int, list[tuple[str, date]]] = defaultdict(list)
    for item_id, status, day in rows:
        log_of[item_id].append((status, day))
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    overdue = []
    for item_id, (dept, promised) in items.items():
        used, since, finished, approved, returns, started = 0, None, None, False, 0, False
        for status, day in log_of[item_id]:
            if status in RUNNING:
                started = True
                since = since or day
                continue
            if since is not None:
                used += workdays_after(since, day)
                since = None
            returns += status == "correction"
            if status in ("approved", "rejected"):
                finished, approved = day, status == "approved"
        if since is not None and finished is None:
            used += workdays_after(since, AS_OF)
            if used > promised:
                overdue.append(item_id)
        if not started:
            continue
        for key in (dept, (finished or AS_OF).strftime("%Y-%m")):
            t = tallies[key]
            t["finished"] += finished is not None
            t["early"] += finished is not None and used < promised
            t["approved"] += approved
            t["one_time"] += approved and returns == 0
    return {"tallies": tallies, "overdue": overdue}


def test_overview_figures_equal_the_event_log_by_hand(
    client: TestClient, make_account: Any, make_org: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    _, unit_code = make_org(OrgKind.PROJECT_UNIT)
    unit = make_account(Role.PROJECT_UNIT, unit_code)
    leader = make_account(Role.LEADER, "drc")
    a = new_project(client, unit, owner_dept_code="education", investment_wan="800", funding_source="区财政")
    b = new_project(client, unit, owner_dept_code="education", investment_wan="1200", funding_source="专项债")
    c = new_project(client, unit, owner_dept_code="education", investment_wan="500", funding_source="区财政")
    owner_conn.execute(
        "UPDATE project.project SET status = 'construction', tier = 'implementation' WHERE id = %s",
        (b["id"],),
    )
    owner_conn.execute(
        "UPDATE project.project SET status = 'preparation', tier = 'preparation' WHERE id = %s", (c["id"],)
    )
    pa, pb = plan_items(client, unit, a["id"]), plan_items(client, unit, b["id"])
    for status, day in (("submitted", "2025-03-03"), ("accepted", "2025-03-03"), ("approved", "2025-03-10")):
        log(owner_conn, pa["land_pre_review"]["id"], status, day)
    for status, day in (
        ("submitted", "2025-03-03"),
        ("accepted", "2025-03-03"),
        ("correction", "2025-03-05"),
        ("under_review", "2025-03-10"),
        ("approved", "2025-03-28"),
    ):
        log(owner_conn, pa["environmental_impact"]["id"], status, day)
    log(owner_conn, pa["land_planning_permit"]["id"], "submitted", "2025-07-10")
    for status, day in (("submitted", "2025-06-09"), ("accepted", "2025-06-09"), ("approved", "2025-07-07")):
        log(owner_conn, pb["land_pre_review"]["id"], status, day)
    for status, day in (("submitted", "2025-06-09"), ("accepted", "2025-06-09")):
        log(owner_conn, pb["environmental_impact"]["id"], status, day)
    for status, day in (("submitted", "2025-06-16"), ("accepted", "2025-06-16"), ("rejected", "2025-06-20")):
        log(owner_conn, pb["soil_conservation"]["id"], status, day)
    # B's ledger: 100 m² demolished of 400 m² — 25 %.
    for code, status, area in (("U1", "demolished", 100), ("U2", "surveyed", 300)):
        owner_conn.execute(
            "INSERT INTO demolition.unit (project_id, unit_code, status, floor_area_m2, source)"
            " VALUES (%s, %s, %s, %s, 'manual')",
            (b["id"], code, status, area),
        )

    r = client.get(f"/api/overview?as_of={AS_OF}&unit={unit_code}", headers=leader.headers)
    assert r.status_code == 200, r.text
    ov = r.json()

    # Projects: every breakdown against the project rows read here, and the list behind each figure.
    rows = owner_conn.execute(
        "SELECT p.id, p.status, p.tier, p.project_type, p.funding_source, p.investment_wan"
        " FROM project.project p JOIN auth.organisation o ON o.id = p.unit_org_id WHERE o.code = %s",
        (unit_code,),
    ).fetchall()
    assert len(rows) == 3
    assert sorted(ov["projects"]["ids"]) == sorted(r[0] for r in rows) == sorted([a["id"], b["id"], c["id"]])
    for field, column in (("by_status", 1), ("by_tier", 2), ("by_type", 3), ("by_funding", 4)):
        hand_groups: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            hand_groups[r[column]].append(r)
        assert {
            f["key"]: (sorted(f["ids"]), f["count"], Decimal(f["investment_wan"])) for f in ov[field]
        } == {
            k: (sorted(r[0] for r in g), len(g), sum((r[5] for r in g), Decimal(0)))
            for k, g in hand_groups.items()
        }, field
    status = {f["key"]: f for f in ov["by_status"]}
    assert {k: f["ids"] for k, f in status.items()} == {
        "construction": [b["id"]],
        "preparation": [c["id"]],
        "reserve": [a["id"]],
    }
    assert status["construction"]["filter"] == f"/api/projects?status=construction&unit={unit_code}"
    assert status["construction"]["link"] == f"#/projects?status=construction&unit={unit_code}"
    funding = {f["key"]: (f["count"], float(f["investment_wan"])) for f in ov["by_funding"]}
    assert funding == {"区财政": (2, 1300.0), "专项债": (1, 1200.0)}
    # No footprints: every project is "not located" (未定位), counted once.
    assert [(f["key"], f["count"]) for f in ov["by_subdistrict"]] == [("unassigned", 3)]
    # Planned (储备 + 前期): 800 + 500; under way (在建): 1200.
    assert float(ov["investment_planned_wan"]["investment_wan"]) == 1300.0
    assert sorted(ov["investment_planned_wan"]["ids"]) == sorted([a["id"], c["id"]])
    assert float(ov["investment_under_way_wan"]["investment_wan"]) == 1200.0
    project_figures = [ov["projects"], ov["investment_planned_wan"], ov["investment_under_way_wan"]]
    for field in ("by_status", "by_tier", "by_type", "by_subdistrict", "by_funding"):
        project_figures += ov[field]
    for figure in project_figures:
        listed = client.get(figure["filter"], headers=leader.headers)
        assert listed.status_code == 200, (figure["filter"], listed.text)
        assert sorted(p["id"] for p in listed.json()) == sorted(figure["ids"]), figure["filter"]
        assert figure["link"] == "#/projects" + figure["filter"].removeprefix("/api/projects")

    # Approvals in flight and overdue, by hand.
    items = {i["id"]: (i["department_code"], i["promised_days"]) for plan in (pa, pb) for i in plan.values()}
    hand = by_hand(owner_conn, items)
    assert hand["overdue"] == [pb["environmental_impact"]["id"]]
    assert ov["approvals"]["overdue"]["ids"] == hand["overdue"]
    in_flight = sorted([pb["environmental_impact"]["id"], pa["land_planning_permit"]["id"]])
    flying = owner_conn.execute(
        "SELECT stage, array_agg(id ORDER BY id) FROM approval.item WHERE id = ANY(%s)"
        " AND status IN ('submitted', 'accepted', 'accepted_conditional', 'under_review', 'correction')"
        " GROUP BY stage ORDER BY stage",
        (list(items),),
    ).fetchall()
    assert sorted(id_ for _, ids in flying for id_ in ids) == in_flight
    assert sorted(ov["approvals"]["in_flight"]["ids"]) == in_flight
    assert (
        [(f["key"], sorted(f["ids"])) for f in ov["approvals"]["by_stage"]]
        == [(stage, ids) for stage, ids in flying]
        == [("project_land", in_flight)]
    )
    # The list behind each approval figure (GET /api/approval-items) is the same set of items.
    approvals = ov["approvals"]
    for figure in (approvals["in_flight"], approvals["overdue"], *approvals["by_stage"]):
        listed = client.get(figure["filter"], headers=leader.headers)
        assert listed.status_code == 200, (figure["filter"], listed.text)
        assert sorted(i["id"] for i in listed.json()) == sorted(figure["ids"]), figure["filter"]
        assert figure["link"] == "#/items" + figure["filter"].removeprefix("/api/approval-items")
    overdue_rows = client.get(approvals["overdue"]["filter"], headers=leader.headers).json()
    assert [(i["id"], i["elapsed_days"], i["promised_days"]) for i in overdue_rows] == [
        (pb["environmental_impact"]["id"], 25, 20)
    ]
    # The items behind the figures: the six with events (five started, one submitted), no other.
    logged = [r[0] for r in owner_conn.execute(
        "SELECT DISTINCT item_id FROM approval.item_event WHERE item_id = ANY(%s) ORDER BY 1", (list(items),)
    )]  # fmt: skip
    assert len(logged) == 6 and sorted(i["id"] for i in ov["items"]) == logged

    # Rates by department and by month: the overview equals the hand count, and the KPI API.
    tallies = hand["tallies"]
    assert dict(tallies["pnr"]) == {"finished": 2, "early": 1, "approved": 2, "one_time": 2}
    assert dict(tallies["eco-env"]) == {"finished": 1, "early": 1, "approved": 1, "one_time": 0}
    assert dict(tallies["2025-03"]) == {"finished": 2, "early": 2, "approved": 2, "one_time": 1}
    for field, by in (("kpi_by_department", "department"), ("kpi_by_month", "month")):
        rows = {row["key"]: row for row in ov[field]}
        assert set(rows) == {k for k in tallies if (k[:2] == "20") == (by == "month")}
        for key, row in rows.items():
            t = tallies[key]
            assert (row["finished"], row["early"], row["approved"], row["one_time_pass"]) == (
                t["finished"],
                t["early"],
                t["approved"],
                t["one_time"],
            ), key
            assert row["early_completion_rate"] == (t["early"] / t["finished"] if t["finished"] else None)
            assert row["one_time_pass_rate"] == (t["one_time"] / t["approved"] if t["approved"] else None)
            assert len(row["early_ids"]) == t["early"] and len(row["finished_ids"]) == t["finished"]
            # The items behind each rate: the list page's API gives the same items.
            for kind, ids_field in (("early", "early_ids"), ("one_time_pass", "one_time_pass_ids"),
                                    ("finished", "finished_ids"), ("approved", "approved_ids")):  # fmt: skip
                link = row["links"][kind]
                assert link.startswith("#/items?")
                listed = client.get("/api/approval-items?" + link.split("?", 1)[1], headers=leader.headers)
                assert sorted(i["id"] for i in listed.json()) == sorted(row[ids_field]), link
        api = client.get(f"/api/kpis?by={by}&as_of={AS_OF}", headers=unit.headers).json()
        assert [
            (k["key"], k["early_completion_rate"], k["one_time_pass_rate"], k["overdue"]) for k in api
        ] == [
            (k["key"], k["early_completion_rate"], k["one_time_pass_rate"], k["overdue"]) for k in ov[field]
        ]

    # The totals: the sums of the hand tallies over departments.
    depts = [t for k, t in tallies.items() if k[:2] != "20"]
    (total,) = ov["kpi_total"]
    for field, key in (("finished", "finished"), ("early", "early"), ("approved", "approved"),
                       ("one_time_pass", "one_time")):  # fmt: skip
        assert total[field] == sum(t[key] for t in depts), field
    assert total["early_completion_rate"] == 3 / 4  # A 用地预审, A 环评, B 水保 early of four finished
    assert client.get("/api/approval-items?month=2025-13", headers=leader.headers).status_code == 422

    # Demolition: B's ledger at 25 %.
    assert [
        (d["project_id"], d["units"], d["cleared_units"], d["progress_pct"]) for d in ov["demolition"]
    ] == [(b["id"], 2, 1, 25.0)]
    assert ov["demolition"][0]["link"] == f"#/demolition/{b['id']}"

    # The export holds the same figures.
    x = client.get(f"/api/overview.xlsx?as_of={AS_OF}&unit={unit_code}", headers=leader.headers)
    assert x.status_code == 200
    book = load_workbook(io.BytesIO(x.content))
    rows_x = {r[0]: r for r in book["部门 By department"].iter_rows(min_row=2, values_only=True)}
    assert rows_x["pnr"][4] == 50.0 and rows_x["eco-env"][7] == 0.0
    funding_x = {r[0]: (r[2], r[3]) for r in book["资金 Funding"].iter_rows(min_row=2, values_only=True)}
    assert funding_x == {"区财政": (2, 1300.0), "专项债": (1, 1200.0)}


def test_a_subdistrict_units_project_is_placed_by_footprint_and_leaders_only_read(
    client: TestClient, make_account: Any, make_org: Any
) -> None:
    _, street = make_org(OrgKind.SUBDISTRICT)
    education = make_account(Role.REVIEWER, "education")
    p = new_project(client, education, unit_org_code=street, investment_wan="300")
    leader = make_account(Role.LEADER, "drc")
    ov = client.get(f"/api/overview?unit={street}", headers=leader.headers).json()
    # Built by a sub-district office, but with no footprint: not located (the unit is not the place).
    assert [(f["key"], f["ids"]) for f in ov["by_subdistrict"]] == [("unassigned", [p["id"]])]
    # Read-only: a leader registers no project and submits no demand; a project unit sees no overview.
    assert client.post("/api/projects", json={}, headers=leader.headers).status_code == 403
    unit = make_account(Role.PROJECT_UNIT, "works")
    assert client.get("/api/overview", headers=unit.headers).status_code == 403
    assert client.get("/api/overview?as_of=not-a-day", headers=leader.headers).status_code == 422
