"""User accounts: creation, listing, changes, password resets; every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.passwords import check_policy, hash_password, one_time_password, verify_password
from app.auth.policy import Role
from app.db import contains_pattern
from app.edge.params import Number
from app.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from layers.audit import Actor, record

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"

# Event logs keep the login name of who acted (``actor_name``); people read the account's display name.
# Queries alias the log table ``e`` and add these two fragments.
ACTOR_DISPLAY_NAME = "coalesce(nullif(actor.display_name, ''), e.actor_name) AS actor_display_name"
JOIN_ACTOR = "LEFT JOIN auth.user actor ON actor.id = e.actor_id"

_COLUMNS = """
    u.id, u.username, u.display_name, u.role, u.org_id, o.code AS org_code, o.name_zh AS org_name_zh,
    u.must_change_password, u.disabled, u.failed_attempts,
    coalesce(u.locked_until > now(), false) AS locked, u.locked_until, u.last_login_at,
    u.created_at, u.updated_at, u.version
"""


class User(BaseModel):
    """A user account as the API shows it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    org_id: int
    org_code: str
    org_name_zh: str
    must_change_password: bool
    disabled: bool
    failed_attempts: int
    locked: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class UserCreate(BaseModel):
    """A new account; without a password a one-time password is generated and shown once."""

    username: str = Field(pattern=USERNAME_PATTERN, description="小写字母、数字、. _ -，2–63 个字符")
    display_name: str = Field(default="", max_length=100)
    role: Role
    org_code: str = Field(description="所属组织代码")
    password: str | None = Field(default=None, description="留空则生成一次性密码")


class UserUpdate(BaseModel):
    """Changes to an account; ``version`` must be the one last read (optimistic locking)."""

    version: Number
    display_name: str | None = Field(default=None, max_length=100)
    role: Role | None = None
    org_code: str | None = None
    disabled: bool | None = None


def _audit_view(user: User) -> dict[str, Any]:
    return user.model_dump(exclude={"failed_attempts", "locked", "locked_until", "last_login_at"})


def get_user(conn: Connection[Any], user_id: int) -> User:
    """One user by id, or 404."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM auth.user u JOIN auth.organisation o ON o.id = u.org_id WHERE u.id = %s",
            (user_id,),
        ).fetchone()
    if row is None:
        raise NotFound("用户不存在。", "No such user.")
    return User(**row)


# The filters of a user listing; a NULL parameter leaves its filter out.
_USER_FILTER = """
    FROM auth.user u JOIN auth.organisation o ON o.id = u.org_id
    WHERE (%(org)s::bigint IS NULL OR u.org_id = %(org)s)
      AND (%(role)s::text IS NULL OR u.role = %(role)s)
      AND (%(disabled)s::boolean IS NULL OR u.disabled = %(disabled)s)
      AND (%(p)s::text IS NULL OR u.username ILIKE %(p)s OR u.display_name ILIKE %(p)s)
