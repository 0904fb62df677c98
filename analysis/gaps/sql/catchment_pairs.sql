-- Walking distance (m) from every site (facility or candidate) to every population cell within the radius.
-- A site and a cell each join the network where gap.access says (access.sql: the nearest point of the
-- nearest edges, access leg in a straight line, at most the snap limit); between those points the
-- distance runs along the edges:
-- pgr_drivingDistance from both end nodes of the site's edge, then along the cell's edge to the cell.
-- A cell on the site's own edge is also reached directly along that edge.
WITH site AS (
  SELECT u.key, a.edge, a.source, a.target, a.len, a.t, a.a, e.geom
  FROM unnest(%(keys)s::text[], %(versions)s::bigint[], %(fids)s::integer[]) AS u(key, version_id, fid)
  JOIN gap.access a
    ON a.network_id = %(network)s AND a.version_id = u.version_id AND NOT a.on_surface AND a.fid = u.fid
  JOIN gap.network_edge e ON e.network_id = %(network)s AND e.id = a.edge
  WHERE a.a <= %(snap)s
),
cell AS (
  SELECT a.fid, a.edge, a.source, a.target, a.len, a.t, a.a
  FROM gap.access a
  JOIN basemap.feature f ON f.version_id = %(population)s AND f.fid = a.fid
  WHERE a.network_id = %(network)s AND a.version_id = %(population)s AND a.on_surface AND a.a <= %(snap)s
    AND (f.props ->> %(attribute)s)::numeric > 0
),
site_start AS (
  SELECT key, source AS node, a + t * len AS off, ST_StartPoint(geom) AS p FROM site
  UNION ALL
  SELECT key, target, a + (1 - t) * len, ST_EndPoint(geom) FROM site
),
-- The starts are run tile by tile, each on the edges within the radius of its tile: a walk of at most the
-- radius never leaves that box (a path is never shorter than the straight line), so the distances are
-- those of the whole network, and each start's search no longer pays for the whole network's nodes.
tile AS (
  SELECT floor(ST_X(p) / %(tile)s) AS tx, floor(ST_Y(p) / %(tile)s) AS ty, array_agg(DISTINCT node) AS nodes
  FROM site_start GROUP BY 1, 2
),
dd AS (
  SELECT d.{start} AS start, d.node, d.agg_cost
  FROM tile
  CROSS JOIN LATERAL pgr_drivingDistance(
    format(
      'SELECT id, source, target, length_m AS cost FROM gap.network_edge WHERE network_id = %%s'
      ' AND geom && ST_MakeEnvelope(%%s, %%s, %%s, %%s, %%s)',
      %(network)s, tile.tx * %(tile)s - %(radius)s, tile.ty * %(tile)s - %(radius)s,
      (tile.tx + 1) * %(tile)s + %(radius)s, (tile.ty + 1) * %(tile)s + %(radius)s, %(srid)s
    ),
    tile.nodes, %(radius)s, directed => false
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
