"""Policy changes with four eyes (records/policy_changes.py) and their "what would change" replay
(records/policy_impact.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from scrapeguard.policy import load_policy_text
from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.errors import InvalidStep, PermissionDenied, RecordsError
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.policy_changes import (
    APPLIED,
    PROPOSED,
    REJECTED,
    SUPERSEDED,
    approve,
    list_changes,
    propose,
    reject,
)
from scrapeguard.records.policy_impact import impact, network_pseudonyms
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.users import Actor

ADA, ABE = Actor("ada", "admin"), Actor("abe", "admin")
ANA, VIC = Actor("ana", "analyst"), Actor("vic", "viewer")
OLD = 'mode = "observe"\n\n[allowlist]\ncidrs = []\n'
NEW = 'mode = "enforce"\n\n[allowlist]\ncidrs = ["192.0.2.0/24"]\n'


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(OLD, "utf-8")
    return path


def entries(db: Database, action: str) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.action == action)
                         .order_by(AuditEntry.seq)).scalars()
        return [{"actor": e.actor, "entity_id": e.entity_id, **json.loads(e.details)} for e in rows]


def test_a_second_admin_approves_and_only_then_the_file_is_written(db: Database, policy_file: Path) -> None:
    with db.session() as s:
        change = propose(s, ADA, policy_file, NEW, "enforce, and trust the office", {"decisions": 3})
        change_id = change.id
        assert change.state == PROPOSED and change.base_sha256 == sha(OLD)
        assert '-mode = "observe"' in change.diff and '+mode = "enforce"' in change.diff
        assert change.what_would_change == {"decisions": 3}
    assert policy_file.read_text("utf-8") == OLD
    with db.session() as s, pytest.raises(PermissionDenied, match="a second admin must approve"):
        approve(s, ADA, change_id, policy_file)
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(policy\.change\)"):
        approve(s, ANA, change_id, policy_file)
    assert policy_file.read_text("utf-8") == OLD
    with db.session() as s:
        applied = approve(s, ABE, change_id, policy_file)
        assert (applied.state, applied.decided_by) == (APPLIED, "abe")
    assert policy_file.read_text("utf-8") == NEW
    assert load_policy_text(policy_file.read_text("utf-8")).mode == "enforce"
    assert not list(policy_file.parent.glob(".policy.toml.*"))  # no temporary file left behind
    [proposed] = entries(db, "policy.propose")
    assert proposed["actor"] == "ada" and proposed["new_sha256"] == sha(NEW)
    [applied_entry] = entries(db, "policy.apply")
    assert applied_entry == {"actor": "abe", "entity_id": str(change_id), "file": str(policy_file),
                             "proposed_by": "ada", "summary": "enforce, and trust the office",
                             "from_sha256": sha(OLD), "to_sha256": sha(NEW)}
    with db.session() as s:
        assert audit.verify(s).ok  # the change's row is bound into the chain
    with db.session() as s, pytest.raises(InvalidStep, match="only a proposed change"):
        approve(s, ABE, change_id, policy_file)


def test_a_proposal_must_load_as_a_policy_and_change_something(db: Database, policy_file: Path) -> None:
    with db.session() as s, pytest.raises(RecordsError, match=r"policy\.toml:1: mode: .*allowed"):
        propose(s, ADA, policy_file, 'mode = "panic"\n', "bad", None)
    with db.session() as s, pytest.raises(RecordsError, match="nothing to change"):
        propose(s, ADA, policy_file, OLD, "same", None)
    with db.session() as s, pytest.raises(RecordsError, match="summary"):
        propose(s, ADA, policy_file, NEW, "  ", None)
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(policy\.change\)"):
        propose(s, ANA, policy_file, NEW, "analysts may not", None)
    with db.session() as s:
        assert list_changes(s, VIC) == []


def test_approval_is_refused_when_the_file_changed_since(db: Database, policy_file: Path) -> None:
    with db.session() as s:
        change_id = propose(s, ADA, policy_file, NEW, "enforce", None).id
    policy_file.write_text(OLD + "\n# edited by hand\n", "utf-8")
    with db.session() as s, pytest.raises(InvalidStep, match="changed since this was proposed: propose"):
        approve(s, ABE, change_id, policy_file)
    assert policy_file.read_text("utf-8").endswith("# edited by hand\n")


def test_applying_one_change_supersedes_the_others_and_rejecting_needs_a_reason(
        db: Database, policy_file: Path) -> None:
    with db.session() as s:
        first = propose(s, ADA, policy_file, NEW, "enforce", None).id
        second = propose(s, ABE, policy_file, OLD.replace("observe", "enforce"), "enforce only", None).id
        third = propose(s, ABE, policy_file, NEW.replace("192.0.2.0", "198.51.100.0"), "other net", None).id
    with db.session() as s, pytest.raises(RecordsError, match="say why"):
        reject(s, ADA, third, " ")
    with db.session() as s:
        assert reject(s, ADA, third, "wrong network").state == REJECTED
        approve(s, ABE, first, policy_file)
    with db.session() as s:
        states = {c.id: (c.state, c.note) for c in list_changes(s, VIC)}
    assert [c for c in states] == [third, second, first]  # newest first
    assert states[first][0] == APPLIED and states[third] == (REJECTED, "wrong network")
    assert states[second] == (SUPERSEDED, f"policy change {first} was applied first: propose again")
    assert [e["entity_id"] for e in entries(db, "policy.supersede")] == [str(second)]
    with db.session() as s, pytest.raises(InvalidStep, match="is rejected"):
        reject(s, ADA, third, "again")


def decision(n: int, ip: str, enforced: bool, action: str = "throttle", account: str | None = None,
             detector: str = "profile_quota", ts: float = 1_796_000_000.0) -> dict[str, Any]:
    keys = {"ip": ip, "net": ".".join(ip.split(".")[:3]) + ".0/24"}
    if account:
        keys["account"] = account
    return {"ts": ts, "id": f"sg-{n:012x}", "action": action, "enforced": enforced, "keys": keys,
            "route": "profile", "path": "/u/x",
            "reasons": [{"detector": detector, "key": f"ip:{ip}", "score": 0.7, "detail": "x"}]}


NOW = datetime.fromtimestamp(1_796_000_600.0, UTC)


def test_what_would_change_replays_the_last_day_under_the_new_mode_and_allowlist(db: Database) -> None:
    pseudonymiser = Pseudonymiser(db.record_keys().pseudonym)
    raw = [
        decision(1, "192.0.2.7", False),                                   # in the new /24
        decision(2, "192.0.2.7", False, "block", detector="enumeration"),  # same actor
        decision(3, "203.0.113.5", False, "challenge", detector="automation"),
        decision(4, "203.0.113.9", False, account="acct-9"),               # the new account
        decision(5, "198.51.100.20", False),                               # in the new /28
        decision(6, "198.51.100.40", False),                               # outside it
        decision(7, "203.0.113.5", False, ts=1_796_000_600.0 - 90_000),    # older than a day
    ]
    with db.session() as s:
        add_decisions(s, [decision_record(d, pseudonymiser) for d in raw])
    current = load_policy_text('mode = "observe"\n')
    proposed = load_policy_text('mode = "enforce"\n[allowlist]\ncidrs = ["192.0.2.0/24", '
                                '"198.51.100.16/28", "10.0.0.0/8"]\naccounts = ["acct-9"]\n')
    with db.session() as s:
        result = impact(s, VIC, current, proposed, NOW)
    assert result["decisions"] == 6
    allow = result["allowlist"]
    assert (allow["let_through"], allow["by_network"], allow["by_account"]) == (4, 3, 1)
    assert allow["unchecked_cidrs"] == ["10.0.0.0/8"] and "scrapeguard replay" in allow["unchecked_why"]
    assert pseudonymiser.key("ip", "192.0.2.7") in allow["named_actors"]
    assert "account:acct-9" in allow["named_actors"] and allow["actors"] == 4
    mode = result["mode"]  # what is left once the allowlist lets its refusals through
    assert (mode["from"], mode["to"], mode["refusals"]) == ("observe", "enforce", 2)
    assert mode["by_action"] == {"challenge": 1, "throttle": 1}
    assert mode["by_detector"] == {"automation": 1, "profile_quota": 1}
    assert mode["actors"] == 2 and mode["effect"] == "would have been enforced"
    with db.session() as s:  # back to observe: the enforced refusals would only be logged
        back = impact(s, VIC, load_policy_text('mode = "enforce"\n'), current, NOW)
    assert back["mode"]["refusals"] == 0 and back["allowlist"] is None


def test_networks_are_pseudonymised_by_their_slash_24s_or_addresses_up_to_a_bound() -> None:
    p = Pseudonymiser(b"k" * 32)
    slash20 = network_pseudonyms("192.0.2.0/20", p)
    assert slash20 is not None and len(slash20) == 16 and f"net:{p.value('192.0.0.0/24')}" in slash20
    assert network_pseudonyms("192.0.2.0/30", p) == {f"ip:{p.value(f'192.0.2.{i}')}" for i in range(4)}
    assert network_pseudonyms("10.0.0.0/11", p) is None  # 8192 /24s
    v6 = network_pseudonyms("2001:db8::/56", p)
    assert v6 is not None and f"net:{p.value('2001:db8::/64')}" in v6
