"""Thresholds a drill must meet, from a TOML file (`scrapeguard drill --expect drill.toml`), for CI:

    max_people_refused = 0        # over all personas (0 unless set)
    max_profiles = 100            # for every strategy that ran

    [strategy.curl]               # for one strategy (overrides the above)
    max_profiles = 10
    max_requests_until_refusal = 20
    max_containment_seconds = 600  # clock seconds until the leak stopped for good

A strategy skipped (not installed) is noted, not failed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapeguard.drill.bounds import DrillError
from scrapeguard.drill.scorecard import Scorecard, StrategyScore

LIMITS = ("max_profiles", "max_requests_until_refusal", "max_containment_seconds")


@dataclass(frozen=True)
class Expectations:
    max_people_refused: int = 0
    #: Limits for every strategy, by name in LIMITS.
    every: dict[str, float] = field(default_factory=dict)
    #: Limits for one strategy: name -> limit name -> value.
    per_strategy: dict[str, dict[str, float]] = field(default_factory=dict)


def _limits(table: dict[str, Any], where: str, allowed: tuple[str, ...]) -> dict[str, float]:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise DrillError(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(allowed)})")
    limits = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise DrillError(f"{where}: {key} must be a number of at least 0, not {value!r}")
        limits[key] = float(value)
    return limits


def load_expectations(path: Path) -> Expectations:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DrillError(f"--expect {path}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DrillError(f"--expect {path}: not valid TOML ({exc})") from exc
    per_strategy_tables = data.pop("strategy", {})
    if not isinstance(per_strategy_tables, dict):
        raise DrillError(f"{path}: [strategy.NAME] tables expected")
    top = _limits(data, str(path), ("max_people_refused", *LIMITS))
    per_strategy = {name: _limits(table, f"{path} [strategy.{name}]", LIMITS)
                    for name, table in per_strategy_tables.items()}
    return Expectations(int(top.pop("max_people_refused", 0)), top, per_strategy)


def _measure(score: StrategyScore, limit: str) -> float | None:
    """The score's value for a limit; None for "never" (never refused, never contained)."""
    if limit == "max_profiles":
        return score.profiles
    if limit == "max_requests_until_refusal":
        return score.first_refusal
    return score.containment_seconds


def check(card: Scorecard, expected: Expectations) -> tuple[list[str], list[str]]:
    """(failures, notes): each failure says which threshold a result broke."""
    failures: list[str] = []
    notes: list[str] = []
    if card.people_refused > expected.max_people_refused:
        who = ", ".join(f"{p.name} ({p.refused} of {p.people})" for p in card.personas if p.refused)
        failures.append(f"people refused: {card.people_refused} > {expected.max_people_refused} ({who})")
    by_name = {s.name: s for s in card.strategies}
    for name in expected.per_strategy:
        if name not in by_name:
            notes.append(f"strategy {name}: expected but not run")
    for score in card.strategies:
        limits = {**expected.every, **expected.per_strategy.get(score.name, {})}
        if score.skipped is not None:
            if limits:
                notes.append(f"strategy {score.name}: not checked, skipped ({score.skipped})")
            continue
        for limit, bound in limits.items():
            value = _measure(score, limit)
            if value is None or value > bound:
                shown = "never" if value is None else f"{value:g}"
                failures.append(f"strategy {score.name}: {limit.removeprefix('max_')} {shown} > {bound:g}")
    return failures, notes