"""


class UserPage(BaseModel):
    """One page of a user search and how many users match in all."""

    total: int = Field(description="符合条件的用户总数")
    users: list[User]


def list_users(
    conn: Connection[Any],
    *,
    org_id: int | None = None,
    role: Role | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[User]:
    """Users, optionally of one organisation and role, ordered by username."""
    return search_users(conn, org_id=org_id, role=role, limit=limit, offset=offset).users


def search_users(
    conn: Connection[Any],
    *,
    q: str | None = None,
    org_id: int | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
    limit: int = 200,
    offset: int = 0,
) -> UserPage:
    """Users matching ``q`` (in the login or display name) and the filters, ordered by username."""
    params = {
        "org": org_id,
        "role": role,
        "disabled": disabled,
        "p": contains_pattern(q.strip()) if q and q.strip() else None,
        "limit": limit,
        "offset": offset,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} {_USER_FILTER} ORDER BY u.username LIMIT %(limit)s OFFSET %(offset)s", params
        ).fetchall()
        counted = cur.execute(f"SELECT count(*) AS n {_USER_FILTER}", params).fetchone()
    return UserPage(total=counted["n"] if counted else 0, users=[User(**r) for r in rows])


def _org_id(conn: Connection[Any], org_code: str) -> int:
    row = conn.execute("SELECT id FROM auth.organisation WHERE code = %s", (org_code,)).fetchone()
    if row is None:
        raise Unprocessable(f"组织“{org_code}”不存在。", f"Organisation '{org_code}' does not exist.")
    return int(row[0])


def create_user(conn: Connection[Any], actor: Actor, data: UserCreate) -> tuple[User, str | None]:
    """Create an account; return it with the one-time password when one was generated."""
    generated = None
    password = data.password
    if password is None:
        password = generated = one_time_password()
    else:
        check_policy(password, data.username)
    with conn.transaction():
        org_id = _org_id(conn, data.org_code)
        try:
            row = conn.execute(
                """
                INSERT INTO auth.user
                  (username, display_name, role, org_id, password_hash, must_change_password)
                VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
                """,
                (
                    data.username,
                    data.display_name,
                    data.role.value,
                    org_id,
                    hash_password(password),
                    generated is not None,
                ),
            ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(
                f"用户名“{data.username}”已存在。", f"Username '{data.username}' is taken."
            ) from exc
        assert row is not None
        user = get_user(conn, row[0])
        record(conn, actor, "user.create", "user", user.id, after=_audit_view(user))
    return user, generated


def update_user(conn: Connection[Any], actor: Actor, user_id: int, data: UserUpdate) -> User:
    """Apply changes when ``data.version`` is current, else 412 with nothing written."""
    with conn.transaction():
        before = get_user(conn, user_id)
        if before.version != data.version:
            raise PreconditionFailed(
                f"用户已被他人修改（当前版本 {before.version}），请刷新后重试。",
                f"The user changed since you read it (current version {before.version}).",
                current=before.model_dump(mode="json"),
            )
        org_id = _org_id(conn, data.org_code) if data.org_code else before.org_id
        conn.execute(
            """
            UPDATE auth.user SET display_name = %s, role = %s, org_id = %s, disabled = %s,
                   updated_at = now(), version = version + 1
            WHERE id = %s AND version = %s
            """,
            (
                before.display_name if data.display_name is None else data.display_name,
                (data.role or before.role).value,
                org_id,
                before.disabled if data.disabled is None else data.disabled,
                user_id,
                data.version,
            ),
        )
        if data.disabled:
            _revoke_sessions(conn, user_id)
        after = get_user(conn, user_id)
        record(
            conn, actor, "user.update", "user", user_id, before=_audit_view(before), after=_audit_view(after)
        )
    return after


def reset_password(conn: Connection[Any], actor: Actor, user_id: int) -> tuple[User, str]:
    """Give an account a new one-time password, unlock it and end its sessions."""
    password = one_time_password()
    with conn.transaction():
        before = get_user(conn, user_id)
        conn.execute(
            """
            UPDATE auth.user SET password_hash = %s, must_change_password = true, failed_attempts = 0,
                   locked_until = NULL, updated_at = now(), version = version + 1 WHERE id = %s
            """,
            (hash_password(password), user_id),
        )
        _revoke_sessions(conn, user_id)
        after = get_user(conn, user_id)
        record(
            conn,
            actor,
            "user.reset_password",
            "user",
            user_id,
            before=_audit_view(before),
            after=_audit_view(after),
        )
    return after, password


def unlock_user(conn: Connection[Any], actor: Actor, user_id: int) -> User:
    """Lift a lock-out."""
    with conn.transaction():
        before = get_user(conn, user_id)
        if before.locked_until is None and before.failed_attempts == 0:
            return before  # nothing to lift: no change, so no audit row claiming one
        conn.execute(
            "UPDATE auth.user SET failed_attempts = 0, locked_until = NULL, updated_at = now() WHERE id = %s",
            (user_id,),
        )
        after = get_user(conn, user_id)
        record(
            conn,
            actor,
            "user.unlock",
            "user",
            user_id,
            before={"locked_until": before.locked_until, "failed_attempts": before.failed_attempts},
            after={"locked_until": None, "failed_attempts": 0},
        )
    return after


def stored_password(conn: Connection[Any], user_id: int) -> tuple[str, str]:
    """The account's username and current password hash (read without a lock)."""
    row = conn.execute("SELECT username, password_hash FROM auth.user WHERE id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound()
    return str(row[0]), str(row[1])


def new_password_hash(username: str, password_hash: str, current: str, new: str) -> str:
    """Check the current password and the new one's policy; the new hash (Argon2: no connection needed)."""
    if not verify_password(password_hash, current):
        raise Unprocessable("当前密码不正确。", "The current password is wrong.", code="wrong_password")
    if current == new:
        raise Unprocessable(
            "新密码不能与当前密码相同。", "The new password must differ from the current one."
        )
    check_policy(new, username)
    return hash_password(new)


def replace_password(
    conn: Connection[Any],
    actor: Actor,
    user_id: int,
    checked_hash: str,
    new_hash: str,
    keep_session: int | None,
) -> User | None:
    """Swap in ``new_hash`` if the password is still the one checked (None: it changed meanwhile).

    Ends the account's other sessions; one transaction with its audit row.
    """
    with conn.transaction():
        changed = conn.execute(
            """
            UPDATE auth.user SET password_hash = %s, must_change_password = false, updated_at = now(),
                   version = version + 1 WHERE id = %s AND password_hash = %s
            """,
            (new_hash, user_id, checked_hash),
        ).rowcount
        if not changed:
            return None
        conn.execute(
            "UPDATE auth.session SET revoked_at = now()"
            " WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s",
            (user_id, keep_session),
        )
        record(conn, actor, "user.change_password", "user", user_id)
    return get_user(conn, user_id)


def _revoke_sessions(conn: Connection[Any], user_id: int) -> None:
    conn.execute(
        "UPDATE auth.session SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
    )
