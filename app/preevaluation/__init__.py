"""Pre-evaluation (预评价): checking a footprint against the base map, and the stored reports."""
