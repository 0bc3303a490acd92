"""Small, exact edits of a policy file's text: its `mode` line and its `[allowlist]` table.

The console's policy page changes these and nothing else, so the rest of the file (its comments,
its order, its other tables) stays as its owner wrote it and the diff an approver reads shows only
what changed. Each edit is checked by reading the result back (a layout this module does not know,
e.g. an inline `allowlist = {...}` table, is refused rather than guessed at).
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from collections.abc import Iterable
from typing import Any

MODES = ("observe", "enforce")
_HEADER = re.compile(r"^\s*\[")
_ALLOWLIST_HEADER = re.compile(r"^\s*\[\s*allowlist\s*\]\s*(#.*)?$")
_MODE_LINE = re.compile(r"^\s*mode\s*=")


class EditError(ValueError):
    """The requested values are not valid, or the file's layout cannot be edited safely."""


def bad_networks(values: Iterable[str]) -> list[str]:
    """The values that are not IP networks (CIDR, or a single address)."""
    bad = []
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            bad.append(value)
    return bad


def parse_networks(text: str) -> tuple[str, ...]:
    """Networks typed one per line (blank lines skipped) -> their normal form ('10.0.0.0/8');
    EditError names every line that is not a network."""
    values = [line.strip() for line in text.splitlines() if line.strip()]
    bad = bad_networks(values)
    if bad:
        raise EditError("not an IP network (e.g. 192.0.2.0/24): " + ", ".join(repr(b) for b in bad))
    return tuple(dict.fromkeys(str(ipaddress.ip_network(v, strict=False)) for v in values))


def parse_accounts(text: str) -> tuple[str, ...]:
    """Account ids typed one per line (blank lines skipped); an id has no spaces or quotes."""
    values = [line.strip() for line in text.splitlines() if line.strip()]
    bad = [v for v in values if any(c.isspace() or c in "\"'\\" for c in v) or len(v) > 200]
    if bad:
        raise EditError("an account id is one word of at most 200 characters: "
                        + ", ".join(repr(b) for b in bad))
    return tuple(dict.fromkeys(values))


def _toml_array(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def _value_end(lines: list[str], start: int, key: str) -> int:
    """The index after the last line of the `key = value` that begins at `start` (an array may
    span lines)."""
    for end in range(start + 1, len(lines) + 1):
        try:
            tomllib.loads("\n".join(lines[start:end]))
        except tomllib.TOMLDecodeError:
            continue
        return end
    raise EditError(f"the value of {key} in the policy file cannot be read")


def _set_mode(lines: list[str], mode: str) -> None:
    first_table = next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))
    for i in range(first_table):
        if _MODE_LINE.match(lines[i]):
            end = _value_end(lines, i, "mode")
            comment = ""
            if end == i + 1 and "#" in lines[i]:
                code, note = lines[i].split("#", 1)
                try:
                    if tomllib.loads(code).get("mode") is not None:  # the '#' is not in a string
                        comment = "  #" + note
                except tomllib.TOMLDecodeError:
                    pass
            lines[i:end] = [f'mode = "{mode}"{comment}']
            return
    # no mode line: after the file's opening comments, before its first key or table
    at = 0
    while at < first_table and (not lines[at].strip() or lines[at].lstrip().startswith("#")):
        at += 1
    lines[at:at] = [f'mode = "{mode}"']


def _set_allowlist_key(lines: list[str], key: str, values: tuple[str, ...]) -> None:
    header = next((i for i, line in enumerate(lines) if _ALLOWLIST_HEADER.match(line)), None)
    if header is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[allowlist]", f"{key} = {_toml_array(values)}"]
        return
    end_of_table = next((i for i in range(header + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    pattern = re.compile(rf"^\s*{key}\s*=")
    for i in range(header + 1, end_of_table):
        if pattern.match(lines[i]):
            end = _value_end(lines, i, f"allowlist.{key}")
            lines[i:end] = [f"{key} = {_toml_array(values)}"]
            return
    after_last_key, i = header + 1, header + 1
    while i < end_of_table:  # after the table's last key (and its value's lines)
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            i = after_last_key = _value_end(lines, i, "allowlist")
        else:
            i += 1
    lines.insert(after_last_key, f"{key} = {_toml_array(values)}")


def current_settings(text: str) -> dict[str, Any]:
    """What the file itself sets of mode and allowlist (None/() where it leaves the default)."""
    data = tomllib.loads(text)
    found = data.get("allowlist")
    allowlist: dict[str, Any] = found if isinstance(found, dict) else {}
    return {"mode": data.get("mode"), "cidrs": tuple(allowlist.get("cidrs", ())),
            "accounts": tuple(allowlist.get("accounts", ()))}


def edit_policy(text: str, mode: str | None = None, cidrs: tuple[str, ...] | None = None,
                accounts: tuple[str, ...] | None = None) -> str:
    """The policy text with `mode` and the allowlist's `cidrs` and `accounts` set (None: left as they
    are). A value the file has already is not rewritten: the diff shows only real changes."""
    if mode is not None and mode not in MODES:
        raise EditError(f"mode {mode!r} is neither observe nor enforce")
    try:
        before = current_settings(text)
    except tomllib.TOMLDecodeError as exc:
        raise EditError(f"the policy file is not valid TOML ({exc}): edit it by hand") from exc
    lines = text.splitlines()
    if mode is not None and before["mode"] != mode:
        _set_mode(lines, mode)
    for key, values in (("cidrs", cidrs), ("accounts", accounts)):
        if values is not None and tuple(before[key]) != tuple(values):
            _set_allowlist_key(lines, key, values)
    edited = "\n".join(lines) + ("\n" if text.endswith("\n") or not text else "")
    try:
        after = current_settings(edited)
    except tomllib.TOMLDecodeError:
        after = {}
    wanted = {"mode": mode if mode is not None else before["mode"],
              "cidrs": cidrs if cidrs is not None else before["cidrs"],
              "accounts": accounts if accounts is not None else before["accounts"]}
    if after != wanted:
        raise EditError("the policy file's layout could not be edited safely (is [allowlist] an inline "
                        "table?): edit it by hand")
    return edited
