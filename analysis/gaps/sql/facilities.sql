-- The features of a facility layer, with the point (on their surface) that places them in a sub-district.
SELECT f.fid, f.props, f.area_m2, ST_AsBinary(f.geom) AS wkb, ST_X(p.p) AS x, ST_Y(p.p) AS y
FROM basemap.feature f
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(f.geom) AS p) p
WHERE f.version_id = %(facilities)s
ORDER BY f.fid
