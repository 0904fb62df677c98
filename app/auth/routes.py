"""Routes: sign-in, sign-out, the caller's account, and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.auth import users
from app.auth.deps import Allow, AllowBriefly, Grant, client_ip, public
from app.auth.policy import ADMINISTRATOR_ROLES, ROLE_LABELS, Action, Role, scope_for
from app.auth.sessions import checked_and_settled, settle_sign_in, sign_out
from app.db import Conn, leased_connection
from app.edge.params import Offset, RowId
from app.errors import Conflict, Forbidden

router = APIRouter(prefix="/api", tags=["auth"])


class TokenResponse(BaseModel):
    """OAuth2 bearer token answer."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="有效期（秒）")
    expires_at: datetime
    must_change_password: bool
    password_expired: bool = Field(default=False, description="密码已过期：修改前只能访问本人账户")


class PasswordChange(BaseModel):
    """The caller's current and new password."""

    current_password: str
    new_password: str


class CreatedUser(BaseModel):
    """A created or reset account with its one-time password (shown only in this answer)."""

    user: users.User
    one_time_password: str | None = Field(default=None, description="一次性密码，仅显示一次")


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    dependencies=[Depends(public())],
    summary="登录（OAuth2 密码模式）",
)
async def issue_token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
) -> TokenResponse:
    """Exchange username and password for a bearer token (Argon2 runs with no connection held)."""
    settings = request.app.state.settings
    issued = await checked_and_settled(
        request,
        username,
        password,
        lambda conn, check: settle_sign_in(
            conn,
            settings,
            username,
            check,
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            request_id=getattr(request.state, "request_id", None),
        ),
    )
    return TokenResponse(
        access_token=issued.token,
        expires_in=settings.token_ttl_minutes * 60,
        expires_at=issued.expires_at,
        must_change_password=issued.must_change_password,
        password_expired=issued.password_expired,
    )


@router.post("/auth/logout", status_code=204, response_class=Response, summary="退出登录（吊销当前令牌）")
def logout(conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.SELF_READ))]) -> Response:
    """Revoke the token used for this request."""
    sign_out(conn, grant.principal, grant.actor)
    return Response(status_code=204)


class RoleLabel(BaseModel):
    """A role's code and its names for people."""

    code: Role
    name_zh: str
    name_en: str


@router.get("/roles", response_model=list[RoleLabel], tags=["users"], summary="角色列表（代码与名称）")
def list_roles(_: Annotated[Grant, Depends(Allow(Action.SELF_READ))]) -> list[RoleLabel]:
    """Every role with its Chinese and English name (pages show these, never hard-coded names)."""
    return [RoleLabel(code=role, name_zh=zh, name_en=en) for role, (zh, en) in ROLE_LABELS.items()]


class Me(users.User):
    """The signed-in account and what its role may do (action → scope), from the one policy table."""

    permissions: dict[str, str]
    password_expired: bool = Field(default=False, description="密码已过期：修改前只能访问本人账户")


@router.get("/auth/me", response_model=Me, summary="当前用户")
def me(conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.SELF_READ))]) -> Me:
    """The signed-in account, with its role's permissions (clients show only what the user may do)."""
    user = users.get_user(conn, grant.principal.user_id)
    permissions = {
        action.value: scope.value for action in Action if (scope := scope_for(user.role, action)) is not None
    }
    return Me(**user.model_dump(), permissions=permissions, password_expired=grant.principal.password_expired)


@router.post("/auth/password", response_model=users.User, summary="修改本人密码")
async def change_own_password(
    request: Request,
    body: PasswordChange,
    grant: Annotated[Grant, Depends(AllowBriefly(Action.SELF_UPDATE))],
) -> users.User:
    """Change the caller's password; other sessions of the account end.

    As at sign-in, Argon2 (checking the current password, hashing the new one) runs with no connection
    held; the new hash is swapped in only if the password is still the one checked.
    """
    async with leased_connection(request) as conn:
        state = await run_in_threadpool(users.stored_password, conn, grant.principal.user_id)
    # Checking reuse verifies the new password against each recent hash: CPU work, no connection held.
    async with request.app.state.password_gate.admitted():
        new_hash = await run_in_threadpool(
            users.new_password_hash, state, body.current_password, body.new_password
        )
    p = grant.principal
    async with leased_connection(request) as conn:
        changed = await run_in_threadpool(
            users.replace_password, conn, grant.actor, p.user_id, state.password_hash, new_hash, p.session_id
        )
    if changed is None:
        raise Conflict(
            "密码已在别处被修改，请重新登录后再试。",
            "The password was changed elsewhere meanwhile; sign in again and retry.",
            code="password_changed",
        )
    return changed


