"""PostGIS storage of the base map: layer state, versions, features."""
