"""Project library, demand pool, working-day calendar and the approval tracker.

Revision ID: 0004_projects
Revises: 0003_pre_evaluation
Create Date: 2026-11-28
"""

import json
from pathlib import Path

from alembic import context, op
from sqlalchemy import text

CALENDAR_SEED = Path(__file__).resolve().parents[2] / "app" / "calendar" / "data" / "cn_holidays.json"

revision = "0004_projects"
down_revision = "0003_pre_evaluation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(
        """
        -- Working-day calendar: a year is usable only once it is loaded; days listed here override
        -- the Monday-Friday default (holidays off, 调休 make-up Saturdays/Sundays on).
        CREATE TABLE approval.calendar_year (
          year        integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
          source      text NOT NULL,
          loaded_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE approval.calendar_day (
          day         date PRIMARY KEY,
          year        integer NOT NULL REFERENCES approval.calendar_year (year) ON DELETE CASCADE,
          working     boolean NOT NULL,
          name        text NOT NULL,
          CHECK (extract(year FROM day)::integer = year)
        );

        -- The project library (项目库).
        CREATE TABLE project.code_serial (
          prefix      text PRIMARY KEY,
          last_serial integer NOT NULL
        );
        CREATE TABLE project.project (
          id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          code                   text NOT NULL UNIQUE
                                 CHECK (code ~ '^[0-9]{4}-[0-9]{6}-[0-9]{2}-[0-9]{2}-[0-9]{6}$'),
          name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
          project_type           text NOT NULL,
          owner_dept_id          bigint NOT NULL REFERENCES auth.organisation (id),
          unit_org_id            bigint NOT NULL REFERENCES auth.organisation (id),
          investment_wan         numeric(14, 2) NOT NULL CHECK (investment_wan >= 0),
          funding_source         text NOT NULL,
          planned_start          date,
          status                 text NOT NULL DEFAULT 'reserve'
                                 CHECK (status IN ('reserve', 'preparation', 'construction', 'completed',
                                                   'stopped')),
          tier                   text NOT NULL DEFAULT 'reserve'
                                 CHECK (tier IN ('reserve', 'preparation', 'implementation')),
          initiation             text NOT NULL CHECK (initiation IN ('top_down', 'bottom_up', 'unit')),
          plan_link              jsonb,
          demolition_progress_pct numeric(5, 2) CHECK (demolition_progress_pct BETWEEN 0 AND 100),
          demolition_threshold_pct numeric(5, 2) CHECK (demolition_threshold_pct BETWEEN 0 AND 100),
          created_by_id          bigint REFERENCES auth.user (id),
          created_at             timestamptz NOT NULL DEFAULT now(),
          updated_at             timestamptz NOT NULL DEFAULT now(),
          version                integer NOT NULL DEFAULT 1
        );
        CREATE INDEX project_unit_idx ON project.project (unit_org_id);
        CREATE INDEX project_owner_idx ON project.project (owner_dept_id);

        -- Footprints keep their history: a new one closes the previous (superseded_at).
        CREATE TABLE project.footprint (
          id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          project_id     bigint NOT NULL REFERENCES project.project (id) ON DELETE CASCADE,
          geom           geometry(Geometry, 4547) NOT NULL,
          area_m2        double precision NOT NULL,
          note           text,
          created_by_id  bigint REFERENCES auth.user (id),
          created_at     timestamptz NOT NULL DEFAULT now(),
          superseded_at  timestamptz
        );
        CREATE INDEX footprint_project_idx ON project.footprint (project_id, id DESC);
        CREATE INDEX footprint_geom_idx ON project.footprint USING gist (geom);
        CREATE UNIQUE INDEX footprint_current_idx ON project.footprint (project_id)
          WHERE superseded_at IS NULL;

        -- Bottom-up demand pool (需求池).
        CREATE TABLE project.demand (
          id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          source_kind      text NOT NULL CHECK (source_kind IN ('resident', 'deputy', 'enterprise', 'park')),
          title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
          description      text NOT NULL,
          location         geometry(Point, 4547),
          submitted_by_id  bigint NOT NULL REFERENCES auth.user (id),
          submitter_org_id bigint NOT NULL REFERENCES auth.organisation (id),
          status           text NOT NULL DEFAULT 'open'
                           CHECK (status IN ('open', 'merged', 'accepted', 'rejected')),
          merged_into_id   bigint REFERENCES project.demand (id),
          project_id       bigint REFERENCES project.project (id),
          reason           text,
          decided_by_id    bigint REFERENCES auth.user (id),
          decided_at       timestamptz,
          created_at       timestamptz NOT NULL DEFAULT now(),
          version          integer NOT NULL DEFAULT 1,
          CHECK (status <> 'rejected' OR length(reason) > 0),
          CHECK (status <> 'merged' OR merged_into_id IS NOT NULL),
          CHECK (status <> 'accepted' OR project_id IS NOT NULL)
        );
        CREATE INDEX demand_submitter_idx ON project.demand (submitted_by_id);

        -- Approval plan items (one row per item of a project's plan) and their prerequisite DAG.
        CREATE TABLE approval.item (
          id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          project_id        bigint NOT NULL REFERENCES project.project (id) ON DELETE CASCADE,
          item_code         text NOT NULL,
          name_zh           text NOT NULL,
          stage             text NOT NULL
                            CHECK (stage IN ('project_land', 'engineering', 'construction', 'completion')),
          department_code   text NOT NULL,
          department_id     bigint REFERENCES auth.organisation (id),
          statutory_days    integer NOT NULL CHECK (statutory_days >= 0),
          promised_days     integer NOT NULL CHECK (promised_days >= 0),
          parallel_group    text,
          source            text NOT NULL CHECK (source IN ('template', 'pre_evaluation', 'manual')),
          reason            text,
          status            text NOT NULL DEFAULT 'not_started'
                            CHECK (status IN ('not_started', 'submitted', 'accepted', 'accepted_conditional',
                                              'under_review', 'correction', 'approved', 'rejected',
                                              'cancelled', 'merged')),
          merged_into_id    bigint REFERENCES approval.item (id),
          missing_documents jsonb
                            CHECK (missing_documents IS NULL OR jsonb_typeof(missing_documents) = 'array'),
          supplement_due    date,
          supplemented_at   timestamptz,
          created_at        timestamptz NOT NULL DEFAULT now(),
          updated_at        timestamptz NOT NULL DEFAULT now(),
          version           integer NOT NULL DEFAULT 1,
          UNIQUE (project_id, item_code)
        );
        CREATE INDEX item_department_idx ON approval.item (department_id, status);
        CREATE TABLE approval.item_prerequisite (
          item_id          bigint NOT NULL REFERENCES approval.item (id) ON DELETE CASCADE,
          prerequisite_id  bigint NOT NULL REFERENCES approval.item (id) ON DELETE CASCADE,
          PRIMARY KEY (item_id, prerequisite_id),
          CHECK (item_id <> prerequisite_id)
        );
        -- The event log: every transition of an item. KPIs are computed from it, never stored.
        CREATE TABLE approval.item_event (
          id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          item_id      bigint NOT NULL REFERENCES approval.item (id) ON DELETE CASCADE,
          action       text NOT NULL,
          from_status  text NOT NULL,
          to_status    text NOT NULL,
          actor_id     bigint REFERENCES auth.user (id),
          actor_name   text NOT NULL,
          actor_org_id bigint REFERENCES auth.organisation (id),
          at           timestamptz NOT NULL DEFAULT now(),
          note         text,
          detail       jsonb
        );
        CREATE INDEX item_event_item_idx ON approval.item_event (item_id, at, id);
        """
    )
    # The event log is a record: the service adds and reads, never rewrites.
    op.execute(f'REVOKE UPDATE, DELETE ON approval.item_event FROM "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON approval.item_event TO "{role}"')
    _seed_calendar()


def _seed_calendar() -> None:
    """Load the shipped 2024-2026 holidays and make-up working days (derived from chinesecalendar)."""
    seed = json.loads(CALENDAR_SEED.read_text(encoding="utf-8"))
    bind = op.get_bind()
    for year, days in seed["years"].items():
        bind.execute(
            text("INSERT INTO approval.calendar_year (year, source) VALUES (:y, :s)"),
            {"y": int(year), "s": seed["source"]},
        )
        rows = [{"d": d["date"], "y": int(year), "w": False, "n": d["name"]} for d in days["holidays"]]
        rows += [
            {"d": d["date"], "y": int(year), "w": True, "n": d["name"]} for d in days["makeup_working_days"]
        ]
        bind.execute(
            text(
                "INSERT INTO approval.calendar_day (day, year, working, name)"
                " VALUES (CAST(:d AS date), :y, :w, :n)"
            ),
            rows,
        )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS approval.item_event, approval.item_prerequisite, approval.item,
          project.demand, project.footprint, project.project, project.code_serial,
          approval.calendar_day, approval.calendar_year CASCADE
        """
    )
