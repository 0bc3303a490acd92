"""The command package imports cleanly and stays the only place that knows click."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import scrapeguard
from scrapeguard.cli import COMMANDS

PACKAGE = Path(scrapeguard.__file__).parent


def test_every_cli_module_imports_in_a_fresh_interpreter() -> None:
    """Each module alone, first thing in its interpreter: an import cycle would fail here."""
    modules = sorted(f"scrapeguard.cli.{path.stem}" for path in (PACKAGE / "cli").glob("*.py")
                     if path.stem != "__init__")
    for module in ["scrapeguard.cli", *modules]:
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
        assert done.returncode == 0, f"{module}: {done.stderr}"


def test_every_registered_command_loads() -> None:
    """The lazy table points at real commands (a misspelt entry would only fail when typed)."""
    import click

    from scrapeguard.cli import main

    context = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert isinstance(command, click.Command) and command.name == name


def _imports_click(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "click" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 \
                and (node.module or "").split(".")[0] == "click":
            return True
    return False


def test_only_the_cli_package_imports_click() -> None:
    outside = [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
               if path.relative_to(PACKAGE).parts[0] != "cli" and _imports_click(path)]
    assert outside == []


def test_the_click_check_sees_an_import() -> None:
    """The check above is not vacuous: it finds click where it is imported."""
    assert _imports_click(PACKAGE / "cli" / "common.py")


def test_the_commands_never_check_a_permission_themselves() -> None:
    """Roles are checked by the records functions (records/permissions.py), never by a command."""
    checking = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = {a.name for a in node.names} if isinstance(node, ast.ImportFrom) else set()
            if names & {"require", "requires"}:
                checking.append(f"{path.name}: imports a permission check")
            if isinstance(node, ast.Attribute) and node.attr == "can":
                checking.append(f"{path.name}:{node.lineno}: .can(...)")
    assert checking == []
