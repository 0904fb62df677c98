"""One window (综合窗口一窗受理), parallel review, one correction letter, and the materials store (材料库).

* ``window`` joins the roles: the staff of the district's government service centre, who receive, check
  and hand out, and never decide.
* ``material``: the content-addressed store's catalogue. ``material.blob`` is one stored file, named by
  the SHA-256 of its bytes (the bytes live in the configured store, by default under the data directory).
  ``material.material`` is one version of one material of an organisation's library (a unit's 营业执照,
  a project's 可行性研究报告, a department's decision document, a demolition agreement): its code, file
  name, the sniffed media type, validity date and uploader. Replacing a material adds the next version;
  attachments keep the version they were given.
* ``approval.application`` (申报件): one stage of one project's plan, submitted as one package at one
  window; ``approval.application_item`` the items it holds; ``approval.application_material`` the package
  (checklist code → material version); ``approval.application_event`` its event log (insert-only, like
  the items').
* ``approval.correction_request``: a department's request for more, sent to the window; the window merges
  the open ones into one ``approval.correction_letter`` (一次性告知补正) per round.
* ``approval.opinion``: a department's decision on its item (同意 / 有条件同意 / 不同意), with the legal basis
  of a refusal and the uploaded decision document.
* ``approval.joint_review`` and ``approval.joint_review_participant``: a joint review (联合审查/会商) led
  by one department, with each participant's opinion and the generated minutes (会议纪要).

Revision ID: 0015_one_window
Revises: 0014_service_accounts
Create Date: 2027-02-01
"""

from alembic import context, op

revision = "0015_one_window"
down_revision = "0014_service_accounts"
branch_labels = None
depends_on = None

_ROLES = (
    "('system_admin', 'security_admin', 'audit_admin', 'planner', 'project_unit', 'reviewer', 'coordinator',"
    " 'viewer', 'window')"
)
_OLD_ROLES = (
    "('system_admin', 'security_admin', 'audit_admin', 'planner', 'project_unit', 'reviewer', 'coordinator',"
    " 'viewer')"
)
_STAGES = "('project_land', 'engineering', 'construction', 'completion')"


