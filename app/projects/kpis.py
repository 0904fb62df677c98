"""Performance indicators computed from the event log (never stored counters).

Per item with a started clock (accepted, normally or 容缺):

* finished — approved or rejected; **early** — finished with fewer working days used than the promised
  limit; early-completion rate = early / finished;
* one-time pass — approved without any return for correction (补正); one-time pass rate = one-time passes /
  approved;
* mean working days — the mean clock (:mod:`app.projects.timing`) of finished items;
* overdue — more working days used than promised: finished late, or still running past the limit.

Grouped by department, item type (item code, with the item's names) or month (the month an item finished;
unfinished items count in the month of the reporting date), or ``total``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from app.projects.timing import Timing


class GroupBy(StrEnum):
    """How KPIs are grouped."""

    TOTAL = "total"
    DEPARTMENT = "department"
    ITEM = "item"
    MONTH = "month"


@dataclass(frozen=True)
class ItemFact:
    """What the KPIs need of one item."""

    department_code: str
    item_code: str
    promised_days: int
    timing: Timing
    name_zh: str = ""
    name_en: str = ""


class KpiRow(BaseModel):
    """Indicators of one group."""

    key: str
    name_zh: str | None = None
    name_en: str | None = None
    items: int
    finished: int
    early: int
    early_completion_rate: float | None
    approved: int
    one_time_pass: int
    one_time_pass_rate: float | None
    mean_working_days: float | None
    overdue: int


def _key(fact: ItemFact, by: GroupBy, as_of: date) -> str:
    if by is GroupBy.DEPARTMENT:
        return fact.department_code
    if by is GroupBy.ITEM:
        return fact.item_code
    if by is GroupBy.MONTH:
        return (fact.timing.finished or as_of).strftime("%Y-%m")
    return "total"


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def compute_kpis(facts: Iterable[ItemFact], by: GroupBy, as_of: date) -> list[KpiRow]:
    """KPI rows, one per group, sorted by key; items whose clock never started are left out."""
    groups: dict[str, list[ItemFact]] = {}
    for fact in facts:
        if fact.timing.started is None:
            continue
        groups.setdefault(_key(fact, by, as_of), []).append(fact)
    rows = []
    for key in sorted(groups):
        group = groups[key]
        finished = [f for f in group if f.timing.finished is not None]
        early = [f for f in finished if f.timing.elapsed_days < f.promised_days]
        approved = [f for f in group if f.timing.approved]
        one_time = [f for f in approved if f.timing.corrections == 0]
        named = by is GroupBy.ITEM and bool(group[0].name_zh)
        rows.append(
            KpiRow(
                key=key,
                name_zh=group[0].name_zh if named else None,
                name_en=(group[0].name_en or group[0].name_zh) if named else None,
                items=len(group),
                finished=len(finished),
                early=len(early),
                early_completion_rate=_ratio(len(early), len(finished)),
                approved=len(approved),
                one_time_pass=len(one_time),
                one_time_pass_rate=_ratio(len(one_time), len(approved)),
                mean_working_days=(
                    sum(f.timing.elapsed_days for f in finished) / len(finished) if finished else None
                ),
                overdue=sum(1 for f in group if f.timing.elapsed_days > f.promised_days),
            )
        )
    return rows
