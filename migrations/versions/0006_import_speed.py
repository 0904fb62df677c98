"""Faster finishing of a loaded layer version.

``finish_version`` takes a third argument: whether any feature has more vertices than the subdivision
threshold (the importer knows it from the vertex counts it computed), so a layer of small features no
longer pays a sequential scan for an empty ``ST_Subdivide`` insert. ANALYZE is limited to the columns
queries filter or join on (fid, geometry, vertex count, area, length); the prepared ``geom_3857`` and the
jsonb attributes are only read back, never filtered by a planner estimate.

Revision ID: 0006_import_speed
Revises: 0005_check_index
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0006_import_speed"
down_revision = "0005_check_index"
branch_labels = None
depends_on = None

_FINISH = """
CREATE FUNCTION basemap.finish_version(
  p_version integer, p_max_vertices integer DEFAULT 256, p_subdivide boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  f text := format('basemap.%I', 'f_' || p_version);
  p text := format('basemap.%I', 'p_' || p_version);
  parts integer := 0;
BEGIN
  EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (fid)', f);
  EXECUTE format('CREATE INDEX ON %s USING gist (geom)', f);
  EXECUTE format('CREATE TABLE %s (LIKE basemap.feature_part)', p);
  EXECUTE format('ALTER TABLE %s ADD CHECK (version_id = %s)', p, p_version);
  IF p_subdivide THEN
    EXECUTE format(
      'INSERT INTO %s (version_id, fid, geom) '
      'SELECT version_id, fid, ST_Subdivide(geom, $1) FROM %s WHERE vertices > $1', p, f)
      USING p_max_vertices;
    EXECUTE format('SELECT count(*) FROM %s', p) INTO parts;
  END IF;
  EXECUTE format('CREATE INDEX ON %s USING gist (geom)', p);
  EXECUTE format('CREATE INDEX ON %s (fid)', p);
  EXECUTE format('COMMENT ON TABLE %s IS %L', p, 'subdivided parts of features with many vertices');
  EXECUTE format('REVOKE INSERT ON %s FROM %I', f, '__ROLE__');
  EXECUTE format('ANALYZE %s (fid, vertices, area_m2, length_m, geom)', f);
  EXECUTE format('ANALYZE %s', p);
  EXECUTE format('ALTER TABLE basemap.feature ATTACH PARTITION %s FOR VALUES IN (%s)', f, p_version);
  EXECUTE format('ALTER TABLE basemap.feature_part ATTACH PARTITION %s FOR VALUES IN (%s)', p, p_version);
  EXECUTE format('GRANT SELECT ON %s, %s TO %I', f, p, '__ROLE__');
  RETURN parts;
END $$;
"""


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute("DROP FUNCTION basemap.finish_version(integer, integer)")
    op.execute(_FINISH.replace("__ROLE__", role))
    op.execute("REVOKE ALL ON FUNCTION basemap.finish_version(integer, integer, boolean) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION basemap.finish_version(integer, integer, boolean) TO "{role}"')


def downgrade() -> None:
    role = context.config.attributes["app_role"]
    previous = (
        _FINISH.replace(", p_subdivide boolean DEFAULT true", "")
        .replace("IF p_subdivide THEN", "IF true THEN")
        .replace("ANALYZE %s (fid, vertices, area_m2, length_m, geom)", "ANALYZE %s")
    )
    op.execute("DROP FUNCTION basemap.finish_version(integer, integer, boolean)")
    op.execute(previous.replace("__ROLE__", role))
    op.execute("REVOKE ALL ON FUNCTION basemap.finish_version(integer, integer) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION basemap.finish_version(integer, integer) TO "{role}"')
