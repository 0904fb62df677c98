"""KPI formulas and warnings on a hand-made event log (clocks counted by hand on the 2025 calendar)."""

from __future__ import annotations

from datetime import date

from app.projects.kpis import GroupBy, ItemFact, compute_kpis
from app.projects.supervision import item_warnings
from app.projects.timing import Event, timing
from tests.calendar_data import shipped_calendar

AS_OF = date(2025, 11, 14)


def d(month: int, day: int) -> date:
    return date(2025, month, day)


# (department, item, promised, events)
LOG = [
    # 1: accepted Mon 3/3, approved 3/10 → 3/4-3/7, 3/10 = 5 days: early, one-time pass.
    ("pnr", "land_pre_review", 20, [Event("accepted", d(3, 3)), Event("approved", d(3, 10))]),
    # 2: 3/4-3/5 = 2 days, back for correction (clock stops), resubmitted 3/12, approved 3/24:
    #    3/13, 3/14, 3/17-3/21, 3/24 = 8 → 10 = promised: not early, not a one-time pass, not overdue.
    (
        "pnr",
        "land_planning_permit",
        10,
        [
            Event("accepted", d(3, 3)),
            Event("correction", d(3, 5)),
            Event("under_review", d(3, 12)),
            Event("approved", d(3, 24)),
        ],
    ),
    # 3: accepted 9/15, approved 10/20 across National Day: 9/16-9/19 4, 9/22-9/26 9, Sun 9/28 10,
    #    9/29-9/30 12, 10/9-10/10 14, Sat 10/11 15, 10/13-10/17 20, 10/20 21 > 20: overdue, one-time pass.
    ("drc", "feasibility_study", 20, [Event("accepted_conditional", d(9, 15)), Event("approved", d(10, 20))]),
    # 4: accepted 10/9, rejected 10/13: 10/10, Sat 10/11, 10/13 = 3: finished early, not approved.
    ("drc", "preliminary_design", 20, [Event("accepted", d(10, 9)), Event("rejected", d(10, 13))]),
    # 5: accepted 11/3, still under review on 11/14: 11/4-11/7 4, 11/10-11/14 9 > 5: overdue, open.
    ("drc", "energy_review", 5, [Event("accepted", d(11, 3)), Event("under_review", d(11, 4))]),
    # 6: submitted only: no clock, not counted.
    ("drc", "stability_assessment", 10, [Event("submitted", d(11, 3))]),
]


def facts() -> list[ItemFact]:
    cal = shipped_calendar()
    return [ItemFact(dept, code, promised, timing(ev, cal, AS_OF)) for dept, code, promised, ev in LOG]


def test_clocks_by_hand() -> None:
    assert [f.timing.elapsed_days for f in facts()] == [5, 10, 21, 3, 9, 0]
    assert [f.timing.corrections for f in facts()] == [0, 1, 0, 0, 0, 0]
    # A supplement while back for correction is not a second correction.
    events = [
        Event("accepted", d(3, 3)),
        Event("correction", d(3, 5)),
        Event("correction", d(3, 6), "supplement"),
    ]
    assert timing(events, shipped_calendar(), AS_OF).corrections == 1


def test_kpi_totals() -> None:
    (total,) = compute_kpis(facts(), GroupBy.TOTAL, AS_OF)
    assert (total.items, total.finished, total.early, total.approved, total.one_time_pass) == (5, 4, 2, 3, 2)
    assert total.early_completion_rate == 0.5
    assert total.one_time_pass_rate == 2 / 3
    assert total.mean_working_days == (5 + 10 + 21 + 3) / 4
    assert total.overdue == 2


