"""Routes of the one window (综合窗口): applications, intake, review, my work."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.auth.routes import TOTAL_HEADER
from app.db import Conn
from app.deps import Versioned, today, with_etag
from app.edge.params import Offset, RowId
from app.projects.templates import MaterialCode
from app.window import applications, intake, review
from app.window import warnings as _warnings  # noqa: F401  (registers the window's warnings)
from app.window.models import (
    AcceptBody,
    Application,
    ApplicationCreate,
    ApplicationItem,
    ApplicationSummary,
    AttachBody,
    CorrectionRequest,
    CorrectionRequestBody,
    LetterBody,
    OpinionBody,
    ReturnBody,
    Stage,
    VersionBody,
    WorkItem,
)

router = APIRouter(tags=["one window"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.APPLICATIONS_READ))]
SubmitGrant = Annotated[Grant, Depends(Allow(Action.APPLICATIONS_SUBMIT))]
IntakeGrant = Annotated[Grant, Depends(Allow(Action.APPLICATIONS_INTAKE))]
ReviewGrant = Annotated[Grant, Depends(Allow(Action.APPLICATIONS_REVIEW))]
Status = Literal["draft", "submitted", "returned", "accepted", "correction", "issued", "withdrawn"]


@router.post("/api/applications", response_model=Application, status_code=201, summary="新建申报件")
def open_application(
    body: ApplicationCreate, response: Response, conn: Conn, grant: SubmitGrant
) -> Application:
    """Open an application for one stage of the caller's project (earlier stages must have no open item)."""
    return with_etag(response, applications.open_application(conn, grant, body, today()))


@router.get(
    "/api/applications",
    response_model=list[ApplicationSummary],
    summary="申报件清单（分页）",
    responses={
        200: {
            "headers": {TOTAL_HEADER: {"description": "符合条件的申报件总数", "schema": {"type": "integer"}}}
        }
    },
)
def list_applications(
    conn: Conn,
    response: Response,
    grant: ReadGrant,
    status: Annotated[Status | None, Query(description="状态")] = None,
    stage: Annotated[Stage | None, Query(description="阶段")] = None,
    project_id: Annotated[RowId | None, Query(description="项目")] = None,
    queue: Annotated[
        Literal["new", "returned", "issuing"] | None,
        Query(description="窗口队列：new 待受理，returned 已退回，issuing 待出件"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="每页条数")] = 200,
    offset: Annotated[Offset, Query(description="跳过条数")] = 0,
) -> list[ApplicationSummary]:
    """One page of the applications the caller may see (newest first); the window's queues by ``queue``;
    how many match in all is in the ``X-Total-Count`` header."""
    total, page = applications.list_applications(
        conn, grant, status, stage, project_id, queue, limit=limit, offset=offset
    )
    response.headers[TOTAL_HEADER] = str(total)
    return page


@router.get("/api/applications/{application_id}", response_model=Application, summary="申报件详情")
def get_application(application_id: RowId, response: Response, conn: Conn, grant: ReadGrant) -> Application:
    """The application with its items and clocks, checklist, letters, open requests and event log."""
    return with_etag(response, applications.fetch(conn, grant, application_id, today()))


@router.put(
    "/api/applications/{application_id}/materials/{code}", response_model=Application, summary="提交材料"
)
def attach_material(
    application_id: RowId,
    code: MaterialCode,
    body: AttachBody,
    conn: Conn,
    grant: SubmitGrant,
    check: Versioned,
) -> Application:
    """Attach one version of the unit's library material to a checklist entry (or supply a 容缺 gap)."""
    expected = (
        check.expected(body.version) if body.version is not None or check.if_match is not None else None
    )
    return check.answer(
        applications.attach(conn, grant, application_id, code, body.material_id, expected, today())
    )


@router.delete(
    "/api/applications/{application_id}/materials/{code}", response_model=Application, summary="撤下材料"
)
def detach_material(
    application_id: RowId, code: MaterialCode, conn: Conn, grant: SubmitGrant, check: Versioned
) -> Application:
    """Detach a checklist entry's material while the package is with the unit."""
    expected = check.expected(None) if check.if_match is not None else None
    return check.answer(applications.attach(conn, grant, application_id, code, None, expected, today()))


