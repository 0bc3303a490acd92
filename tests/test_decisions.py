"""Decision ids: short, in one format, and not repeated by a forked process."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from scrapeguard.decisions import (
    BLOCK,
    NO_EVIDENCE,
    THROTTLE,
    Decision,
    DecisionWriter,
    Reason,
    evidence_text,
    new_decision_id,
)
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0  # an event time: the engine never reads the wall clock


def test_decision_ids_are_short_and_distinct() -> None:
    ids = {new_decision_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"sg-[0-9a-f]{12}", i) for i in ids)


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(new_decision_id() for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = {new_decision_id() for _ in range(5)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(child) == 5 and not parent & child


def _throttled_visitor(engine: Engine, profiles: int) -> list[Decision]:
    """One anonymous visitor reading `profiles` distinct member pages (and their stylesheets, at
    uneven human pauses), as the engine decides them."""
    routes = RouteMap(engine.policy.routes)
    decisions, now = [], T0
    for i in range(profiles):
        now += (0.6, 1.4, 0.8, 1.2, 1.0)[i % 5]
        path = f"/u/m{(i * 2654435761) % 2**32:08x}"
        decisions.append(engine.decide(Event(ts=now, ip="198.51.100.7", path=path, route=routes.match(path))))
        engine.decide(Event(ts=now + 0.01, ip="198.51.100.7", path="/static/site.css",
                            route=routes.match("/static/site.css")))
    return decisions


def test_a_refusal_carries_its_evidence_into_the_decisions_file(tmp_path: Path) -> None:
    policy = default_policy()
    quota = policy.profile_quota.anonymous
    decisions = _throttled_visitor(Engine(policy), quota.per_hour + 2)
    first, again = decisions[quota.per_hour], decisions[quota.per_hour + 1]
    assert first.action == THROTTLE and again.action == THROTTLE
    evidence = first.reasons[0].evidence
    assert {k: evidence[k] for k in ("quota", "window", "count", "limit")} == {
        "quota": "anonymous", "window": "hour", "count": quota.per_hour, "limit": quota.per_hour}
    # a request under the penalty gets the penalty's reasons, evidence and all (kept by the store)
    assert again.reasons[0].evidence == evidence
    writer = DecisionWriter(tmp_path / "decisions.jsonl")
    writer.write(first)
    writer.close()
    [line] = (tmp_path / "decisions.jsonl").read_text("utf-8").splitlines()
    [reason] = [r for r in json.loads(line)["reasons"] if r["detector"] == "profile_quota"]
    assert reason["evidence"] == evidence  # for programs
    assert reason["detail"] == first.reasons[0].detail  # for people, unchanged
    assert f"(quota {quota.per_hour}/hour)" in reason["detail"]


def test_evidence_is_canonical_and_a_reason_without_any_writes_an_empty_object() -> None:
    assert evidence_text({"b": 1, "a": [2, "x"]}) == evidence_text({"a": [2, "x"], "b": 1})
    bare = Reason("challenge", "ip:192.0.2.1", 0.0, "challenge not passed")
    assert bare.to_dict()["evidence"] == {} and bare.as_tuple()[4] == NO_EVIDENCE
    kept = Reason("flood", "ip:192.0.2.1", 0.5, "fast", evidence_text({"pages": 41, "limit": 40}))
    assert Reason(*kept.as_tuple()) == kept and kept.evidence == {"pages": 41, "limit": 40}


def test_an_escalated_block_says_why_in_evidence() -> None:
    policy = default_policy()
    a = policy.actions
    decisions = _throttled_visitor(Engine(policy), policy.profile_quota.anonymous.per_hour + a.escalate_after)
    blocked = next(d for d in decisions if d.action == BLOCK)
    [escalation] = [r for r in blocked.reasons if r.detector == "escalation"]
    assert escalation.evidence == {"refusals": a.escalate_after, "window_seconds": a.strike_window_seconds}
