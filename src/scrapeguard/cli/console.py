"""`scrapeguard console`: the team's web console on the records database."""

from __future__ import annotations

from pathlib import Path

import click

from scrapeguard.cli.common import (
    LISTEN,
    check_cidrs,
    clear_errors,
    db_option,
    open_database,
    policy_or_exit,
    run_server,
    url_host,
)


@click.command()
@db_option
@click.option("--listen", type=LISTEN, default="127.0.0.1:8090", show_default=True,
              help="Address of the console. Keep it on loopback or behind a TLS proxy.")
@click.option("--store", "store_uri", metavar="URI", default=None,
              help="The guard's state store (redis://...), so that blocks, unblocks and allowlists "
                   "made in the console reach the guard at once, and failed sign-ins are counted "
                   "there (under the prefix + \"-console\") for every console alike. Without it the "
                   "console only records.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The policy file the guard runs with: the policy page shows it and edits it "
                   "through changes a second admin approves.")
@click.option("--idle-minutes", type=click.IntRange(1, 24 * 60), default=30, show_default=True,
              help="Sign a user out after this long without a request.")
@click.option("--insecure-cookies", is_flag=True,
              help="Send the session cookie without `Secure` (only behind a TLS proxy that speaks "
                   "plain HTTP to a non-loopback console address).")
@click.option("--trusted-proxies", metavar="CIDR", multiple=True,
              help="A proxy in front of the console (address or network, repeatable) whose "
                   "X-Forwarded-For names the client: the sign-in guard then limits failed sign-ins "
                   "per client, not per proxy.")
@click.option("--alert-webhook", metavar="URL", envvar="SCRAPEGUARD_ALERT_WEBHOOK",
              help="POST a JSON alert here when an incident opens or is reopened, a deadline is 24 h "
                   "away, or a case is overdue [env SCRAPEGUARD_ALERT_WEBHOOK].")
@click.option("--alert-email", metavar="ADDRESS", multiple=True,
              help="E-mail alerts to this address (repeatable); needs --smtp.")
@click.option("--smtp", metavar="HOST:PORT", envvar="SCRAPEGUARD_SMTP",
              help="SMTP server for e-mail alerts [env SCRAPEGUARD_SMTP; user and password from "
                   "SCRAPEGUARD_SMTP_USER / SCRAPEGUARD_SMTP_PASSWORD].")
@click.option("--alert-from", metavar="ADDRESS", default="scrapeguard@localhost", show_default=True,
              help="Sender of e-mail alerts.")
@click.option("--alert-interval", type=click.IntRange(5, 86400), default=60, show_default=True,
              metavar="SECONDS", help="How often the console checks for alerts to send.")
@clear_errors
def console(db_target: str | None, listen: tuple[str, int], store_uri: str | None, policy_path: Path | None,
            idle_minutes: int, insecure_cookies: bool, trusted_proxies: tuple[str, ...],
            alert_webhook: str | None, alert_email: tuple[str, ...], smtp: str | None,
            alert_from: str, alert_interval: int) -> None:
    """The team's web console: appeals, live view, actors, incidents, cases, policy, team.

    Users sign in with the accounts of `scrapeguard users` (add the first admin with
    `scrapeguard users add NAME --role admin`).
    """
    from scrapeguard.console.alerts import AlertLoop, alert_settings
    from scrapeguard.console.app import build_console
    from scrapeguard.console.guarding import signin_store_uri
    from scrapeguard.console.settings import ConsoleSettings
    from scrapeguard.serving import run_until_signalled, start_console
    from scrapeguard.stores import store_from_uri

    if alert_email and not smtp:
        raise click.UsageError("--alert-email needs --smtp HOST:PORT")
    policy = policy_or_exit(str(policy_path) if policy_path else None)
    db = open_database(db_target, False)
    db.key_source = policy.incidents.pseudonym_key  # (identifying a case's addresses checks them with it)
    store = store_from_uri(store_uri, policy.store) if store_uri else None
    try:
        alerts = alert_settings(alert_webhook, smtp, alert_email, alert_from)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--smtp") from exc
    settings = ConsoleSettings(db=db, store=store, policy_path=policy_path, alerts=alerts,
                               idle_seconds=idle_minutes * 60.0, secure_cookies=not insecure_cookies,
                               trusted_proxies=check_cidrs(trusted_proxies),
                               signin_store=signin_store_uri(store_uri, policy.store))
    host, port = listen

    async def run() -> None:
        server = await start_console(build_console(settings), host, port)
        url = f"http://{url_host(host)}:{server.port}"
        click.echo(f"console: {url}/   (Ctrl-C to stop)")
        alert_loop = None if alerts is None else AlertLoop(db, alerts, settings.clock, alert_interval, url)
        if alert_loop is not None:
            alert_loop.start()
            click.echo(f"alerts: by {' and '.join(alert_loop.settings.channels)}, checked every "
                       f"{alert_interval} s")

        async def stop() -> None:
            if alert_loop is not None:
                await alert_loop.stop()
            await server.stop()
            db.dispose()

        await run_until_signalled(stop)

    run_server(run())
