"""`scrapeguard intel ...`: the shipped crawler and IP-range data."""

from __future__ import annotations

import click


@click.group()
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

