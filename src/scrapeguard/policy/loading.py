"""Read a policy TOML file, lay it over the defaults and validate it.

Every problem is collected (not just the first) and reported with the file,
the line where the key stands, the dotted key, what is wrong and what is
allowed, so that `scrapeguard policy check` can list them all at once.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

from scrapeguard import routes as route_map  # (its attributes at call time: routes imports the model)
from scrapeguard.policy import options
from scrapeguard.policy.errors import PolicyError, PolicyProblem
from scrapeguard.policy.model import AUDIENCES, AudienceCategories, Mode, Policy, RouteRule, StoreOptions
from scrapeguard.policy.options import OptionField, Spec, defaults_text, table_name, type_name

ROUTE_KEYS = ("pattern", "kind", "subject", "categories", "methods")
#: HTTP methods a route rule may name.
ROUTE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


_MODE = OptionField("mode", Mode, Spec('"enforce" refuses as decided; "observe" refuses nothing.'), None)


@cache
def _tables() -> list[tuple[str, type]]:
    """(name, class) of the policy's own tables: its fields whose type is a @table class."""
    hints = get_type_hints(Policy)
    return [(table_name(hints[f.name]), hints[f.name]) for f in dataclasses.fields(Policy)
            if isinstance(hints[f.name], type) and hasattr(hints[f.name], options.TABLE)]


def default_policy() -> Policy:
    return load_policy_text("", source="<defaults>")


