"""Facility gap analysis routes (寻找发展差距)."""
