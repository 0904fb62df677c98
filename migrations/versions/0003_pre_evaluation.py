"""Stored pre-evaluation reports.

Revision ID: 0003_pre_evaluation
Revises: 0002_basemap
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0003_pre_evaluation"
down_revision = "0002_basemap"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(
        """
        CREATE TABLE project.pre_evaluation (
          id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          created_at       timestamptz NOT NULL DEFAULT now(),
          created_by_id    bigint NOT NULL REFERENCES auth.user (id),
          org_id           bigint NOT NULL REFERENCES auth.organisation (id),
          project_code     text,
          project_type     text NOT NULL,
          verdict          text NOT NULL,
          footprint        geometry(Geometry, 4547) NOT NULL,
          footprint_area_m2 double precision NOT NULL,
          rules_version    text NOT NULL,
          layer_versions   jsonb NOT NULL,
          report           jsonb NOT NULL
        );
        CREATE INDEX pre_evaluation_org_idx ON project.pre_evaluation (org_id, id DESC);
        CREATE INDEX pre_evaluation_project_idx ON project.pre_evaluation (project_code, id DESC);
        CREATE INDEX pre_evaluation_footprint_idx ON project.pre_evaluation USING gist (footprint);
        """
    )
    # Reports are records: the service may add and read them, never rewrite or delete them.
    op.execute(f'REVOKE UPDATE, DELETE ON project.pre_evaluation FROM "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON project.pre_evaluation TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS project.pre_evaluation")
