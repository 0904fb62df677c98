"""Accounts, sessions, roles and the permission policy."""
