"""Routes: the printed pre-evaluation report (正式报告) as HTML and PDF, and the check of a printout's hash.

Rendering is CPU work (the font subset, the page, the PDF layout): it runs in a worker thread after the
report has been read and the pooled connection given back, behind the ``heavy`` gate (a full gate answers a
fast 503), so that printing reports never starves map tiles and checks of connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from analysis.checkplan import CheckPlan
from analysis.print_page import leaflet_inline
from analysis.report import Report
from analysis.report_document import report_sha256
from analysis.report_html import (
    ConflictShape,
    PrintOptions,
    StoredMeta,
    conflict_shapes,
    render_html,
    render_static_html,
)
from analysis.report_pdf import render_pdf
from app.auth.deps import Allow, AllowBriefly, Grant
from app.auth.policy import Action
from app.csp import page_policy
from app.db import Conn, HeavyWork, leased_connection
from app.deps import check_plan_of
from app.edge.params import RowId
from app.errors import NotFound
from app.preevaluation.renderings import Lang, _disposition, _english
from app.preevaluation.store import fetch_document, visible_report

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])
Reader = Annotated[Grant, Depends(AllowBriefly(Action.PREEVAL_RUN))]


@dataclass(frozen=True)
class Printable:
    """Everything a printed report needs from the database, read at once."""

    report: Report
    meta: StoredMeta
    shapes: list[ConflictShape]


def _read(conn: Any, grant: Grant, report_id: int) -> Printable:
    """The stored report, the digest of its stored JSON, and the parts of the features it met."""
    stored, footprint_wkb = visible_report(conn, grant, report_id)
    document = fetch_document(conn, report_id)
    assert document is not None  # visible_report found it in this transaction
    meta = StoredMeta(
        stored.id, stored.created_at, stored.project_code, footprint_wkb, report_sha256(document.report)
    )
    return Printable(stored.report, meta, conflict_shapes(conn, stored.report, footprint_wkb))


async def _printable(request: Request, grant: Grant, report_id: int) -> Printable:
    """Read on a leased connection, given back before anything is rendered."""
    async with leased_connection(request) as conn:
        return await run_in_threadpool(_read, conn, grant, report_id)


def _font_dir(request: Request) -> Path:
    """The bundled Noto Sans SC (npm @fontsource/noto-sans-sc), whose subset a page or PDF embeds."""
    web_dir: Path = request.app.state.settings.web_dir
    return web_dir / "node_modules" / "@fontsource" / "noto-sans-sc"


@router.get(
    "/{report_id}/report.html",
    dependencies=[HeavyWork],
    response_class=HTMLResponse,
    summary="预评价报告（HTML，可打印）",
    responses={200: {"content": {"text/html": {}}}},
)
async def report_html(
    report_id: RowId,
    request: Request,
    grant: Reader,
    lang: Lang = None,
    download: Annotated[bool, Query(description="作为附件下载（内嵌 Leaflet 与字体，可离线打开）")] = False,
) -> HTMLResponse:
    """The A4 report: header, verdict, site map, findings, figures, verification line; an interactive map."""
    printable = await _printable(request, grant, report_id)
    english = _english(request, lang)
    options = PrintOptions(english=english)
    if download:
        leaflet = request.app.state.settings.web_dir / "node_modules" / "leaflet" / "dist"
        options = PrintOptions(
            english=english, inline_assets=leaflet_inline(leaflet), font_dir=_font_dir(request)
        )
    plan: CheckPlan = check_plan_of(request)
    page = await run_in_threadpool(
        render_html, printable.report, printable.meta, printable.shapes, plan, options
    )
    # The page's own policy: the app's, with the map's inline code (folium's) allowed by hash.
    headers = {"Content-Security-Policy": page_policy(page.script_hashes, page.style_hashes)}
    if download:
        headers["Content-Disposition"] = _disposition("attachment", report_id, "html", english)
    return HTMLResponse(page.html, headers=headers)


@router.get(
    "/{report_id}/report.pdf",
    dependencies=[HeavyWork],
    response_class=Response,
    summary="预评价报告（PDF，A4）",
    responses={200: {"content": {"application/pdf": {}}}},
)
async def report_pdf(report_id: RowId, request: Request, grant: Reader, lang: Lang = None) -> Response:
    """The A4 report as PDF, its font embedded: the same document as the printed HTML page."""
    printable = await _printable(request, grant, report_id)
    english = _english(request, lang)
    pdf = await run_in_threadpool(_pdf, printable, check_plan_of(request), _font_dir(request), english)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": _disposition("attachment", report_id, "pdf", english)},
    )


def _pdf(printable: Printable, plan: CheckPlan, font_dir: Path, english: bool) -> bytes:
    page = render_static_html(printable.report, printable.meta, printable.shapes, plan, font_dir, english)
    return render_pdf(page)


class Verification(BaseModel):
    """Whether a hash (from a printout) is the SHA-256 of the stored report."""

    id: int
    matches: bool = Field(description="给出的 SHA-256 与系统存储的报告一致")
    sha256: str = Field(description="系统存储的报告 JSON（键排序、无空白、UTF-8）的 SHA-256")


@router.get("/{report_id}/verify", response_model=Verification, summary="核验报告（SHA-256）")
def verify_report(
    report_id: RowId,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    sha256: Annotated[
        str, Query(pattern=r"^[0-9a-fA-F]{64}$", description="打印件核验行上的 SHA-256（64 位十六进制）")
    ],
) -> Verification:
    """Compare a printout's hash with the stored report's (other organisations' reports answer 404)."""
    document = fetch_document(conn, report_id)
    if document is None:
        raise NotFound("预评价报告不存在。", "No such pre-evaluation report.")
    grant.check_org(document.org_id)
    digest = report_sha256(document.report)
    return Verification(id=report_id, matches=digest == sha256.lower(), sha256=digest)
