-- Walking distance (m) from every site (facility or candidate) to every population cell within the radius.
-- A site and a cell each join the network at the nearest point of the nearest edge (access leg in a
-- straight line, at most the snap limit) — of every edge as near within the tie tolerance (a point in the
-- middle of a square block is as near to all four sides: each is a way in, and the shortest counts, so
-- the answer never depends on which of them an index scan met first); between those points the
-- distance runs along the edges:
-- pgr_drivingDistance from both end nodes of the site's edge, then along the cell's edge to the cell.
-- A cell on the site's own edge is also reached directly along that edge.
WITH site AS (
  SELECT s.key, e.id AS edge, e.source, e.target, e.length_m AS len,
         ST_LineLocatePoint(e.geom, ST_ClosestPoint(e.geom, s.geom)) AS t,
         ST_Distance(e.geom, s.geom) AS a
  FROM (
    SELECT k AS key, ST_GeomFromWKB(w, 4547) AS geom
    FROM unnest(%(keys)s::text[], %(wkbs)s::bytea[]) AS u(k, w)
  ) s
  CROSS JOIN LATERAL (
    SELECT ST_Distance(geom, s.geom) AS nearest FROM gap.network_edge
    WHERE network_id = %(network)s ORDER BY geom <-> s.geom LIMIT 1
  ) n
  CROSS JOIN LATERAL (
    SELECT id, source, target, length_m, geom FROM gap.network_edge
    WHERE network_id = %(network)s AND ST_DWithin(geom, s.geom, n.nearest + %(tie)s)
  ) e
  WHERE ST_Distance(e.geom, s.geom) <= %(snap)s
),
cell AS (
  SELECT c.fid, e.id AS edge, e.source, e.target, e.length_m AS len,
         ST_LineLocatePoint(e.geom, c.p) AS t, ST_Distance(e.geom, c.p) AS a
  FROM (
    SELECT fid, ST_PointOnSurface(geom) AS p FROM basemap.feature
    WHERE version_id = %(population)s AND (props ->> %(attribute)s)::numeric > 0
  ) c
  CROSS JOIN LATERAL (
    SELECT ST_Distance(geom, c.p) AS nearest FROM gap.network_edge
    WHERE network_id = %(network)s ORDER BY geom <-> c.p LIMIT 1
  ) n
  CROSS JOIN LATERAL (
    SELECT id, source, target, length_m, geom FROM gap.network_edge
    WHERE network_id = %(network)s AND ST_DWithin(geom, c.p, n.nearest + %(tie)s)
  ) e
  WHERE ST_Distance(e.geom, c.p) <= %(snap)s
),
site_start AS (
  SELECT key, source AS node, a + t * len AS off FROM site
  UNION ALL
  SELECT key, target, a + (1 - t) * len FROM site
),
dd AS (
  SELECT d.{start} AS start, d.node, d.agg_cost
  FROM pgr_drivingDistance(
    %(edges_sql)s, (SELECT array_agg(DISTINCT node) FROM site_start), %(radius)s, directed => false
  ) d
),
site_node AS (
  SELECT ss.key, d.node, min(ss.off + d.agg_cost) AS dist
  FROM site_start ss JOIN dd d ON d.start = ss.node
  GROUP BY ss.key, d.node
  HAVING min(ss.off + d.agg_cost) <= %(radius)s
),
pairs AS (
  SELECT sn.key, c.fid, sn.dist + c.t * c.len + c.a AS dist FROM cell c JOIN site_node sn ON sn.node = c.source
  UNION ALL
  SELECT sn.key, c.fid, sn.dist + (1 - c.t) * c.len + c.a FROM cell c JOIN site_node sn ON sn.node = c.target
  UNION ALL
  SELECT s.key, c.fid, s.a + abs(s.t - c.t) * c.len + c.a FROM cell c JOIN site s ON s.edge = c.edge
)
SELECT key, fid, min(dist) AS dist FROM pairs GROUP BY key, fid HAVING min(dist) <= %(radius)s
