"""JSON API routes that belong to no workflow domain."""
