"""A drill's scorecard: per strategy, what leaked and how soon the guard stopped it; per persona,
whether people were refused. Plain data, to JSON and back (the records keep it as JSON)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from scrapeguard.drill.personas import Persona, PersonaResult
from scrapeguard.drill.strategies import Result, Strategy


@dataclass
class StrategyScore:
    name: str
    description: str
    profiles: int = 0
    requests: int = 0
    #: Requests sent up to and including the first refusal (None: never refused).
    first_refusal: int | None = None
    first_refusal_seconds: float | None = None
    #: Clock seconds from the first request until the guard had stopped the leak for good (the
    #: first refusal after the last profile received); None: not contained.
    containment_seconds: float | None = None
    actions: dict[str, int] = field(default_factory=dict)
    #: Clock seconds the strategy ran (simulated against the demo).
    seconds: float = 0.0
    wall_seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    #: Why it did not run (a tool not installed, a target it cannot reach), or None.
    skipped: str | None = None
    #: Why it stopped before its end (a bound of the drill, an error), or None.
    stopped: str | None = None

    @classmethod
    def of(cls, entry: Strategy, result: Result, stopped: str | None = None) -> StrategyScore:
        tally = result.tally
        return cls(entry.name, entry.description, result.profiles, result.requests, tally.first_refusal,
                   tally.first_refusal_seconds, tally.contained_seconds, dict(tally.actions),
                   result.seconds, notes=dict(result.notes), stopped=stopped)

    @classmethod
    def not_run(cls, entry: Strategy, reason: str) -> StrategyScore:
        return cls(entry.name, entry.description, skipped=reason)


@dataclass
class PersonaScore:
    name: str
    description: str
    people: int = 0
    refused: int = 0
    requests: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    wall_seconds: float = 0.0
    stopped: str | None = None

    @classmethod
    def of(cls, entry: Persona, outcome: PersonaResult, stopped: str | None = None) -> PersonaScore:
        return cls(entry.name, entry.description, outcome.people, len(outcome.refused),
                   outcome.tally.requests, dict(outcome.actions), outcome.seconds, stopped=stopped)


@dataclass
class Scorecard:
    target: str
    policy: str
    #: SHA-256 of the policy the guard ran (see `scrapeguard.drill.run.policy_hash`).
    policy_hash: str
    started_at: datetime
    #: "simulated" (the demo on a fake clock) or "real".
    clock: str
    strategies: list[StrategyScore] = field(default_factory=list)
    personas: list[PersonaScore] = field(default_factory=list)

    @property
    def ran(self) -> list[StrategyScore]:
        """The strategies that ran (not skipped)."""
        return [s for s in self.strategies if s.skipped is None]

    @property
    def max_profiles(self) -> int:
        """The most profiles any one strategy got."""
        return max((s.profiles for s in self.ran), default=0)

    @property
    def people_refused(self) -> int:
        return sum(p.refused for p in self.personas)

    def summary(self) -> str:
        """One line, as the regulator report cites it."""
        return citation(self.started_at, len(self.ran), self.max_profiles, self.people_refused)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["summary"] = {"strategies": len(self.ran), "max_profiles": self.max_profiles,
                           "people_refused": self.people_refused, "text": self.summary()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scorecard:
        return cls(data["target"], data["policy"], data["policy_hash"],
                   datetime.fromisoformat(data["started_at"]), data["clock"],
                   [StrategyScore(**s) for s in data["strategies"]],
                   [PersonaScore(**p) for p in data["personas"]])


def citation(ran_at: datetime, strategies: int, max_profiles: int, people_refused: int) -> str:
    """"controls tested on 2027-01-15: 10 strategies, 900 profiles leaked at most, 0 people refused"."""
    return (f"controls tested on {ran_at:%Y-%m-%d}: {strategies} strateg{'y' if strategies == 1 else 'ies'}, "
            f"{max_profiles} profile{'' if max_profiles == 1 else 's'} leaked at most, "
            f"{people_refused} {'person' if people_refused == 1 else 'people'} refused")


def actions_text(actions: dict[str, int]) -> str:
    """'200×60 throttle×9 block×81': statuses first, then the guard's actions."""
    counts = Counter(actions)
    return " ".join(f"{a}×{counts[a]}" for a in sorted(counts, key=lambda a: (not a.isdigit(), a)))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
