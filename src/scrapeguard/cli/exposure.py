"""`scrapeguard exposure ...`: the exposure ledger."""

from __future__ import annotations

from pathlib import Path

import click

from scrapeguard.cli.common import (
    as_option,
    clear_errors,
    db_option,
    emit,
    json_option,
    open_database,
    policy_option,
    policy_or_exit,
    pseudonymiser_for,
    signed_in,
)


@click.group("exposure")
def exposure_group() -> None:
    """The exposure ledger: what each actor received."""


@exposure_group.command("import")
@click.argument("file", type=click.Path(exists=True))
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def exposure_import(file: str, db_target: str | None, as_user: str, policy_path: str | None,
                    as_json: bool) -> None:
    """Exposure computed from logs: what `scrapeguard analyze` wrote (its exposed-members.csv, or
    its --out folder), or JSON in the shape of docs/records.md."""
    from scrapeguard.records.analysis_import import read_exposure_file
    from scrapeguard.records.exposure import import_exposure, parse_exposure_import

    policy = policy_or_exit(policy_path)
    db = open_database(db_target)
    pseudonymiser = pseudonymiser_for(policy, db)
    records = parse_exposure_import(read_exposure_file(Path(file)), pseudonymiser)
    with db.session() as session:
        import_exposure(session, signed_in(session, as_user), records, Path(file).name)
    db.dispose()
    emit(as_json, {"rows": len(records)}, lambda: f"imported {len(records)} exposure rows")

