"""`scrapeguard audit ...`: the audit log's chain."""

from __future__ import annotations

import sys
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
    signed_in,
)


@click.group("audit")
def audit_group() -> None:
    """The append-only, hash-chained audit log."""


@audit_group.command("verify")
@click.option("--against", "checkpoint_file", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="A checkpoint file (`audit checkpoint --out FILE`): each checkpoint's signature must "
                   "hold and the chain must still pass through it.")
@db_option
@policy_option
@json_option
@clear_errors
def audit_verify(checkpoint_file: str | None, db_target: str | None, policy_path: str | None,
                 as_json: bool) -> None:
    """Recompute the keyed chain and compare every incident, notice, case and user with its last
    audited change; exit status 1 if anything was altered, deleted, reordered or edited directly."""
    from scrapeguard.records.audit import read_checkpoints, verify

    db = open_database(db_target)
    if policy_path is not None:
        db.key_source = policy_or_exit(policy_path).incidents.pseudonym_key
    try:
        with db.session() as session:
            points = read_checkpoints(session, Path(checkpoint_file)) if checkpoint_file else None
            result = verify(session, checkpoints=points)
    finally:
        db.dispose()

    def text() -> str:
        lines = [f"audit log OK: {result.entries} entries, head {result.head_seq} {result.head_hash}; "
                 f"{result.rows_checked} rows match their last audited change"
                 + (f"; {result.checkpoints} checkpoint(s) hold" if checkpoint_file else "")
                 if result.ok else "audit log TAMPERED:"]
        lines += [f"  {p}" for p in result.problems]
        lines += [f"note: {n}" for n in result.notes]
        return "\n".join(lines)

    emit(as_json, result.to_dict(), text)
    if not result.ok:
        sys.exit(1)


@audit_group.command("bind")
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def audit_bind(db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """After upgrading to schema 0004: bind the rows last changed before (incidents, notices,
    cases, users) into the chain as they are now, so a later direct edit of them shows (admins)."""
    from scrapeguard.records.audit import bind_rows

    db = open_database(db_target)
    if policy_path is not None:
        db.key_source = policy_or_exit(policy_path).incidents.pseudonym_key
    try:
        with db.session() as session:
            counts = bind_rows(session, signed_in(session, as_user))
    finally:
        db.dispose()
    emit(as_json, counts, lambda: "bound " + (", ".join(f"{n} {entity}(s)" for entity, n in counts.items())
                                               or "nothing (every row is bound already)"))


@audit_group.command("checkpoint")
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Append the checkpoint to this file (created 0600). Keep it outside the database's "
                   "machine or backups, e.g. on write-once storage.")
@db_option
@policy_option
@json_option
@clear_errors
def audit_checkpoint(out: str, db_target: str | None, policy_path: str | None, as_json: bool) -> None:
    """Append a signed checkpoint of the chain's head (seq, hash, time) to FILE; run it regularly
    (e.g. from cron). `audit verify --against FILE` then finds a chain rewritten since."""
    from scrapeguard.records.audit import append_checkpoint, checkpoint, verify

    db = open_database(db_target)
    if policy_path is not None:
        db.key_source = policy_or_exit(policy_path).incidents.pseudonym_key
    try:
        with db.session() as session:
            result = verify(session)
            if not result.ok:  # a checkpoint vouches for the chain: never for a broken one
                raise click.ClickException("the audit log does not verify, no checkpoint written:\n"
                                           + "\n".join(f"  {p}" for p in result.problems))
            point = checkpoint(session)
    finally:
        db.dispose()
    append_checkpoint(Path(out), point)
    data = {"seq": point.seq, "hash": point.hash, "at": point.at, "out": out}
    emit(as_json, data, lambda: f"checkpoint of entry {point.seq} ({point.hash}) appended to {out}")

