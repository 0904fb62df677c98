-- Planned sites of the statutory plan of the right kind, with the plan parcel they stand on: the parcel
-- holding the point (a planned facility), or the parcel itself (a parcel of the right land use).
SELECT k.fid,
       k.props,
       ST_AsBinary(k.geom) AS wkb,
       p.fid AS parcel_fid,
       coalesce(p.props ->> 'parcel_code', k.props ->> 'parcel_code') AS parcel_code,
       p.props ->> 'land_use' AS land_use,
       p.area_m2 AS site_m2,
       EXISTS (
         SELECT 1 FROM basemap.feature f
         WHERE f.version_id = %(facilities)s AND f.fid = ANY(%(facility_fids)s)
           AND (ST_DWithin(f.geom, k.geom, %(built_within)s)
                OR (p.geom IS NOT NULL AND ST_Intersects(f.geom, p.geom) AND NOT ST_Touches(f.geom, p.geom)))
       ) AS built,
       (SELECT d.props ->> %(sd_attribute)s FROM basemap.feature d
        WHERE d.version_id = %(subdistricts)s AND ST_Intersects(d.geom, ST_PointOnSurface(k.geom))
        ORDER BY d.fid LIMIT 1) AS subdistrict
FROM basemap.feature k
LEFT JOIN LATERAL (
  SELECT q.fid, q.props, q.area_m2, q.geom FROM basemap.feature q
  WHERE q.version_id = %(parcels)s AND ST_Intersects(q.geom, k.geom)
  ORDER BY (q.fid = k.fid AND q.version_id = k.version_id) DESC, q.fid
  LIMIT 1
) p ON true
WHERE k.version_id = %(candidates)s AND k.props ->> %(attribute)s = ANY(%(values)s)
ORDER BY k.fid
