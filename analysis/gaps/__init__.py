"""Facility gap analysis (寻找发展差距): walking catchments on the road network, capacity against population.

Framework-free like the rest of ``analysis``: it takes a connection and the standards and returns typed
results, so the API, the CLI and batch jobs share it.
"""
