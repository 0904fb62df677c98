"""The identification policy, edited by the security administrator: passwords, lock-out, idle sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.passwords import MAX_LENGTH, PasswordRules
from app.edge.params import Number
from app.errors import PreconditionFailed
from layers.audit import Actor, record

# The bounds of each setting, the same as the table's CHECK constraints (migration 0011).
MinLength = Annotated[int, Ge(8), Le(128)]
MinClasses = Annotated[int, Ge(1), Le(4)]
MaxAgeDays = Annotated[int, Ge(1), Le(3650)]
History = Annotated[int, Ge(0), Le(24)]
Threshold = Annotated[int, Ge(1), Le(100)]
Minutes = Annotated[int, Ge(1), Le(1440)]

_FIELDS = (
    "password_min_length",
    "password_min_classes",
    "password_max_age_days",
    "password_history",
    "lockout_threshold",
    "lockout_minutes",
    "idle_timeout_minutes",
)


class PolicySettings(BaseModel):
    """The settings of the identification policy."""

    password_min_length: MinLength = Field(description="密码最短长度")
    password_min_classes: MinClasses = Field(description="密码须含的字符类别数（小写、大写、数字、符号）")
    password_max_age_days: MaxAgeDays = Field(description="密码有效期（天），到期须修改")
    password_history: History = Field(description="不得重复使用最近几次的密码（0：不限制）")
    lockout_threshold: Threshold = Field(description="连续登录失败几次后锁定")
    lockout_minutes: Minutes = Field(description="锁定时长（分钟）")
    idle_timeout_minutes: Minutes = Field(description="会话空闲超时（分钟）")

    def password_rules(self) -> PasswordRules:
        """The complexity rules a new password must meet."""
        return PasswordRules(min_length=self.password_min_length, min_classes=self.password_min_classes)

    def one_time_length(self) -> int:
        """The length of generated one-time passwords: 16, or the policy's minimum when that is longer."""
        return min(MAX_LENGTH, max(16, self.password_min_length))


class SecurityPolicy(PolicySettings):
    """The policy as stored, with its version (send it back with a change)."""

    updated_at: datetime
    version: int


class SecurityPolicyUpdate(PolicySettings):
    """A new policy; ``version`` must be the one last read (optimistic locking)."""

    version: Number


def get_policy(conn: Connection[Any]) -> SecurityPolicy:
    """The policy in force."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """
            SELECT password_min_length, password_min_classes, password_max_age_days, password_history,
                   lockout_threshold, lockout_minutes, idle_timeout_minutes, updated_at, version
            FROM auth.security_policy
            """
        ).fetchone()
    assert row is not None, "migration 0011 stores the policy row"
    return SecurityPolicy(**row)


def update_policy(conn: Connection[Any], actor: Actor, data: SecurityPolicyUpdate) -> SecurityPolicy:
    """Replace the policy when ``data.version`` is current (else 412, nothing written); audited."""
    with conn.transaction():
        before = get_policy(conn)
        values = data.model_dump(include=set(_FIELDS))
        changed = conn.execute(
            """
            UPDATE auth.security_policy SET
              password_min_length = %(password_min_length)s, password_min_classes = %(password_min_classes)s,
              password_max_age_days = %(password_max_age_days)s, password_history = %(password_history)s,
              lockout_threshold = %(lockout_threshold)s, lockout_minutes = %(lockout_minutes)s,
              idle_timeout_minutes = %(idle_timeout_minutes)s, updated_at = now(), version = version + 1
            WHERE version = %(version)s
            """,
            {**values, "version": data.version},
        ).rowcount
        if not changed:
            raise PreconditionFailed(
                f"安全策略已被他人修改（当前版本 {before.version}），请刷新后重试。",
                f"The security policy changed since you read it (current version {before.version}).",
                current=before.model_dump(mode="json"),
            )
        after = get_policy(conn)
        record(
            conn,
            actor,
            "security.policy_update",
            "security_policy",
            None,
            before=before.model_dump(include=set(_FIELDS)),
            after=after.model_dump(include=set(_FIELDS)),
        )
    return after
