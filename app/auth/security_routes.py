"""Routes of the security administrator: the identification policy, lock-outs, roles and administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from app.auth import administrators, users
from app.auth.deps import Allow, Grant
from app.auth.policy import ADMINISTRATOR_ROLES, POLICY, ROLE_LABELS, Action, Role
from app.auth.routes import CreatedUser
from app.auth.security_policy import SecurityPolicy, SecurityPolicyUpdate, get_policy, update_policy
from app.db import Conn
from app.edge.params import Offset, RowId

router = APIRouter(prefix="/api/security", tags=["security"])


@router.get("/policy", response_model=SecurityPolicy, summary="安全策略（口令、锁定、会话）")
def read_policy(conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.SECURITY_READ))]) -> SecurityPolicy:
    """The identification policy in force."""
    return get_policy(conn)


@router.put("/policy", response_model=SecurityPolicy, summary="修改安全策略")
def change_policy(
    body: SecurityPolicyUpdate, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.SECURITY_MANAGE))]
) -> SecurityPolicy:
    """Replace the policy (optimistic locking on ``version``); audited with before and after."""
    return update_policy(conn, grant.actor, body)


@router.get("/locked", response_model=list[users.User], summary="被锁定的账户")
def locked_accounts(
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.ACCOUNTS_UNLOCK))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[Offset, Query()] = 0,
) -> list[users.User]:
    """Accounts locked now after repeated failed sign-ins, the latest lock first."""
    return administrators.locked_users(conn, limit=limit, offset=offset)


class RoleInfo(BaseModel):
    """A role as the matrix shows it."""

    role: Role
    label_zh: str
    label_en: str
    administrator: bool = Field(description="三员之一：只能在创建账户时由安全管理员授予")


class RoleMatrix(BaseModel):
    """The one policy table: which role may perform which action, and how far (any / org / self)."""

    roles: list[RoleInfo]
    actions: list[str]
    grants: dict[str, dict[str, str]] = Field(description="action → role → scope")


@router.get("/roles", response_model=RoleMatrix, summary="角色与权限矩阵（只读）")
def role_matrix(grant: Annotated[Grant, Depends(Allow(Action.SECURITY_READ))]) -> RoleMatrix:
    """The role × action matrix, read from the policy table the server enforces."""
    return RoleMatrix(
        roles=[
            RoleInfo(
                role=r,
                label_zh=ROLE_LABELS[r][0],
                label_en=ROLE_LABELS[r][1],
                administrator=r in ADMINISTRATOR_ROLES,
            )
            for r in Role
        ],
        actions=[a.value for a in Action],
        grants={a.value: {r.value: s.value for r, s in POLICY[a].items()} for a in Action},
    )


@router.post(
    "/administrators", response_model=CreatedUser, status_code=201, summary="创建管理员账户（授予管理员角色）"
)
def create_administrator(
    body: users.UserCreate, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.ROLES_GRANT))]
) -> CreatedUser:
    """A new account with one administrator role (an administrator role is given only this way)."""
    user, password = administrators.create_administrator(conn, grant.actor, body)
    return CreatedUser(user=user, one_time_password=password)


@router.post(
    "/administrators/{user_id}/revoke", response_model=users.User, summary="收回管理员角色（停用账户）"
)
def revoke_administrator(
    user_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.ROLES_GRANT))]
) -> users.User:
    """Take an administrator role back: the account (whose role never changes) is disabled for good."""
    return administrators.revoke_administrator(conn, grant, user_id)


@router.post(
    "/administrators/{user_id}/reset-password", response_model=CreatedUser, summary="重置管理员账户密码"
)
def reset_administrator_password(
    user_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.ROLES_GRANT))]
) -> CreatedUser:
    """Issue a new one-time password to an administrator account; its sessions end."""
    administrators.administrator(conn, user_id, grant)
    user, password = users.reset_password(conn, grant.actor, user_id)
    return CreatedUser(user=user, one_time_password=password)
