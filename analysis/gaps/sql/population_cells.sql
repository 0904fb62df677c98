-- The population cells with people: id, label, population, sub-district, and whether a road is near enough
-- (an access leg within the snap limit, see access.sql).
SELECT c.fid,
       c.props ->> %(label)s AS label,
       (c.props ->> %(attribute)s)::double precision AS population,
       sd.code AS subdistrict,
       EXISTS (
         SELECT 1 FROM gap.access a
         WHERE a.network_id = %(network)s AND a.version_id = %(population)s AND a.on_surface
           AND a.fid = c.fid AND a.a <= %(snap)s
       ) AS reachable
FROM basemap.feature c
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(c.geom) AS p) p
LEFT JOIN LATERAL (
  SELECT s.props ->> %(sd_attribute)s AS code FROM basemap.feature s
  WHERE s.version_id = %(subdistricts)s AND ST_Intersects(s.geom, p.p)
  ORDER BY s.fid LIMIT 1
) sd ON true
WHERE c.version_id = %(population)s AND (c.props ->> %(attribute)s)::numeric > 0
ORDER BY c.fid
