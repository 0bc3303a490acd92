"""The `scrapeguard` command: one module per command group (see docs/architecture.md, "Where to put
a new command").

A command's module is imported only when the command is asked for, and the modules import what they
need (aiohttp, the engine, SQLAlchemy, ...) inside their commands, so `scrapeguard --help` stays fast.
"""

from __future__ import annotations

import importlib

import click

from scrapeguard import __version__

#: command name -> "module:attribute" under scrapeguard.cli. A new command or group is one line here.
COMMANDS: dict[str, str] = {
    "site": "site:site",
    "proxy": "proxy:proxy",
    "demo": "demo:demo",
    "replay": "logs:replay",
    "analyze": "logs:analyze",
    "intel": "intel:intel",
    "policy": "policy:policy",
    "db": "db:db_group",
    "users": "users:users_group",
    "members": "members:members_group",
    "exposure": "exposure:exposure_group",
    "decisions": "decisions:decisions_group",
    "incidents": "incidents:incidents_group",
    "notices": "notices:notices_group",
    "cases": "cases:cases_group",
    "audit": "audit:audit_group",
    "report": "report:report_group",
    "records": "records:records_group",
    "drill": "drill:drill",
    "decide": "decide:decide",
    "console": "console:console",
}


class _LazyCommands(click.Group):
    """The group of every command; each is imported from its module when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(f"scrapeguard.cli.{module_name}"), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyCommands,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="scrapeguard")
def main() -> None:
    """ScrapeGuard protects the personal data a site shows from mass scraping.

    Put `scrapeguard proxy` in front of a site; try it all first with
    `scrapeguard demo`. Every command has --help.
    """
