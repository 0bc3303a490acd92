"""`scrapeguard drill`: options in, scorecard out (terminal, JSON, HTML, records), exit status from
the expectations. The click command in `scrapeguard.cli` only gathers the options."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console

from scrapeguard.drill.bounds import DrillError
from scrapeguard.drill.expect import Expectations, check, load_expectations
from scrapeguard.drill.html import scorecard_html
from scrapeguard.drill.personas import PERSONAS
from scrapeguard.drill.run import DEFAULT_PERSONAS, DEFAULT_STRATEGIES, DrillSettings, load_plugin, run_drill
from scrapeguard.drill.scorecard import Scorecard
from scrapeguard.drill.strategies import REGISTRY
from scrapeguard.drill.terminal import progress_bar, scorecard_tables


@dataclass(frozen=True)
class DrillOptions:
    """The command line's options, as `scrapeguard.cli.drill` documents them."""

    target: str | None
    i_own_this_site: bool
    policy_path: str | None
    strategies: str | None
    personas: str | None
    plugins: tuple[str, ...]
    max_rate: float
    max_seconds: float
    max_requests: int
    members: int
    as_json: bool
    html_out: str | None
    expect_path: str | None
    db_target: str | None
    as_user: str | None


def chosen(value: str | None, default: tuple[str, ...], known: list[str]) -> tuple[str, ...]:
    """A comma-separated list of names, or "all", "none", or the default when not given."""
    if value is None:
        return default
    if value.strip() == "all":
        return tuple(known)
    if value.strip() == "none":
        return ()
    return tuple(name.strip() for name in value.split(",") if name.strip())


def run_command(options: DrillOptions) -> int:
    """Run the drill; the exit status: 0, or 1 when the scorecard breaks an expectation (people
    refused break the default one)."""
    logging.getLogger("scrapeguard").setLevel(logging.ERROR)  # the guard's start-up notes are not results
    err = Console(stderr=True)
    try:
        for spec in options.plugins:
            load_plugin(spec)
        if options.strategies == "list":
            for entry in REGISTRY.values():
                click.echo(f"{entry.name}: {entry.description}")
            return 0
        if options.db_target is not None and not options.as_user:
            raise DrillError("--db needs --as USER (who records the drill)")
        expected = load_expectations(Path(options.expect_path)) if options.expect_path else Expectations()
        settings = DrillSettings(
            target=options.target, policy_path=Path(options.policy_path) if options.policy_path else None,
            strategies=chosen(options.strategies, DEFAULT_STRATEGIES, list(REGISTRY)),
            personas=chosen(options.personas, DEFAULT_PERSONAS, list(PERSONAS)),
            i_own_this_site=options.i_own_this_site, max_rate=options.max_rate,
            max_seconds=options.max_seconds, max_requests=options.max_requests, members=options.members)
        with progress_bar(err) as step:
            card = run_drill(settings, step)
    except DrillError as exc:
        raise click.UsageError(str(exc)) from exc
    if options.as_json:
        click.echo(json.dumps(card.to_dict(), indent=2))
    else:
        out = Console(width=160) if not sys.stdout.isatty() else Console()
        for part in scorecard_tables(card):
            out.print(part)
    if options.html_out:
        Path(options.html_out).write_text(scorecard_html(card), encoding="utf-8")
    if options.db_target is not None:
        _record(options.db_target, str(options.as_user), card)
    failures, notes = check(card, expected)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for failure in failures:
        click.echo(f"expectation not met: {failure}", err=True)
    return 1 if failures else 0


def _record(db_target: str, as_user: str, card: Scorecard) -> None:
    from scrapeguard.records.commands import _actor, _session
    from scrapeguard.records.drills import record_drill
    from scrapeguard.records.errors import PermissionDenied, RecordsError

    try:
        with _session(db_target) as session:
            row = record_drill(session, _actor(session, as_user), card)
            click.echo(f"drill {row.id} recorded", err=True)
    except PermissionDenied as exc:
        raise click.ClickException(f"not allowed: {exc}") from exc
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from exc
