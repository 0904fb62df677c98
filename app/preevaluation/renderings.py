"""Routes: renderings of a stored pre-evaluation report: CSV, XLSX, footprint (HTML and PDF: printed.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from analysis.export_cells import AREA, COUNT, MONEY
from analysis.report import Report
from analysis.report_html import StoredMeta
from analysis.report_tables import SummaryLine, hit_rows, to_csv, to_xlsx
from analysis.rules.model import RuleSet
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.deps import check_plan_of
from app.edge.downloads import content_disposition
from app.edge.params import RowId
from app.errors import prefers_english
from app.preevaluation.store import visible_footprint, visible_report

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Lang = Annotated[
    Literal["zh", "en"] | None, Query(description="语言 zh/en；缺省按 Accept-Language（默认中文）")
]


def _load(conn: Conn, grant: Grant, report_id: int) -> tuple[Report, StoredMeta]:
    """A stored report the caller may see (other organisations' reports answer 404)."""
    stored, footprint_wkb = visible_report(conn, grant, report_id)
    return stored.report, StoredMeta(stored.id, stored.created_at, stored.project_code, footprint_wkb)


def _english(request: Request, lang: str | None) -> bool:
    return lang == "en" if lang else prefers_english(request)


def _disposition(kind: str, report_id: int, suffix: str, english: bool) -> str:
    """An attachment header with a Chinese file name (RFC 6266 / 5987) and an ASCII fallback."""
    name = f"{'pre-evaluation' if english else '预评价报告'}-{report_id}.{suffix}"
    return content_disposition(name, f"pre-evaluation-{report_id}.{suffix}", kind=kind)


@router.get(
    "/{report_id}/footprint",
    response_class=Response,
    summary="预评价用地范围（GeoJSON，CRS84）",
    responses={200: {"content": {"application/geo+json": {}}}},
)
def report_footprint(
    report_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))]
) -> Response:
    """The stored footprint as a GeoJSON Feature in CRS84, for the map to draw an uploaded or reopened one."""
    geometry = visible_footprint(conn, grant, report_id)
    feature = {"type": "Feature", "properties": {"id": report_id}, "geometry": geometry}
    return Response(json.dumps(feature), media_type="application/geo+json")


@router.get(
    "/{report_id}/report.csv",
    response_class=Response,
    summary="预评价冲突清单（CSV）",
    responses={200: {"content": {"text/csv": {}}}},
)
def report_csv(
    report_id: RowId,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    lang: Lang = None,
) -> Response:
    """Every hit (rule × feature) with Chinese headers, UTF-8 with a byte-order mark."""
    report, _ = _load(conn, grant, report_id)
    english = _english(request, lang)
    body = to_csv(hit_rows(report, check_plan_of(request).ruleset, english=english), english=english)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _disposition("attachment", report_id, "csv", english)},
    )


@router.get(
    "/{report_id}/report.xlsx",
    dependencies=[HeavyWork],
    response_class=Response,
    summary="预评价冲突清单（Excel）",
    responses={200: {"content": {XLSX: {}}}},
)
def report_xlsx(
    report_id: RowId,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    lang: Lang = None,
) -> Response:
    """The hits on one sheet and the report summary on another."""
    report, meta = _load(conn, grant, report_id)
    english = _english(request, lang)
    ruleset = check_plan_of(request).ruleset
    rows = hit_rows(report, ruleset, english=english)
    body = to_xlsx(rows, _summary(report, meta, ruleset, english), english=english)
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": _disposition("attachment", report_id, "xlsx", english)},
    )


def _summary(report: Report, meta: StoredMeta, ruleset: RuleSet, english: bool) -> list[SummaryLine]:
    """The key figures of the report, for the summary sheet (numbers shown grouped, units in the labels)."""
    compensation = report.demolition.compensation
    conditional = report.conditional.area_m2 if report.conditional else ""  # none in older reports
    kind = ruleset.settings.project_types.get(report.project_type)
    kind_name = (kind.name_en if english else kind.name_zh) if kind else report.project_type
    figures: list[tuple[str, str, Any, str | None]] = [
        ("报告编号", "Report", meta.id, None),
        ("项目代码", "Project code", meta.project_code or "", None),
        ("项目类型", "Project type", kind_name, None),
        ("结论", "Verdict", report.verdict_en if english else report.verdict, None),
        ("用地面积（m²）", "Footprint (m²)", report.footprint_area_m2, AREA),
        ("禁止类占用面积（m²）", "Prohibited area (m²)", report.prohibited_area_m2(), AREA),
        ("有条件类占用面积（m²）", "Conditional area (m²)", conditional, AREA),
        ("可建设面积（m²）", "Buildable (m²)", report.buildable.area_m2, AREA),
        ("涉及建筑（栋）", "Buildings", report.demolition.buildings, COUNT),
        ("户数", "Households", report.demolition.households, COUNT),
        ("估算补偿（元）", "Compensation (yuan)", compensation.total_yuan if compensation else "", MONEY),
        ("规则版本", "Rules version", report.rules_version, None),
        ("项目类型代码", "Project type code", report.project_type, None),
    ]
    return [(en if english else zh, value, number_format) for zh, en, value, number_format in figures]
