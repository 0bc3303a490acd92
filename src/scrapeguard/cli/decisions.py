"""`scrapeguard decisions ...`: decisions files into the records."""

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


@click.group("decisions")
def decisions_group() -> None:
    """Decisions from a decisions file (`scrapeguard replay --decisions-out`)."""


@decisions_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def decisions_import(file: str, db_target: str | None, as_user: str, policy_path: str | None,
                     as_json: bool) -> None:
    """Import a decisions file (JSON Lines); incidents open as they would have live. Decisions
    stored already (same id and time) are skipped: importing a file twice adds nothing."""
    import hashlib

    from scrapeguard.records.decisions import import_decisions, parse_decision_line
    from scrapeguard.records.errors import RecordsError
    from scrapeguard.records.incidents import detect

    policy = policy_or_exit(policy_path)
    db = open_database(db_target)
    pseudonymiser = pseudonymiser_for(policy, db)
    records, bad = [], []
    with open(file, "rb") as raw:
        file_sha256 = hashlib.file_digest(raw, "sha256").hexdigest()
    with open(file, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            try:
                records.append(parse_decision_line(line, pseudonymiser))
            except RecordsError as exc:
                bad.append({"line": number, "problem": str(exc)})
    with db.session() as session:
        counts = import_decisions(session, signed_in(session, as_user), records, Path(file).name,
                                  file_sha256, len(bad))
        added = counts["added"]
    with db.session() as session:
        opened = detect(session, records, policy.incidents)
        result = {"decisions": added, "already_stored": counts["already_stored"], "bad_lines": bad[:100],
                  "incidents_opened": [i.id for i in opened]}
    db.dispose()
    emit(as_json, result, lambda: "\n".join(
        [f"imported {added} decisions ({counts['already_stored']} stored already, skipped), "
         f"{len(opened)} incident(s) opened; {len(bad)} line(s) skipped:"]
        + [f"  line {b['line']}: {b['problem']}" for b in bad[:20]]))

