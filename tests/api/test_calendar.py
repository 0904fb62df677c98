"""Calendar endpoints: known answers, the missing-year refusal, the admins' audited editor."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth.policy import Role


def test_working_days_endpoint_across_both_2025_golden_weeks(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/calendar/working-days?from=2025-01-20&to=2025-02-14", headers=viewer.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"working_days": 16}
    r = client.get("/api/calendar/working-days?from=2025-09-22&to=2025-10-17", headers=viewer.headers)
    assert r.json() == {"working_days": 16}


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
        assert r.json() == {"date": expected}


def test_missing_year_answers_422_naming_the_year(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/calendar/working-days?from=2026-12-28&to=2027-01-05", headers=viewer.headers)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "calendar_year_missing" and body["year"] == 2027
    assert "2027" in body["message_zh"] and "2027" in body["message_en"]
    r = client.get("/api/calendar/add-working-days?date=2019-06-03&days=2", headers=viewer.headers)
    assert r.status_code == 422 and r.json()["year"] == 2019


def test_bad_input_is_a_clear_4xx(client: TestClient, make_account: Any) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/calendar/working-days?from=2025-02-14&to=2025-01-20", headers=viewer.headers)
    assert r.status_code == 422 and r.json()["code"] == "bad_range"
    r = client.get("/api/calendar/working-days?from=2025-13-01&to=2025-01-20", headers=viewer.headers)
    assert r.status_code == 422


def test_admin_loads_a_year_audited_others_may_not(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    admin, reviewer = make_account(Role.ADMIN, "gov-data"), make_account(Role.REVIEWER, "drc")
    body = {
        "source": "test",
        "holidays": [{"date": "2031-01-01", "name": "元旦"}],
        "makeup_working_days": [{"date": "2031-01-04", "name": "元旦调休上班"}],
    }
    assert client.put("/api/calendar/years/2031", json=body, headers=reviewer.headers).status_code == 403
    r = client.put("/api/calendar/years/2031", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    try:
        # 2031-01-01 is Wednesday (off); Saturday 01-04 is worked: 1/2, 1/3, 1/4, 1/6, 1/7 = 5.
        r = client.get("/api/calendar/working-days?from=2031-01-01&to=2031-01-07", headers=reviewer.headers)
        assert r.json() == {"working_days": 5}
        audit = owner_conn.execute(
            "SELECT count(*) FROM audit.event WHERE action = 'calendar.replace_year' AND object_id = '2031'"
        ).fetchone()
        assert audit is not None and audit[0] == 1
        bad = dict(body, holidays=[{"date": "2030-01-01", "name": "x"}])
        r = client.put("/api/calendar/years/2031", json=bad, headers=admin.headers)
        assert r.status_code == 422
    finally:
        assert client.delete("/api/calendar/years/2031", headers=admin.headers).status_code == 204
    r = client.get("/api/calendar/working-days?from=2031-01-01&to=2031-01-07", headers=reviewer.headers)
    assert r.status_code == 422
