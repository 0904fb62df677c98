"""Each layer version records its coverage: where its data answers, so "no feature" there means "no conflict".

``basemap.layer_version.coverage`` is the area the version's survey covers (a MultiPolygon in the storage
CRS) and ``coverage_source`` says where it came from: ``district`` (the whole district: the default),
``catalog`` (the layer's catalog entry declares a partial survey) or ``declared`` (a coverage polygon
given at import). ``coverage_key`` (MD5 of its WKB) lets checks share one prepared geometry per distinct
coverage. Existing versions get the district: the extent of the district block as it was when this
migration was written (CGCS2000 lon/lat, edges densified to 0.01° before projecting, so the projected
box follows the graticule).

The latest report of each project that listed a layer as "图层数据未覆盖用地范围" while that layer now covers
its footprint is marked stale (its outcome changes: the layer is checked), as the check index marks
reports whose footprints met changed features.

Revision ID: 0010_layer_coverage
Revises: 0009_item_english_names
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010_layer_coverage"
down_revision = "0009_item_english_names"
branch_labels = None
depends_on = None

# The district block's extent (lon/lat) and storage SRID when this migration was written.
_DISTRICT = (
    "ST_Multi(ST_Transform(ST_Segmentize(ST_MakeEnvelope(114.05, 22.55, 114.40, 22.82, 4490), 0.01), 4547))"
)


def upgrade() -> None:
    """Add the coverage columns, fill them with the district and mark the reports it changes stale."""
    op.execute(
        f"""
        ALTER TABLE basemap.layer_version
          ADD COLUMN coverage geometry(MultiPolygon, 4547),
          ADD COLUMN coverage_source text NOT NULL DEFAULT 'district'
            CHECK (coverage_source IN ('district', 'catalog', 'declared'));
        UPDATE basemap.layer_version SET coverage = {_DISTRICT};
        -- A writer that names no coverage (an older process during an upgrade) stores the district.
        ALTER TABLE basemap.layer_version
          ALTER COLUMN coverage SET NOT NULL,
          ALTER COLUMN coverage SET DEFAULT {_DISTRICT},
          ADD COLUMN coverage_key text GENERATED ALWAYS AS (md5(ST_AsBinary(coverage))) STORED;

        WITH latest AS (
          SELECT DISTINCT ON (org_id, project_code) id, footprint, layer_versions, report
          FROM project.pre_evaluation WHERE project_code IS NOT NULL
          ORDER BY org_id, project_code, id DESC
        )
        INSERT INTO project.pre_evaluation_stale (report_id, layer_code, from_version, to_version, changed)
        SELECT r.id, n->>'layer', (r.layer_versions->>(n->>'layer'))::integer, v.number, 0
        FROM latest r
        CROSS JOIN LATERAL jsonb_array_elements(r.report->'not_checkable') n
        JOIN basemap.layer l ON l.code = n->>'layer'
        JOIN basemap.layer_version v ON v.id = l.current_version
        WHERE n->>'reason_zh' = '图层数据未覆盖用地范围' AND ST_Covers(v.coverage, r.footprint)
        ON CONFLICT (report_id, layer_code, to_version) DO NOTHING;
        """
    )


def downgrade() -> None:
    """Drop the coverage columns (stale marks stay: they are records)."""
    op.execute(
        "ALTER TABLE basemap.layer_version DROP COLUMN coverage_key, DROP COLUMN coverage,"
        " DROP COLUMN coverage_source"
    )
