"""Routes: joint review (联合审查/会商) of an application — scheduling, each department's opinion, the
minutes (会议纪要) generated and stored by the lead, cancellation, and the minutes as HTML and PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.auth.deps import Allow, AllowBriefly, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork, leased_connection
from app.deps import IfMatch, expected_version
from app.edge.params import RowId
from app.materials.routes import store_of
from app.preevaluation.renderings import Lang
from app.window import documents, joint, minutes
from app.window.document_routes import HTML, PDF, disposition, font_dir, is_english
from app.window.joint import Change, JointReview, JointReviewCreate, OpinionRecord

router = APIRouter(prefix="/api", tags=["window"])
Reviewer = Annotated[Grant, Depends(Allow(Action.APPLICATIONS_REVIEW))]
Reader = Annotated[Grant, Depends(Allow(Action.APPLICATIONS_READ))]
BriefReviewer = Annotated[Grant, Depends(AllowBriefly(Action.APPLICATIONS_REVIEW))]
BriefReader = Annotated[Grant, Depends(AllowBriefly(Action.APPLICATIONS_READ))]


def _expected(body_version: int | None, if_match: str | None) -> tuple[int | None, bool]:
    """The version the client read, if it sent one (a joint review's writes may be unguarded)."""
    if body_version is None and if_match is None:
        return None, False
    return expected_version(body_version, if_match)


@router.post(
    "/applications/{application_id}/joint-reviews",
    response_model=JointReview,
    status_code=201,
    summary="安排联合审查（牵头部门）",
)
def schedule_joint_review(
    application_id: RowId, body: JointReviewCreate, conn: Conn, grant: Reviewer
) -> JointReview:
    """The caller's department (with an item in the application under review) leads; the listed departments
    and the departments of the listed items take part."""
    return joint.schedule(conn, grant, application_id, body)


@router.get(
    "/applications/{application_id}/joint-reviews", response_model=list[JointReview], summary="联合审查列表"
)
def list_joint_reviews(application_id: RowId, conn: Conn, grant: Reader) -> list[JointReview]:
    """The application's joint reviews with every participant's opinion."""
    return joint.list_reviews(conn, grant, application_id)


@router.put(
    "/joint-reviews/{review_id}/opinion", response_model=JointReview, summary="提出会商意见（参会部门）"
)
def record_opinion(
    review_id: RowId, body: OpinionRecord, conn: Conn, grant: Reviewer, if_match: IfMatch = None
) -> JointReview:
    """The caller's department records (or, while scheduled, replaces) its own opinion."""
    return joint.record_opinion(conn, grant, review_id, body, _expected(body.version, if_match))


@router.post(
    "/joint-reviews/{review_id}/cancel", response_model=JointReview, summary="取消联合审查（牵头部门）"
)
def cancel_joint_review(
    review_id: RowId, conn: Conn, grant: Reviewer, body: Change | None = None, if_match: IfMatch = None
) -> JointReview:
    """The lead cancels a scheduled joint review."""
    return joint.cancel(conn, grant, review_id, _expected(body.version if body else None, if_match))


@router.post(
    "/joint-reviews/{review_id}/minutes",
    dependencies=[HeavyWork],
    response_model=JointReview,
    status_code=201,
    summary="生成会议纪要（牵头部门）",
)
async def make_minutes(review_id: RowId, request: Request, grant: BriefReviewer) -> JointReview:
    """Once every participant has an opinion: the minutes are rendered, stored as the lead's material
    (purpose ``minutes``) and the review is held. The rendering holds no connection."""
    async with leased_connection(request) as conn:
        review, head = await run_in_threadpool(minutes.minutes_snapshot, conn, grant, review_id)
    store = store_of(request)
    staged = await run_in_threadpool(minutes.render_and_stage, review, head, font_dir(request), store)
    async with leased_connection(request) as conn:
        return await run_in_threadpool(minutes.hold, conn, grant, review, head["project_id"], store, staged)


async def _held(request: Request, grant: Grant, review_id: int, english: bool) -> dict[str, object]:
    async with leased_connection(request) as conn:
        review, head = await run_in_threadpool(minutes.held_minutes, conn, grant, review_id)
    return minutes.minutes_context(review, head, english)


@router.get(
    "/joint-reviews/{review_id}/minutes.html",
    response_class=HTMLResponse,
    summary="会议纪要（HTML）",
    responses=HTML,
)
async def minutes_html(review_id: RowId, request: Request, grant: BriefReader, lang: Lang = None) -> Response:
    """The minutes of a held joint review."""
    english = is_english(request, lang)
    context = await _held(request, grant, review_id, english)
    page = await run_in_threadpool(documents.served_page, "minutes.html", context, english)
    return HTMLResponse(page)


@router.get(
    "/joint-reviews/{review_id}/minutes.pdf",
    dependencies=[HeavyWork],
    response_class=Response,
    summary="会议纪要（PDF）",
    responses=PDF,
)
async def minutes_pdf(review_id: RowId, request: Request, grant: BriefReader, lang: Lang = None) -> Response:
    """The minutes as an A4 PDF."""
    english = is_english(request, lang)
    context = await _held(request, grant, review_id, english)
    body = await run_in_threadpool(documents.pdf, "minutes.html", context, english, font_dir(request))
    name = f"{'minutes' if english else '会议纪要'}-{review_id}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": disposition(f"minutes-{review_id}.pdf", name)},
    )
