"""Platform spine: PostGIS, schemas, the unprivileged app role, accounts, sessions, audit log.

Revision ID: 0001_spine
Revises:
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0001_spine"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = ("basemap", "project", "approval", "demolition", "auth", "audit")


def upgrade() -> None:
    # Role names are validated by Settings (^[a-z_][a-z0-9_]*$), so quoting is enough here.
    role = context.config.attributes["app_role"]
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    op.execute(
        f"""
        DO $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
          END IF;
        END $$;
        """
    )
    # The owner must be able to SET ROLE to the app role (the pool does it on connect).
    op.execute(
        f"""
        DO $$
        BEGIN
          IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', '{role}', current_user);
          END IF;
        END $$;
        """
    )
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        op.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"')
        if schema == "audit":
            continue
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"'
        )
        op.execute(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO "{role}"'
        )
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT, INSERT ON TABLES TO "{role}"')
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT USAGE, SELECT ON SEQUENCES TO "{role}"')
    op.execute(f'GRANT SELECT ON public.spatial_ref_sys TO "{role}"')
    op.execute(f'GRANT SELECT ON public.alembic_version TO "{role}"')

    op.execute(
        """
        CREATE TABLE auth.organisation (
          id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{1,62}$'),
          name_zh     text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 200),
          name_en     text,
          kind        text NOT NULL CHECK (kind IN ('department', 'project_unit', 'subdistrict', 'other')),
          created_at  timestamptz NOT NULL DEFAULT now(),
          updated_at  timestamptz NOT NULL DEFAULT now(),
          version     integer NOT NULL DEFAULT 1
        );

        CREATE TABLE auth.user (
          id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          username              text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
          display_name          text NOT NULL DEFAULT '',
          role                  text NOT NULL CHECK (role IN
                                  ('admin', 'planner', 'project_unit', 'reviewer', 'coordinator', 'viewer')),
          org_id                bigint NOT NULL REFERENCES auth.organisation (id),
          password_hash         text NOT NULL,
          must_change_password  boolean NOT NULL DEFAULT false,
          failed_attempts       integer NOT NULL DEFAULT 0,
          locked_until          timestamptz,
          disabled              boolean NOT NULL DEFAULT false,
          last_login_at         timestamptz,
          created_at            timestamptz NOT NULL DEFAULT now(),
          updated_at            timestamptz NOT NULL DEFAULT now(),
          version               integer NOT NULL DEFAULT 1
        );
        CREATE UNIQUE INDEX user_username_key ON auth.user (username);
        CREATE INDEX user_org_idx ON auth.user (org_id);

        -- Bearer tokens are opaque; only their SHA-256 is stored, so a database dump leaks no session.
        CREATE TABLE auth.session (
          id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          token_hash  bytea NOT NULL UNIQUE,
          user_id     bigint NOT NULL REFERENCES auth.user (id) ON DELETE CASCADE,
          created_at  timestamptz NOT NULL DEFAULT now(),
          expires_at  timestamptz NOT NULL,
          revoked_at  timestamptz,
          client_ip   inet,
          user_agent  text
        );
        CREATE INDEX session_user_idx ON auth.session (user_id) WHERE revoked_at IS NULL;

        -- Append-only audit log, written in the same transaction as each change.
        CREATE TABLE audit.event (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          at              timestamptz NOT NULL DEFAULT clock_timestamp(),
          actor_id        bigint,
          actor_username  text,
          actor_org_id    bigint,
          action          text NOT NULL,
          object_type     text NOT NULL,
          object_id       text,
          before          jsonb,
          after           jsonb,
          request_id      text,
          client_ip       inet
        );
        CREATE INDEX event_object_idx ON audit.event (object_type, object_id, id);
        CREATE INDEX event_actor_idx ON audit.event (actor_id, id);
        CREATE INDEX event_at_idx ON audit.event (at);

        CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit.event is append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON audit.event
          FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
        CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON audit.event
          FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
        """
    )
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON audit.event TO "{role}"')
    op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit.event FROM "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS audit.event, auth.session, auth.user, auth.organisation CASCADE")
    op.execute("DROP FUNCTION IF EXISTS audit.refuse_change()")
