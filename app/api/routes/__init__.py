"""Cross-cutting API routes."""
