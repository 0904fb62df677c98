"""Routes: more than one footprint — site comparison (选址比选) and batch checks.

Both evaluate every footprint on the request's one pooled connection with the catalog and rule set held
in memory, store each report like ``POST /api/pre-evaluations`` (so it can be listed, retrieved and
rendered), and write one audit row for the whole call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from psycopg import Connection
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field

from analysis.footprint import Footprint, parse_footprint
from analysis.report import Report
from analysis.rules.model import RuleSet
from analysis.sites import (
    ORDERING_RULE_EN,
    ORDERING_RULE_ZH,
    SiteInput,
    SiteResult,
    SiteSummary,
    evaluate_sites,
    recommend,
    sites_from_features,
    summarize,
)
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.deps import check_plan_of
from app.errors import PayloadTooLarge, Unprocessable
from app.preevaluation.store import insert_report
from layers.audit import record
from layers.district import DISTRICT
from layers.ingest.errors import IngestError

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])

MIN_CANDIDATES, MAX_CANDIDATES = 2, 5
MAX_BATCH = 500


class CheckOptions(BaseModel):
    """What every footprint of a request is checked as."""

    project_type: str = Field(description="项目类型，如 school、road、housing")
    crs: str | None = Field(
        default=None, description=f"坐标系，如 {DISTRICT.storage_crs.label}；缺省为 CRS84"
    )
    flags: list[str] = Field(default_factory=list, description="项目属性，如 national_major")
    project_code: str | None = Field(default=None, max_length=64, description="项目代码（可选）")


class Candidate(BaseModel):
    """One candidate site."""

    name: str | None = Field(default=None, max_length=100, description="方案名称，如“方案一”")
    footprint: dict[str, Any] = Field(description="GeoJSON 几何、要素或要素集合")


class CompareRequest(CheckOptions):
    """Two to five candidate footprints for one project."""

    candidates: list[Candidate] = Field(description="2–5 个比选方案")


class ComparedSite(SiteSummary):
    """A candidate's figures and its place in the recommendation order (1 = recommended)."""

    rank: int


class Comparison(BaseModel):
    """The side-by-side table, in the order submitted, with the recommendation order and its rule."""

    project_type: str
    rules_version: str
    ordering_rule_zh: str
    ordering_rule_en: str
    candidates: list[ComparedSite]
    recommendation: list[int] = Field(description="按推荐顺序排列的方案序号（从 0 起）")


class BatchRequest(CheckOptions):
    """Many footprints: one feature of the FeatureCollection per site."""

    footprints: dict[str, Any] = Field(description="GeoJSON FeatureCollection，每个要素为一个用地范围")
    name_property: str = Field(default="name", max_length=64, description="要素名称所在属性")


class BatchError(BaseModel):
    """Why one feature could not be checked."""

    code: str
    message_zh: str
    message_en: str


class BatchItem(BaseModel):
    """One feature's result: a summary (with its stored report id) or an error."""

    index: int
    name: str | None
    summary: SiteSummary | None = None
    error: BatchError | None = None


class BatchResult(BaseModel):
    """The batch answer: one item per feature, in feature order."""

    project_type: str
    rules_version: str
    count: int
    checked: int
    failed: int
    items: list[BatchItem]


def ruleset_for(request: Request, project_type: str) -> RuleSet:
    """The rule set in force, after refusing an unknown project type (422)."""
    ruleset = check_plan_of(request).ruleset
    if project_type not in ruleset.settings.project_types:
        known = "、".join(ruleset.settings.project_types)
        raise Unprocessable(
            f"未知项目类型“{project_type}”，可选：{known}。",
            f"Unknown project type '{project_type}'.",
            code="unknown_project_type",
        )
    return ruleset


def store_report(
    conn: Conn, grant: Grant, body: CheckOptions, footprint: Footprint, report: Report
) -> tuple[int, datetime]:
    """Store one report exactly as the single-footprint route does; returns its id and time."""
    return insert_report(
        conn, grant.principal.user_id, grant.principal.org_id, body.project_code, footprint.geometry, report
    )


@contextmanager
def _spare_connection(request: Request, count: int) -> Iterator[Connection[Any] | None]:
    """A second pooled connection for a batch, only if one is free right now (never waits for one)."""
    if count < 4:
        yield None
        return
    pool = request.app.state.pool
    try:
        helper = pool.getconn(timeout=0.01)
    except PoolTimeout:
        yield None
        return
    try:
        yield helper
    finally:
        pool.putconn(helper)


