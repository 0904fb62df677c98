"""The footprint-check index and stale pre-evaluation marks.

``basemap.check_part`` holds the current version of every pre-evaluation layer in one table with one
GiST index (features with many vertices as ``ST_Subdivide`` parts, keeping their fid), so a footprint
check across all layers is one index probe instead of one per layer. It is derived data: a version
switch commits first, then ``basemap.refresh_check(code)`` replaces the layer's rows in one
transaction. ``basemap.check_state`` says which version of each layer the index holds; the engine
reads the index only for layers whose indexed version is the current one and falls back to the
version tables for the others, so a check is never answered from a stale index.

``project.pre_evaluation_stale`` records, append-only, that a stored report met features that changed
in a later layer version; a re-run report points at the report it re-checks (``previous_id``).

Revision ID: 0005_check_index
Revises: 0004_projects
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0005_check_index"
down_revision = "0004_projects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(
        """
        CREATE TABLE basemap.check_part (
          layer_code  text NOT NULL,
          version_id  integer NOT NULL,
          fid         integer NOT NULL,
          props       jsonb NOT NULL,
          geom        geometry(Geometry, 4547) NOT NULL
        );
        CREATE INDEX check_part_geom_idx ON basemap.check_part USING gist (geom);
        CREATE INDEX check_part_layer_idx ON basemap.check_part (layer_code);

        CREATE TABLE basemap.check_state (
          layer_code    text PRIMARY KEY REFERENCES basemap.layer (code),
          version_id    integer REFERENCES basemap.layer_version (id),
          parts         integer NOT NULL,
          refreshed_at  timestamptz NOT NULL DEFAULT now()
        );

        -- Replace a layer's rows in the check index by its current version. Returns the version id
        -- the index held before (NULL the first time), or -1 when it was already current.
        CREATE FUNCTION basemap.refresh_check(p_code text, p_max_vertices integer DEFAULT 256)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        DECLARE
          cur integer;
          held integer;
          n integer := 0;
        BEGIN
          PERFORM pg_advisory_xact_lock(hashtext('basemap.refresh_check:' || p_code));
          SELECT current_version INTO cur FROM basemap.layer WHERE code = p_code;
          SELECT version_id INTO held FROM basemap.check_state WHERE layer_code = p_code;
          IF FOUND AND held IS NOT DISTINCT FROM cur THEN
            RETURN -1;
          END IF;
          DELETE FROM basemap.check_part WHERE layer_code = p_code;
          IF cur IS NOT NULL AND to_regclass(format('basemap.%I', 'f_' || cur)) IS NOT NULL THEN
            EXECUTE format(
              'INSERT INTO basemap.check_part (layer_code, version_id, fid, props, geom) '
              'SELECT $1, version_id, fid, props, geom FROM basemap.%I WHERE vertices <= $2 '
              'UNION ALL '
              'SELECT $1, p.version_id, p.fid, f.props, p.geom FROM basemap.%I p '
              'JOIN basemap.%I f USING (fid)',
              'f_' || cur, 'p_' || cur, 'f_' || cur)
              USING p_code, p_max_vertices;
            GET DIAGNOSTICS n = ROW_COUNT;
          END IF;
          INSERT INTO basemap.check_state (layer_code, version_id, parts, refreshed_at)
          VALUES (p_code, cur, n, now())
          ON CONFLICT (layer_code) DO UPDATE
            SET version_id = EXCLUDED.version_id, parts = EXCLUDED.parts, refreshed_at = now();
          RETURN held;
        END $$;
        REVOKE ALL ON FUNCTION basemap.refresh_check(text, integer) FROM PUBLIC;

        CREATE TABLE project.pre_evaluation_stale (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          report_id       bigint NOT NULL REFERENCES project.pre_evaluation (id),
          layer_code      text NOT NULL,
          from_version    integer,
          to_version      integer,
          changed         integer NOT NULL,
          marked_at       timestamptz NOT NULL DEFAULT now(),
          UNIQUE (report_id, layer_code, to_version)
        );
        CREATE INDEX pre_evaluation_stale_report_idx ON project.pre_evaluation_stale (report_id);

        -- A re-run report points at the report it re-checks.
        ALTER TABLE project.pre_evaluation
          ADD COLUMN previous_id bigint REFERENCES project.pre_evaluation (id);
        """
    )
    op.execute(f'GRANT SELECT ON basemap.check_part, basemap.check_state TO "{role}"')
    op.execute(f'GRANT EXECUTE ON FUNCTION basemap.refresh_check(text, integer) TO "{role}"')
    op.execute(f'REVOKE UPDATE, DELETE ON project.pre_evaluation_stale FROM "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON project.pre_evaluation_stale TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS project.pre_evaluation_stale")
    op.execute("ALTER TABLE project.pre_evaluation DROP COLUMN IF EXISTS previous_id")
    op.execute("DROP FUNCTION IF EXISTS basemap.refresh_check(text, integer)")
    op.execute("DROP TABLE IF EXISTS basemap.check_state")
    op.execute("DROP TABLE IF EXISTS basemap.check_part")
