"""The base map (一张底图): layer catalog, ingest, tiles and the demo district."""