def upgrade() -> None:
    """Add the role, the materials schema and the one-window tables."""
    role = context.config.attributes["app_role"]
    op.execute(
        f"""
        ALTER TABLE auth.user DROP CONSTRAINT user_role_check;
        ALTER TABLE auth.user ADD CONSTRAINT user_role_check CHECK (role IN {_ROLES});

        CREATE SCHEMA IF NOT EXISTS material;
        GRANT USAGE ON SCHEMA material TO "{role}";
        ALTER DEFAULT PRIVILEGES IN SCHEMA material
          GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}";
        ALTER DEFAULT PRIVILEGES IN SCHEMA material GRANT USAGE, SELECT ON SEQUENCES TO "{role}";

        -- One stored file, named by its content: the same bytes are stored once however often they are used.
        CREATE TABLE material.blob (
          sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),
          size        bigint NOT NULL CHECK (size >= 0),
          media_type  text NOT NULL,
          created_at  timestamptz NOT NULL DEFAULT now()
        );

        -- One version of one material of an organisation's library.
        CREATE TABLE material.material (
          id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          owner_org_id     bigint NOT NULL REFERENCES auth.organisation (id),
          -- NULL: the organisation's own material (营业执照, 法人证明) reusable for every project.
          project_id       bigint REFERENCES project.project (id),
          purpose          text NOT NULL DEFAULT 'application'
                           CHECK (purpose IN ('application', 'decision', 'demolition', 'minutes')),
          material_code    text NOT NULL CHECK (material_code ~ '^[a-z0-9][a-z0-9_]{{0,63}}$'),
          file_name        text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
          sha256           text NOT NULL REFERENCES material.blob (sha256),
          media_type       text NOT NULL,
          size             bigint NOT NULL CHECK (size >= 0),
          version          integer NOT NULL DEFAULT 1 CHECK (version >= 1),
          supersedes_id    bigint REFERENCES material.material (id),
          superseded_at    timestamptz,
          valid_until      date,
          uploaded_by      bigint REFERENCES auth.user (id),
          uploaded_by_name text NOT NULL,
          uploaded_at      timestamptz NOT NULL DEFAULT now(),
          CHECK ((version = 1) = (supersedes_id IS NULL))
        );
        CREATE UNIQUE INDEX material_version_key
          ON material.material (owner_org_id, purpose, material_code, version, (coalesce(project_id, 0)));
        -- At most one current (not superseded) version per library slot.
        CREATE UNIQUE INDEX material_current_key
          ON material.material (owner_org_id, purpose, material_code, (coalesce(project_id, 0)))
          WHERE superseded_at IS NULL;
        CREATE INDEX material_project_idx ON material.material (project_id);
        CREATE INDEX material_sha_idx ON material.material (sha256);

        -- Applications by stage (申报件): one package, one window.
        CREATE SEQUENCE approval.application_serial;
        CREATE TABLE approval.application (
          id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          number              text NOT NULL UNIQUE,
          project_id          bigint NOT NULL REFERENCES project.project (id) ON DELETE CASCADE,
          stage               text NOT NULL CHECK (stage IN {_STAGES}),
          -- draft → submitted → (returned → submitted)* → accepted → correction ⇄ accepted → issued;
          -- withdrawn by the unit before acceptance.
          status              text NOT NULL DEFAULT 'draft'
                              CHECK (status IN ('draft', 'submitted', 'returned', 'accepted', 'correction',
                                                'issued', 'withdrawn')),
          correction_rounds   integer NOT NULL DEFAULT 0 CHECK (correction_rounds >= 0),
          window_org_id       bigint REFERENCES auth.organisation (id),
          contact_name        text,
          contact_phone       text,
          submitted_at        timestamptz,
          accepted_at         timestamptz,
          accepted_by         bigint REFERENCES auth.user (id),
          issued_at           timestamptz,
          issued_by           bigint REFERENCES auth.user (id),
          created_by          bigint REFERENCES auth.user (id),
          created_at          timestamptz NOT NULL DEFAULT now(),
          updated_at          timestamptz NOT NULL DEFAULT now(),
          version             integer NOT NULL DEFAULT 1
        );
        -- One open application per project and stage.
        CREATE UNIQUE INDEX application_open_stage_key ON approval.application (project_id, stage)
          WHERE status NOT IN ('issued', 'withdrawn');
        CREATE INDEX application_status_idx ON approval.application (status);

        -- The items an application holds: the stage's items not done when it was opened. An item is in at
        -- most one open application (the service locks the project while opening).
        CREATE TABLE approval.application_item (
          application_id  bigint NOT NULL REFERENCES approval.application (id) ON DELETE CASCADE,
          item_id         bigint NOT NULL REFERENCES approval.item (id) ON DELETE CASCADE,
          PRIMARY KEY (application_id, item_id)
        );
        CREATE INDEX application_item_item_idx ON approval.application_item (item_id);

        -- The package: which material version answers which checklist entry. Replacing an attachment (after
        -- a correction) writes the new version here; the event log keeps the earlier one.
        CREATE TABLE approval.application_material (
          application_id  bigint NOT NULL REFERENCES approval.application (id) ON DELETE CASCADE,
          material_code   text NOT NULL,
          material_id     bigint NOT NULL REFERENCES material.material (id),
          attached_by     bigint REFERENCES auth.user (id),
          attached_at     timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (application_id, material_code)
        );
        CREATE INDEX application_material_material_idx ON approval.application_material (material_id);

        CREATE TABLE approval.application_event (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          application_id  bigint NOT NULL REFERENCES approval.application (id) ON DELETE CASCADE,
          action          text NOT NULL,
          from_status     text NOT NULL,
          to_status       text NOT NULL,
          actor_id        bigint REFERENCES auth.user (id),
          actor_name      text NOT NULL,
          actor_org_id    bigint REFERENCES auth.organisation (id),
          at              timestamptz NOT NULL DEFAULT now(),
          note            text,
          detail          jsonb
        );
        CREATE INDEX application_event_application_idx ON approval.application_event (application_id, at, id);

        -- 一次性告知: one letter per round merges every department's open requests.
        CREATE TABLE approval.correction_letter (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          application_id  bigint NOT NULL REFERENCES approval.application (id) ON DELETE CASCADE,
          round           integer NOT NULL CHECK (round >= 1),
          -- A second (or later) round needs the window's recorded reason.
          round_reason    text,
          sent_at         timestamptz NOT NULL DEFAULT now(),
          sent_by         bigint REFERENCES auth.user (id),
          resubmitted_at  timestamptz,
          resubmitted_by  bigint REFERENCES auth.user (id),
          UNIQUE (application_id, round),
          CHECK (round = 1 OR length(coalesce(round_reason, '')) > 0)
        );
        CREATE TABLE approval.correction_request (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          application_id  bigint NOT NULL REFERENCES approval.application (id) ON DELETE CASCADE,
          item_id         bigint NOT NULL REFERENCES approval.item (id) ON DELETE CASCADE,
          department_id   bigint REFERENCES auth.organisation (id),
          -- What is missing or wrong: a list of {{"material_code": ..., "text": ...}}
          points          jsonb NOT NULL
                          CHECK (jsonb_typeof(points) = 'array' AND jsonb_array_length(points) > 0),
          requested_by    bigint REFERENCES auth.user (id),
          requested_at    timestamptz NOT NULL DEFAULT now(),
          letter_id       bigint REFERENCES approval.correction_letter (id),
          withdrawn_at    timestamptz
        );
        CREATE INDEX correction_request_application_idx ON approval.correction_request (application_id);

        -- A department's decision on its own item.
        CREATE TABLE approval.opinion (
          item_id         bigint PRIMARY KEY REFERENCES approval.item (id) ON DELETE CASCADE,
          decision        text NOT NULL CHECK (decision IN ('approve', 'approve_conditional', 'refuse')),
          conditions      text,
          reasons         text,
          legal_basis     text,
          document_id     bigint REFERENCES material.material (id),
          department_id   bigint REFERENCES auth.organisation (id),
          decided_by      bigint REFERENCES auth.user (id),
          decided_by_name text NOT NULL,
          decided_at      timestamptz NOT NULL DEFAULT now(),
          CHECK (decision <> 'approve_conditional' OR length(coalesce(conditions, '')) > 0),
          CHECK (decision <> 'refuse' OR (length(coalesce(reasons, '')) > 0
                                          AND length(coalesce(legal_basis, '')) > 0))
        );

        -- Joint review (联合审查/会商).
        CREATE TABLE approval.joint_review (
          id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          application_id      bigint NOT NULL REFERENCES approval.application (id) ON DELETE CASCADE,
          lead_department_id  bigint NOT NULL REFERENCES auth.organisation (id),
          topic               text NOT NULL CHECK (length(topic) BETWEEN 1 AND 500),
          scheduled_at        timestamptz NOT NULL,
          place               text,
          status              text NOT NULL DEFAULT 'scheduled'
                              CHECK (status IN ('scheduled', 'held', 'cancelled')),
          -- The minutes (会议纪要), generated from the opinions and stored in the materials store.
          minutes_id          bigint REFERENCES material.material (id),
          created_by          bigint REFERENCES auth.user (id),
          created_at          timestamptz NOT NULL DEFAULT now(),
          held_at             timestamptz,
          version             integer NOT NULL DEFAULT 1
        );
        CREATE TABLE approval.joint_review_participant (
          joint_review_id  bigint NOT NULL REFERENCES approval.joint_review (id) ON DELETE CASCADE,
          department_id    bigint NOT NULL REFERENCES auth.organisation (id),
          item_id          bigint REFERENCES approval.item (id),
          decision         text CHECK (decision IN ('approve', 'approve_conditional', 'refuse')),
          opinion          text,
          recorded_by      bigint REFERENCES auth.user (id),
          recorded_by_name text,
          recorded_at      timestamptz,
          PRIMARY KEY (joint_review_id, department_id),
          CHECK ((decision IS NULL) = (recorded_at IS NULL))
        );
        """
    )
    # Event logs are records: the service adds and reads, never rewrites.
    op.execute(f'REVOKE UPDATE, DELETE ON approval.application_event FROM "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON approval.application_event TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON SEQUENCE approval.application_serial TO "{role}"')


def downgrade() -> None:
    """Drop the one-window tables and the materials schema; window staff become disabled viewers."""
    op.execute(
        f"""
        DROP TABLE approval.joint_review_participant, approval.joint_review, approval.opinion,
          approval.correction_request, approval.correction_letter, approval.application_event,
          approval.application_material, approval.application_item, approval.application;
        DROP SEQUENCE approval.application_serial;
        DROP SCHEMA material CASCADE;
        UPDATE auth.user SET role = 'viewer', disabled = true WHERE role = 'window';
        ALTER TABLE auth.user DROP CONSTRAINT user_role_check;
        ALTER TABLE auth.user ADD CONSTRAINT user_role_check CHECK (role IN {_OLD_ROLES});
        """
    )
