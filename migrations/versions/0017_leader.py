"""The ``leader`` role (领导): district leaders reading the overview (领导驾驶舱), read-only, district-wide.

Revision ID: 0017_leader
Revises: 0016_gap_analysis
Create Date: 2027-03-01
"""

from alembic import op

revision = "0017_leader"
down_revision = "0016_gap_analysis"
branch_labels = None
depends_on = None

_ROLES = (
    "('system_admin', 'security_admin', 'audit_admin', 'planner', 'project_unit', 'reviewer', 'coordinator',"
    " 'viewer', 'window', 'leader')"
)
_OLD_ROLES = (
    "('system_admin', 'security_admin', 'audit_admin', 'planner', 'project_unit', 'reviewer', 'coordinator',"
    " 'viewer', 'window')"
)


def upgrade() -> None:
    """Admit the role in the user table's role check."""
    op.execute(
        f"""
        ALTER TABLE auth.user DROP CONSTRAINT user_role_check;
        ALTER TABLE auth.user ADD CONSTRAINT user_role_check CHECK (role IN {_ROLES});
        """
    )


def downgrade() -> None:
    """Leaders become disabled viewers; the check returns to the earlier roles."""
    op.execute(
        f"""
        UPDATE auth.user SET role = 'viewer', disabled = true WHERE role = 'leader';
        ALTER TABLE auth.user DROP CONSTRAINT user_role_check;
        ALTER TABLE auth.user ADD CONSTRAINT user_role_check CHECK (role IN {_OLD_ROLES});
        """
    )
