"""Every figure a person reads about one application agrees with every other and with a hand computation.

One package of the 立项用地规划许可 stage (six items, five departments) goes through the real API flow: open
→ attach → submit → accept with one 容缺 gap → two departments' correction requests → one letter →
resubmit (and the gap supplemented) → opinions → issue. Every step is then dated by hand across the 2026
Spring Festival, at early-morning district times whose UTC date is the day before (07:30 in Shenzhen is
23:30 UTC of the previous day), so that a figure read from the UTC date shows up as one day off.

The same facts are then read from every place a person sees them: the application (GET
/api/applications/{id}), each department's 我的待办 (GET /api/my-work), the project's plan, the supervision
warnings and KPIs, the printed receipt, the correction letter, the issuance notice and each item's event
log; and compared with the working days counted by hand below from app/calendar/data/cn_holidays.json.

The calendar, by hand (cn_holidays.json, year 2026): holidays 2/15–2/23 (春节), 调休 working Saturdays 2/14
and 2/28. Working days after Mon 2/09, numbered:
   1 Tue 2/10   2 Wed 2/11   3 Thu 2/12   4 Fri 2/13   5 Sat 2/14 (调休)   — 2/15 … 2/23 holidays —
   6 Tue 2/24   7 Wed 2/25   8 Thu 2/26   9 Fri 2/27  10 Sat 2/28 (调休)   — Sun 3/01 —
  11 Mon 3/02  12 Tue 3/03  13 Wed 3/04  14 Thu 3/05  15 Fri 3/06   — weekend —
  16 Mon 3/09  17 Tue 3/10  18 Wed 3/11  19 Thu 3/12  20 Fri 3/13   — weekend —  21 Mon 3/16
"""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.auth.policy import Role
from tests.api.test_window_flow import STAGE_ITEMS, call, library, open_and_fill, six_item_project

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The district times of each step (all early in the morning: the UTC date is the previous day).
OPENED = "2026-02-05 10:00"
SUBMITTED = "2026-02-06 07:20"
ACCEPTED = "2026-02-09 07:30"  # 2026-02-08 23:30 UTC, a Sunday
ECO_ASKS = "2026-02-11 09:00"
WATER_ASKS = "2026-02-12 16:00"
LETTER = "2026-02-13 07:45"  # 2026-02-12 23:45 UTC
RESUBMITTED = "2026-02-24 07:00"  # 2026-02-23 23:00 UTC, still a Spring Festival holiday
SUPPLEMENTED = "2026-02-25 10:00"
ISSUED = "2026-03-17 07:10"  # 2026-03-16 23:10 UTC
DECIDED = {  # the decision of each item and its day (07:05 district time)
    "land_pre_review": ("approve", "2026-03-10"),
    "environmental_impact": ("approve", "2026-03-11"),
    "soil_conservation": ("approve", "2026-03-06"),
    "land_planning_permit": ("approve_conditional", "2026-03-09"),
    "forest_use_permit": ("refuse", "2026-03-06"),
    "heritage_impact": ("approve", "2026-03-16"),
}
PROMISED = {
    "land_pre_review": 20,
    "environmental_impact": 20,
    "soil_conservation": 15,
    "land_planning_permit": 10,
    "forest_use_permit": 15,
    "heritage_impact": 15,
}
# The receipt's promised dates (受理回执, as promised on the acceptance day): the promised number of working
# days after Mon 2/09 (table above): 10 → 2/28, 15 → 3/06, 20 → 3/13. (Counted from the UTC date, Sun
# 2/08, each would be one working day earlier.)
PROMISED_ON_RECEIPT = {
    "land_pre_review": "2026-03-13",
    "environmental_impact": "2026-03-13",
    "soil_conservation": "2026-03-06",
    "land_planning_permit": "2026-02-28",
    "forest_use_permit": "2026-03-06",
    "heritage_impact": "2026-03-06",
}
# The due date on the item's clock: the same, except where the clock stood still with the unit (补正 time
# never counts, as the receipt itself says): 环评 and 水保 used 4 days (2/10–2/13) before the letter, so
# after the resubmission day Tue 2/24 环评 has 16 left: 2/25, 2/26, 2/27, 2/28, 3/02 … 3/06 (9), 3/09 …
# 3/13 (14), 3/16, 3/17 (16) → 3/17; 水保 has 11 left: … 3/06 (9), 3/09, 3/10 (11) → 3/10. (From the UTC
# date of the resubmission, the holiday 2/23, they would be 3/16 and 3/09.)
DUE = {**PROMISED_ON_RECEIPT, "environmental_impact": "2026-03-17", "soil_conservation": "2026-03-10"}
# On Thu 3/05 (all six running): working days used.
#   no stop: 2/09 → 3/05 = 14 (table);
#   环评, 水保: 2/10–2/13 = 4 before the letter (Fri 2/13; the 调休 Saturday 2/14 is with the unit), then
#   from the resubmission day Tue 2/24: 2/25, 2/26, 2/27, 2/28, 3/02, 3/03, 3/04, 3/05 = 8 → 12.
# Colour: red past the promise, yellow from 80 %: 12/20 = 60 % green, 12/15 = 80 % yellow, 14/20 = 70 %
# green, 14/10 red, 14/15 = 93 % yellow.
MID = date(2026, 3, 5)
ELAPSED_MID = {
    "land_pre_review": (14, "green"),
    "environmental_impact": (12, "green"),
    "soil_conservation": (12, "yellow"),
    "land_planning_permit": (14, "red"),
    "forest_use_permit": (14, "yellow"),
    "heritage_impact": (14, "yellow"),
}
# At the decisions: 用地预审 3/10 → 17; 环评 4 + (2/25 … 3/11 = 12) = 16; 水保 4 + (2/25 … 3/06 = 9) = 13;
# 建设用地规划许可 3/09 → 16; 林地 3/06 → 15; 文物 3/16 → 21.
ELAPSED_FINAL = {
    "land_pre_review": 17,
    "environmental_impact": 16,
    "soil_conservation": 13,
    "land_planning_permit": 16,
    "forest_use_permit": 15,
    "heritage_impact": 21,
}


