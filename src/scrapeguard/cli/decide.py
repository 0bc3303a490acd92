"""`scrapeguard decide`: the guard behind a front proxy's authorization check (nginx auth_request,
Caddy forward_auth, Traefik ForwardAuth); see docs/integrations.md."""

from __future__ import annotations

import click

from scrapeguard.cli.common import LISTEN, check_cidrs, policy_or_exit, run_server


@click.command()
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

    policy = policy_or_exit(policy_path)
    check_cidrs(trusted_proxies)
    try:
        guard = build_guard(policy, store_uri, trusted_proxies, decisions_out, db_target)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from exc
    run_server(serve_decide(DecideServer(guard), *listen, announce=click.echo))
