"""Routes: the organisation directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.edge.params import RowId
from app.orgs import service
from app.orgs.service import Organisation, OrganisationCreate, OrgKind

router = APIRouter(prefix="/api/orgs", tags=["organisations"])


@router.get("", response_model=list[Organisation], summary="组织列表")
def list_orgs(
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.ORGS_READ))],
    kind: Annotated[OrgKind | None, Query(description="按类型筛选")] = None,
) -> list[Organisation]:
    """Departments, project units and sub-districts."""
    return service.list_orgs(conn, kind)


@router.post("", response_model=Organisation, status_code=201, summary="新增组织")
def create_org(
    body: OrganisationCreate, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.ORGS_MANAGE))]
) -> Organisation:
    """Add a department, project unit or sub-district."""
    return service.create_org(conn, grant.actor, body)


@router.get("/{org_id}", response_model=Organisation, summary="组织详情")
def get_org(
    org_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.ORGS_READ))]
) -> Organisation:
    """One organisation."""
    return service.get_org(conn, org_id)
