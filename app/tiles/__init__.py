"""Map tiles: composite vector tiles (MVT), raster tiles (PNG), TileJSON and styles."""
