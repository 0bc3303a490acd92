"""`scrapeguard drill`: attack your own policy with scraping strategies and people personas
(docs/drill.md): options in, scorecard out (terminal, JSON, HTML, records), exit status from the
expectations. The heavy modules are imported when the command runs."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scrapeguard.cli.common import clear_errors, policy_or_exit

if TYPE_CHECKING:
    from scrapeguard.drill.scorecard import Scorecard


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
    from rich.console import Console

    from scrapeguard.drill.bounds import DrillError
    from scrapeguard.drill.expect import Expectations, check, load_expectations
    from scrapeguard.drill.html import scorecard_html
    from scrapeguard.drill.personas import PERSONAS
    from scrapeguard.drill.run import (
        DEFAULT_PERSONAS,
        DEFAULT_STRATEGIES,
        DrillSettings,
        load_plugin,
        run_drill,
    )
    from scrapeguard.drill.strategies import REGISTRY
    from scrapeguard.drill.terminal import progress_bar, scorecard_tables

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
        if options.db_target is not None:
            _record(options.db_target, str(options.as_user), None)  # refused now, not after the drill
        expected = load_expectations(Path(options.expect_path)) if options.expect_path else Expectations()
        settings = DrillSettings(
            target=options.target, policy_path=Path(options.policy_path) if options.policy_path else None,
            strategies=chosen(options.strategies, DEFAULT_STRATEGIES, list(REGISTRY)),
            personas=chosen(options.personas, DEFAULT_PERSONAS, list(PERSONAS)),
            i_own_this_site=options.i_own_this_site, max_rate=options.max_rate,
            max_seconds=options.max_seconds, max_requests=options.max_requests, members=options.members)
        guard_log = logging.getLogger("scrapeguard")
        level = guard_log.level
        guard_log.setLevel(logging.ERROR)  # the guard's start-up notes are not results
        try:
            with progress_bar(err) as step:
                card = run_drill(settings, step)
        finally:  # in-process callers (tests, apps) keep their own logging
            guard_log.setLevel(level)
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


def _record(db_target: str, as_user: str, card: Scorecard | None) -> None:
    """Keep the scorecard in the records; with no card, only check that the user may (before running)."""
    from scrapeguard.cli.common import database_session, signed_in
    from scrapeguard.records.drills import may_record, record_drill

    with database_session(db_target) as session:
        by = signed_in(session, as_user)
        if card is None:
            may_record(session, by)
        else:
            row = record_drill(session, by, card)
            click.echo(f"drill {row.id} recorded", err=True)


@click.command()
@click.option("--target", metavar="URL",
              help="The site to drill (default: the demo site and the guard, started on loopback, on a "
                   "simulated clock). Anything but loopback needs --i-own-this-site.")
@click.option("--i-own-this-site", is_flag=True,
              help="State that you own --target, which is not on loopback (a drill sends scraping traffic).")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="The guard's policy for the built-in demo (laid over the defaults); its hash is recorded.")
@click.option("--strategies", metavar="A,B", help="Scraping strategies to run, comma-separated, or 'all' "
              "(default: one of each kind; `--strategies list` names them).")
@click.option("--personas", metavar="X,Y", help="People personas to run, comma-separated, 'all' or 'none' "
              "(default: all).")
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE[:ATTR]|FILE.toml",
              help="Load strategies from a module (its @strategy registrations, or ATTR: a Strategy or a "
                   "list of them) or from a TOML file of [strategy.NAME] walks (docs/drill.md). "
                   "Repeatable. Installed packages can also declare the entry point group "
                   "scrapeguard.drill_strategies.")
@click.option("--max-rate", type=click.FloatRange(min=0.1), default=20.0, show_default=True,
              help="Requests a second at most, against --target (the demo runs on a simulated clock).")
@click.option("--max-seconds", type=click.FloatRange(min=1), default=900.0, show_default=True,
              help="Wall seconds the whole drill may take; a strategy still running then stops.")
@click.option("--max-requests", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Requests one strategy or persona may send.")
@click.option("--members", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Member ids (1..N) strategies walk on --target.")
@click.option("--json", "as_json", is_flag=True, help="Print the scorecard as JSON instead of tables.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the scorecard and a chart as an HTML page.")
@click.option("--expect", "expect_path", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="Thresholds (TOML, see docs/drill.md): exit 1 if the scorecard breaks any.")
@click.option("--db", "db_target", metavar="URL",
              help="Keep the scorecard in these records (audited; with --as): the regulator report cites it.")
@click.option("--as", "as_user", envvar="SCRAPEGUARD_USER", metavar="USER",
              help="Who records the drill, with --db (password from SCRAPEGUARD_PASSWORD or asked).")
@clear_errors
def drill(target: str | None, i_own_this_site: bool, policy_path: str | None, strategies: str | None,
          personas: str | None, plugins: tuple[str, ...], max_rate: float, max_seconds: float,
          max_requests: int, members: int, as_json: bool, html_out: str | None, expect_path: str | None,
          db_target: str | None, as_user: str | None) -> None:
    """Attack your own policy: run scraping strategies and people personas, print a scorecard."""
    if policy_path is not None:
        policy_or_exit(policy_path)
    options = DrillOptions(target, i_own_this_site, policy_path, strategies, personas, plugins, max_rate,
                           max_seconds, max_requests, members, as_json, html_out, expect_path, db_target,
                           as_user)
    sys.exit(run_command(options))
