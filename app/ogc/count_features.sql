-- numberMatched: the features of one version that pass the bbox and attribute filters.
-- The bbox is transformed to the storage CRS (the district's SRID); the stored column never is.
SELECT count(*)
FROM basemap.feature f
WHERE f.version_id = %(version)s
  AND (%(x0)s::float8 IS NULL OR f.geom && ST_Transform(ST_Segmentize(
         ST_MakeEnvelope(%(x0)s::float8, %(y0)s::float8, %(x1)s::float8, %(y1)s::float8, %(bbox_srid)s::int),
         %(step)s::float8), %(srid)s::int))
  AND (%(match)s::jsonb IS NULL OR f.props @> %(match)s::jsonb)
