"""Routes: demolition blockers (问题) — raise, list, comment, escalate, reassign, resolve."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.demolition import blockers
from app.demolition.blockers import Blocker, BlockerActionIn, BlockerComment, BlockerCreate
from app.demolition.ledger import visible_project
from app.edge.params import RowId

router = APIRouter(tags=["demolition"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.DEMOLITION_READ))]
WorkGrant = Annotated[Grant, Depends(Allow(Action.BLOCKERS_WORK))]
Status = Annotated[str | None, Query(pattern="^(open|escalated|resolved)$", description="状态")]
OverdueOn = Annotated[date | None, Query(description="只看在该日已逾期的问题")]


@router.post(
    "/api/demolition/projects/{project_id}/blockers",
    response_model=Blocker,
    status_code=201,
    summary="登记征拆问题",
)
def raise_blocker(project_id: RowId, body: BlockerCreate, conn: Conn, grant: WorkGrant) -> Blocker:
    """Coordinators raise a blocker on the project or one of its units, for a department, with a deadline."""
    return blockers.raise_blocker(conn, grant, project_id, body)


@router.get(
    "/api/demolition/projects/{project_id}/blockers", response_model=list[Blocker], summary="项目征拆问题"
)
def project_blockers(
    project_id: RowId, conn: Conn, grant: ReadGrant, status: Status = None, overdue_on: OverdueOn = None
) -> list[Blocker]:
    """The project's blockers, earliest deadline first."""
    visible_project(conn, grant, project_id)
    return blockers.list_blockers(conn, grant, project_id, status, overdue_on)


@router.get("/api/demolition/blockers", response_model=list[Blocker], summary="我的征拆问题")
def my_blockers(
    conn: Conn, grant: WorkGrant, status: Status = None, overdue_on: OverdueOn = None
) -> list[Blocker]:
    """Departments: blockers assigned to them; project units: their projects'; coordinators: all."""
    return blockers.list_blockers(conn, grant, None, status, overdue_on)


@router.post("/api/demolition/blockers/{blocker_id}/actions", response_model=Blocker, summary="处理征拆问题")
def act(blocker_id: RowId, body: BlockerActionIn, conn: Conn, grant: WorkGrant) -> Blocker:
    """Comment; resolve (coordinators or the assigned department); escalate or reassign (coordinators)."""
    return blockers.act(conn, grant, blocker_id, body)


@router.get(
    "/api/demolition/blockers/{blocker_id}/comments",
    response_model=list[BlockerComment],
    summary="问题讨论记录",
)
def comments(blocker_id: RowId, conn: Conn, grant: WorkGrant) -> list[BlockerComment]:
    """Raise, comments, escalations, reassignments and the resolution, oldest first."""
    return blockers.comments(conn, grant, blocker_id)
