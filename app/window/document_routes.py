"""Routes: an application's printed documents — the receipt (受理回执), a round's correction letter
(补正告知书) and the issuance notice (出件通知) — as HTML pages and A4 PDFs.

The document is read on a leased connection given back before anything is rendered; the page and the PDF
(font subset, layout) are made in a worker thread, PDFs behind the ``heavy`` gate (see
app/preevaluation/printed.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.auth.deps import AllowBriefly, Grant
from app.auth.policy import Action
from app.db import HeavyWork, leased_connection
from app.edge.params import Number, RowId
from app.errors import prefers_english
from app.preevaluation.renderings import Lang
from app.window import documents

router = APIRouter(prefix="/api/applications", tags=["window"])
Reader = Annotated[Grant, Depends(AllowBriefly(Action.APPLICATIONS_READ))]
PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}
HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


def font_dir(request: Request) -> Path:
    """The bundled Noto Sans SC whose subset a PDF embeds."""
    web_dir: Path = request.app.state.settings.web_dir
    return web_dir / "node_modules" / "@fontsource" / "noto-sans-sc"


def is_english(request: Request, lang: str | None) -> bool:
    """``?lang=`` first, else the Accept-Language header (Chinese by default)."""
    return lang == "en" if lang else prefers_english(request)


def disposition(ascii_name: str, name: str) -> str:
    """An attachment header with a Chinese file name (RFC 6266 / 5987) and an ASCII fallback."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def read(request: Request, reader: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """A document's context, read on a leased connection that goes back before rendering."""
    async with leased_connection(request) as conn:
        return await run_in_threadpool(reader, conn, *args)


async def html(template: str, context: dict[str, Any], english: bool) -> HTMLResponse:
    """The served page (the app's strict page policy applies: it has no inline code)."""
    return HTMLResponse(await run_in_threadpool(documents.served_page, template, context, english))


async def pdf(
    request: Request, template: str, context: dict[str, Any], english: bool, names: tuple[str, str]
) -> Response:
    """The A4 PDF, rendered in a worker thread without a connection."""
    body = await run_in_threadpool(documents.pdf, template, context, english, font_dir(request))
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": disposition(*names)})


def _receipt(request: Request, grant: Grant, application_id: int, english: bool) -> Any:
    phone: str = request.app.state.settings.window_contact_phone
    return read(request, documents.receipt, grant, application_id, english, phone)


@router.get(
    "/{application_id}/receipt.html", response_class=HTMLResponse, summary="受理回执（HTML）", responses=HTML
)
async def receipt_html(application_id: RowId, request: Request, grant: Reader, lang: Lang = None) -> Response:
    """The receipt: items with promised dates, materials received, 容缺 gaps, the window's contact."""
    english = is_english(request, lang)
    return await html("receipt.html", await _receipt(request, grant, application_id, english), english)


@router.get(
    "/{application_id}/receipt.pdf",
    dependencies=[HeavyWork],
    response_class=Response,
    summary="受理回执（PDF）",
    responses=PDF,
)
async def receipt_pdf(application_id: RowId, request: Request, grant: Reader, lang: Lang = None) -> Response:
    """The receipt as an A4 PDF."""
    english = is_english(request, lang)
    context = await _receipt(request, grant, application_id, english)
    names = (
        f"receipt-{application_id}.pdf",
        f"{'receipt' if english else '受理回执'}-{context['number']}.pdf",
    )
    return await pdf(request, "receipt.html", context, english, names)


@router.get(
    "/{application_id}/letters/{round_no}.html",
    response_class=HTMLResponse,
    summary="补正告知书（HTML）",
    responses=HTML,
)
async def letter_html(
    application_id: RowId, round_no: Number, request: Request, grant: Reader, lang: Lang = None
) -> Response:
    """The one consolidated correction letter of a round: every department's points, the clocks' stop."""
    english = is_english(request, lang)
    context = await read(request, documents.letter, grant, application_id, round_no, english)
    return await html("letter.html", context, english)


@router.get(
    "/{application_id}/letters/{round_no}.pdf",
    dependencies=[HeavyWork],
    response_class=Response,
    summary="补正告知书（PDF）",
    responses=PDF,
)
async def letter_pdf(
    application_id: RowId, round_no: Number, request: Request, grant: Reader, lang: Lang = None
) -> Response:
    """The correction letter as an A4 PDF."""
    english = is_english(request, lang)
    context = await read(request, documents.letter, grant, application_id, round_no, english)
    label = "correction-letter" if english else "补正告知书"
    names = (f"letter-{application_id}-{round_no}.pdf", f"{label}-{context['number']}-{round_no}.pdf")
    return await pdf(request, "letter.html", context, english, names)


@router.get(
    "/{application_id}/issuance.html", response_class=HTMLResponse, summary="出件通知（HTML）", responses=HTML
)
async def issuance_html(
    application_id: RowId, request: Request, grant: Reader, lang: Lang = None
) -> Response:
    """The issuance notice: each item's decision, conditions or reasons with legal basis, its document."""
    english = is_english(request, lang)
    context = await read(request, documents.issuance, grant, application_id, english)
    return await html("issuance.html", context, english)


@router.get(
    "/{application_id}/issuance.pdf",
    dependencies=[HeavyWork],
    response_class=Response,
    summary="出件通知（PDF）",
    responses=PDF,
)
async def issuance_pdf(application_id: RowId, request: Request, grant: Reader, lang: Lang = None) -> Response:
    """The issuance notice as an A4 PDF."""
    english = is_english(request, lang)
    context = await read(request, documents.issuance, grant, application_id, english)
    names = (
        f"issuance-{application_id}.pdf",
        f"{'issuance' if english else '出件通知'}-{context['number']}.pdf",
    )
    return await pdf(request, "issuance.html", context, english, names)
