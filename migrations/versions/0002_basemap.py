"""Base-map storage: layers, versions, and features partitioned by layer version.

Each layer version is its own partition of ``basemap.feature`` (and of ``basemap.feature_part``, the
subdivided copies for footprint checks). An import loads a fresh table with COPY, builds its indexes,
attaches it and moves the layer's ``current_version`` — all in one transaction, so readers see the old
version until the new one is complete and indexed, and a killed import leaves nothing behind.

The service role cannot run DDL; two SECURITY DEFINER functions owned by the migration owner create and
finish a version's tables, taking only integer ids (table names never come from user input).

Revision ID: 0002_basemap
Revises: 0001_spine
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0002_basemap"
down_revision = "0001_spine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(
        """
        CREATE TABLE basemap.layer (
          code             text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,62}$'),
          kind             text NOT NULL CHECK (kind IN ('area', 'line', 'point', 'raster')),
          current_version  integer,
          registered_at    timestamptz NOT NULL DEFAULT now(),
          updated_at       timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE basemap.layer_version (
          id                   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          layer_code           text NOT NULL REFERENCES basemap.layer (code),
          number               integer NOT NULL,
          created_at           timestamptz NOT NULL DEFAULT now(),
          created_by_id        bigint,
          created_by_username  text NOT NULL,
          source_name          text NOT NULL,
          source_sha256        text NOT NULL,
          source_size          bigint NOT NULL,
          source_driver        text,
          source_crs           text,
          source_encoding      text,
          feature_count        integer NOT NULL,
          repaired_count       integer NOT NULL DEFAULT 0,
          skipped_count        integer NOT NULL DEFAULT 0,
          total_area_m2        double precision,
          total_length_m       double precision,
          extent               geometry(Polygon, 4547),
          raster_path          text,
          report               jsonb NOT NULL DEFAULT '{}'::jsonb,
          note                 text,
          UNIQUE (layer_code, number)
        );
        ALTER TABLE basemap.layer
          ADD CONSTRAINT layer_current_version_fkey
          FOREIGN KEY (current_version) REFERENCES basemap.layer_version (id);

        CREATE TABLE basemap.feature (
          version_id  integer NOT NULL,
          fid         integer NOT NULL,
          source_fid  text,
          props       jsonb NOT NULL DEFAULT '{}'::jsonb,
          extra       jsonb,
          area_m2     double precision,
          length_m    double precision,
          vertices    integer NOT NULL,
          geom        geometry(Geometry, 4547) NOT NULL,
          geom_3857   geometry(Geometry, 3857) NOT NULL
        ) PARTITION BY LIST (version_id);

        CREATE TABLE basemap.feature_part (
          version_id  integer NOT NULL,
          fid         integer NOT NULL,
          geom        geometry(Geometry, 4547) NOT NULL
        ) PARTITION BY LIST (version_id);

        -- Create the empty load tables of a version (not yet attached, so invisible to readers).
        CREATE FUNCTION basemap.begin_version(p_version integer) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        DECLARE
          t text := format('basemap.%I', 'f_' || p_version);
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM basemap.layer_version WHERE id = p_version) THEN
            RAISE EXCEPTION 'no layer version %', p_version;
          END IF;
          EXECUTE format('CREATE TABLE %s (LIKE basemap.feature INCLUDING DEFAULTS)', t);
          EXECUTE format('ALTER TABLE %s ADD CHECK (version_id = %s)', t, p_version);
          EXECUTE format('GRANT SELECT, INSERT ON %s TO %I', t, '__ROLE__');
          RETURN t;
        END $$;

        -- Index, subdivide, analyse and attach a loaded version; then it is queryable by version id.
        -- Only features with more than p_max_vertices vertices get subdivided parts (a footprint check
        -- probes the feature table for the others). geom_3857 is not indexed: tiles filter on geom
        -- with the tile envelope transformed to EPSG:4547, and only encode geom_3857.
        CREATE FUNCTION basemap.finish_version(p_version integer, p_max_vertices integer DEFAULT 256)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        DECLARE
          f text := format('basemap.%I', 'f_' || p_version);
          p text := format('basemap.%I', 'p_' || p_version);
          parts integer;
        BEGIN
          EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (fid)', f);
          EXECUTE format('CREATE INDEX ON %s USING gist (geom)', f);
          EXECUTE format('CREATE TABLE %s (LIKE basemap.feature_part)', p);
          EXECUTE format('ALTER TABLE %s ADD CHECK (version_id = %s)', p, p_version);
          EXECUTE format(
            'INSERT INTO %s (version_id, fid, geom) '
            'SELECT version_id, fid, ST_Subdivide(geom, $1) FROM %s WHERE vertices > $1', p, f)
            USING p_max_vertices;
          EXECUTE format('SELECT count(*) FROM %s', p) INTO parts;
          EXECUTE format('CREATE INDEX ON %s USING gist (geom)', p);
          EXECUTE format('CREATE INDEX ON %s (fid)', p);
          EXECUTE format('COMMENT ON TABLE %s IS %L', p, 'subdivided parts of features with many vertices');
          EXECUTE format('REVOKE INSERT ON %s FROM %I', f, '__ROLE__');
          EXECUTE format('ANALYZE %s', f);
          EXECUTE format('ANALYZE %s', p);
          EXECUTE format('ALTER TABLE basemap.feature ATTACH PARTITION %s FOR VALUES IN (%s)',
                         f, p_version);
          EXECUTE format('ALTER TABLE basemap.feature_part ATTACH PARTITION %s FOR VALUES IN (%s)',
                         p, p_version);
          EXECUTE format('GRANT SELECT ON %s, %s TO %I', f, p, '__ROLE__');
          RETURN parts;
        END $$;

        REVOKE ALL ON FUNCTION basemap.begin_version(integer) FROM PUBLIC;
        REVOKE ALL ON FUNCTION basemap.finish_version(integer, integer) FROM PUBLIC;
        """.replace("__ROLE__", role)
    )
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON basemap.layer, basemap.layer_version TO "{role}"')
    op.execute(f'REVOKE DELETE ON basemap.layer, basemap.layer_version FROM "{role}"')
    op.execute(f'GRANT SELECT ON basemap.feature, basemap.feature_part TO "{role}"')
    op.execute(f'GRANT EXECUTE ON FUNCTION basemap.begin_version(integer) TO "{role}"')
    op.execute(f'GRANT EXECUTE ON FUNCTION basemap.finish_version(integer, integer) TO "{role}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS basemap.finish_version(integer, integer)")
    op.execute("DROP FUNCTION IF EXISTS basemap.begin_version(integer)")
    op.execute("ALTER TABLE basemap.layer DROP CONSTRAINT IF EXISTS layer_current_version_fkey")
    op.execute("DROP TABLE IF EXISTS basemap.feature_part, basemap.feature CASCADE")
    op.execute("DROP TABLE IF EXISTS basemap.layer_version, basemap.layer CASCADE")
