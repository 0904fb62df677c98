"""Routes: approval plans, items, their transitions and event log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import Versioned, today, with_etag
from app.edge.params import RowId
from app.projects import items as item_service
from app.projects import plan as plan_service
from app.projects import preevaluation_link
from app.projects import service as project_service
from app.projects.items import ItemEvent, TransitionRequest
from app.projects.plan import Item, PlanView

router = APIRouter(tags=["approvals"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.PROJECTS_READ))]
ManageGrant = Annotated[Grant, Depends(Allow(Action.PROJECTS_MANAGE))]
TransitionGrant = Annotated[Grant, Depends(Allow(Action.ITEMS_TRANSITION))]


@router.post(
    "/api/projects/{project_id}/plan", response_model=list[Item], status_code=201, summary="生成审批计划"
)
def create_plan(project_id: RowId, conn: Conn, grant: ManageGrant) -> list[Item]:
    """Instantiate the project type's template (investment thresholds drop or merge items); the latest
    stored pre-evaluation naming the project's code adds its triggered items."""
    return preevaluation_link.create_plan_with_pre_evaluation(conn, grant, project_id)


@router.get("/api/projects/{project_id}/plan", response_model=PlanView, summary="倒排审批计划")
def get_plan(
    project_id: RowId,
    conn: Conn,
    grant: ReadGrant,
    target_start: Annotated[date | None, Query(description="目标开工日期；缺省为项目计划开工日期")] = None,
    as_of: Annotated[date | None, Query(description="计算日期；缺省为今天")] = None,
) -> PlanView:
    """Latest start/finish of every item, float, critical path, feasibility, the forecast start, and the
    transitions the caller may take on each item now."""
    view = plan_service.plan_view(conn, grant, project_id, target_start, as_of or today())
    unit_org_id = project_service.fetch_project(conn, project_id).unit_org_id
    held = item_service.window_item_ids(conn, project_id)  # items of an open application (综合窗口)
    for item in view.items:
        actions = item_service.allowed_actions(grant, item, unit_org_id)
        item.actions = [a for a in actions if item.id not in held or a not in item_service.WINDOW_HANDLED]
    return view


@router.get("/api/items", response_model=list[Item], summary="审批事项清单")
def list_items(
    conn: Conn,
    grant: ReadGrant,
    status: Annotated[str | None, Query(description="状态，如 submitted、under_review")] = None,
    project_id: Annotated[RowId | None, Query(description="项目")] = None,
    department: Annotated[str | None, Query(description="部门（组织代码）")] = None,
) -> list[Item]:
    """Work queues: a department sees its own items, a project unit its projects' items."""
    return item_service.list_items(conn, grant, status, project_id, department)


@router.get("/api/items/{item_id}", response_model=Item, summary="审批事项")
def get_item(item_id: RowId, response: Response, conn: Conn, grant: ReadGrant) -> Item:
    """One item; its ETag is the version a transition must carry."""
    return with_etag(response, item_service.get_item(conn, grant, item_id))


@router.post("/api/items/{item_id}/transitions", response_model=Item, summary="办理审批事项")
def take_transition(
    item_id: RowId,
    body: TransitionRequest,
    conn: Conn,
    grant: TransitionGrant,
    check: Versioned,
) -> Item:
    """Move an item (unit: submit/resubmit/supplement; department: accept/容缺/review/补正/approve/reject)."""
    expected, from_header = check.expected(body.version)
    return check.answer(item_service.transition(conn, grant, item_id, body, expected, from_header, today()))


@router.get("/api/items/{item_id}/events", response_model=list[ItemEvent], summary="事项办理记录")
def list_events(item_id: RowId, conn: Conn, grant: ReadGrant) -> list[ItemEvent]:
    """Every transition of the item: who, when, from, to, note."""
    return item_service.list_events(conn, grant, item_id)


@router.post(
    "/api/projects/{project_id}/plan/pre-evaluations/{pre_evaluation_id}",
    response_model=list[Item],
    summary="按预评价结果增补审批事项",
)
def add_from_pre_evaluation(
    project_id: RowId, pre_evaluation_id: RowId, conn: Conn, grant: ManageGrant
) -> list[Item]:
    """Add the approval items a stored pre-evaluation triggers (conflict as the reason), before the items
    the rule set says they precede."""
    return preevaluation_link.add_from_pre_evaluation(conn, grant, project_id, pre_evaluation_id)