def test_kpis_by_department_and_month() -> None:
    rows = {r.key: r for r in compute_kpis(facts(), GroupBy.DEPARTMENT, AS_OF)}
    assert set(rows) == {"drc", "pnr"}
    assert (rows["pnr"].early_completion_rate, rows["pnr"].one_time_pass_rate) == (0.5, 0.5)
    assert rows["pnr"].mean_working_days == 7.5 and rows["pnr"].overdue == 0
    assert (rows["drc"].early_completion_rate, rows["drc"].one_time_pass_rate) == (0.5, 1.0)
    assert rows["drc"].mean_working_days == 12 and rows["drc"].overdue == 2
    months = {r.key: r.items for r in compute_kpis(facts(), GroupBy.MONTH, AS_OF)}
    assert months == {"2025-03": 2, "2025-10": 2, "2025-11": 1}
    items = {r.key for r in compute_kpis(facts(), GroupBy.ITEM, AS_OF)}
    assert "stability_assessment" not in items and len(items) == 5
    started = next(f for f in facts() if f.timing.started)
    named = [
        ItemFact("drc", "project_proposal", 10, started.timing, "项目建议书批复", "Project proposal approval")
    ]
    (by_item,) = compute_kpis(named, GroupBy.ITEM, AS_OF)
    assert (by_item.name_zh, by_item.name_en) == ("项目建议书批复", "Project proposal approval")
    assert compute_kpis(named, GroupBy.DEPARTMENT, AS_OF)[0].name_zh is None


def row(
    code: str,
    promised: int,
    status: str,
    missing: list[str] | None = None,
    due: date | None = None,
    statutory: int = 60,
) -> tuple:
    return (
        1,
        code,
        f"{code}事项",
        "pnr",
        promised,
        status,
        missing,
        due,
        None,
        9,
        "2025-440307-47-01-000010",
        "学校",
        f"Item {code}",
        statutory,
    )


def test_warning_levels() -> None:
    cal = shipped_calendar()
    accepted = [Event("accepted", d(11, 3))]
    # 9 of 12 days used = 75 %: no warning; 9 of 11 = 82 %: yellow; 9 of 9: yellow (not yet overdue);
    # 9 of 8: red.
    levels = []
    for promised in (12, 11, 9, 8):
        t = timing(accepted, cal, AS_OF)
        levels.append([w.level for w in item_warnings(row("x", promised, "under_review"), t, cal, AS_OF)])
    assert levels == [[], ["yellow"], ["yellow"], ["red"]]
    t = timing([Event("accepted_conditional", d(11, 3))], cal, AS_OF)
    late = item_warnings(row("x", 30, "accepted_conditional", ["地形图"], d(11, 13)), t, cal, AS_OF)
    assert [(w.level, w.kind) for w in late] == [("red", "supplement_overdue")]
    on_time = item_warnings(row("x", 30, "accepted_conditional", ["地形图"], d(11, 14)), t, cal, AS_OF)
    assert on_time == []
    w = item_warnings(row("x", 11, "under_review"), timing(accepted, cal, AS_OF), cal, AS_OF)[0]
    assert w.due_on == d(11, 18) and w.used_pct == 81.8
    # Past the statutory limit too (9 of 8 legal days): a second, graver red warning; at 9 of 9 not yet.
    both = item_warnings(row("x", 8, "under_review", statutory=8), timing(accepted, cal, AS_OF), cal, AS_OF)
    assert [(w.level, w.kind) for w in both] == [("red", "overdue"), ("red", "statutory_overdue")]
    assert both[1].message_zh == "x事项已超过法定办理时限（已用 9/8 个工作日）。"
    assert both[1].message_en == "Item x is past its statutory time limit (9/8 working days)."
    assert both[1].statutory_days == 8
    within = item_warnings(row("x", 8, "under_review", statutory=9), timing(accepted, cal, AS_OF), cal, AS_OF)
    assert [w.kind for w in within] == ["overdue"]
    # The warning names the item in both languages.
    assert (w.item_name_zh, w.item_name_en) == ("x事项", "Item x")
    assert w.message_zh.startswith("x事项已用") and w.message_en.startswith("Item x has used 82%")
