"""Gap analysis, continued: candidates proposed as projects or demands, and the access-leg cache.

* ``project.demand`` may come from the gap analysis (``source_kind = 'gap_analysis'``): it then carries the
  planned parcel as its footprint, the ``plan_link`` to the parcel, the ``gap`` it closes (facility type,
  population newly served, shortfall reached, answer key) and the pre-evaluation run on its footprint.
* ``gap.candidate_use``: which candidate site (facility type, candidate layer version and feature) became
  which project or demand. A candidate becomes one of them once (unique), so a second request is refused
  naming the first.
* ``gap.access``: where each feature of a layer version joins a walking network (nearest edges, position
  along them, access leg), computed once per network and feature instead of on every answer.

Revision ID: 0018_gap_proposals
Revises: 0017_leader
Create Date: 2027-03-10
"""

from alembic import context, op

revision = "0018_gap_proposals"
down_revision = "0017_leader"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the demand columns, the candidate register and the access cache."""
    role = context.config.attributes["app_role"]
    op.execute(
        """
        ALTER TABLE project.demand DROP CONSTRAINT demand_source_kind_check;
        ALTER TABLE project.demand ADD CONSTRAINT demand_source_kind_check
          CHECK (source_kind IN ('resident', 'deputy', 'enterprise', 'park', 'gap_analysis'));
        ALTER TABLE project.demand
          ADD COLUMN footprint geometry(Geometry, 4547),
          ADD COLUMN plan_link jsonb,
          ADD COLUMN gap jsonb,
          ADD COLUMN pre_evaluation_id bigint REFERENCES project.pre_evaluation (id);

        CREATE TABLE gap.candidate_use (
          id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          facility        text NOT NULL,
          layer           text NOT NULL,
          version_id      bigint NOT NULL,
          fid             integer NOT NULL,
          project_id      bigint REFERENCES project.project (id),
          demand_id       bigint REFERENCES project.demand (id),
          cache_key       text NOT NULL,
          created_by_id   bigint NOT NULL REFERENCES auth.user (id),
          created_at      timestamptz NOT NULL DEFAULT now(),
          CHECK ((project_id IS NULL) <> (demand_id IS NULL)),
          UNIQUE (facility, layer, version_id, fid)
        );

        CREATE TABLE gap.access (
          network_id  integer NOT NULL REFERENCES gap.network (id) ON DELETE CASCADE,
          version_id  bigint NOT NULL,
          on_surface  boolean NOT NULL,
          fid         integer NOT NULL,
          edge        integer NOT NULL,
          source      integer NOT NULL,
          target      integer NOT NULL,
          len         double precision NOT NULL,
          t           double precision NOT NULL,
          a           double precision NOT NULL,
          created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX access_version_idx ON gap.access (network_id, version_id, on_surface, fid);
        """
    )
    op.execute(f'GRANT SELECT, INSERT ON gap.candidate_use TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT, DELETE ON gap.access TO "{role}"')
    # Fresh access legs need statistics before the catchment query plans on them (without them it chose
    # nested loops and took 7–12 s instead of 1 s on the district demo); only the owner may ANALYZE.
    op.execute(
        """
        CREATE FUNCTION gap.analyze_access() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        BEGIN
          ANALYZE gap.access;
        END $$;
        REVOKE ALL ON FUNCTION gap.analyze_access() FROM PUBLIC;
        """
    )
    op.execute(f'GRANT EXECUTE ON FUNCTION gap.analyze_access() TO "{role}"')


def downgrade() -> None:
    """Drop the register and the cache; gap demands become plain resident demands without their links."""
    op.execute(
        """
        DROP FUNCTION IF EXISTS gap.analyze_access();
        DROP TABLE IF EXISTS gap.access, gap.candidate_use;
        ALTER TABLE project.demand DROP COLUMN footprint, DROP COLUMN plan_link, DROP COLUMN gap,
          DROP COLUMN pre_evaluation_id;
        UPDATE project.demand SET source_kind = 'resident' WHERE source_kind = 'gap_analysis';
        ALTER TABLE project.demand DROP CONSTRAINT demand_source_kind_check;
        ALTER TABLE project.demand ADD CONSTRAINT demand_source_kind_check
          CHECK (source_kind IN ('resident', 'deputy', 'enterprise', 'park'));
        """
    )