def run_sites(
    conn: Conn, request: Request, grant: Grant, body: CheckOptions, sites: list[SiteInput], action: str
) -> tuple[RuleSet, list[SiteResult], list[SiteSummary | None]]:
    """Evaluate, store every report and audit the call once, in one transaction."""
    ruleset = ruleset_for(request, body.project_type)
    with _spare_connection(request, len(sites)) as helper:
        results = evaluate_sites(
            conn,
            sites,
            body.project_type,
            plan=check_plan_of(request),
            crs=body.crs,
            flags=body.flags,
            data_dir=request.app.state.settings.data_dir,
            helper=helper,
            resident=request.app.state.resident,
        )
    summaries: list[SiteSummary | None] = []
    with conn.transaction():
        for result in results:
            if result.report is None or result.footprint is None:
                summaries.append(None)
                continue
            summary = summarize(result.site, result.report, ruleset)
            summary.report_id, _ = store_report(conn, grant, body, result.footprint, result.report)
            summaries.append(summary)
        ids = [s.report_id for s in summaries if s is not None]
        record(
            conn,
            grant.actor,
            action,
            "pre_evaluation",
            ids[0] if ids else None,
            after={"project_type": body.project_type, "project_code": body.project_code, "report_ids": ids},
        )
    return ruleset, results, summaries


@router.post("/compare", dependencies=[HeavyWork], response_model=Comparison, summary="选址比选")
def compare_sites(
    body: CompareRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> Comparison:
    """Check 2–5 candidate footprints and rank them (the ordering rule is in the answer)."""
    check_candidate_count(len(body.candidates))
    sites = [
        SiteInput(i, c.name, c.footprint, f"candidates[{i}].footprint") for i, c in enumerate(body.candidates)
    ]
    return compare_of(conn, request, grant, body, sites)


def check_candidate_count(count: int) -> None:
    """Refuse a comparison of fewer than two or more than five candidates (422)."""
    if not MIN_CANDIDATES <= count <= MAX_CANDIDATES:
        raise Unprocessable(
            f"比选方案须为 {MIN_CANDIDATES}–{MAX_CANDIDATES} 个，收到 {count} 个。",
            f"Send {MIN_CANDIDATES} to {MAX_CANDIDATES} candidates, got {count}.",
            code="candidate_count",
        )


def compare_of(
    conn: Conn, request: Request, grant: Grant, body: CheckOptions, candidates: list[SiteInput]
) -> Comparison:
    """Check the candidates (unnamed ones become 方案1, 方案2, …), store their reports and rank them."""
    sites = [SiteInput(s.index, s.name or f"方案{s.index + 1}", s.geojson, s.field) for s in candidates]
    # A comparison needs every candidate: the first refused footprint fails the request, naming it.
    ruleset_for(request, body.project_type)
    for site in sites:
        _precheck(site, body.crs)
    ruleset, _, summaries = run_sites(conn, request, grant, body, sites, "pre_evaluation.compare")
    checked = [s for s in summaries if s is not None]
    ranked = recommend(checked)
    rank = {s.index: n for n, s in enumerate(ranked, start=1)}
    return Comparison(
        project_type=body.project_type,
        rules_version=ruleset.version,
        ordering_rule_zh=ORDERING_RULE_ZH,
        ordering_rule_en=ORDERING_RULE_EN,
        candidates=[ComparedSite(**s.model_dump(), rank=rank[s.index]) for s in checked],
        recommendation=[s.index for s in ranked],
    )


def _precheck(site: SiteInput, crs: str | None) -> None:
    """Refuse the comparison when one candidate's footprint is refused, naming the candidate."""
    try:
        parse_footprint(site.geojson, crs, site.field)
    except IngestError as exc:
        raise IngestError(
            f"方案“{site.name}”：{exc.message_zh}",
            f"Candidate '{site.name}': {exc.message_en}",
            code=exc.code,
            status=exc.status,
            details=exc.details,
        ) from exc


@router.post("/batch", dependencies=[HeavyWork], response_model=BatchResult, summary="批量预评价")
def batch_check(
    body: BatchRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> BatchResult:
    """Check every feature of a FeatureCollection; a refused feature gets its error, the rest are checked."""
    sites = sites_from_features(body.footprints, body.name_property, "footprints.features")
    return batch_of(conn, request, grant, body, sites)


def batch_of(
    conn: Conn, request: Request, grant: Grant, body: CheckOptions, sites: list[SiteInput]
) -> BatchResult:
    """Check, store and summarise the sites of a batch (limits: 1 to MAX_BATCH sites)."""
    if not sites:
        raise Unprocessable("要素集合为空。", "The FeatureCollection is empty.", code="empty_footprint")
    if len(sites) > MAX_BATCH:
        raise PayloadTooLarge(
            f"一次最多提交 {MAX_BATCH} 个用地范围，收到 {len(sites)} 个；请分批提交。",
            f"At most {MAX_BATCH} footprints per call, got {len(sites)}; split the batch.",
            code="too_many_footprints",
        )
    ruleset, results, summaries = run_sites(conn, request, grant, body, sites, "pre_evaluation.batch")
    items = [
        BatchItem(
            index=result.site.index,
            name=result.site.name,
            summary=summary,
            error=None
            if result.error is None
            else BatchError(
                code=result.error.code, message_zh=result.error.message_zh, message_en=result.error.message_en
            ),
        )
        for result, summary in zip(results, summaries, strict=True)
    ]
    failed = sum(1 for item in items if item.error is not None)
    return BatchResult(
        project_type=body.project_type,
        rules_version=ruleset.version,
        count=len(items),
        checked=len(items) - failed,
        failed=failed,
        items=items,
    )