TOTAL_HEADER = "X-Total-Count"


@router.get(
    "/users",
    response_model=list[users.User],
    tags=["users"],
    summary="用户列表（可搜索、分页）",
    responses={
        200: {"headers": {TOTAL_HEADER: {"description": "符合条件的用户总数", "schema": {"type": "integer"}}}}
    },
)
def list_users(
    conn: Conn,
    response: Response,
    grant: Annotated[Grant, Depends(Allow(Action.USERS_READ))],
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="按用户名或姓名搜索")] = None,
    org_id: Annotated[RowId | None, Query(description="按组织筛选")] = None,
    role: Annotated[Role | None, Query(description="按角色筛选")] = None,
    disabled: Annotated[bool | None, Query(description="true：仅停用的；false：仅启用的")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[Offset, Query()] = 0,
) -> list[users.User]:
    """Users the caller may see (all for administrators, else the caller's organisation) that match, one page
    of them; how many match in all is in the ``X-Total-Count`` header."""
    own = grant.org_filter()
    found = users.UserPage(total=0, users=[])
    if own is None or org_id in (None, own):
        found = users.search_users(
            conn, q=q, org_id=own or org_id, role=role, disabled=disabled, limit=limit, offset=offset
        )
    response.headers[TOTAL_HEADER] = str(found.total)
    return found.users


@router.post("/users", response_model=CreatedUser, status_code=201, tags=["users"], summary="创建用户")
def create_user(
    body: users.UserCreate, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.USERS_MANAGE))]
) -> CreatedUser:
    """Create an account of a business role; a one-time password is returned when none was given."""
    if body.role in ADMINISTRATOR_ROLES:
        raise administrator_role_reserved()
    user, password = users.create_user(conn, grant.actor, body)
    return CreatedUser(user=user, one_time_password=password)


@router.get("/users/{user_id}", response_model=users.User, tags=["users"], summary="用户详情")
def get_user(
    user_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.USERS_READ))]
) -> users.User:
    """One account, if the caller may see it."""
    user = users.get_user(conn, user_id)
    grant.check_org(user.org_id)
    return user


@router.patch("/users/{user_id}", response_model=users.User, tags=["users"], summary="修改用户")
def update_user(
    user_id: RowId,
    body: users.UserUpdate,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.USERS_MANAGE))],
) -> users.User:
    """Change role, organisation, name or disabled state (optimistic locking on ``version``)."""
    if user_id == grant.principal.user_id and body.disabled:
        raise Forbidden("不能停用自己或取消自己的管理员角色。", "You cannot disable or demote yourself.")
    if body.disabled is not None and users.get_user(conn, user_id).role in ADMINISTRATOR_ROLES:
        raise administrator_account_reserved()
    return users.update_user(conn, grant.actor, user_id, body)


@router.post(
    "/users/{user_id}/reset-password",
    response_model=CreatedUser,
    tags=["users"],
    summary="重置密码（生成一次性密码）",
)
def reset_password(
    user_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.USERS_MANAGE))]
) -> CreatedUser:
    """Issue a new one-time password; the account's sessions end (administrators: the security admin's)."""
    if users.get_user(conn, user_id).role in ADMINISTRATOR_ROLES:
        raise administrator_account_reserved()
    user, password = users.reset_password(conn, grant.actor, user_id)
    return CreatedUser(user=user, one_time_password=password)


@router.post("/users/{user_id}/unlock", response_model=users.User, tags=["users"], summary="解除锁定")
def unlock_user(
    user_id: RowId, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.ACCOUNTS_UNLOCK))]
) -> users.User:
    """Lift a lock-out after repeated failed sign-ins."""
    return users.unlock_user(conn, grant.actor, user_id)


def administrator_role_reserved() -> Forbidden:
    """Only the security administrator gives an administrator role (at an account's creation)."""
    return Forbidden(
        "管理员角色（系统管理员、安全管理员、安全审计员）只能由安全管理员授予。",
        "Only the security administrator gives an administrator role (system, security or audit).",
        code="administrator_role_reserved",
    )


def administrator_account_reserved() -> Forbidden:
    """Administrator accounts are disabled and reset by the security administrator, not the system one."""
    return Forbidden(
        "管理员账户的停用、启用和密码重置由安全管理员办理。",
        "Administrator accounts are disabled, enabled and reset by the security administrator.",
        code="administrator_account_reserved",
    )
