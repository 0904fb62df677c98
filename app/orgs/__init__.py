"""Organisations: departments, project units and sub-districts."""
