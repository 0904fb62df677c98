"""Routes: the organisation directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.edge.params import Offset, RowId
from app.orgs import service
from app.orgs.service import Organisation, OrganisationCreate, OrganisationUpdate, OrgKind

router = APIRouter(prefix="/api/orgs", tags=["organisations"])


@router.get("", response_model=list[Organisation], summary="组织列表")
def list_orgs(
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.ORGS_READ))],
    kind: Annotated[OrgKind | None, Query(description="按类型筛选")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="按名称（中英文）或代码搜索")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="最多返回条数（缺省：全部）")] = None,
    offset: Annotated[Offset, Query(description="跳过条数（分页）")] = 0,
) -> list[Organisation]:
    """Departments, project units and sub-districts."""
    return service.list_orgs(conn, kind, q, limit, offset)


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


@router.patch("/{org_id}", response_model=Organisation, summary="修改组织")
def update_org(
    org_id: RowId,
    body: OrganisationUpdate,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.ORGS_MANAGE))],
) -> Organisation:
    """Rename or reclassify an organisation (optimistic locking on ``version``; the code stays)."""
    return service.update_org(conn, grant.actor, org_id, body)
