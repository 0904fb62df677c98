"""Routes: the bottom-up demand pool."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import Versioned, catalog_of, today
from app.edge.params import RowId
from app.projects import demands
from app.projects.demands import Demand, DemandCreate, Triage

router = APIRouter(prefix="/api/demands", tags=["demands"])

SubmitGrant = Annotated[Grant, Depends(Allow(Action.DEMANDS_SUBMIT))]
TriageGrant = Annotated[Grant, Depends(Allow(Action.DEMANDS_TRIAGE))]


@router.post("", response_model=Demand, status_code=201, summary="提交需求")
def submit_demand(body: DemandCreate, conn: Conn, grant: SubmitGrant) -> Demand:
    """Raise a need (resident, deputy, enterprise, industrial park) with its location."""
    return demands.submit(conn, grant, body)


@router.get("", response_model=list[Demand], summary="需求池")
def list_demands(
    conn: Conn,
    grant: SubmitGrant,
    status: Annotated[
        Literal["open", "merged", "accepted", "rejected"] | None, Query(description="状态")
    ] = None,
) -> list[Demand]:
    """Submitters see their own demands and outcomes; triagers see the whole pool."""
    return demands.list_demands(conn, grant, status)


@router.get("/{demand_id}", response_model=Demand, summary="需求详情与处理结果")
def get_demand(demand_id: RowId, conn: Conn, grant: SubmitGrant) -> Demand:
    """One demand with its outcome (merged into, project it became, or the reason it was rejected)."""
    return demands.get_demand(conn, grant, demand_id)


@router.post("/{demand_id}/{verb}", response_model=Demand, summary="处理需求：合并、采纳或驳回")
def decide_demand(
    demand_id: RowId,
    verb: Literal["merge", "accept", "reject"],
    body: Triage,
    request: Request,
    conn: Conn,
    grant: TriageGrant,
    check: Versioned,
) -> Demand:
    """merge (into_id), accept (project_id or new_project) or reject (reason) an open demand."""
    expected, from_header = check.expected(body.version)
    known = set(catalog_of(request).layers)
    return demands.decide(
        conn, grant, demand_id, verb, body, expected, from_header, known_layers=known, today=today()
    )
