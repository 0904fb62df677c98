"""Tile generation: vector tiles (MVT) from PostGIS and raster tiles from COGs."""
