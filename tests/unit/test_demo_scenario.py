"""The demo history's scenario is a pure function of the seed: same seed, same steps; another, others.

Plans are instantiated from the shipped templates (no database); the calendar is the shipped one.
"""

from __future__ import annotations

import json
from datetime import date

from app.calendar.store import SEED_FILE
from app.calendar.workdays import build_calendar
from app.demo.approvals import EARLY_RATE, ItemShape, Quota, kind_of, plan_projects, schedule
from app.projects.templates import get_template, instantiate

TODAY = date(2026, 12, 7)
START = date(2024, 1, 2)


def _calendar():  # type: ignore[no-untyped-def]
    seed = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    days = [
        (date.fromisoformat(d if isinstance(d, str) else d["date"]), working)
        for y in seed["years"].values()
        for working, key in ((False, "holidays"), (True, "makeup_working_days"))
        for d in y.get(key, [])
    ]
    return build_calendar([int(y) for y in seed["years"]] + list(range(2027, 2031)), days)


def _steps(seed: int):  # type: ignore[no-untyped-def]
    cal = _calendar()
    specs = plan_projects(seed, "small", cal, START, TODAY)
    plans, next_id = {}, 1
    for spec in specs:
        shapes = []
        for p in instantiate(get_template(kind_of(spec.kind).template), spec.investment_wan):
            if p.merged_into is None:
                shapes.append(ItemShape(next_id, p.item.code, p.item.stage, p.item.promised_days))
                next_id += 1
        plans[spec.key] = shapes
    return specs, schedule(seed, specs, plans, cal, TODAY)


def test_same_seed_same_history_other_seed_another() -> None:
    specs, steps = _steps(2017)
    again_specs, again = _steps(2017)
    assert specs == again_specs and steps == again
    other_specs, other = _steps(2018)
    assert other_specs != specs and other != steps


def test_steps_lie_in_the_history_and_in_order() -> None:
    _, steps = _steps(2017)
    assert steps and all(START <= s.day <= TODAY for s in steps)
    assert steps == sorted(steps, key=lambda s: (s.day, s.minute, s.project))
    assert {s.day.year for s in steps} == {2024, 2025, 2026}


def test_quota_is_exact_for_every_prefix() -> None:
    q = Quota(EARLY_RATE)
    for n in range(1, 2000):
        q.take(q.peek())
        assert int(EARLY_RATE * n) <= q.hits <= int(EARLY_RATE * n) + 1
