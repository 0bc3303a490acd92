"""Alembic environment: always run programmatically by scrapeguard.records.db with a live connection."""

from __future__ import annotations

from alembic import context

from scrapeguard.records.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with `scrapeguard db upgrade`, not the alembic command")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
