"""`scrapeguard demo`: the demo site and the guard in one command."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    LISTEN,
    policy_or_exit,
    run_server,
    url_host,
)


@click.command()
@click.option("--listen", type=LISTEN, default="127.0.0.1:8080", show_default=True,
              help="Address of the guard (the site runs on the next port, the console on the one after).")
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
    """Demo site + guard + the team's console on loopback with the built-in policy, in one command."""
    from scrapeguard.console.app import build_console
    from scrapeguard.console.settings import ConsoleSettings
    from scrapeguard.demo.policy import demo_policy
    from scrapeguard.integrations.proxy import start_proxy
    from scrapeguard.records.db import Database
    from scrapeguard.serving import build_proxy, run_until_signalled, start_console, start_site

    # without a policy file: the defaults plus the demo site's traps and canary members
    policy = policy_or_exit(policy_path) if policy_path else demo_policy(members)
    host, port = listen
    site_port = port + 1 if port else 0
    console_port = port + 2 if port else 0
    upstream = f"http://{url_host(host)}:{site_port}"

    async def run() -> None:
        click.echo(f"generating {members} members (seed {seed})...", err=True)
        server = await start_site(host, site_port, members, seed, demo_logins=True)
        guard = build_proxy(policy, upstream, None, decisions_out, db=db_target)
        _demo_member_directory(db_target, members, seed)
        admin_password = _demo_admin(db_target)
        runner = await start_proxy(guard, host, port)
        base = f"http://{url_host(host)}:{port}"
        # the console shares the guard's store: a block, unblock or allowlist there acts at once
        records = Database(db_target)
        console = await start_console(build_console(ConsoleSettings(db=records, store=guard.engine.store)),
                                      host, console_port)
        console_url = f"http://{url_host(host)}:{console.port}/"
        if admin_password is not None:
            sign_in = f"sign in as '{DEMO_ADMIN}', password {admin_password}  (shown only now)"
        else:
            sign_in = f"sign in as '{DEMO_ADMIN}' (its password was printed when {db_target} was made)"
        click.echo(f"""
  demo site (unguarded): {upstream}/
  guarded site:          {base}/      <- browse here; members log in with password 'demo'
  decisions file:        {decisions_out}
  records database:      {db_target}   (scrapeguard incidents list --db {db_target} --as USER)
  team console:          {console_url}   <- {sign_in}
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
            await console.stop()
            records.dispose()
            await runner.cleanup()
            await server.stop()
            if guard.decisions is not None:
                guard.decisions.close()

        await run_until_signalled(stop)

    run_server(run())


#: The demo's first admin of the console.
DEMO_ADMIN = "admin"


def _demo_admin(db_target: str) -> str | None:
    """Add the console's demo admin with a random password when the database has no user yet;
    the password, to print once (None when the team exists already)."""
    import secrets

    from sqlalchemy import func, select

    from scrapeguard.records.db import Database
    from scrapeguard.records.models import UserRecord
    from scrapeguard.records.users import ADMIN, add_user

    db = Database(db_target)
    try:
        with db.session() as session:
            if session.execute(select(func.count()).select_from(UserRecord)).scalar_one():
                return None
            password = secrets.token_urlsafe(12)
            add_user(session, None, DEMO_ADMIN, ADMIN, password)
            return password
    finally:
        db.dispose()


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

