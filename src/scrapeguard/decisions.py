"""Decisions: what the guard does with a request, why, for how long, and the id a client sees."""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

ALLOW = "allow"
THROTTLE = "throttle"
CHALLENGE = "challenge"
BLOCK = "block"
#: "Log in to see more": an anonymous visitor over the login wall's allowance.
LOGIN = "login"
#: Actions from mildest to strictest.
ACTIONS = (ALLOW, LOGIN, THROTTLE, CHALLENGE, BLOCK)
SEVERITY = {a: i for i, a in enumerate(ACTIONS)}


#: A reason as the state stores keep it with a penalty: (detector, key, score, detail, evidence JSON).
ReasonTuple = tuple[str, str, float, str, str]
#: The evidence text of a reason without structured evidence.
NO_EVIDENCE = "{}"


def evidence_text(evidence: Mapping[str, Any] | None) -> str:
    """A signal's structured evidence as canonical JSON text (keys sorted, compact): what a `Reason`
    keeps, so that equal evidence is equal text, and reasons stay hashable (penalties carry them)."""
    if not evidence:
        return NO_EVIDENCE
    return json.dumps(evidence, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why: which detector said what about which key.

    `detail` is the sentence for people; `evidence` the same facts for programs (counts, windows,
    limits, which quota, the campaign...; each detector's are listed in docs/decisions.md).
    """

    detector: str
    key: str
    score: float
    detail: str
    #: The structured evidence as canonical JSON text (see `evidence_text`); `evidence` parses it.
    evidence_json: str = NO_EVIDENCE

    @property
    def evidence(self) -> dict[str, Any]:
        """The detector's structured evidence (a fresh dict: changing it changes nothing here)."""
        parsed = json.loads(self.evidence_json) if self.evidence_json else {}
        return parsed if isinstance(parsed, dict) else {}

    def as_tuple(self) -> ReasonTuple:
        """The reason as a state store keeps it with a penalty."""
        return (self.detector, self.key, self.score, self.detail, self.evidence_json)

    def to_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "key": self.key, "score": round(self.score, 3),
                "detail": self.detail, "evidence": self.evidence}


@dataclass(slots=True)
class Decision:
    action: str
    ts: float
    reasons: tuple[Reason, ...] = ()
    #: Epoch seconds until which the action holds (None for allow).
    until: float | None = None
    id: str = ""
    enforced: bool = True
    keys: dict[str, str] = field(default_factory=dict)
    route: str = "page"
    subject: str | None = None
    path: str = ""
    #: The combined risk that led to the action (0 when a penalty in force decided).
    risk: float = 0.0
    #: Other actors' keys the decision's evidence ties to this client (the actors of its campaign
    #: that swept before the campaign was recognised), for the records; written when not empty.
    related: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.action != ALLOW

    @property
    def retry_after(self) -> int:
        """Whole seconds until the action ends (at least 1 for a refusal)."""
        if self.until is None:
            return 0
        return max(1, int(self.until - self.ts + 0.999))

    def summary(self) -> str:
        return "; ".join(r.detail for r in self.reasons) or self.action

    def to_dict(self, reasons: bool = True) -> dict[str, Any]:
        """The decision as the decisions file has it (without "reasons" if asked)."""
        out = {
            "ts": round(self.ts, 3),
            "id": self.id,
            "action": self.action,
            "enforced": self.enforced,
            "until": None if self.until is None else round(self.until, 3),
            "keys": self.keys,
            "route": self.route,
            "subject": self.subject,
            "path": self.path,
        }
        if self.related:
            out["related"] = list(self.related)
        if reasons:
            out["reasons"] = [r.to_dict() for r in self.reasons]
        return out


@lru_cache(maxsize=1024)
def _reasons_json(reasons: tuple[Reason, ...]) -> str:
    """The "reasons" of a decisions file line (cached: every request under one penalty has the same)."""
    return json.dumps([r.to_dict() for r in reasons], ensure_ascii=False, separators=(",", ":"))


#: Decision ids need to be unique, not secret: a generator seeded once from the system's randomness
#: makes them without a system call each (one per request adds up, replaying millions of lines).
_ids = random.Random(secrets.randbits(128))
# a forked process (a prefork server, the log reader) must not repeat its parent's ids
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


def new_decision_id() -> str:
    """A short id a person can read out to support: 'sg-' and 12 hex digits."""
    return f"sg-{_ids.getrandbits(48):012x}"


class DecisionWriter:
    """Appends non-allow decisions to a JSON Lines file (the decisions file).

    Lines are written whole under a lock and flushed at once, so a reader
    (or a crash) never sees half a line; allow decisions are not written.
    A batch job (replay) may ask for `buffered` writing instead: lines are
    then flushed in blocks, and at `close`.
    """

    def __init__(self, path: str | Path, buffered: bool = False) -> None:
        self.buffered = buffered
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.written = 0

    def write(self, decision: Decision) -> None:
        if not decision.refused:
            return
        fields = decision.to_dict(reasons=False)
        head = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        line = f'{head[:-1]},"reasons":{_reasons_json(decision.reasons)}}}\n'
        with self._lock:
            self._file.write(line)
            if not self.buffered:
                self._file.flush()
            self.written += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()
