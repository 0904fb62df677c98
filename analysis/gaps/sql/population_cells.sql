-- The population cells with people: id, label, population, the point on their surface (which places them
-- in a sub-district), and whether a road is near enough (an access leg within the snap limit, access.sql).
SELECT c.fid,
       c.props ->> %(label)s AS label,
       (c.props ->> %(attribute)s)::double precision AS population,
       ST_X(p.p) AS x,
       ST_Y(p.p) AS y,
       EXISTS (
         SELECT 1 FROM gap.access a
         WHERE a.network_id = %(network)s AND a.version_id = %(population)s AND a.on_surface
           AND a.fid = c.fid AND a.a <= %(snap)s
       ) AS reachable
FROM basemap.feature c
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(c.geom) AS p) p
WHERE c.version_id = %(population)s AND (c.props ->> %(attribute)s)::numeric > 0
ORDER BY c.fid
