-- The features of a facility layer, with the sub-district their representative point lies in.
SELECT f.fid, f.props, f.area_m2, ST_AsBinary(f.geom) AS wkb,
       (SELECT d.props ->> %(sd_attribute)s FROM basemap.feature d
        WHERE d.version_id = %(subdistricts)s AND ST_Intersects(d.geom, ST_PointOnSurface(f.geom))
        ORDER BY d.fid LIMIT 1) AS subdistrict
FROM basemap.feature f
WHERE f.version_id = %(facilities)s
ORDER BY f.fid
