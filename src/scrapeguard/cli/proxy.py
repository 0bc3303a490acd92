"""`scrapeguard proxy`: the guard as a reverse proxy."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    LISTEN,
    check_cidrs,
    connection_options,
    policy_or_exit,
    run_server,
    url_host,
)


@click.command()
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
@connection_options(idle=75.0, per_client=64, note="The --trusted-proxies are not capped.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object per log line (ts, level, logger, message; a line per refusal "
                   "with its decision_id and action). text: warnings and errors as plain lines.")
def proxy(listen: tuple[str, int], upstream: str, policy_path: str | None, store_uri: str,
          decisions_out: str | None, trusted_proxies: tuple[str, ...], db_target: str | None,
          header_timeout: float, idle_timeout: float, max_connections_per_client: int,
          log_format: str) -> None:
    """Run the guard as a reverse proxy in front of a site (its Prometheus metrics at
    /.well-known/scrapeguard/metrics, to local calls only). The --policy file is read again when it
    changes (checked every 2 s) and on SIGHUP; a file that does not load leaves the policy as it was."""
    from scrapeguard.jsonlog import configure_logging

    configure_logging(log_format)
    from scrapeguard.integrations.connections import ConnectionLimits
    from scrapeguard.integrations.proxy import start_proxy
    from scrapeguard.policy.warnings import policy_warnings
    from scrapeguard.records.errors import RecordsError
    from scrapeguard.serving import PolicyReloader, build_proxy, run_until_signalled

    policy = policy_or_exit(policy_path)
    for warning in policy_warnings(policy):
        click.echo(f"policy warning: {warning}", err=True)
    check_cidrs(trusted_proxies)
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
        # the policy file is read again when it changes (an approved change in the console) or on SIGHUP
        reloader = PolicyReloader(guard, policy_path) if policy_path else None
        if reloader is not None:
            reloader.start()
        click.echo(f"guard on http://{url_host(host)}:{port}/ -> {upstream} "
                   f"(mode {policy.mode}, policy {policy.source})  (Ctrl-C to stop)")

        async def stop() -> None:
            if reloader is not None:
                await reloader.stop()
            await runner.cleanup()

        await run_until_signalled(stop)
        if guard.decisions is not None:
            guard.decisions.close()

    run_server(run())

