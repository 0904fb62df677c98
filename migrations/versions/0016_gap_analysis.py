"""Facility gap analysis (寻找发展差距): pgRouting, the walking network cache and the answers' cache.

* ``CREATE EXTENSION pgrouting``: catchments are walking distances along the road network
  (``pgr_drivingDistance``). A server without the extension's files (a ``DATABASE_URL`` database whose
  host lacks ``postgresql-15-pgrouting``) is refused with the package to install, before anything changes.
* ``gap.network``: one routable network built from the road layers' current versions; ``source_key``
  names those version ids, so a new road version means a new network and an unchanged one is reused.
  ``gap.network_edge`` holds its noded edges (source and target node ids, length in metres).
* ``gap.result``: a computed answer per facility type, keyed by the standards' fingerprint and every
  input layer's version id (reproducible: the same key gives the same figures).

Revision ID: 0016_gap_analysis
Revises: 0015_one_window
Create Date: 2027-02-10
"""

from alembic import context, op

revision = "0016_gap_analysis"
down_revision = "0015_one_window"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the extension (if its files exist), the gap schema and its tables."""
    role = context.config.attributes["app_role"]
    bind = op.get_bind()
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting'"
    ).fetchone()
    if available is None:
        raise RuntimeError(
            "pgRouting is not installed on the database server: install the Debian package "
            "postgresql-15-pgrouting there (the facility gap analysis needs it), then migrate again."
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.execute("CREATE SCHEMA IF NOT EXISTS gap")
    op.execute(f'GRANT USAGE ON SCHEMA gap TO "{role}"')
    op.execute(
        """
        CREATE TABLE gap.network (
          id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          source_key   text NOT NULL UNIQUE CHECK (length(source_key) BETWEEN 1 AND 2000),
          sources      jsonb NOT NULL,
          edge_count   integer NOT NULL DEFAULT 0,
          node_count   integer NOT NULL DEFAULT 0,
          length_m     double precision NOT NULL DEFAULT 0,
          build_ms     integer NOT NULL DEFAULT 0,
          built_at     timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE gap.network_edge (
          network_id  integer NOT NULL REFERENCES gap.network (id) ON DELETE CASCADE,
          id          integer NOT NULL,
          source      integer NOT NULL,
          target      integer NOT NULL,
          length_m    double precision NOT NULL CHECK (length_m >= 0),
          geom        geometry(LineString, 4547) NOT NULL,
          PRIMARY KEY (network_id, id)
        );
        CREATE INDEX network_edge_geom_idx ON gap.network_edge USING gist (geom);

        CREATE TABLE gap.result (
          cache_key    text PRIMARY KEY CHECK (length(cache_key) BETWEEN 1 AND 2000),
          facility     text NOT NULL,
          body         jsonb NOT NULL,
          compute_ms   integer NOT NULL,
          computed_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX result_facility_idx ON gap.result (facility, computed_at);
        """
    )
    op.execute(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON gap.network, gap.network_edge, gap.result TO "{role}"'
    )
    # A new network's edges need fresh statistics before the catchment query plans on them (without them
    # the planner took minutes instead of a second on the district demo); only the owner may ANALYZE.
    op.execute(
        """
        CREATE FUNCTION gap.analyze_network() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        BEGIN
          ANALYZE gap.network_edge;
        END $$;
        REVOKE ALL ON FUNCTION gap.analyze_network() FROM PUBLIC;
        """
    )
    op.execute(f'GRANT EXECUTE ON FUNCTION gap.analyze_network() TO "{role}"')


def downgrade() -> None:
    """Drop the gap schema (the extension stays: dropping it could break other users of the database)."""
    op.execute("DROP SCHEMA IF EXISTS gap CASCADE")
