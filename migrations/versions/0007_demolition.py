"""Demolition (征拆) ledger: units (一户一档), their event log, blockers and blocker comments.

Revision ID: 0007_demolition
Revises: 0006_import_speed
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0007_demolition"
down_revision = "0006_import_speed"
branch_labels = None
depends_on = None

STATUSES = "'surveyed', 'valued', 'signed', 'paid', 'vacated', 'demolished', 'handed_over'"


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(
        f"""
        -- One row per building or household (一户一档); the schema "demolition" exists since 0001.
        CREATE TABLE demolition.unit (
          id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          project_id                bigint NOT NULL REFERENCES project.project (id) ON DELETE CASCADE,
          unit_code                 text NOT NULL CHECK (length(unit_code) BETWEEN 1 AND 64),
          address                   text,
          owner_type                text CHECK (owner_type IN ('state', 'collective', 'private')),
          owner_name                text,
          floor_area_m2             numeric(12, 2) NOT NULL DEFAULT 0 CHECK (floor_area_m2 >= 0),
          households                integer NOT NULL DEFAULT 0 CHECK (households >= 0),
          valuation_yuan            numeric(16, 2) CHECK (valuation_yuan >= 0),
          agreed_compensation_yuan  numeric(16, 2) CHECK (agreed_compensation_yuan >= 0),
          paid_compensation_yuan    numeric(16, 2) CHECK (paid_compensation_yuan >= 0),
          subdistrict_id            bigint REFERENCES auth.organisation (id),
          status                    text NOT NULL DEFAULT 'surveyed' CHECK (status IN ({STATUSES})),
          source                    text NOT NULL
                                    CHECK (source IN ('pre_evaluation', 'spreadsheet', 'gis', 'manual')),
          source_ref                jsonb,
          geom                      geometry(Geometry, 4547),
          created_by_id             bigint REFERENCES auth.user (id),
          created_at                timestamptz NOT NULL DEFAULT now(),
          updated_at                timestamptz NOT NULL DEFAULT now(),
          version                   integer NOT NULL DEFAULT 1,
          UNIQUE (project_id, unit_code)
        );
        CREATE INDEX unit_project_idx ON demolition.unit (project_id, status);
        CREATE INDEX unit_subdistrict_idx ON demolition.unit (subdistrict_id);
        CREATE INDEX unit_geom_idx ON demolition.unit USING gist (geom);

        -- The event log: creation, every status transition and every attribute change of a unit.
        -- Progress, burndown and the ledger's ETag are computed from it.
        CREATE TABLE demolition.unit_event (
          id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          unit_id       bigint NOT NULL REFERENCES demolition.unit (id) ON DELETE CASCADE,
          project_id    bigint NOT NULL REFERENCES project.project (id) ON DELETE CASCADE,
          kind          text NOT NULL CHECK (kind IN ('create', 'transition', 'update')),
          from_status   text CHECK (from_status IN ({STATUSES})),
          to_status     text NOT NULL CHECK (to_status IN ({STATUSES})),
          irregular     boolean NOT NULL DEFAULT false,
          reason        text,
          note          text,
          attachment    jsonb,
          changes       jsonb,
          actor_id      bigint REFERENCES auth.user (id),
          actor_name    text NOT NULL,
          actor_org_id  bigint REFERENCES auth.organisation (id),
          at            timestamptz NOT NULL DEFAULT now(),
          CHECK (NOT irregular OR length(reason) > 0)
        );
        CREATE INDEX unit_event_unit_idx ON demolition.unit_event (unit_id, at, id);
        CREATE INDEX unit_event_project_idx ON demolition.unit_event (project_id, at, id);

        -- Blockers (问题) on a unit or a whole project, assigned to a department with a deadline.
        CREATE TABLE demolition.blocker (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          project_id      bigint NOT NULL REFERENCES project.project (id) ON DELETE CASCADE,
          unit_id         bigint REFERENCES demolition.unit (id) ON DELETE CASCADE,
          category        text NOT NULL CHECK (category IN ('dispute', 'unreachable_owner', 'title', 'grave',
                                                           'utility', 'other')),
          title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
          description     text NOT NULL DEFAULT '',
          department_id   bigint NOT NULL REFERENCES auth.organisation (id),
          deadline        date NOT NULL,
          status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'escalated', 'resolved')),
          escalation_level integer NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
          resolution      text,
          raised_by_id    bigint REFERENCES auth.user (id),
          raised_at       timestamptz NOT NULL DEFAULT now(),
          resolved_at     timestamptz,
          updated_at      timestamptz NOT NULL DEFAULT now(),
          version         integer NOT NULL DEFAULT 1,
          CHECK (status <> 'resolved' OR (resolved_at IS NOT NULL AND length(resolution) > 0))
        );
        CREATE INDEX blocker_project_idx ON demolition.blocker (project_id, status);
        CREATE INDEX blocker_department_idx ON demolition.blocker (department_id, status, deadline);
        -- Comments and the blocker's own history (raise, escalate, resolve) in one append-only thread.
        CREATE TABLE demolition.blocker_comment (
          id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          blocker_id    bigint NOT NULL REFERENCES demolition.blocker (id) ON DELETE CASCADE,
          kind          text NOT NULL CHECK (kind IN ('raise', 'comment', 'escalate', 'resolve', 'reassign')),
          body          text NOT NULL,
          actor_id      bigint REFERENCES auth.user (id),
          actor_name    text NOT NULL,
          actor_org_id  bigint REFERENCES auth.organisation (id),
          at            timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX blocker_comment_blocker_idx ON demolition.blocker_comment (blocker_id, id);
        """
    )
    # Records: the service adds and reads events and comments, never rewrites them.
    for table in ("demolition.unit_event", "demolition.blocker_comment"):
        op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM "{role}"')
        op.execute(f'GRANT SELECT, INSERT ON {table} TO "{role}"')


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS demolition.blocker_comment, demolition.blocker, demolition.unit_event,
          demolition.unit CASCADE
        """
    )
