"""`scrapeguard members ...`: the member directory."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    as_option,
    clear_errors,
    database_session,
    db_option,
    emit,
    json_option,
    read_json,
    signed_in,
)


@click.group("members")
def members_group() -> None:
    """The member directory: route subjects -> member id and country (for breach assessment)."""


@members_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@db_option
@as_option
@json_option
@clear_errors
def members_import(file: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """FILE: a JSON list of {"member_id", "country", "aliases": ["id:42", "username:ann"]}."""
    from scrapeguard.records.exposure import import_member_directory

    data = read_json(file)
    if not isinstance(data, list):
        raise click.ClickException(f"{file}: must be a JSON list of members")
    with database_session(db_target) as session:
        count = import_member_directory(session, signed_in(session, as_user), data)
    emit(as_json, {"members": count}, lambda: f"imported {count} members")