def load_policy(path: str | Path) -> Policy:
    """Load a policy file. Raises PolicyError with every problem found."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        problem = PolicyProblem("", f"cannot read policy file: {exc.strerror}", file=str(p))
        raise PolicyError([problem]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyProblem("", f"not UTF-8 text: {exc}", file=str(p))]) from exc
    return load_policy_text(text, source=str(p))


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_from_toml_error(str(exc))
        raise PolicyError([PolicyProblem("", f"not valid TOML: {exc}", file=source, line=line)]) from exc
    defaults = tomllib.loads(defaults_text())
    checker = _Checker(text, source)
    checker.unknown_keys(user, defaults, "")
    merged = _merge(defaults, user)
    policy = checker.build(merged)
    checker.raise_if_problems()
    return policy


def _line_from_toml_error(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge tables; lists (like [[routes]]) are replaced, not appended."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict):
            if isinstance(value, dict):
                out[key] = _merge(out[key], value)
            # else: a value where a table belongs; reported by unknown_keys, defaults kept
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Checker:
    """Collects problems while turning the merged dict into a Policy."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.problems: list[PolicyProblem] = []
        #: Keys already reported, so that checks between keys do not pile on.
        self.invalid: set[str] = set()

    # -- reporting -------------------------------------------------------

    def problem(self, key: str, message: str, allowed: str = "") -> None:
        self.invalid.add(key)
        self.problems.append(
            PolicyProblem(key, message, allowed, file=self.source, line=self.find_line(key))
        )

    def raise_if_problems(self) -> None:
        if self.problems:
            raise PolicyError(self.problems)

    def find_line(self, dotted: str) -> int | None:
        """Best-effort line of a key in the user's file (None if it is a default)."""
        if not dotted:
            return None
        route = re.match(r"routes\[(\d+)\](?:\.(\w+))?", dotted)
        if route:
            return self._find_route_line(int(route.group(1)), route.group(2))
        dotted = re.sub(r"\[\d+\]$", "", dotted)  # allowlist.cidrs[1] stands on the cidrs line
        *tables, leaf = dotted.split(".")
        header = ".".join(tables)
        current = ""
        key_re = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
        table_re = re.compile(rf"^\s*\[\s*{re.escape(dotted)}\s*\]")
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if table_re.match(line):
                return number
            if stripped.startswith("["):
                current = stripped.split("#", 1)[0].strip().strip("[] ").strip()
                continue
            if current == header and key_re.match(line):
                return number
            if current == "" and tables and re.match(rf"^\s*{re.escape(dotted)}\s*=", line):
                return number
        return None

    def _find_route_line(self, index: int, field: str | None) -> int | None:
        """The line of `field` in the index-th [[routes]] table, else that table's header line."""
        seen = -1
        header = None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped.startswith("[[routes]]"):
                seen += 1
                if seen == index:
                    header = number
                    if field is None:
                        return number
                continue
            if stripped.startswith("["):
                if seen == index:
                    break
                continue
            if seen == index and field and re.match(rf"^\s*{field}\s*=", line):
                return number
        return header

    # -- structure -------------------------------------------------------

    def unknown_keys(self, user: dict[str, Any], defaults: dict[str, Any], prefix: str) -> None:
        for key, value in user.items():
            dotted = f"{prefix}{key}"
            if key == "routes" and not prefix:
                continue  # validated as rules in build()
            if key not in defaults:
                close = difflib.get_close_matches(key, list(defaults), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.problem(dotted, f"unknown key{hint}", ", ".join(sorted(defaults)))
                continue
            if isinstance(defaults[key], dict):
                if not isinstance(value, dict):
                    self.problem(dotted, f"must be a table, not {type_name(value)}")
                else:
                    self.unknown_keys(value, defaults[key], f"{dotted}.")

    def get(self, data: dict[str, Any], dotted: str) -> Any:
        node: Any = data
        for part in dotted.split("."):
            node = node[part]
        return node

    # -- the whole policy --------------------------------------------------

    def build(self, d: dict[str, Any]) -> Policy:
        """Every table through the one reader (`options.read`), the detectors' through the registry."""
        from scrapeguard.detectors import (
            REGISTRY,  # (detectors import the policy's model: not at import time)
        )

        mode = options.read_field(_MODE, d, "", self)
        tables: dict[str, Any] = {name: options.read(kind, self.get(d, name), name, self)
                                  for name, kind in _tables()}
        detectors = {name: options.read(cls.options_class, self.get(d, f"detectors.{name}"),
                                        f"detectors.{name}", self)
                     for name, cls in REGISTRY.items()}
        self._check_store_bound(tables["store"], detectors)
        return Policy(mode=mode, routes=self.routes(d.get("routes")), detectors=detectors,
                      source=self.source, **tables)

    def _check_store_bound(self, store: StoreOptions, detectors: dict[str, Any]) -> None:
        """Every number of distinct members a detector counts under one key must fit the store's sets."""
        counted = [(n, name) for name, opts in detectors.items()
                   for n in getattr(opts, "counted_per_key", tuple)()]
        if not counted or "store.max_members_per_key" in self.invalid:
            return
        largest, name = max(counted)
        if store.max_members_per_key <= largest:
            self.problem("store.max_members_per_key",
                         "must be larger than every per_day and per_week quota (and every other number "
                         f"of members a detector counts per key; the largest: detectors.{name}, {largest}), "
                         "or they cannot be counted", f"> {largest}")

    def routes(self, value: Any) -> tuple[RouteRule, ...]:
        if not isinstance(value, list):
            self.problem("routes", "must be an array of tables ([[routes]])")
            return ()
        rules = []
        for i, entry in enumerate(value):
            key = f"routes[{i}]"
            if not isinstance(entry, dict):
                self.problem(key, "must be a table")
                continue
            for name in entry:
                if name not in ROUTE_KEYS:
                    self.problem(f"{key}.{name}", "unknown key", ", ".join(ROUTE_KEYS))
            pattern = entry.get("pattern")
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                self.problem(f"{key}.pattern", f"must be a path starting with '/', not {pattern!r}",
                             'a path like "/u/{username}"')
                continue
            kind = entry.get("kind", "page")
            if kind not in route_map.ROUTE_KINDS:
                self.problem(f"{key}.kind", f"{kind!r} is not a route kind", ", ".join(route_map.ROUTE_KINDS))
                continue
            subject = entry.get("subject")
            placeholders = re.findall(r"\{(\w+)\*?\}", pattern)
            repeated = sorted({p for p in placeholders if placeholders.count(p) > 1})
            if repeated:
                self.problem(f"{key}.pattern", f"placeholder {{{repeated[0]}}} appears more than once",
                             "each placeholder name once per pattern")
                continue
            if subject is not None:
                if not isinstance(subject, str) or not (
                    subject in placeholders or (subject.startswith("query:") and len(subject) > 6)
                    or (subject.startswith("form:") and len(subject) > 5)
                ):
                    self.problem(f"{key}.subject", f"{subject!r} names no placeholder of the pattern",
                                 ", ".join([*placeholders, "query:NAME", "form:NAME"]))
                    continue
            elif kind in route_map.MEMBER_KINDS:
                self.problem(f"{key}.subject", f"a {kind} route must say which member it shows",
                             ", ".join([*placeholders, "query:NAME", "form:NAME"]))
                continue
            categories = entry.get("categories", [])
            audiences = None
            if isinstance(categories, dict):
                audiences = self.audience_categories(f"{key}.categories", categories)
                if audiences is None:
                    continue
                categories = list(dict.fromkeys([*audiences.anonymous, *audiences.member,
                                                 *audiences.connection]))
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                self.problem(f"{key}.categories", "must be a list of data category names, or a table of "
                             "them per audience",
                             '["user.name", ...] or { anonymous = [...], member = [...] }')
                continue
            methods = entry.get("methods", [])
            if not isinstance(methods, list) or not all(
                    isinstance(m, str) and m.upper() in ROUTE_METHODS for m in methods):
                self.problem(f"{key}.methods", f"must be a list of HTTP methods, not {methods!r}",
                             ", ".join(f'"{m}"' for m in ROUTE_METHODS))
                continue
            rules.append(RouteRule(pattern, kind, subject, tuple(categories),
                                   tuple(dict.fromkeys(m.upper() for m in methods)), audiences))
        return tuple(rules)

    def audience_categories(self, key: str, table: dict[str, Any]) -> AudienceCategories | None:
        """`{ anonymous = [...], member = [...], connection = [...] }`: a missing member list is the
        anonymous one, a missing connection list the member one (each sees at least as much)."""
        found: dict[str, tuple[str, ...]] = {}
        for name, value in table.items():
            if name not in AUDIENCES:
                self.problem(f"{key}.{name}", "unknown audience", ", ".join(AUDIENCES))
                return None
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                self.problem(f"{key}.{name}", "must be a list of data category names",
                             '["user.name", "user.contact.email", ...]')
                return None
            found[name] = tuple(value)
        if "anonymous" not in found:
            self.problem(f"{key}.anonymous", "a table of categories per audience must name the anonymous "
                         "ones (an empty list if anonymous visitors see nothing)", "anonymous = [...]")
            return None
        member = found.get("member", found["anonymous"])
        return AudienceCategories(found["anonymous"], member, found.get("connection", member))

