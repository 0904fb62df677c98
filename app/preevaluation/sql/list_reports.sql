-- Stored reports a caller may see, newest first, each with its project's name and the sub-district its
-- footprint lies in (the admin_subdistrict feature under a point on the footprint's surface). The layer's
-- current version comes in as a constant so the planner prunes the feature table to its partition (joined
-- through basemap.layer it probed every partition's index per report: seconds for a few hundred reports).
SELECT e.id, e.created_at, e.project_code, e.project_type, e.verdict, e.footprint_area_m2, e.rules_version,
       EXISTS (SELECT 1 FROM project.pre_evaluation_stale s WHERE s.report_id = e.id) AS stale,
       p.name AS project_name, place.subdistrict
FROM project.pre_evaluation e
LEFT JOIN project.project p ON p.code = e.project_code
LEFT JOIN LATERAL (
    SELECT f.props ->> 'subdistrict' AS subdistrict
    FROM basemap.feature f
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(e.footprint) AS point) inside
    WHERE f.version_id = %(place_version)s AND f.geom && inside.point AND ST_Intersects(f.geom, inside.point)
    ORDER BY f.fid
    LIMIT 1
) place ON true
WHERE (%(org)s::bigint IS NULL OR e.org_id = %(org)s)
  AND (%(code)s::text IS NULL OR e.project_code = %(code)s)
  AND ((%(pattern)s::text IS NULL AND %(number)s::text IS NULL)
       OR e.id::text = %(number)s
       OR e.project_code ILIKE %(pattern)s
       OR p.name ILIKE %(pattern)s
       OR e.verdict ILIKE %(pattern)s
       OR e.project_type = ANY (%(types)s::text[])
       OR place.subdistrict = ANY (%(places)s::text[]))
ORDER BY e.id DESC
LIMIT %(limit)s OFFSET %(offset)s
