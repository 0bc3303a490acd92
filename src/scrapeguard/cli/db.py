"""`scrapeguard db ...`: the records database's schema."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    clear_errors,
    db_option,
    emit,
    json_option,
)


@click.group("db")
def db_group() -> None:
    """The records database's schema."""


@db_group.command("upgrade")
@db_option
@json_option
@clear_errors
def db_upgrade(db_target: str | None, as_json: bool) -> None:
    """Create or upgrade the schema (back the database up first)."""
    from scrapeguard.records.db import Database

    db = Database(db_target)
    before, after = db.upgrade()
    db.dispose()
    emit(as_json, {"database": db.display_url, "from": before, "to": after},
          lambda: f"{db.display_url}: schema {before or 'empty'} -> {after}")

