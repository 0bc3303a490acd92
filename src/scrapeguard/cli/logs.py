"""`scrapeguard replay` and `scrapeguard analyze`: access logs through the policy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from scrapeguard.cli.common import (
    F,
    log_format_or_exit,
    policy_or_exit,
)


def _log_reading_options(command: F) -> F:
    """The options `replay` and `analyze` share: the logs, their format, where sessions and accounts are."""
    options = [
        click.argument("logs", nargs=-1, required=True, metavar="LOG..."),
        click.option("--format", "fmt", required=True, metavar="FMT",
                     help="combined, common, json, or an nginx log_format string in quotes, e.g. "
                          "'$remote_addr - $remote_user [$time_local] \"$request\" $status ...'."),
        click.option("--session-var", metavar="VAR",
                     help="The format variable holding the session, e.g. cookie_sid."),
        click.option("--account-var", metavar="VAR",
                     help="The format variable holding the account, e.g. remote_user."),
        click.option("--json-field", "json_fields", multiple=True, metavar="NAME=KEY",
                     help="For --format json: which key holds NAME (time, ip, method, path, status, "
                          "user_agent, session, account, request, referer). Repeatable; dotted keys reach "
                          "into objects."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@_log_reading_options
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Policy to try (TOML); built-in defaults if omitted.")
@click.option("--decisions-out", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Write every non-allow decision to this JSON Lines file (replaced if it exists).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many top actors the summary lists.")
@click.option("--verify-dns", is_flag=True,
              help="Check search-engine crawlers by reverse DNS too (slow, needs DNS; by default a replay "
                   "is offline and checks them against the operators' published IP ranges only).")
def replay(logs: tuple[str, ...], fmt: str, policy_path: str | None, decisions_out: str,
           session_var: str | None, account_var: str | None, json_fields: tuple[str, ...],
           as_json: bool, top: int, verify_dns: bool) -> None:
    """Run access logs through the engine and policy, in log time: what would the policy have done?

    LOG may be plain or gzip; '-' reads standard input. Bad lines are counted and
    skipped, never fatal.
    """
    import json

    from scrapeguard.decisions import DecisionWriter
    from scrapeguard.engine import Engine
    from scrapeguard.logs.replay import offline_policy, stderr_progress
    from scrapeguard.logs.replay import replay as run_replay

    loaded = policy_or_exit(policy_path)
    if not verify_dns:
        loaded = offline_policy(loaded)
    log_format = log_format_or_exit(fmt, session_var, account_var, json_fields)
    _check_logs(logs)
    out = Path(decisions_out)
    _refuse_overwriting_a_log(out, logs, "--decisions-out")
    out.unlink(missing_ok=True)
    writer = DecisionWriter(out, buffered=True)  # a batch: flushed in blocks, and when it ends
    try:
        summary = run_replay(logs, log_format, Engine(loaded, live=False), writer, progress=stderr_progress,
                             read_ahead=(os.cpu_count() or 1) > 1)
    finally:
        writer.close()
    if sys.stderr.isatty():
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps({**summary.to_dict(top), "decisions_out": str(out)}, indent=2))
    else:
        click.echo(summary.text(top))
        click.echo(f"decisions written to {out}")


@click.command()
@_log_reading_options
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Policy whose quotas and route map are used (TOML); built-in defaults if omitted.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write report.html, analysis.json and exposed-members.csv into DIR (created if needed).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the HTML report.")
@click.option("--json-out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the analysis as JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the exposed members as CSV (one row per actor, member and route).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--top", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many top actors and user agents to list.")
@click.option("--work-dir", type=click.Path(file_okay=False), metavar="DIR", hidden=True,
              help="Ignored: analyze no longer writes the parsed requests anywhere (kept for scripts).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def analyze(logs: tuple[str, ...], fmt: str, policy_path: str | None, session_var: str | None,
            account_var: str | None, json_fields: tuple[str, ...], out_dir: str | None, html_out: str | None,
            json_out: str | None, csv_out: str | None, as_json: bool, top: int, work_dir: str | None,
            quiet: bool) -> None:
    """Analyse large access logs fast: volumes, flagged actors, campaigns, and whose data they got.

    LOG may be plain or gzip; '-' reads standard input. Nothing is refused or
    written to a decisions file: for what the policy would have done request by
    request, use `replay`. Definitions: docs/log-analysis.md.
    """
    import json
    import time

    from scrapeguard.logs.aggregates import aggregate_logs
    from scrapeguard.logs.analysis import analyze as run_analysis
    from scrapeguard.logs.progress import BytesProgress
    from scrapeguard.logs.report import timeline_lines, write_csv, write_html, write_json

    loaded = policy_or_exit(policy_path)
    log_format = log_format_or_exit(fmt, session_var, account_var, json_fields)
    _check_logs(logs)
    outputs: dict[str, Path] = {}
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        outputs = {"html": Path(out_dir) / "report.html", "json": Path(out_dir) / "analysis.json",
                   "csv": Path(out_dir) / "exposed-members.csv"}
    for kind, value in (("html", html_out), ("json", json_out), ("csv", csv_out)):
        if value is not None:
            outputs[kind] = Path(value)
    for kind, path in outputs.items():
        _refuse_overwriting_a_log(path, logs, f"--{kind}")
    started = time.perf_counter()
    with BytesProgress(logs, enabled=not quiet and sys.stderr.isatty()) as progress:
        tables = aggregate_logs(logs, log_format, loaded.routes, progress.advance)
        progress.phase("aggregating")
        result = run_analysis(tables, loaded, top=top, progress=progress.phase)
    result.seconds = time.perf_counter() - started
    if "json" in outputs:
        write_json(result, outputs["json"], {"policy": loaded.source})
    if "csv" in outputs:
        write_csv(result, outputs["csv"])
    if "html" in outputs:
        write_html(result, outputs["html"])
    if as_json:
        written = {k: str(v) for k, v in outputs.items()}
        click.echo(json.dumps({**result.to_dict(), "outputs": written}, indent=2))
        return
    d = result.to_dict()
    click.echo(f"{d['lines']} lines read, {d['requests']} requests, {d['skipped_lines']} lines skipped "
               f"({d['seconds']} s, {d['lines_per_second'] or '-'} lines/s)")
    for reason, n in result.stats.bad.most_common():
        click.echo(f"  skipped {n}: {reason}")
    for sample in result.stats.samples:
        click.echo(f"    {sample.source}:{sample.line_number}: {sample.reason}: {sample.text[:120]}")
    if result.stats.invalid_ips:
        click.echo(f"{result.stats.invalid_ips} lines had a client field that is not an IP address")
    click.echo(f"{result.actors} actors, {len(result.flagged)} flagged, {len(result.campaigns)} campaigns, "
               f"{result.exposed_members} members exposed to flagged actors")
    for summary in result.flagged[:top]:
        click.echo(f"  {summary.actor:40} {summary.members_reached:7} members  {'; '.join(summary.reasons)}")
    for line in timeline_lines(result, top):
        click.echo(line)
    for kind, path in outputs.items():
        click.echo(f"{kind} written to {path}")


def _check_logs(logs: tuple[str, ...]) -> None:
    from pathlib import Path

    for path in logs:
        if path != "-" and not Path(path).is_file():
            raise click.BadParameter(f"{path}: no such file", param_hint="LOG")


def _refuse_overwriting_a_log(out: Path, logs: tuple[str, ...], option: str) -> None:
    """An output file that is one of the input logs would destroy the log before it is read."""
    if not out.exists():
        return
    for path in logs:
        if path != "-" and os.path.samefile(path, out):
            raise click.BadParameter(f"{out} is the log {path}: writing there would destroy the log",
                                     param_hint=option)

