"""`scrapeguard policy ...`: the default policy and checking a policy file."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    policy_or_exit,
)


@click.group()
def policy() -> None:
    """Print the default policy or check a policy file."""


@policy.command("defaults")
def policy_defaults() -> None:
    """Print the built-in policy, every value documented (a starting point for your own)."""
    from scrapeguard.policy import defaults_text

    click.echo(defaults_text(), nl=False)


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_check(file: str) -> None:
    """Validate a policy file: every problem with file, line, key and what is allowed."""
    from scrapeguard.policy.warnings import policy_warnings

    loaded = policy_or_exit(file)
    for warning in policy_warnings(loaded):
        click.echo(f"{file}: warning: {warning}", err=True)
    q = loaded.profile_quota
    click.echo(f"{file}: valid (mode {loaded.mode}, {len(loaded.routes)} routes, "
               f"anonymous quota {q.anonymous.per_hour}/hour {q.anonymous.per_day}/day, "
               f"accounts {q.account.per_hour}/hour {q.account.per_day}/day)")

