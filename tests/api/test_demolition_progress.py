"""Progress, burndown and forecast on a hand-made event log (known answers)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.demolition.models import UnitStatus
from app.demolition.progress import StatusEvent, UnitFact, burndown, forecast, progress_of
from tests.api.test_demolition_ledger import new_project

# code, floor area, households, sub-district
UNITS = [
    ("A", 100, 2, "sd-pinghu"),
    ("B", 300, 3, "sd-pinghu"),
    ("C", 200, 1, "sd-buji"),
    ("D", 400, 4, "sd-buji"),
]
# day (March 2026, district time), unit, from, to
LOG = [
    (1, "A", None, "surveyed"),
    (1, "B", None, "surveyed"),
    (1, "C", None, "surveyed"),
    (1, "D", None, "surveyed"),
    (2, "A", "surveyed", "valued"),
    (3, "A", "valued", "demolished"),
    (5, "B", "surveyed", "demolished"),
    (5, "C", "surveyed", "valued"),
]


def test_burndown_and_forecast_pure() -> None:
    ids = {code: i for i, (code, *_rest) in enumerate(UNITS, start=1)}
    final = {"A": "demolished", "B": "demolished", "C": "valued", "D": "surveyed"}
    facts = [UnitFact(ids[c], UnitStatus(final[c]), a, h, sd, sd) for c, a, h, sd in UNITS]
    events = [StatusEvent(ids[u], date(2026, 3, d), UnitStatus(to)) for d, u, _, to in LOG]
    series = burndown(facts, events, date(2026, 3, 6))
    assert [
        (p.day.day, p.units, p.remaining_units, p.remaining_floor_area_m2, p.remaining_households)
        for p in series
    ] == [
        (1, 4, 4, 1000, 10),
        (2, 4, 4, 1000, 10),
        (3, 4, 3, 900, 8),
        (4, 4, 3, 900, 8),
        (5, 4, 2, 600, 5),
        (6, 4, 2, 600, 5),
    ]
    assert series[1].by_status["valued"] == 1 and series[4].by_status == {
        "surveyed": 1,
        "valued": 1,
        "signed": 0,
        "paid": 0,
        "vacated": 0,
        "demolished": 2,
        "handed_over": 0,
    }
    f = forecast(series, date(2026, 3, 6))
    # 2 units cleared in the 5 days since 1 March: 0.4 a day; 2 left → 5 days → 11 March.
    assert (f.pace_units_per_day, f.window_days, f.remaining_units, f.finish_on) == (
        0.4,
        5,
        2,
        date(2026, 3, 11),
    )
    assert progress_of(facts) == 40.0  # 400 of 1000 m²
    # Nothing cleared in the window: no forecast.
    assert forecast(burndown(facts, events[:5], date(2026, 3, 6)), date(2026, 3, 6)).finish_on is None
    assert progress_of([]) is None
    # Everything down on 8 March: the forecast is that day, not a date to come.
    done = [*events, StatusEvent(ids["C"], date(2026, 3, 8), UnitStatus.DEMOLISHED)]
    done.append(StatusEvent(ids["D"], date(2026, 3, 8), UnitStatus.HANDED_OVER))
    finished = forecast(burndown(facts, done, date(2026, 3, 12)), date(2026, 3, 12))
    assert (finished.finish_on, finished.remaining_units) == (date(2026, 3, 8), 0)


def test_progress_api_on_a_hand_made_event_log(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin, viewer = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.VIEWER, "pnr")
    p = new_project(client, admin)
    ids = {}
    for code, area, households, sd in UNITS:
        row = owner_conn.execute(
            "INSERT INTO demolition.unit"
            " (project_id, unit_code, floor_area_m2, households, subdistrict_id, source)"
            " VALUES (%s, %s, %s, %s, (SELECT id FROM auth.organisation WHERE code = %s), 'manual')"
            " RETURNING id",
            (p["id"], code, area, households, sd),
        ).fetchone()
        ids[code] = row[0]
    for day, code, frm, to in LOG:
        owner_conn.execute(
            "INSERT INTO demolition.unit_event (unit_id, project_id, kind, from_status, to_status, irregular,"
            " reason, actor_name, at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'tests',"
            " (%s::timestamp AT TIME ZONE 'Asia/Shanghai'))",
            (
                ids[code],
                p["id"],
                "create" if frm is None else "transition",
                frm,
                to,
                to == "demolished" and frm != "vacated",
                "手工日志",
                f"2026-03-{day:02d} 23:30",  # late evening: still that day in the district
            ),
        )
        owner_conn.execute("UPDATE demolition.unit SET status = %s WHERE id = %s", (to, ids[code]))
    r = client.get(f"/api/demolition/projects/{p['id']}/progress?as_of=2026-03-06", headers=viewer.headers)
    assert r.status_code == 200, r.text
    prog = r.json()
    total = prog["total"]
    assert (total["units"], total["floor_area_m2"], total["households"]) == (4, 1000.0, 10)
    assert (total["cleared_units"], total["cleared_floor_area_m2"], total["cleared_households"]) == (
        2,
        400.0,
        5,
    )
    assert total["progress_pct"] == 40.0
    tally = {t["status"]: (t["units"], t["floor_area_m2"], t["households"]) for t in total["by_status"]}
    assert (
        tally["demolished"] == (2, 400.0, 5)
        and tally["valued"] == (1, 200.0, 1)
        and tally["surveyed"] == (1, 400.0, 4)
    )
    by_sd = {b["key"]: (b["units"], b["progress_pct"]) for b in prog["by_subdistrict"]}
    assert by_sd == {"sd-buji": (2, 0.0), "sd-pinghu": (2, 100.0)}
    assert [pt["remaining_units"] for pt in prog["burndown"]] == [4, 4, 3, 3, 2, 2]
    assert prog["burndown"][0]["day"] == "2026-03-01" and prog["burndown"][-1]["day"] == "2026-03-06"
    assert prog["forecast"]["finish_on"] == "2026-03-11" and prog["forecast"]["pace_units_per_day"] == 0.4
    # As of 3 March the log is replayed only that far.
    r = client.get(f"/api/demolition/projects/{p['id']}/progress?as_of=2026-03-03", headers=viewer.headers)
    assert [pt["remaining_units"] for pt in r.json()["burndown"]] == [4, 4, 3]
    early = r.json()["total"]
    assert (early["cleared_units"], early["progress_pct"]) == (1, 10.0)  # only A (100 of 1000 m²) was down


def test_progress_per_subdistrict_over_visible_projects(client: TestClient, make_account: Any) -> None:
    from tests.api.test_demolition_ledger import new_unit, step

    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    p = new_project(client, admin)
    u = new_unit(client, coord, p["id"], "SD-1", subdistrict_code="sd-pingdi", floor_area_m2="50")
    new_unit(client, coord, p["id"], "SD-2", subdistrict_code="sd-pingdi", floor_area_m2="150")
    assert step(client, coord, u, "demolished", reason="危房").status_code == 200
    rows = client.get("/api/demolition/progress/subdistricts", headers=coord.headers).json()
    pingdi = next(r for r in rows if r["key"] == "sd-pingdi")
    assert pingdi["name_zh"] == "坪地街道办事处" and pingdi["units"] >= 2
    assert pingdi["cleared_floor_area_m2"] >= 50


def test_a_ledger_of_one_day_is_described_not_forecast() -> None:
    """Day one: the forecast says what stands and what is down, never a pace of zero days or a finish date."""
    ids = {code: i for i, (code, *_rest) in enumerate(UNITS, start=1)}
    facts = [UnitFact(ids[c], UnitStatus("surveyed"), a, h, sd, sd) for c, a, h, sd in UNITS]
    facts[0] = UnitFact(ids["A"], UnitStatus.DEMOLISHED, 100, 2, "sd-pinghu", "sd-pinghu")
    events = [StatusEvent(ids[u], date(2026, 3, 1), UnitStatus(to)) for _d, u, _f, to in LOG[:4]]
    events.append(StatusEvent(ids["A"], date(2026, 3, 1), UnitStatus.DEMOLISHED))
    f = forecast(burndown(facts, events, date(2026, 3, 1)), date(2026, 3, 1))
    assert (f.finish_on, f.window_days, f.remaining_units, f.pace_units_per_day) == (None, 0, 3, 0)
    assert f.message_zh == (
        "台账自 2026-03-01 起记录：共 4 个单元，已拆除 1 个，尚余 3 个；记录满一天后按拆除速度预测完成日期。"
    )
    assert "0 天" not in f.message_zh and "0 days" not in f.message_en
    assert f.message_en.startswith("The ledger starts on 2026-03-01: 4 units, 1 cleared, 3 standing;")
    # A week with nothing cleared: the message says how many still stand.
    later = forecast(burndown(facts, events, date(2026, 3, 8)), date(2026, 3, 8))
    assert later.finish_on is None and later.message_zh == (
        "近 7 天没有拆除进展（尚余 3 个单元未拆除），无法预测完成日期。"
    )


def test_a_far_as_of_gives_the_last_series_days_with_every_earlier_event_applied() -> None:
    # Found by the fuzz test: as_of in the year 9095 used to walk ~2.6 million days (a 10 s stall).
    units = [
        UnitFact(1, UnitStatus.HANDED_OVER, 100.0, 1, "g", "g"),
        UnitFact(2, UnitStatus.SIGNED, 50.0, 2, "g", "g"),
    ]
    events = [
        StatusEvent(1, date(2026, 3, 1), UnitStatus.SURVEYED),
        StatusEvent(2, date(2026, 3, 1), UnitStatus.SURVEYED),
        StatusEvent(1, date(2026, 3, 5), UnitStatus.HANDED_OVER),
        StatusEvent(2, date(2026, 3, 6), UnitStatus.SIGNED),
    ]
    until = date(9095, 11, 9)
    series = burndown(units, events, until)
    assert len(series) == 3 * 366 + 1
    assert series[-1].day == until
    assert series[0].day == date.fromordinal(until.toordinal() - 3 * 366)
    # Unit 1 handed over (cleared), unit 2 signed: one unit and its 2 households remain on every day.
    assert {
        (p.units, p.remaining_units, p.remaining_households, p.remaining_floor_area_m2) for p in series
    } == {(2, 1, 2, 50.0)}
