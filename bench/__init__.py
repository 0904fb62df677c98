"""Benchmarks: scripts that print ours-vs-peer figures; never run as tests."""
