-- Node the road centre lines of the given layer versions into one routable network.
-- The union of the lines splits every line where lines cross or touch and dissolves duplicates (ST_Node
-- does the same but took 40 s instead of 3 s on the district demo); an edge's end points are snapped to
-- the tolerance grid and numbered, so edges meeting at a crossing share a node id.
WITH lines AS (
  SELECT (ST_Dump(ST_Force2D(geom))).geom AS geom
  FROM basemap.feature
  WHERE version_id = ANY(%(versions)s)
),
noded AS (
  SELECT (ST_Dump(ST_UnaryUnion(ST_Collect(geom)))).geom AS geom FROM lines
),
segments AS (
  SELECT geom,
         ST_SnapToGrid(ST_StartPoint(geom), %(tolerance)s) AS a,
         ST_SnapToGrid(ST_EndPoint(geom), %(tolerance)s) AS b
  FROM noded
  WHERE ST_Length(geom) > 0
),
points AS (
  SELECT DISTINCT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT a AS p FROM segments UNION ALL SELECT b FROM segments) q
),
nodes AS (
  SELECT x, y, row_number() OVER (ORDER BY x, y)::integer AS id FROM points
)
INSERT INTO gap.network_edge (network_id, id, source, target, length_m, geom)
SELECT %(network)s,
       row_number() OVER (ORDER BY na.id, nb.id, ST_Length(s.geom))::integer,
       na.id, nb.id, ST_Length(s.geom), s.geom
FROM segments s
JOIN nodes na ON na.x = ST_X(s.a) AND na.y = ST_Y(s.a)
JOIN nodes nb ON nb.x = ST_X(s.b) AND nb.y = ST_Y(s.b)
