"""Demolition ledger: the owner's resident ID number and phone (personal information, need to know).

Revision ID: 0013_personal_data
Revises: 0010_layer_coverage
Create Date: 2026-12-10

The service checks both (GB 11643 check character; a mainland mobile or a landline with its area code)
and stores them normalised; the CHECKs keep the shape, so no masked value (with ``*``) can be written.
Who sees them in full is decided by the service (app/demolition/disclosure.py), and every such read is
audited.
"""

from alembic import op

revision = "0013_personal_data"
down_revision = "0012_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE demolition.unit
          ADD COLUMN id_number text CHECK (id_number ~ '^[1-9][0-9]{16}[0-9X]$'),
          ADD COLUMN phone text CHECK (phone ~ '^(1[3-9][0-9]{9}|0[0-9]{9,11})$');
        COMMENT ON COLUMN demolition.unit.owner_name IS '权利人（个人信息）';
        COMMENT ON COLUMN demolition.unit.address IS '地址（个人信息）';
        COMMENT ON COLUMN demolition.unit.id_number IS '权利人身份证号（个人信息）';
        COMMENT ON COLUMN demolition.unit.phone IS '联系电话（个人信息）';
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE demolition.unit DROP COLUMN IF EXISTS id_number, DROP COLUMN IF EXISTS phone")