def utc(local: str) -> datetime:
    """A district wall-clock time as an aware datetime."""
    return datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)


def stamp(conn: psycopg.Connection[Any], table: str, column: str, local: str, where: str, *args: Any) -> None:
    n = conn.execute(
        f"UPDATE {table} SET {column} = %s WHERE {where}",  # noqa: S608 - test-only literal names
        (utc(local), *args),
    ).rowcount
    assert n >= 1, (table, column, where, args)


def date_item(conn: psycopg.Connection[Any], item_id: int, actions: dict[str, str]) -> None:
    """Date an item's events by action (each action occurs once per item in this flow)."""
    for action, local in actions.items():
        stamp(conn, "approval.item_event", "at", local, "item_id = %s AND action = %s", item_id, action)


def cells(page: str, row_class: str = "") -> list[list[str]]:
    """The text of every table row's cells (tags stripped, entities decoded)."""
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        found = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)
        rows.append([htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found])
    return rows


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, date]:
    """The window routes' "today" (the district date the request is made on), set by the test."""
    now = {"today": date(2026, 2, 5)}
    monkeypatch.setattr("app.window.routes.today", lambda: now["today"])
    return now


def test_every_figure_of_one_application_agrees(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], clock: dict[str, date]
) -> None:
    unit, window = make_account(Role.PROJECT_UNIT, "works"), make_account(Role.WINDOW, "service-center")
    depts = {d: make_account(Role.REVIEWER, d) for d in set(STAGE_ITEMS.values())}
    p = six_item_project(client, owner_conn, unit)

    def queues() -> dict[str, bool]:
        out = {}
        for queue in ("new", "returned", "issuing"):
            listed = client.get(f"/api/applications?queue={queue}", headers=window.headers).json()
            mine = client.get(
                f"/api/applications?queue={queue}&project_id={p['id']}", headers=window.headers
            ).json()
            ids = [a["id"] for a in listed]
            assert len(ids) == len(set(ids))  # no application twice in a tab
            assert [a["id"] for a in mine] == [i for i in ids if i in {a["id"] for a in mine}]
            out[queue] = app_id in ids
        return out

    # --- the flow through the API ------------------------------------------------------------------
    app = open_and_fill(client, owner_conn, unit, p["id"])
    app_id = app["id"]
    assert {i["item_code"]: i["promised_days"] for i in app["items"]} == PROMISED
    assert queues() == {"new": False, "returned": False, "issuing": False}  # a draft is in no tab
    clock["today"] = date(2026, 2, 6)
    app = call(client, unit, "POST", f"/api/applications/{app_id}/submit", version=app["version"]).json()
    assert queues() == {"new": True, "returned": False, "issuing": False}
    clock["today"] = date(2026, 2, 9)
    r = call(
        client,
        window,
        "POST",
        f"/api/applications/{app_id}/accept",
        version=app["version"],
        gaps=[{"material_code": "geohazard_assessment", "supplement_due": "2026-02-27"}],
    )
    assert r.status_code == 200, r.text
    app = r.json()
    assert queues() == {"new": False, "returned": False, "issuing": False}
    items = {i["item_code"]: i for i in app["items"]}
    ids = {code: i["id"] for code, i in items.items()}
    clock["today"] = date(2026, 2, 11)
    r = call(
        client,
        depts["eco-env"],
        "POST",
        f"/api/items/{ids['environmental_impact']}/correction-requests",
        points=[{"material_code": "eia_report", "text": "补充施工期噪声影响预测"}],
    )
    assert r.status_code == 201, r.text
    eco_request = r.json()["id"]
    clock["today"] = date(2026, 2, 12)
    r = call(
        client,
        depts["water"],
        "POST",
        f"/api/items/{ids['soil_conservation']}/correction-requests",
        points=[
            {"material_code": "soil_plan", "text": "补充弃土场防护措施"},
            {"text": "补充水土流失监测方案"},
        ],
    )
    assert r.status_code == 201, r.text
    water_request = r.json()["id"]
    clock["today"] = date(2026, 2, 13)
    app = client.get(f"/api/applications/{app_id}", headers=window.headers).json()
    r = call(client, window, "POST", f"/api/applications/{app_id}/correction-letter", version=app["version"])
    assert r.status_code == 200, r.text
    app = r.json()
    letter_id = app["letters"][0]["id"]

    # --- with the unit, Fri 2/20 (a holiday): the letter's two clocks stand still ------------------
    for item_id in ids.values():
        date_item(owner_conn, item_id, {"submit": SUBMITTED, "accept": ACCEPTED})
    for code in ("environmental_impact", "soil_conservation"):
        date_item(owner_conn, ids[code], {"return_for_correction": LETTER})
    clock["today"] = date(2026, 2, 20)
    stopped = {
        i["item_code"]: (i["status"], i["elapsed_days"], i["due"], i["colour"])
        for i in client.get(f"/api/applications/{app_id}", headers=window.headers).json()["items"]
    }
    # 4 days used (2/10–2/13); no due date while the unit has the file. The others ran 2/10–2/14 = 5.
    assert stopped["environmental_impact"] == ("correction", 4, None, "green")
    assert stopped["soil_conservation"] == ("correction", 4, None, "green")
    assert stopped["land_planning_permit"] == ("accepted", 5, "2026-02-28", "green")
    (work,) = [w for w in client.get("/api/my-work", headers=depts["water"].headers).json()
               if w["application_id"] == app_id]  # fmt: skip
    assert (work["item"]["elapsed_days"], work["item"]["due"]) == (4, None)
    plan = client.get(f"/api/projects/{p['id']}/plan?as_of=2026-02-20", headers=window.headers).json()
    in_plan = {i["item_code"]: i for i in plan["items"] if i["id"] in ids.values()}
    assert (in_plan["soil_conservation"]["elapsed_days"], in_plan["soil_conservation"]["due_on"]) == (4, None)
    # The forecast: at the earliest resubmitted today, with the days left: 环评 16 after 2/20 → 2/24 (1) …
    # 2/28 (5), 3/02 … 3/06 (10), 3/09 … 3/13 (15), 3/16 (16); 水保 11 → 3/09.
    assert in_plan["environmental_impact"]["schedule"]["earliest_finish"] == "2026-03-16"
    assert in_plan["soil_conservation"]["schedule"]["earliest_finish"] == "2026-03-09"

    clock["today"] = date(2026, 2, 24)
    new_eia = library(owner_conn, unit.org_id, "eia_report", project_id=p["id"])
    r = call(client, unit, "PUT", f"/api/applications/{app_id}/materials/eia_report", material_id=new_eia)
    assert r.status_code == 200, r.text
    r = call(client, unit, "POST", f"/api/applications/{app_id}/resubmit", version=r.json()["version"])
    assert r.status_code == 200, r.text
    clock["today"] = date(2026, 2, 25)
    geo = library(owner_conn, unit.org_id, "geohazard_assessment", project_id=p["id"])
    r = call(
        client, unit, "PUT", f"/api/applications/{app_id}/materials/geohazard_assessment", material_id=geo
    )
    assert r.status_code == 200, r.text

    # --- dated by hand, as the steps would have happened ------------------------------------------
    stamp(owner_conn, "approval.application", "submitted_at", SUBMITTED, "id = %s", app_id)
    stamp(owner_conn, "approval.application", "accepted_at", ACCEPTED, "id = %s", app_id)
    for action, local in (
        ("open", OPENED),
        ("attach", OPENED),
        ("submit", SUBMITTED),
        ("accept", ACCEPTED),
        ("send_letter", LETTER),
        ("resubmit", RESUBMITTED),
    ):
        stamp(owner_conn, "approval.application_event", "at", local, "application_id = %s AND action = %s",
              app_id, action)  # fmt: skip
    stamp(owner_conn, "approval.correction_request", "requested_at", ECO_ASKS, "id = %s", eco_request)
    stamp(owner_conn, "approval.correction_request", "requested_at", WATER_ASKS, "id = %s", water_request)
    stamp(owner_conn, "approval.correction_letter", "sent_at", LETTER, "id = %s", letter_id)
    stamp(owner_conn, "approval.correction_letter", "resubmitted_at", RESUBMITTED, "id = %s", letter_id)
    stamp(owner_conn, "approval.item", "supplemented_at", SUPPLEMENTED, "id = %s", ids["land_pre_review"])
    for item_id in ids.values():
        date_item(owner_conn, item_id, {"submit": SUBMITTED, "accept": ACCEPTED})
    for code in ("environmental_impact", "soil_conservation"):
        date_item(owner_conn, ids[code], {"return_for_correction": LETTER, "resubmit": RESUBMITTED})
    date_item(owner_conn, ids["land_pre_review"], {"supplement": SUPPLEMENTED})

    # --- mid-review, Thu 3/05: every running clock read everywhere ---------------------------------
    clock["today"] = MID
    expected = {code: (ELAPSED_MID[code][0], DUE[code], ELAPSED_MID[code][1]) for code in STAGE_ITEMS}
    app = client.get(f"/api/applications/{app_id}", headers=window.headers).json()
    assert {i["item_code"]: (i["elapsed_days"], i["due"], i["colour"]) for i in app["items"]} == expected
    assert {i["item_code"]: i["started_on"] for i in app["items"]} == dict.fromkeys(STAGE_ITEMS, "2026-02-09")
    # The unit sees the same figures as the window.
    as_unit = client.get(f"/api/applications/{app_id}", headers=unit.headers).json()
    assert {i["item_code"]: (i["elapsed_days"], i["due"], i["colour"]) for i in as_unit["items"]} == expected
    # 我的待办: each department sees its own items of this application with the same clock.
    for dept, acct in depts.items():
        work = client.get("/api/my-work", headers=acct.headers).json()
        mine = {w["item"]["item_code"]: w for w in work if w["application_id"] == app_id}
        assert set(mine) == {c for c, d in STAGE_ITEMS.items() if d == dept}, dept
        for code, w in mine.items():
            assert (w["item"]["elapsed_days"], w["item"]["due"], w["item"]["colour"]) == expected[code]
            assert w["application_number"] == app["number"]
    # The plan (e-supervision's view of the project).
    plan = client.get(f"/api/projects/{p['id']}/plan?as_of={MID}", headers=window.headers).json()
    in_plan = {i["item_code"]: i for i in plan["items"] if i["id"] in ids.values()}
    assert {c: (i["elapsed_days"], i["due_on"]) for c, i in in_plan.items()} == {
        c: (e[0], e[1]) for c, e in expected.items()
    }
    assert {c: i["started_on"] for c, i in in_plan.items()} == dict.fromkeys(STAGE_ITEMS, "2026-02-09")
    # Its forecast: a running item finishes on its due date, or today (3/05) if that has passed.
    assert {c: i["schedule"]["earliest_finish"] for c, i in in_plan.items()} == {
        c: max(DUE[c], MID.isoformat()) for c in STAGE_ITEMS
    }
    # Warnings: red = the one past its promise (建设用地规划许可 14 > 10, due 2/28), yellow = the three at
    # ≥ 80 %; their days and due dates are the application's.
    warned = client.get(f"/api/warnings?project_id={p['id']}&as_of={MID}", headers=window.headers).json()
    by_item = {(w["item_id"], w["kind"]): w for w in warned if w["item_id"] in ids.values()}
    code_of = {v: k for k, v in ids.items()}
    assert {(code_of[i], k, w["level"]) for (i, k), w in by_item.items()} == {
        ("land_planning_permit", "overdue", "red"),
        ("soil_conservation", "near_limit", "yellow"),
        ("forest_use_permit", "near_limit", "yellow"),
        ("heritage_impact", "near_limit", "yellow"),
    }
    for (item_id, _), w in by_item.items():
        code = code_of[item_id]
        assert (w["elapsed_days"], w["due_on"]) == (ELAPSED_MID[code][0], DUE[code]), code
    # KPIs on 3/05: nothing finished, one running past its promise.
    kpi = client.get(f"/api/kpis?project_id={p['id']}&as_of={MID}", headers=window.headers).json()
    assert [(k["items"], k["finished"], k["overdue"]) for k in kpi] == [(6, 0, 1)]

    # The receipt: accepted on 2/09 (district date), each item's promised completion date = its due.
    page = client.get(f"/api/applications/{app_id}/receipt.html", headers=unit.headers)
    assert page.status_code == 200, page.text
    assert "：2026-02-09<" in page.text and "2026-02-08" not in page.text
    names = {i["item_code"]: i["name_zh"] for i in app["items"]}
    rows = {r[0]: r for r in cells(page.text) if len(r) == 4 and r[0] in names.values()}
    # The receipt is the promise handed over at acceptance (a reprint is the same document): its dates are
    # the clock's due dates except where a correction stopped the clock since.
    assert {code: (int(rows[n][2]), rows[n][3]) for code, n in names.items()} == {
        code: (PROMISED[code], PROMISED_ON_RECEIPT[code]) for code in STAGE_ITEMS
    }
    assert {c for c in STAGE_ITEMS if PROMISED_ON_RECEIPT[c] != DUE[c]} == {
        "environmental_impact",
        "soil_conservation",
    }
    dept_names = {i["item_code"]: i["department_name"] for i in app["items"]}
    assert {code: rows[n][1] for code, n in names.items()} == dept_names
    # The English page and the PDF print the same dates.
    english = client.get(f"/api/applications/{app_id}/receipt.html?lang=en", headers=unit.headers).text
    en_rows = [r for r in cells(english) if len(r) == 4 and r[2].isdigit()]
    assert sorted((int(r[2]), r[3]) for r in en_rows) == sorted(
        (PROMISED[c], PROMISED_ON_RECEIPT[c]) for c in STAGE_ITEMS
    )
    pdf = client.get(f"/api/applications/{app_id}/receipt.pdf", headers=unit.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "2026-02-09" in text and "2026-02-08" not in text
    for due in set(PROMISED_ON_RECEIPT.values()) | {"2026-02-27"}:
        assert due in text, due
    # The gap: 地质灾害危险性评估报告 for 用地预审, due 2/27 (as the item says).
    gap_rows = [r for r in cells(page.text) if len(r) == 3 and r[1] == names["land_pre_review"]]
    assert gap_rows == [["地质灾害危险性评估报告", names["land_pre_review"], "2026-02-27"]]

    # The letter: every point of the JSON letter, under its department, dated 2/13 (district date).
    (letter,) = app["letters"]
    assert letter["sent_at"] and utc(LETTER) == datetime.fromisoformat(letter["sent_at"])
    page = client.get(f"/api/applications/{app_id}/letters/1.html", headers=unit.headers)
    assert page.status_code == 200, page.text
    assert "：2026-02-13" in page.text and "2026-02-12" not in page.text
    material_names = {e["code"]: e["name_zh"] for e in app["checklist"]}
    printed: dict[str, list[tuple[str, str]]] = {}
    for section in re.findall(r'<section class="dept">(.*?)</section>', page.text, re.S):
        dept = htmllib.unescape(re.search(r"<h2>\d+\. (.*?)</h2>", section).group(1))  # type: ignore[union-attr]
        for block in re.split(r"<h3>", section)[1:]:
            item_name = htmllib.unescape(block.split("</h3>", 1)[0])
            for li in re.findall(r"<li>(.*?)</li>", block, re.S):
                printed.setdefault(dept, []).append((item_name, htmllib.unescape(re.sub(r"<[^>]+>", "", li))))
    from_json: dict[str, list[tuple[str, str]]] = {}
    for point in letter["points"]:
        prefix = f"{material_names[point['material_code']]}：" if point.get("material_code") else ""
        from_json.setdefault(point["department_name"], []).append(
            (point["item_name_zh"], prefix + point["text"])
        )
    assert {d: sorted(v) for d, v in printed.items()} == {d: sorted(v) for d, v in from_json.items()}
    assert sum(len(v) for v in printed.values()) == 3 and len(printed) == 2

    # --- the decisions ------------------------------------------------------------------------------
    for code, (decision, _) in DECIDED.items():
        body: dict[str, Any] = {"decision": decision}
        if decision == "approve_conditional":
            body["conditions"] = "建筑退线不少于 6 米"
        if decision == "refuse":
            body["reasons"] = "项目用地涉及生态公益林"
            body["legal_basis"] = "《建设项目使用林地审核审批管理办法》第四条"
        r = call(client, depts[STAGE_ITEMS[code]], "POST", f"/api/items/{ids[code]}/opinion", **body)
        assert r.status_code == 200, (code, r.text)
    for code, (decision, day) in DECIDED.items():
        last = "reject" if decision == "refuse" else "approve"
        moments = {last: f"{day} 07:05"}
        if owner_conn.execute(
            "SELECT 1 FROM approval.item_event WHERE item_id = %s AND action = 'start_review'", (ids[code],)
        ).fetchone():
            moments = {"start_review": f"{day} 07:04", **moments}
        date_item(owner_conn, ids[code], moments)
        stamp(owner_conn, "approval.opinion", "decided_at", f"{day} 07:05", "item_id = %s", ids[code])
    clock["today"] = date(2026, 3, 16)
    assert queues() == {"new": False, "returned": False, "issuing": True}
    app = client.get(f"/api/applications/{app_id}", headers=window.headers).json()
    final = {i["item_code"]: (i["elapsed_days"], i["due"]) for i in app["items"]}
    assert final == {code: (ELAPSED_FINAL[code], DUE[code]) for code in STAGE_ITEMS}
    plan = client.get(f"/api/projects/{p['id']}/plan?as_of=2026-03-31", headers=window.headers).json()
    assert {
        i["item_code"]: (i["elapsed_days"], i["due_on"]) for i in plan["items"] if i["id"] in ids.values()
    } == final
    assert [w for w in client.get("/api/my-work", headers=depts["pnr"].headers).json()
            if w["application_id"] == app_id] == []  # fmt: skip
    # KPIs: early = fewer days than promised: 17<20, 16<20, 13<15 → 3 (16>10, 15=15, 21>15 are not);
    # approved 5 (林地 refused); one-time pass = approved without a correction: 用地预审, 建设用地规划许可,
    # 文物 → 3 of 5; mean (17+16+13+16+15+21)/6 = 98/6; overdue 16>10 and 21>15 → 2.
    kpi = client.get(f"/api/kpis?project_id={p['id']}&as_of=2026-03-31", headers=window.headers).json()
    assert [
        (k["finished"], k["early"], k["approved"], k["one_time_pass"], k["mean_working_days"], k["overdue"])
        for k in kpi
    ] == [(6, 3, 5, 3, 98 / 6, 2)]
    # By department, in the JSON and in the exported table people open in Excel (rates in %, 2 decimals):
    # pnr 用地预审 17 (early, one-time) + 建设用地规划许可 16 (one-time, overdue) → mean 16.5; eco-env 环评
    # 16 (early, corrected); water 水保 13 (early, corrected); forestry 林地 15 refused; culture 文物 21
    # (overdue).
    by_hand = {  # items, finished, early, early %, approved, one-time, one-time %, mean, overdue
        "pnr": [2, 2, 1, 50.0, 2, 2, 100.0, 16.5, 1],
        "eco-env": [1, 1, 1, 100.0, 1, 0, 0.0, 16.0, 0],
        "water": [1, 1, 1, 100.0, 1, 0, 0.0, 13.0, 0],
        "forestry": [1, 1, 0, 0.0, 0, 0, None, 15.0, 0],
        "culture": [1, 1, 0, 0.0, 1, 1, 100.0, 21.0, 1],
    }
    fields = ("items", "finished", "early", "early_completion_rate", "approved", "one_time_pass",
              "one_time_pass_rate", "mean_working_days", "overdue")  # fmt: skip
    query = f"project_id={p['id']}&as_of=2026-03-31&by=department"
    as_json = client.get(f"/api/kpis?{query}", headers=window.headers).json()
    assert {
        k["key"]: [None if k[f] is None else (round(100 * k[f], 1) if f.endswith("_rate") else k[f])
                   for f in fields]
        for k in as_json
    } == by_hand  # fmt: skip
    export = client.get(f"/api/kpis/export?{query}&format=csv", headers=window.headers)
    assert export.status_code == 200, export.text
    table = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert {row[-1]: [None if c == "" else float(c) for c in row[1:-1]] for row in table[1:]} == by_hand

    # --- issuance -----------------------------------------------------------------------------------
    clock["today"] = date(2026, 3, 17)
    r = call(client, window, "POST", f"/api/applications/{app_id}/issue", version=app["version"])
    assert r.status_code == 200, r.text
    stamp(owner_conn, "approval.application", "issued_at", ISSUED, "id = %s", app_id)
    stamp(owner_conn, "approval.application_event", "at", ISSUED, "application_id = %s AND action = 'issue'",
          app_id)  # fmt: skip
    assert queues() == {"new": False, "returned": False, "issuing": False}
    app = client.get(f"/api/applications/{app_id}", headers=unit.headers).json()
    page = client.get(f"/api/applications/{app_id}/issuance.html", headers=unit.headers)
    assert page.status_code == 200, page.text
    assert "：2026-03-17" in page.text and "2026-03-16" not in page.text
    decided = {r[0]: r for r in cells(page.text) if len(r) == 5 and r[0] in names.values()}
    words = {"approve": "同意", "approve_conditional": "有条件同意", "refuse": "不同意"}
    for code, item in {i["item_code"]: i for i in app["items"]}.items():
        row = decided[names[code]]
        assert item["opinion"]["decision"] == DECIDED[code][0]
        assert (row[1], row[2]) == (dept_names[code], words[DECIDED[code][0]]), code
        for key in ("conditions", "reasons", "legal_basis"):
            if item["opinion"][key]:
                assert item["opinion"][key] in row[3], (code, key)
        assert utc(f"{DECIDED[code][1]} 07:05") == datetime.fromisoformat(item["opinion"]["decided_at"])

    # --- each item's event log: the actions in order, at the times above ---------------------------
    for code, item_id in ids.items():
        events = client.get(f"/api/items/{item_id}/events", headers=unit.headers).json()
        seen = [(e["action"], datetime.fromisoformat(e["at"]).astimezone(SHANGHAI)) for e in events]
        assert [a for a, _ in seen][:2] == ["submit", "accept"]
        assert seen[1][1] == utc(ACCEPTED)
        assert [m for _, m in seen] == sorted(m for _, m in seen), code  # in time order
        decision, day = DECIDED[code]
        assert seen[-1] == ("reject" if decision == "refuse" else "approve", utc(f"{day} 07:05"))
        if code in ("environmental_impact", "soil_conservation"):
            assert ("return_for_correction", utc(LETTER)) in seen and ("resubmit", utc(RESUBMITTED)) in seen
        for e in events:
            assert (e["detail"] or {}).get("application_id") == app_id, (code, e["action"])
