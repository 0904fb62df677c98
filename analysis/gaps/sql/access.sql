-- Where every feature of a layer version joins the walking network: the nearest point of the nearest edge
-- (the access leg a is a straight line) — of every edge as near within the tie tolerance (a point in the
-- middle of a square block is as near to all four sides: each is a way in, and the shortest counts, so the
-- answer never depends on which of them an index scan met first). A cell joins at a point on its surface,
-- a site at its own geometry. Stored once per network and feature (of the features asked for); the snap
-- limit is applied when read (a leg longer than it is no way in).
INSERT INTO gap.access (network_id, version_id, on_surface, fid, edge, source, target, len, t, a)
SELECT %(network)s, %(version)s, %(on_surface)s, s.fid, e.id, e.source, e.target, e.length_m,
       ST_LineLocatePoint(e.geom, ST_ClosestPoint(e.geom, s.geom)), ST_Distance(e.geom, s.geom)
FROM (
  SELECT fid, CASE WHEN %(on_surface)s THEN ST_PointOnSurface(geom) ELSE geom END AS geom
  FROM basemap.feature WHERE version_id = %(version)s AND fid = ANY(%(fids)s)
) s
CROSS JOIN LATERAL (
  SELECT ST_Distance(geom, s.geom) AS nearest FROM gap.network_edge
  WHERE network_id = %(network)s ORDER BY geom <-> s.geom LIMIT 1
) n
CROSS JOIN LATERAL (
  SELECT id, source, target, length_m, geom FROM gap.network_edge
  WHERE network_id = %(network)s AND ST_DWithin(geom, s.geom, n.nearest + %(tie)s)
) e
