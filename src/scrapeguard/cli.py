"""The `scrapeguard` command."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scrapeguard import __version__
from scrapeguard.policy import PolicyError, default_policy, defaults_text, load_policy
from scrapeguard.policy.model import Policy

if TYPE_CHECKING:
    from scrapeguard.logs.formats import LogFormat

# The proxy, the demo site, the engine and the records (aiohttp, uvicorn, faker, sqlalchemy...) are
# imported by the commands that use them: `analyze` and `policy` start without them.


class ListenAddress(click.ParamType):  # type: ignore[type-arg]
    name = "HOST:PORT"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        from scrapeguard.serving import parse_listen

        try:
            return parse_listen(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


LISTEN = ListenAddress()


def _load_policy_or_exit(path: str | None) -> Policy:
    if path is None:
        return default_policy()
    try:
        return load_policy(path)
    except PolicyError as exc:
        click.echo(f"policy {path} is not valid:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


def _check_cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise click.BadParameter(f"{value!r} is not an IP network (e.g. 10.0.0.0/8)",
                                     param_hint="--trusted-proxies") from exc
    return values


class _Commands(click.Group):
    """The group of every command; the records' commands (`records/commands.py`) are loaded when asked for."""

    def _records(self) -> None:
        from scrapeguard.records.commands import COMMANDS

        for command in COMMANDS:
            if command.name not in self.commands:
                self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._records()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._records()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="scrapeguard")
def main() -> None:
    """ScrapeGuard protects the personal data a site shows from mass scraping.

    Put `scrapeguard proxy` in front of a site; try it all first with
    `scrapeguard demo`. Every command has --help.
    """


F = TypeVar("F", bound=Callable[..., Any])


