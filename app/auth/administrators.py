"""The security administrator's accounts work: administrator accounts (given, revoked) and lock-outs."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from app.auth import users
from app.auth.deps import Grant
from app.auth.policy import ADMINISTRATOR_ROLES
from app.errors import Forbidden, NotFound, Unprocessable
from layers.audit import Actor, record


def locked_users(conn: Connection[Any], *, limit: int = 200, offset: int = 0) -> list[users.User]:
    """Accounts locked now, by username."""
    return users.list_users(conn, locked=True, limit=limit, offset=offset)


def create_administrator(
    conn: Connection[Any], actor: Actor, data: users.UserCreate
) -> tuple[users.User, str | None]:
    """Create an account with an administrator role (a business role is the system administrator's)."""
    if data.role not in ADMINISTRATOR_ROLES:
        raise Unprocessable(
            "此处只创建管理员账户（系统管理员、安全管理员、安全审计员）；业务角色的账户由系统管理员创建。",
            "Only administrator accounts (system, security, audit) are created here; the system "
            "administrator creates accounts of business roles.",
            code="not_an_administrator_role",
        )
    return users.create_user(conn, actor, data)


def administrator(conn: Connection[Any], user_id: int, grant: Grant) -> users.User:
    """An administrator account other than the caller's own, or 404/403."""
    user = users.get_user(conn, user_id)
    if user.role not in ADMINISTRATOR_ROLES:
        raise NotFound("没有这个管理员账户。", "No such administrator account.")
    if user.id == grant.principal.user_id:
        raise Forbidden(
            "不能收回或重置自己的管理员账户。",
            "You cannot revoke or reset your own administrator account.",
            code="own_administrator_account",
        )
    return user


def revoke_administrator(conn: Connection[Any], grant: Grant, user_id: int) -> users.User:
    """Disable an administrator account for good and end its sessions (its role never changes)."""
    with conn.transaction():
        before = administrator(conn, user_id, grant)
        if before.disabled:
            return before  # already revoked: no change, no audit row claiming one
        conn.execute(
            "UPDATE auth.user SET disabled = true, updated_at = now(), version = version + 1 WHERE id = %s",
            (user_id,),
        )
        conn.execute(
            "UPDATE auth.session SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
        )
        after = users.get_user(conn, user_id)
        record(
            conn,
            grant.actor,
            "user.role_revoked",
            "user",
            user_id,
            before={"role": before.role.value, "disabled": False},
            after={"role": after.role.value, "disabled": True},
        )
    return after
