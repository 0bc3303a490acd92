"""`scrapeguard site`: the demo social network."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    LISTEN,
    connection_options,
    run_server,
    url_host,
)


@click.command()
@click.option("--listen", type=LISTEN, default="127.0.0.1:8081", show_default=True,
              help="Address to serve the demo site on.")
@click.option("--members", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="How many fake members to generate.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Same seed, same members.")
@click.option("--demo-logins", is_flag=True,
              help="Let every generated member log in with the password 'demo'.")
@connection_options(idle=5.0, per_client=0, note="Off by default: behind the guard, every "
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
        click.echo(f"demo site on http://{url_host(host)}:{port}/  (Ctrl-C to stop)")
        await run_until_signalled(server.stop)

    run_server(run())

