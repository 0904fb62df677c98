"""Calendar endpoints: known answers, provisional years, the missing-year refusal, the admins' audited
editor (an official year replaces a provisional one; removing it falls back to the provisional one)."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role

OFFICIAL_ONLY = {"provisional_years": [], "calendar_note_zh": None, "calendar_note_en": None}


def test_working_days_endpoint_across_both_2025_golden_weeks(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/calendar/working-days?from=2025-01-20&to=2025-02-14", headers=viewer.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"working_days": 16, **OFFICIAL_ONLY}
    r = client.get("/api/calendar/working-days?from=2025-09-22&to=2025-10-17", headers=viewer.headers)
    assert r.json() == {"working_days": 16, **OFFICIAL_ONLY}


def test_add_working_days_endpoint(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    cases = [
        ("2025-01-24", 1, "2025-01-26"),
        ("2025-09-30", 3, "2025-10-11"),
        ("2025-01-28", 0, "2025-02-05"),
    ]
    for start, days, expected in cases:
        r = client.get(f"/api/calendar/add-working-days?date={start}&days={days}", headers=viewer.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"date": expected, **OFFICIAL_ONLY}


def test_years_are_listed_official_or_provisional(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    body = client.get("/api/calendar/years", headers=viewer.headers).json()
    status = {c["year"]: c["status"] for c in body["calendars"]}
    assert body["years"] == sorted(status) and body["years"][0] == 2024 and body["years"][-1] >= 2035
    assert [status[y] for y in (2024, 2025, 2026)] == ["official"] * 3
    assert all(status[y] == "provisional" for y in range(2027, 2036))
    by_year = {c["year"]: c for c in body["calendars"]}
    assert by_year[2026]["note_zh"] is None
    assert by_year[2027]["note_zh"].startswith("2027 年工作日历为暂定：仅含法定节假日，未含调休")
    year = client.get("/api/calendar/years/2027", headers=viewer.headers).json()
    assert year["status"] == "provisional" and year["makeup_working_days"] == []
    assert [d["date"] for d in year["holidays"] if d["name"] == "春节"] == [
        "2027-02-05",
        "2027-02-06",
        "2027-02-07",
        "2027-02-08",
    ]


def test_working_days_into_provisional_2027_say_so(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    # Mon 12-28 .. Thu 12-31: 4 (official 2026); Fri 1-1 元旦; weekend; Mon 1-4 .. Fri 1-8: 5.
    r = client.get("/api/calendar/working-days?from=2026-12-28&to=2027-01-08", headers=viewer.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["working_days"] == 9 and body["provisional_years"] == [2027]
    assert body["calendar_note_zh"] == (
        "2027 年工作日历为暂定：仅含法定节假日，未含调休及补休安排，以国务院办公厅公布的放假安排为准。"
    )
    assert "provisional" in body["calendar_note_en"]
    # Across 春节 2027: 除夕 Fri 2-5 to 初三 Mon 2-8 off (with the weekend): Thu 2-4 + 1 = Tue 2-9.
    for start, days, expected in [("2027-02-04", 1, "2027-02-09"), ("2027-02-04", 3, "2027-02-11")]:
        r = client.get(f"/api/calendar/add-working-days?date={start}&days={days}", headers=viewer.headers)
        assert r.status_code == 200, r.text
        assert (r.json()["date"], r.json()["provisional_years"]) == (expected, [2027])


def test_missing_year_answers_422_naming_the_year(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    # Far past the generated provisional years: still refused with the same message.
    r = client.get("/api/calendar/working-days?from=2049-12-28&to=2050-01-05", headers=viewer.headers)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "calendar_year_missing" and body["year"] == 2049
    assert body["message_zh"] == "2049 年的工作日历（节假日及调休）尚未加载，无法计算工作日。"
    assert "2049" in body["message_en"]
    r = client.get("/api/calendar/add-working-days?date=2019-06-03&days=2", headers=viewer.headers)
    assert r.status_code == 422 and r.json()["year"] == 2019


def test_bad_input_is_a_clear_4xx(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/calendar/working-days?from=2025-02-14&to=2025-01-20", headers=viewer.headers)
    assert r.status_code == 422 and r.json()["code"] == "bad_range"
    r = client.get("/api/calendar/working-days?from=2025-13-01&to=2025-01-20", headers=viewer.headers)
    assert r.status_code == 422


def audit_rows(conn: psycopg.Connection[Any], action: str, year: int) -> list[tuple[Any, Any]]:
    return conn.execute(
        "SELECT before, after FROM audit.event WHERE action = %s AND object_id = %s ORDER BY id",
        (action, str(year)),
    ).fetchall()


def test_an_official_year_replaces_the_provisional_one_and_falls_back_to_it(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    admin, reviewer = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.REVIEWER, "drc")
    body = {
        "source": "test",
        "holidays": [{"date": "2031-01-01", "name": "元旦"}],
        "makeup_working_days": [{"date": "2031-01-04", "name": "元旦调休上班"}],
    }
    week = "/api/calendar/working-days?from=2031-01-01&to=2031-01-07"
    # Provisional 2031: Wed 1-1 off, then 1-2, 1-3, 1-6, 1-7 = 4.
    r = client.get(week, headers=reviewer.headers)
    assert (r.json()["working_days"], r.json()["provisional_years"]) == (4, [2031])
    assert client.put("/api/calendar/years/2031", json=body, headers=reviewer.headers).status_code == 403
    r = client.put("/api/calendar/years/2031", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "official" and r.json()["note_zh"] is None
    try:
        # Official 2031: Saturday 01-04 is worked: 1/2, 1/3, 1/4, 1/6, 1/7 = 5, and nothing provisional.
        r = client.get(week, headers=reviewer.headers)
        assert r.json() == {"working_days": 5, **OFFICIAL_ONLY}
        years = client.get("/api/calendar/years", headers=reviewer.headers).json()["calendars"]
        assert {c["year"]: c["status"] for c in years}[2031] == "official"
        [(before, after)] = audit_rows(owner_conn, "calendar.replace_year", 2031)
        assert before["status"] == "provisional" and after["status"] == "official"
        assert after["makeup_working_days"] == [{"date": "2031-01-04", "name": "元旦调休上班"}]
        bad = dict(body, holidays=[{"date": "2030-01-01", "name": "x"}])
        r = client.put("/api/calendar/years/2031", json=bad, headers=admin.headers)
        assert r.status_code == 422
    finally:
        assert client.delete("/api/calendar/years/2031", headers=admin.headers).status_code == 204
    # Removing the official year brings the provisional one back (audited), not a refusal.
    r = client.get(week, headers=reviewer.headers)
    assert (r.json()["working_days"], r.json()["provisional_years"]) == (4, [2031])
    assert client.get("/api/calendar/years/2031", headers=reviewer.headers).json()["status"] == "provisional"
    [(before, after)] = audit_rows(owner_conn, "calendar.delete_year", 2031)
    assert before["status"] == "official" and after["status"] == "provisional"


def test_a_year_without_a_provisional_calendar_is_unloaded(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    body = {"source": "test", "holidays": [{"date": "2060-01-01", "name": "元旦"}]}
    assert client.put("/api/calendar/years/2060", json=body, headers=admin.headers).status_code == 200
    assert client.delete("/api/calendar/years/2060", headers=admin.headers).status_code == 204
    r = client.get("/api/calendar/working-days?from=2060-01-01&to=2060-01-07", headers=admin.headers)
    assert r.status_code == 422 and r.json()["year"] == 2060
    [(before, after)] = audit_rows(owner_conn, "calendar.delete_year", 2060)
    assert before["status"] == "official" and after is None
    assert client.delete("/api/calendar/years/2060", headers=admin.headers).status_code == 404
    r = client.put("/api/calendar/years/2101", json=body, headers=admin.headers)
    assert r.status_code == 422
