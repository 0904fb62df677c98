"""Three administrators (三员分立) and the identification policy.

The single all-powerful ``admin`` role becomes three: ``system_admin`` (users, organisations, layers,
calendar — not the audit log), ``security_admin`` (roles, lock-outs, password and session policy — no
business data) and ``audit_admin`` (the audit log only). Every existing ``admin`` account becomes a
system administrator: the migration prints each one and records a ``user.role_migrated`` audit event.
A trigger keeps an administrator's role for life and refuses turning any account into one, so no account
ever holds two administrator roles (a new administrator is a new account).

Identification: ``auth.security_policy`` (one row: password length and character classes, expiry, the
number of earlier passwords that may not be reused, lock-out, idle-session timeout), the account's
``password_changed_at`` and ``auth.password_history`` (earlier hashes), and each session's
``last_seen_at`` for the idle timeout.

Revision ID: 0011_three_administrators
Revises: 0010_layer_coverage
Create Date: 2026-12-14
"""

import logging

from alembic import context, op

revision = "0011_three_administrators"
down_revision = "0010_layer_coverage"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_ROLES = (
    "('system_admin', 'security_admin', 'audit_admin', 'planner', 'project_unit', 'reviewer', 'coordinator',"
    " 'viewer')"
)
_OLD_ROLES = "('admin', 'planner', 'project_unit', 'reviewer', 'coordinator', 'viewer')"


def upgrade() -> None:
    """Split the administrator role, migrate today's administrators, add the identification tables."""
    role = context.config.attributes["app_role"]
    op.execute(
        f"""
        ALTER TABLE auth.user DROP CONSTRAINT user_role_check;
        UPDATE auth.user SET role = 'system_admin' WHERE role = 'admin';
        ALTER TABLE auth.user ADD CONSTRAINT user_role_check CHECK (role IN {_ROLES});
        ALTER TABLE auth.user ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();
        ALTER TABLE auth.session ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();

        -- An administrator keeps its role for life and no account becomes one by a change: together with
        -- one role per account, no account ever holds two administrator roles.
        CREATE FUNCTION auth.refuse_administrator_role_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.role IS DISTINCT FROM OLD.role
             AND (OLD.role IN ('system_admin', 'security_admin', 'audit_admin')
                  OR NEW.role IN ('system_admin', 'security_admin', 'audit_admin')) THEN
            RAISE EXCEPTION 'an administrator role is given only to a new account and kept for life (% → %)',
              OLD.role, NEW.role
              USING ERRCODE = 'check_violation', CONSTRAINT = 'user_administrator_role_fixed';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER user_administrator_role_fixed BEFORE UPDATE OF role ON auth.user
          FOR EACH ROW EXECUTE FUNCTION auth.refuse_administrator_role_change();

        -- Earlier password hashes of each account, for "no reuse of the last N passwords".
        CREATE TABLE auth.password_history (
          id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          user_id        bigint NOT NULL REFERENCES auth.user (id) ON DELETE CASCADE,
          password_hash  text NOT NULL,
          replaced_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX password_history_user_idx ON auth.password_history (user_id, id DESC);

        -- The identification policy the security administrator edits: exactly one row.
        CREATE TABLE auth.security_policy (
          id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
          password_min_length    integer NOT NULL DEFAULT 12 CHECK (password_min_length BETWEEN 8 AND 128),
          password_min_classes   integer NOT NULL DEFAULT 3 CHECK (password_min_classes BETWEEN 1 AND 4),
          password_max_age_days  integer NOT NULL DEFAULT 90 CHECK (password_max_age_days BETWEEN 1 AND 3650),
          password_history       integer NOT NULL DEFAULT 5 CHECK (password_history BETWEEN 0 AND 24),
          lockout_threshold      integer NOT NULL DEFAULT 5 CHECK (lockout_threshold BETWEEN 1 AND 100),
          lockout_minutes        integer NOT NULL DEFAULT 15 CHECK (lockout_minutes BETWEEN 1 AND 1440),
          idle_timeout_minutes   integer NOT NULL DEFAULT 30 CHECK (idle_timeout_minutes BETWEEN 1 AND 1440),
          updated_at             timestamptz NOT NULL DEFAULT now(),
          version                integer NOT NULL DEFAULT 1
        );
        INSERT INTO auth.security_policy DEFAULT VALUES;
        """
    )
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON auth.password_history TO "{role}"')
    op.execute(f'GRANT SELECT, UPDATE ON auth.security_policy TO "{role}"')
    _record_migrated_administrators()


def _record_migrated_administrators() -> None:
    """Say which accounts became system administrators: a line each and an audit event each."""
    migrated = (
        op.get_bind()
        .exec_driver_sql(
            """
            INSERT INTO audit.event (actor_username, action, object_type, object_id, before, after)
            SELECT 'migration:0011_three_administrators', 'user.role_migrated', 'user', id::text,
                   jsonb_build_object('username', username, 'role', 'admin'),
                   jsonb_build_object('username', username, 'role', 'system_admin')
            FROM auth.user WHERE role = 'system_admin' ORDER BY id
            RETURNING after->>'username'
            """
        )
        .fetchall()
    )
    for (username,) in migrated:
        line = f"duogui: administrator {username!r} is now a system administrator (system_admin)"
        log.info(line)
        print(line)


def downgrade() -> None:
    """Back to one ``admin`` role; security and audit administrators become disabled viewers."""
    op.execute(
        f"""
        DROP TABLE auth.security_policy, auth.password_history;
        DROP TRIGGER user_administrator_role_fixed ON auth.user;
        DROP FUNCTION auth.refuse_administrator_role_change();
        ALTER TABLE auth.session DROP COLUMN last_seen_at;
        ALTER TABLE auth.user DROP COLUMN password_changed_at;
        ALTER TABLE auth.user DROP CONSTRAINT user_role_check;
        UPDATE auth.user SET disabled = true, role = 'viewer' WHERE role IN ('security_admin', 'audit_admin');
        UPDATE auth.user SET role = 'admin' WHERE role = 'system_admin';
        ALTER TABLE auth.user ADD CONSTRAINT user_role_check CHECK (role IN {_OLD_ROLES});
        """
    )
