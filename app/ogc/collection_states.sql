-- The current version of each named layer and its extent in CRS84.
-- The stored extent is a rectangle in the storage CRS; it is densified before the transformation so that
-- the curved edges of its image stay inside the reported longitude/latitude box.
SELECT l.code,
       v.id AS version_id,
       v.feature_count,
       ST_XMin(e.box) AS x0, ST_YMin(e.box) AS y0, ST_XMax(e.box) AS x1, ST_YMax(e.box) AS y1
FROM basemap.layer l
LEFT JOIN basemap.layer_version v ON v.id = l.current_version
LEFT JOIN LATERAL (SELECT ST_Transform(ST_Segmentize(v.extent, 100), 4326)::box2d AS box) e ON true
WHERE l.code = ANY(%(codes)s::text[])
