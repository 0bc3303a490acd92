"""The solve ledger: every proof is spent once, and solving many challenges is itself a signal.

Both go through the state store's distinct-set counting, so they are atomic and shared across
instances on Redis with no new store operation:

- a proof (challenge nonce, CAPTCHA token hash) is a set that admits one member within the
  challenge's lifetime: the first submission is admitted, any other (a replay, from anywhere)
  is not;
- solves are counted per client IP, and per account when logged in, in a sliding window of
  `solve_window_seconds`; a solve that would go over `max_solves` blocks the key (a client
  that keeps solving while it keeps scraping is paying for a scrape, not browsing). The
  window's counts and the times at which solves happen are the signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scrapeguard.decisions import BLOCK, Reason, evidence_text
from scrapeguard.stores.base import (
    CountRequest,
    DistinctResult,
    Escalation,
    History,
    Penalty,
    StateStore,
    Window,
)

CLEARED = "cleared"
REPLAYED = "replayed"
BLOCKED = "blocked"
#: Keys solves are counted under (held to account like penalties).
SOLVE_KEYS = ("ip", "account")


@dataclass(frozen=True, slots=True)
class SolveOutcome:
    status: str
    #: Solves in the window (the highest over the keys), including this one when admitted.
    solves: int = 0
    #: The block, when solving too often earned one.
    penalty: Penalty | None = None


class SolveLedger:
    def __init__(self, store: StateStore, escalation: Escalation, max_solves: int, window: float,
                 proof_ttl: float) -> None:
        self.store = store
        self.escalation = escalation
        self.max_solves = max_solves
        self.window = window
        self.proof_ttl = proof_ttl

    def record(self, now: float, keys: dict[str, str], proof_id: str, decision_id: str) -> SolveOutcome:
        """Spend `proof_id` and count a solve for the client with `keys` (event keys)."""
        spent = CountRequest(f"proof:{proof_id}", "spent", decision_id, (Window(self.proof_ttl, 1),))
        held = [f"{name}:{keys[name]}" for name in SOLVE_KEYS if name in keys]
        counts = [CountRequest(key, "solves", decision_id, (Window(self.window, self.max_solves),))
                  for key in held]
        seen = self.store.observe(now, [], [spent, *counts], self.escalation, decision_id)
        results = {c.key: _distinct(seen.counted, c) for c in counts}
        solves = max((r.counts[0] for r in results.values()), default=0)
        if not _distinct(seen.counted, spent).admitted:
            return SolveOutcome(REPLAYED, solves)
        over = [key for key, r in results.items() if not r.admitted]
        if over:
            key = over[0]
            reason = Reason("challenge", key, 1.0,
                            f"solved more than {self.max_solves} challenges within {_span(self.window)} "
                            "while still being challenged",
                            evidence_text({"solves": results[key].counts[0], "limit": self.max_solves,
                                           "window_seconds": self.window}))
            penalty, _ = self.store.penalize(now, key, BLOCK, decision_id,
                                             (reason.as_tuple(),),
                                             self.escalation)
            return SolveOutcome(BLOCKED, solves, penalty)
        return SolveOutcome(CLEARED, solves)


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "an hour" if hours == 1 else f"{hours} hours"
    minutes = max(1, round(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _distinct(counted: Mapping[tuple[str, str], DistinctResult | History],
              request: CountRequest) -> DistinctResult:
    result = counted[(request.key, request.name)]
    assert isinstance(result, DistinctResult), "a count request answers with a DistinctResult"
    return result
