"""Demolition (征拆) coordination: the household-level ledger, blockers, progress and its map."""
