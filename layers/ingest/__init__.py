"""Importing layer files: intake of uploads, coordinate systems, reading, preparing and loading."""