def _connection_options(idle: float, per_client: int, note: str) -> Callable[[F], F]:
    """The connection limits `proxy` and `site` share (see docs/security.md, "Resource limits")."""
    def add(command: F) -> F:
        options = [
            click.option("--header-timeout", type=click.FloatRange(0.1, 3600), default=10.0,
                         show_default=True, metavar="SECONDS",
                         help="Close a connection whose request line and headers take longer than this."),
            click.option("--idle-timeout", type=click.FloatRange(0.1, 86400), default=idle, show_default=True,
                         metavar="SECONDS",
                         help="Close a keep-alive connection idle for this long (above a load "
                              "balancer's own idle timeout, if one is in front)."),
            click.option("--max-connections-per-client", type=click.IntRange(0, 1_000_000),
                         default=per_client, show_default=True, metavar="N",
                         help="Connections open at once per client address (IPv6: per /64); more are "
                              f"closed at once. 0: no cap. {note}"),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return add


@main.command()
@click.option("--listen", type=LISTEN, default="127.0.0.1:8081", show_default=True,
              help="Address to serve the demo site on.")
@click.option("--members", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="How many fake members to generate.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Same seed, same members.")
@click.option("--demo-logins", is_flag=True,
              help="Let every generated member log in with the password 'demo'.")
@_connection_options(idle=5.0, per_client=0, note="Off by default: behind the guard, every "
                     "connection comes from the guard's address.")
def site(listen: tuple[str, int], members: int, seed: int, demo_logins: bool, header_timeout: float,
         idle_timeout: float, max_connections_per_client: int) -> None:
    """Run the demo social network (member pages, directory, API, search, login)."""
    from scrapeguard.integrations.connections import ConnectionLimits
    from scrapeguard.serving import run_until_signalled, start_site

    host, port = listen
    limits = ConnectionLimits(header_timeout, idle_timeout, max_connections_per_client)

    async def run() -> None:
        click.echo(f"generating {members} members (seed {seed})...", err=True)
        server = await start_site(host, port, members, seed, demo_logins, limits)
        click.echo(f"demo site on http://{_url_host(host)}:{port}/  (Ctrl-C to stop)")
        await run_until_signalled(server.stop)

    _run(run())


@main.command()
@click.option("--listen", type=LISTEN, default="127.0.0.1:8080", show_default=True,
              help="Address the guard listens on.")
@click.option("--upstream", required=True, metavar="URL",
              help="The site to protect, e.g. http://127.0.0.1:8081.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Policy file (TOML); built-in defaults if omitted.")
@click.option("--store", "store_uri", default="memory://", show_default=True, metavar="URI",
              help="Where counters and penalties live.")
@click.option("--decisions-out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Append every non-allow decision to this JSON Lines file.")
@click.option("--trusted-proxies", multiple=True, metavar="CIDR",
              help="Load balancers whose X-Forwarded-For is believed (repeatable). "
                   "Otherwise the socket peer is the client.")
@click.option("--db", "db_target", metavar="URL",
              help="Keep records (refusals, exposure, incidents) in this database: a SQLite file or "
                   "postgresql://... Written off the hot path; see docs/records.md.")
@_connection_options(idle=75.0, per_client=64, note="The --trusted-proxies are not capped.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object per log line (ts, level, logger, message; a line per refusal "
                   "with its decision_id and action). text: warnings and errors as plain lines.")
def proxy(listen: tuple[str, int], upstream: str, policy_path: str | None, store_uri: str,
          decisions_out: str | None, trusted_proxies: tuple[str, ...], db_target: str | None,
          header_timeout: float, idle_timeout: float, max_connections_per_client: int,
          log_format: str) -> None:
    """Run the guard as a reverse proxy in front of a site (its Prometheus metrics at
    /.well-known/scrapeguard/metrics, to local calls only)."""
    from scrapeguard.jsonlog import configure_logging

    configure_logging(log_format)
    from scrapeguard.integrations.connections import ConnectionLimits
    from scrapeguard.integrations.proxy import start_proxy
    from scrapeguard.policy.warnings import policy_warnings
    from scrapeguard.records.errors import RecordsError
    from scrapeguard.serving import build_proxy, run_until_signalled

    policy = _load_policy_or_exit(policy_path)
    for warning in policy_warnings(policy):
        click.echo(f"policy warning: {warning}", err=True)
    _check_cidrs(trusted_proxies)
    try:
        guard = build_proxy(policy, upstream, store_uri, decisions_out, trusted_proxies, db=db_target)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from exc
    host, port = listen

    limits = ConnectionLimits(header_timeout, idle_timeout, max_connections_per_client)

    async def run() -> None:
        runner = await start_proxy(guard, host, port, limits)
        click.echo(f"guard on http://{_url_host(host)}:{port}/ -> {upstream} "
                   f"(mode {policy.mode}, policy {policy.source})  (Ctrl-C to stop)")
        await run_until_signalled(runner.cleanup)
        if guard.decisions is not None:
            guard.decisions.close()

    _run(run())


@main.command()
@click.option("--listen", type=LISTEN, default="127.0.0.1:8082", show_default=True,
              help="Address nginx's auth_request (and Caddy's/Traefik's forward auth) asks; nginx's "
                   "after-response log lines are read on the same port over UDP.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Policy file (TOML); built-in defaults if omitted.")
@click.option("--store", "store_uri", default="memory://", show_default=True, metavar="URI",
              help="Where counters and penalties live (redis://... to share them between instances).")
@click.option("--decisions-out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Append every non-allow decision to this JSON Lines file.")
@click.option("--trusted-proxies", multiple=True, metavar="CIDR",
              help="Proxies whose X-Forwarded-For is believed (repeatable): nginx's own address "
                   "(e.g. 127.0.0.1) and any load balancer in front of it.")
@click.option("--db", "db_target", metavar="URL",
              help="Keep records (refusals, exposure, incidents) in this database: a SQLite file or "
                   "postgresql://... Written off the hot path; see docs/records.md.")
def decide(listen: tuple[str, int], policy_path: str | None, store_uri: str, decisions_out: str | None,
           trusted_proxies: tuple[str, ...], db_target: str | None) -> None:
    """Answer a front proxy's authorization checks (nginx auth_request); see docs/integrations.md."""
    from scrapeguard.integrations.adapter import build_guard
    from scrapeguard.integrations.auth_request import DecideServer, serve_decide
    from scrapeguard.records.errors import RecordsError

    policy = _load_policy_or_exit(policy_path)
    _check_cidrs(trusted_proxies)
    try:
        guard = build_guard(policy, store_uri, trusted_proxies, decisions_out, db_target)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from exc
    _run(serve_decide(DecideServer(guard), *listen, announce=click.echo))


@main.command()
@click.option("--listen", type=LISTEN, default="127.0.0.1:8080", show_default=True,
              help="Address of the guard (the site runs on the next port).")
@click.option("--members", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Policy file; built-in defaults if omitted.")
@click.option("--decisions-out", type=click.Path(dir_okay=False), metavar="FILE",
              default="scrapeguard-decisions.jsonl", show_default=True,
              help="Where refusals are written.")
@click.option("--db", "db_target", metavar="URL", default="scrapeguard-demo.db", show_default=True,
              help="Records database (incidents open here; try `scrapeguard incidents list --db ...`).")
def demo(listen: tuple[str, int], members: int, seed: int, policy_path: str | None,
         decisions_out: str, db_target: str) -> None:
    """Demo site + guard on loopback with the built-in policy, in one command."""
    from scrapeguard.demo.policy import demo_policy
    from scrapeguard.integrations.proxy import start_proxy
    from scrapeguard.serving import build_proxy, run_until_signalled, start_site

    # without a policy file: the defaults plus the demo site's traps and canary members
    policy = _load_policy_or_exit(policy_path) if policy_path else demo_policy(members)
    host, port = listen
    site_port = port + 1 if port else 0
    upstream = f"http://{_url_host(host)}:{site_port}"

    async def run() -> None:
        click.echo(f"generating {members} members (seed {seed})...", err=True)
        server = await start_site(host, site_port, members, seed, demo_logins=True)
        guard = build_proxy(policy, upstream, None, decisions_out, db=db_target)
        _demo_member_directory(db_target, members, seed)
        runner = await start_proxy(guard, host, port)
        base = f"http://{_url_host(host)}:{port}"
        click.echo(f"""
  demo site (unguarded): {upstream}/
  guarded site:          {base}/      <- browse here; members log in with password 'demo'
  decisions file:        {decisions_out}
  records database:      {db_target}   (scrapeguard incidents list --db {db_target} --as USER)
  policy:                {policy.source} (mode {policy.mode})

  Try a scraper: curl names itself, so it is challenged at once (403, a proof-of-work it cannot
  solve); from the 8th id in sequence its sweep is throttled (429), then blocked (403):
    for i in $(seq 1 80); do curl -s -o /dev/null -w "%{{http_code}} " {base}/api/v1/members/$i; done
  In a browser's clothes (its user agent and headers) the first 7 come back 200, then the sweep:
    for i in $(seq 1 80); do curl -s -o /dev/null -w "%{{http_code}} " --compressed \
      -H "Accept-Language: en" -A "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" \
      {base}/api/v1/members/$i; done

  (Ctrl-C to stop)""")

        async def stop() -> None:
            await runner.cleanup()
            await server.stop()
            if guard.decisions is not None:
                guard.decisions.close()

        await run_until_signalled(stop)

    _run(run())



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


@main.command()
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

    loaded = _load_policy_or_exit(policy_path)
    if not verify_dns:
        loaded = offline_policy(loaded)
    log_format = _log_format_or_exit(fmt, session_var, account_var, json_fields)
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


@main.command()
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

    loaded = _load_policy_or_exit(policy_path)
    log_format = _log_format_or_exit(fmt, session_var, account_var, json_fields)
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


def _log_format_or_exit(fmt: str, session_var: str | None, account_var: str | None,
                        json_fields: tuple[str, ...]) -> LogFormat:
    from scrapeguard.logs.formats import FormatError, make_format

    fields = {}
    for item in json_fields:
        name, sep, key = item.partition("=")
        if not sep or not name or not key:
            raise click.BadParameter(f"{item!r} is not NAME=KEY", param_hint="--json-field")
        fields[name] = key
    try:
        return make_format(fmt, session_var, account_var, fields or None)
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from exc


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


@main.group()
def intel() -> None:
    """The shipped crawler and IP-range data (see intel/data/SOURCE.txt)."""


@intel.command("refresh")
@click.option("--from", "source", required=True, type=click.Path(file_okay=False, exists=True),
              metavar="DIR",
              help="A directory with ai-crawlers/robots.json and/or ipranges/<provider>/*.txt.")
def intel_refresh(source: str) -> None:
    """Replace the shipped snapshot with newer files you downloaded (validated first)."""
    from pathlib import Path

    from scrapeguard.intel.refresh import RefreshError, refresh

    try:
        updated = refresh(Path(source))
    except RefreshError as exc:
        raise click.ClickException(str(exc)) from exc
    for name in updated:
        click.echo(f"updated {name}")


@main.group()
def policy() -> None:
    """Print the default policy or check a policy file."""


@policy.command("defaults")
def policy_defaults() -> None:
    """Print the built-in policy, every value documented (a starting point for your own)."""
    click.echo(defaults_text(), nl=False)


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_check(file: str) -> None:
    """Validate a policy file: every problem with file, line, key and what is allowed."""
    from scrapeguard.policy.warnings import policy_warnings

    loaded = _load_policy_or_exit(file)
    for warning in policy_warnings(loaded):
        click.echo(f"{file}: warning: {warning}", err=True)
    q = loaded.profile_quota
    click.echo(f"{file}: valid (mode {loaded.mode}, {len(loaded.routes)} routes, "
               f"anonymous quota {q.anonymous.per_hour}/hour {q.anonymous.per_day}/day, "
               f"accounts {q.account.per_hour}/hour {q.account.per_day}/day)")


def _demo_member_directory(db_target: str, members: int, seed: int) -> None:
    """The demo site's members and their countries in the records (breach rules are per country)."""
    from scrapeguard.demo.members import make_member
    from scrapeguard.records.db import Database
    from scrapeguard.records.exposure import import_members

    db = Database(db_target)
    with db.session() as session:
        directory = [{"member_id": str(m.id), "country": m.country,
                      "aliases": [f"id:{m.id}", f"username:{m.username}"]}
                     for m in (make_member(seed, i) for i in range(1, members + 1))]
        import_members(session, directory, "scrapeguard")
    db.dispose()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a server coroutine on uvloop where it is installed (faster), else asyncio's loop."""
    import asyncio

    try:
        import uvloop

        run: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    except ImportError:  # pragma: no cover - platforms without uvloop
        run = asyncio.run
    try:
        run(coro)
    except OSError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
