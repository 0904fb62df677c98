"""More than one footprint: batch checks and site comparison (选址比选) on one connection.

Framework-agnostic like the engine: the API, the ``duogui check`` command and batch jobs share it. The
catalog and the rule set are passed in compiled once (a ``CheckPlan``); every footprint is evaluated on the
same connection.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from psycopg import Connection
from pydantic import BaseModel

from analysis.checkplan import CheckPlan
from analysis.engine import evaluate
from analysis.footprint import Footprint, parse_footprint
from analysis.report import Report
from analysis.resident import ResidentIndex
from analysis.rules.model import RuleSet
from analysis.rules.schema import Grade
from layers.ingest.errors import IngestError

ORDERING_RULE_ZH = (
    "推荐顺序：① 结论（通过 > 有条件通过 > 不通过）；② 禁止类占用面积小者优先；③ 需搬迁户数少者优先；"
    "④ 触发审批事项少者优先；⑤ 有条件类占用面积小者优先；⑥ 可建设比例高者优先；⑦ 仍相同时按提交顺序。"
    "面积按 0.01 m²、比例按 0.0001 % 取整后比较。"
)
ORDERING_RULE_EN = (
    "Recommendation order: (1) verdict (approved > conditionally approved > rejected); (2) smaller "
    "prohibited area; (3) fewer households to relocate; (4) fewer approvals triggered; (5) smaller "
    "conditional area; (6) larger buildable share; (7) then the order submitted. Areas are compared at "
    "0.01 m² and shares at 0.0001 %."
)
_VERDICT_RANK = {"通过": 0, "有条件通过": 1, "不通过": 2}


class DepartmentArea(BaseModel):
    """Conditional overlap attributed to one department: the area its conditional findings cover, each
    square metre counted once."""

    department: str
    department_zh: str
    area_m2: float


class SiteSummary(BaseModel):
    """The key figures of one footprint's report, for batch answers and comparison tables."""

    index: int
    name: str | None
    report_id: int | None = None
    verdict: str
    verdict_en: str
    footprint_area_m2: float
    prohibited_area_m2: float
    conditional_area_m2: float
    conditional_by_department: list[DepartmentArea]
    buildings: int
    households: int
    compensation_yuan: float | None
    approvals: list[str]
    buildable_share_pct: float
    not_checkable: int


@dataclass
class SiteInput:
    """One footprint to check: its position in the request, an optional name, the GeoJSON."""

    index: int
    name: str | None
    geojson: Any
    field: str = "footprint"  # where the footprint is in the request, for messages


@dataclass
class SiteResult:
    """A checked footprint (report) or the reason it could not be checked (error)."""

    site: SiteInput
    footprint: Footprint | None = None
    report: Report | None = None
    error: IngestError | None = None


def summarize(site: SiteInput, report: Report, ruleset: RuleSet) -> SiteSummary:
    """The comparison figures of one report."""
    conditional, departments = _conditional(report)
    compensation = report.demolition.compensation
    return SiteSummary(
        index=site.index,
        name=site.name,
        verdict=report.verdict,
        verdict_en=report.verdict_en,
        footprint_area_m2=report.footprint_area_m2,
        prohibited_area_m2=report.prohibited_area_m2(),
        conditional_area_m2=conditional,
        conditional_by_department=[
            DepartmentArea(
                department=key, department_zh=ruleset.settings.department_name(key), area_m2=round(area, 3)
            )
            for key, area in sorted(departments.items())
        ],
        buildings=report.demolition.buildings,
        households=report.demolition.households,
        compensation_yuan=compensation.total_yuan if compensation else None,
        approvals=sorted({f.approval_item for f in report.findings if f.approval_item}),
        buildable_share_pct=report.buildable.share_pct,
        not_checkable=len(report.not_checkable),
    )


def _conditional(report: Report) -> tuple[float, dict[str, float]]:
    """The conditional area, in all and by department: the union areas the engine measured; a report
    stored before it measured them keeps the figures it was compared by then (sums over findings)."""
    if report.conditional is not None:
        return report.conditional.area_m2, report.conditional.by_department
    departments: dict[str, float] = {}
    for finding in report.findings:
        if finding.grade is Grade.CONDITIONAL and finding.overlap_m2:
            departments[finding.department] = departments.get(finding.department, 0.0) + finding.overlap_m2
    return round(sum(departments.values()), 3), departments


def ordering_key(summary: SiteSummary) -> tuple[Any, ...]:
    """The recommendation order (see ORDERING_RULE_ZH); the index makes it total and deterministic."""
    return (
        _VERDICT_RANK.get(summary.verdict, 3),
        round(summary.prohibited_area_m2, 2),
        summary.households,
        len(summary.approvals),
        round(summary.conditional_area_m2, 2),
        -round(summary.buildable_share_pct, 4),
        summary.index,
    )


def recommend(summaries: Iterable[SiteSummary]) -> list[SiteSummary]:
    """The summaries in recommendation order, best first."""
    return sorted(summaries, key=ordering_key)


def evaluate_sites(
    conn: Connection[Any],
    sites: list[SiteInput],
    project_type: str,
    *,
    plan: CheckPlan,
    crs: str | None = None,
    flags: Collection[str] = (),
    data_dir: Path | None = None,
    today: date | None = None,
    helper: Connection[Any] | None = None,
    resident: ResidentIndex | None = None,
) -> list[SiteResult]:
    """Evaluate every footprint, in order; a footprint intake refuses is kept with its error.

    With a ``helper`` connection, a second thread checks every other footprint on it: a check waits on
    the database for part of its time, so two of them overlap (measured ~1.5× on 2 cores).
    """
    today = today or date.today()

    def one(site: SiteInput, on: Connection[Any]) -> SiteResult:
        try:
            footprint = parse_footprint(site.geojson, crs, site.field)
        except IngestError as exc:
            return SiteResult(site, error=exc)
        report = evaluate(
            on,
            footprint,
            project_type,
            plan=plan,
            flags=flags,
            today=today,
            data_dir=data_dir,
            resident=resident,
        )
        return SiteResult(site, footprint=footprint, report=report)

    if helper is None or len(sites) < 4:
        return [one(site, conn) for site in sites]
    with ThreadPoolExecutor(1, thread_name_prefix="preeval-batch") as pool:
        odd = pool.submit(lambda: [one(site, helper) for site in sites[1::2]])
        even = [one(site, conn) for site in sites[0::2]]
        odd_results = odd.result()
    results: list[SiteResult] = []
    for i in range(len(sites)):
        results.append(even[i // 2] if i % 2 == 0 else odd_results[i // 2])
    return results


def sites_from_features(
    collection: Any, name_property: str = "name", field: str = "features"
) -> list[SiteInput]:
    """One site per feature of a FeatureCollection (a bare geometry or Feature is one site); ``field``
    names the features in the request (``features[3]``), for messages."""
    if isinstance(collection, dict) and collection.get("type") == "FeatureCollection":
        features = collection.get("features")
        if not isinstance(features, list):
            raise IngestError("要素集合缺少 features 数组。", "The FeatureCollection has no features array.")
    else:
        features = [collection]
    sites = []
    for index, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        name = props.get(name_property) if isinstance(props, dict) else None
        sites.append(SiteInput(index, None if name is None else str(name), feature, f"{field}[{index}]"))
    return sites
