"""Planning standards as data (facility radii, 千人指标) for the gap analysis."""
