"""Risk: what every signal about one client adds up to, and which key deserves the penalty.

One client, one risk. A request's signals may sit on different keys (its session, its address,
its account, a campaign it belongs to): they are all about the client making the request, so they
combine. Evidence is combined as independent per detector, never per key: a detector that says
the same thing about the session and about the address (the same missing stylesheets, say) counts
once, at its strongest, so that a client with a cookie jar and one without, showing the same
behaviour, get the same action.

Two kinds of evidence are told apart because a different action answers each:

- *bot evidence* (`BOT_EVIDENCE`: what the user agent, the request pattern or the network say
  about whether a browser with a person behind it is asking) is answered by a challenge, which a
  browser passes and an HTTP library does not;
- *behaviour evidence* (quotas, sweeps, campaigns, probing...) is what the client does, whoever
  it is: answered by a throttle, then a block.

A detector may say that one of its signals is of the other kind (`Signal.answered_by`), or that
logging in answers it (the login wall: an allowance for anonymous visitors, which is no evidence of
anything and so adds to no risk).

The penalty is held against the key that carries the strongest evidence of the kind that decided,
preferring the client's own keys (account, session, address) over group keys, and among equals
the most specific one: an address shared by an office is not held to account for evidence about
one browser session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scrapeguard.decisions import Reason, evidence_text
from scrapeguard.detectors.base import BY_CHALLENGE, BY_LOGIN, Signal

#: Detectors whose evidence says "this is a bot" (rather than "this is scraping"): a passed
#: challenge answers them, so a cleared client is judged without them.
BOT_EVIDENCE = frozenset({"bot_agents", "automation", "ip_reputation"})
#: Key kinds a penalty can be held against, most specific first (ties go to the earlier).
CLIENT_KEY_ORDER = ("account", "session", "ip", "net")


def combine(scores: Iterable[float]) -> float:
    """Independent evidence: 1 - (1 - s1)(1 - s2)..., each score clamped to 0..1."""
    remaining = 1.0
    for s in scores:
        remaining *= 1.0 - min(1.0, max(0.0, s))
    return 1.0 - remaining


@dataclass(frozen=True, slots=True)
class Risk:
    """How much the signals about one request's client add up to."""

    #: Every signal, each detector counted once.
    total: float
    #: Bot evidence only (what a challenge answers).
    bot: float
    #: Everything but bot evidence (what a challenge does not answer).
    behaviour: float
    #: The key to hold a penalty against when the total decides (block).
    key: str
    #: The key to hold a penalty against when the behaviour decides (throttle); "" if none.
    behaviour_key: str
    #: The signals behind it (but the login wall's), in order.
    signals: tuple[Signal, ...]
    #: Signals of the anonymous allowances logging in would lift (the login wall); empty if none.
    login_signals: tuple[Signal, ...] = ()

    # (reasons are made when asked for: most requests with a signal or two are allowed, and a
    # reason's evidence is encoded when it is made)
    @property
    def reasons(self) -> tuple[Reason, ...]:
        """The signals as a decision's reasons."""
        return tuple(reason_of(s) for s in self.signals)

    @property
    def login(self) -> tuple[Reason, ...]:
        """The reasons of the anonymous allowances logging in would lift; empty if none."""
        return tuple(reason_of(s) for s in self.login_signals)


def reason_of(signal: Signal) -> Reason:
    """A signal as a decision's reason: its detail for people and its evidence for programs."""
    return Reason(signal.detector, signal.key, signal.score, signal.detail, evidence_text(signal.evidence))


def is_bot_evidence(signal: Signal) -> bool:
    if signal.answered_by:
        return signal.answered_by == BY_CHALLENGE
    return signal.detector in BOT_EVIDENCE


def _detector_risk(signals: Sequence[Signal]) -> dict[tuple[str, bool], float]:
    """Per detector (and kind of evidence): its signals combined per key, the strongest key's value."""
    per_key: dict[tuple[str, bool, str], list[float]] = {}
    for s in signals:
        per_key.setdefault((s.detector, is_bot_evidence(s), s.key), []).append(s.score)
    best: dict[tuple[str, bool], float] = {}
    for (detector, bot, _), scores in per_key.items():
        risk = combine(scores)
        if risk > best.get((detector, bot), -1.0):
            best[(detector, bot)] = risk
    return best


def _key_rank(key: str, held: Sequence[str]) -> tuple[int, int]:
    """Sort rank of a key for holding a penalty: keys the engine checks for this request first, then
    the client's other keys, then group keys (campaigns); among each, the most specific first."""
    kind = key.partition(":")[0]
    if key in held:
        return (0, CLIENT_KEY_ORDER.index(kind) if kind in CLIENT_KEY_ORDER else 0)
    if kind in CLIENT_KEY_ORDER:
        return (1, CLIENT_KEY_ORDER.index(kind))
    return (2, 0)


def penalty_key(signals: Sequence[Signal], held: Sequence[str]) -> str:
    """The key whose own evidence (its signals combined per detector) is strongest; among equals
    the one ranked first by `_key_rank`. "" if there are no signals."""
    by_key: dict[str, list[Signal]] = {}
    for s in signals:
        by_key.setdefault(s.key, []).append(s)
    best, best_rank = "", (9, 9)
    best_risk = -1.0
    for key, group in by_key.items():
        risk = combine(_detector_risk(group).values())
        rank = _key_rank(key, held)
        if risk > best_risk + 1e-9 or (abs(risk - best_risk) <= 1e-9 and rank < best_rank):
            best, best_risk, best_rank = key, risk, rank
    return best


def assess(signals: Sequence[Signal], held: Sequence[str] = ()) -> Risk:
    """The client's risk from all its signals. `held`: the keys the engine holds penalties against
    for this request, most specific first (a penalty prefers them)."""
    login = tuple(s for s in signals if s.answered_by == BY_LOGIN)
    if login:  # (a login wall is no evidence of anything: it is answered apart from the risk)
        signals = [s for s in signals if s.answered_by != BY_LOGIN]
    per_detector = _detector_risk(signals)
    bot = combine(r for (_, is_bot), r in per_detector.items() if is_bot)
    behaviour_signals = [s for s in signals if not is_bot_evidence(s)]
    behaviour = combine(r for (_, is_bot), r in per_detector.items() if not is_bot)
    return Risk(
        total=combine(per_detector.values()), bot=bot, behaviour=behaviour,
        key=penalty_key(signals, held), behaviour_key=penalty_key(behaviour_signals, held),
        signals=tuple(signals), login_signals=login,
    )
