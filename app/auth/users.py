"""User accounts: creation, listing, changes, password resets; every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from app.auth.passwords import PasswordRules, check_policy, hash_password, one_time_password, verify_password
from app.auth.policy import ADMINISTRATOR_ROLES, Role
from app.auth.security_policy import get_policy
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


class OneRole(BaseModel):
    """A body naming the account's role: exactly one, never a list (``roles``) of several."""

    # Kept, not ignored, so that a request giving ``roles`` is refused by name instead of half-applied.
    model_config = ConfigDict(extra="allow")

    def refuse_several_roles(self) -> None:
        """422 when the body tries to give the account a list of roles."""
        if self.model_extra and "roles" in self.model_extra:
            raise Unprocessable(
                "一个账户只能有一个角色（role），不能同时拥有多个角色。",
                "An account holds exactly one role ('role'); it cannot be given several.",
                code="one_role_per_account",
            )


class UserCreate(OneRole):
    """A new account; without a password a one-time password is generated and shown once."""

    username: str = Field(pattern=USERNAME_PATTERN, description="小写字母、数字、. _ -，2–63 个字符")
    display_name: str = Field(default="", max_length=100)
    role: Role
    org_code: str = Field(description="所属组织代码")
    password: str | None = Field(default=None, description="留空则生成一次性密码")


class UserUpdate(OneRole):
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
      AND (%(locked)s::boolean IS NULL OR coalesce(u.locked_until > now(), false) = %(locked)s)
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
    locked: bool | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[User]:
    """Users, optionally of one organisation and role, locked or not, ordered by username."""
    return search_users(conn, org_id=org_id, role=role, locked=locked, limit=limit, offset=offset).users


def search_users(
    conn: Connection[Any],
    *,
    q: str | None = None,
    org_id: int | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
    locked: bool | None = None,
    limit: int = 200,
    offset: int = 0,
) -> UserPage:
    """Users matching ``q`` (in the login or display name) and the filters, ordered by username."""
    params = {
        "org": org_id,
        "role": role,
        "disabled": disabled,
        "locked": locked,
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
    data.refuse_several_roles()
    policy = get_policy(conn)
    generated = None
    password = data.password
    if password is None:
        password = generated = one_time_password(policy.one_time_length())
    else:
        check_policy(password, data.username, policy.password_rules())
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
    data.refuse_several_roles()
    with conn.transaction():
        before = get_user(conn, user_id)
        if before.version != data.version:
            raise PreconditionFailed(
                f"用户已被他人修改（当前版本 {before.version}），请刷新后重试。",
                f"The user changed since you read it (current version {before.version}).",
                current=before.model_dump(mode="json"),
            )
        if data.role is not None and data.role is not before.role:
            check_role_change(before.role, data.role)
        org_id = _org_id(conn, data.org_code) if data.org_code else before.org_id
        try:
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
        except psycopg.errors.CheckViolation as exc:
            if exc.diag.constraint_name == "user_administrator_role_fixed":
                raise administrator_role_fixed() from exc
            raise
        if data.disabled:
            _revoke_sessions(conn, user_id)
        after = get_user(conn, user_id)
        record(
            conn, actor, "user.update", "user", user_id, before=_audit_view(before), after=_audit_view(after)
        )
    return after


def check_role_change(old: Role, new: Role) -> None:
    """An administrator keeps its role for life and no account becomes one by a change (409)."""
    if old in ADMINISTRATOR_ROLES or new in ADMINISTRATOR_ROLES:
        raise administrator_role_fixed()


def administrator_role_fixed() -> Conflict:
    """The refusal of a role change to or from an administrator role (the database trigger's too)."""
    return Conflict(
        "管理员角色只能在创建账户时授予，且终身不变；不能改为其他角色，也不能由其他角色改为管理员。"
        "如需另一种管理员，请新建账户。",
        "An administrator role is given only when an account is created and is kept for life: it cannot "
        "be changed to another role, nor another role to it. Create a new account instead.",
        code="administrator_role_fixed",
    )


def reset_password(conn: Connection[Any], actor: Actor, user_id: int) -> tuple[User, str]:
    """Give an account a new one-time password, unlock it and end its sessions."""
    password = one_time_password(get_policy(conn).one_time_length())
    with conn.transaction():
        before = get_user(conn, user_id)
        _keep_in_history(conn, user_id)
        conn.execute(
            """
            UPDATE auth.user SET password_hash = %s, must_change_password = true, failed_attempts = 0,
                   locked_until = NULL, password_changed_at = now(), updated_at = now(),
                   version = version + 1 WHERE id = %s
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


@dataclass(frozen=True, slots=True)
class PasswordState:
    """What a password change checks against: the current hash, the earlier ones not to reuse, the rules."""

    username: str
    password_hash: str
    earlier_hashes: tuple[str, ...]
    rules: PasswordRules


def stored_password(conn: Connection[Any], user_id: int) -> PasswordState:
    """The account's username, current and recent password hashes and the policy (read without a lock)."""
    policy = get_policy(conn)
    row = conn.execute("SELECT username, password_hash FROM auth.user WHERE id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound()
    # The last N passwords are the current one and the N - 1 before it.
    earlier = conn.execute(
        "SELECT password_hash FROM auth.password_history WHERE user_id = %s ORDER BY id DESC LIMIT %s",
        (user_id, max(0, policy.password_history - 1)),
    ).fetchall()
    return PasswordState(str(row[0]), str(row[1]), tuple(str(h) for (h,) in earlier), policy.password_rules())


def new_password_hash(state: PasswordState, current: str, new: str) -> str:
    """Check the current password, the new one's policy and reuse; the new hash (Argon2: no connection)."""
    if not verify_password(state.password_hash, current):
        raise Unprocessable("当前密码不正确。", "The current password is wrong.", code="wrong_password")
    if current == new:
        raise Unprocessable(
            "新密码不能与当前密码相同。", "The new password must differ from the current one."
        )
    check_policy(new, state.username, state.rules)
    if any(verify_password(h, new) for h in state.earlier_hashes):
        raise Unprocessable(
            f"新密码不能与最近 {len(state.earlier_hashes) + 1} 次使用过的密码相同。",
            f"The new password must differ from the last {len(state.earlier_hashes) + 1} passwords.",
            code="password_reused",
        )
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
            UPDATE auth.user SET password_hash = %s, must_change_password = false,
                   password_changed_at = now(), updated_at = now(), version = version + 1
            WHERE id = %s AND password_hash = %s
            """,
            (new_hash, user_id, checked_hash),
        ).rowcount
        if not changed:
            return None
        conn.execute(
            "INSERT INTO auth.password_history (user_id, password_hash) VALUES (%s, %s)",
            (user_id, checked_hash),
        )
        conn.execute(
            "UPDATE auth.session SET revoked_at = now()"
            " WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s",
            (user_id, keep_session),
        )
        record(conn, actor, "user.change_password", "user", user_id)
    return get_user(conn, user_id)


def _keep_in_history(conn: Connection[Any], user_id: int) -> None:
    """Remember the account's current password hash before it is replaced."""
    conn.execute(
        "INSERT INTO auth.password_history (user_id, password_hash)"
        " SELECT id, password_hash FROM auth.user WHERE id = %s",
        (user_id,),
    )


def _revoke_sessions(conn: Connection[Any], user_id: int) -> None:
    conn.execute(
        "UPDATE auth.session SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
    )