@router.post("/api/applications/{application_id}/submit", response_model=Application, summary="提交申报")
def submit(
    application_id: RowId, body: VersionBody, conn: Conn, grant: SubmitGrant, check: Versioned
) -> Application:
    """Submit the package to the window (every required material attached)."""
    expected = check.expected(body.version)
    return check.answer(applications.submit(conn, grant, application_id, expected, body.note, today()))


@router.post("/api/applications/{application_id}/withdraw", response_model=Application, summary="撤回申报")
def withdraw(
    application_id: RowId, body: VersionBody, conn: Conn, grant: SubmitGrant, check: Versioned
) -> Application:
    """Withdraw the application before acceptance."""
    expected = check.expected(body.version)
    return check.answer(applications.withdraw(conn, grant, application_id, expected, body.note, today()))


@router.post(
    "/api/applications/{application_id}/resubmit", response_model=Application, summary="补正后重新提交"
)
def resubmit(
    application_id: RowId, body: VersionBody, conn: Conn, grant: SubmitGrant, check: Versioned
) -> Application:
    """Answer the correction letter once for all of it (attach the new versions first)."""
    expected = check.expected(body.version)
    return check.answer(review.resubmit(conn, grant, application_id, expected, body.note, today()))


@router.post("/api/applications/{application_id}/accept", response_model=Application, summary="受理")
def accept(
    application_id: RowId, body: AcceptBody, conn: Conn, grant: IntakeGrant, check: Versioned
) -> Application:
    """Accept the package: every item enters review at once (gaps: 容缺受理 of the items needing them)."""
    expected = check.expected(body.version)
    return check.answer(intake.accept(conn, grant, application_id, body, expected, today()))


@router.post(
    "/api/applications/{application_id}/return", response_model=Application, summary="一次性告知退回"
)
def return_package(
    application_id: RowId, body: ReturnBody, conn: Conn, grant: IntakeGrant, check: Versioned
) -> Application:
    """Return the package with one consolidated list of points (a second return needs a reason)."""
    expected = check.expected(body.version)
    return check.answer(intake.return_package(conn, grant, application_id, body, expected, today()))


@router.post(
    "/api/applications/{application_id}/correction-letter",
    response_model=Application,
    summary="一次性补正告知",
)
def send_letter(
    application_id: RowId, body: LetterBody, conn: Conn, grant: IntakeGrant, check: Versioned
) -> Application:
    """Merge every department's open correction requests into one letter to the unit."""
    expected = check.expected(body.version)
    return check.answer(review.send_letter(conn, grant, application_id, body, expected, today()))


@router.post("/api/applications/{application_id}/issue", response_model=Application, summary="统一出件")
def issue(
    application_id: RowId, body: VersionBody, conn: Conn, grant: IntakeGrant, check: Versioned
) -> Application:
    """Issue the results together once every item has a decision; the next stage may then be opened."""
    expected = check.expected(body.version)
    return check.answer(intake.issue(conn, grant, application_id, expected, body.note, today()))


@router.post("/api/items/{item_id}/opinion", response_model=ApplicationItem, summary="部门审查意见")
def record_opinion(
    item_id: RowId, body: OpinionBody, conn: Conn, grant: ReviewGrant, check: Versioned
) -> ApplicationItem:
    """The item's department decides: 同意 / 有条件同意 (conditions) / 不同意 (reasons, legal basis)."""
    expected = (
        check.expected(body.version) if body.version is not None or check.if_match is not None else None
    )
    return review.opinion(conn, grant, item_id, body, expected, today())


@router.post(
    "/api/items/{item_id}/correction-requests",
    response_model=CorrectionRequest,
    status_code=201,
    summary="向窗口提出补正请求",
)
def request_correction(
    item_id: RowId, body: CorrectionRequestBody, conn: Conn, grant: ReviewGrant
) -> CorrectionRequest:
    """Ask the window for more on the department's item (merged into the window's one letter)."""
    return review.request_correction(conn, grant, item_id, body)


@router.delete(
    "/api/correction-requests/{request_id}", response_model=CorrectionRequest, summary="撤回补正请求"
)
def withdraw_request(request_id: RowId, conn: Conn, grant: ReviewGrant) -> CorrectionRequest:
    """Withdraw a correction request not yet in a letter."""
    return review.withdraw_request(conn, grant, request_id)


@router.get("/api/my-work", response_model=list[WorkItem], summary="我的待办")
def my_work(conn: Conn, grant: ReviewGrant) -> list[WorkItem]:
    """Every item of an open application waiting on the caller's department."""
    return review.my_work(conn, grant, today())
