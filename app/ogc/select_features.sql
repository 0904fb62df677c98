-- One page of features (or one feature by fid) as GeoJSON Feature objects, one row each.
-- Properties: the catalog attributes in catalog order (null when absent), then, when asked for, the
-- source's unknown columns kept in ``extra`` (never shadowing a catalog attribute).
-- Output in CRS84 is transformed; output in the storage CRS is the stored geometry in that CRS's axis
-- order (northing, easting).
-- The page is cut in a subquery first, so rows skipped by OFFSET are never serialised.
SELECT json_build_object(
  'type', 'Feature',
  'id', f.fid,
  'geometry', ST_AsGeoJSON(
      CASE WHEN %(northing_first)s::boolean THEN ST_FlipCoordinates(f.geom)
           ELSE ST_Transform(f.geom, 4326) END,
      %(digits)s::int, 0)::json,
  'properties', coalesce((
      SELECT json_object_agg(p.key, p.value ORDER BY p.n)
      FROM (
        SELECT a.key, f.props -> a.key AS value, a.n
        FROM unnest(%(names)s::text[]) WITH ORDINALITY AS a(key, n)
        UNION ALL
        SELECT x.key, x.value, 100000 + x.n
        FROM jsonb_each(CASE WHEN %(with_extra)s::boolean THEN f.extra END)
             WITH ORDINALITY AS x(key, value, n)
        WHERE NOT x.key = ANY(%(all_names)s::text[])
      ) p), '{}'::json)
)::text
FROM (
  SELECT f.fid, f.geom, f.props, f.extra
  FROM basemap.feature f
  WHERE f.version_id = %(version)s
    AND (%(fid)s::int IS NULL OR f.fid = %(fid)s::int)
    AND (%(x0)s::float8 IS NULL OR f.geom && ST_Transform(ST_Segmentize(
           ST_MakeEnvelope(%(x0)s::float8, %(y0)s::float8, %(x1)s::float8, %(y1)s::float8, %(bbox_srid)s::int),
           %(step)s::float8), %(srid)s::int))
    AND (%(match)s::jsonb IS NULL OR f.props @> %(match)s::jsonb)
  ORDER BY f.fid
  LIMIT %(limit)s OFFSET %(offset)s
) f
ORDER BY f.fid
