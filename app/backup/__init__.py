"""Backups that restore: dump and restore with a manifest; WAL archiving and point-in-time recovery."""
