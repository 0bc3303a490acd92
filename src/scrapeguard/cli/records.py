"""`scrapeguard records ...`: data protection of the records themselves."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    as_option,
    clear_errors,
    database_session,
    db_option,
    emit,
    json_option,
    open_database,
    policy_option,
    policy_or_exit,
    pseudonymiser_for,
    signed_in,
)


@click.group("records")
def records_group() -> None:
    """Data protection of the records themselves."""


@records_group.command("purge")
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def records_purge(db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Delete decisions and exposure past their retention ([incidents.retention_days])."""
    from scrapeguard.records.privacy import purge_expired

    options = policy_or_exit(policy_path).incidents
    with database_session(db_target) as session:
        counts = purge_expired(session, signed_in(session, as_user), options.retain_decisions_days,
                               options.retain_exposure_days)
    emit(as_json, counts,
          lambda: f"purged {counts['decisions']} decisions, {counts['exposure']} exposure rows, "
                  f"{counts['traffic_minutes']} traffic counts")


@records_group.command("pseudonym")
@click.argument("key", metavar="NAME:VALUE")
@db_option
@policy_option
@clear_errors
def records_pseudonym(key: str, db_target: str | None, policy_path: str | None) -> None:
    """What an actor key looks like at rest (e.g. ip:203.0.113.7), to find it in the records."""

    if ":" not in key:
        raise click.BadParameter("give name:value, e.g. ip:203.0.113.7", param_hint="KEY")
    policy = policy_or_exit(policy_path)
    db = open_database(db_target)
    try:
        click.echo(pseudonymiser_for(policy, db).actor(key))
    finally:
        db.dispose()

