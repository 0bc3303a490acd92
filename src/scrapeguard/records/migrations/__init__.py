"""Alembic migrations of the records schema, run by `scrapeguard db upgrade` (records.db)."""
