"""Appeals by reference: the refusal in words, what else the client did, outcomes audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from scrapeguard.decisions import Decision, Reason
from scrapeguard.records import appeals
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.errors import NotFound, PermissionDenied, RecordsError
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.users import Actor
from scrapeguard.stores.memory import MemoryStore

SUE = Actor("sue", "support")
ANA = Actor("ana", "analyst")
VIC = Actor("vic", "viewer")
T0 = 1_790_000_000.0
OFFICE = "203.0.113.7"
REF = "sg-00000000a11e"


def refusal(ref: str, ts: float, ip: str = OFFICE, account: str | None = "42", action: str = "throttle",
            enforced: bool = True) -> Decision:
    keys = {"ip": ip, "net": ip.rsplit(".", 1)[0] + ".0/24"}
    if account:
        keys["account"] = account
    reasons = (Reason("profile_quota", f"account:{account}" if account else f"ip:{ip}", 0.6,
                      "account 42 viewed 151 distinct profiles in an hour (limit 150)"),
               Reason("escalation", "", 1.0, "throttling escalated to a block"))
    return Decision(action, ts, reasons, until=ts + 600, id=ref, enforced=enforced, keys=keys,
                    route="profile", subject="id:7", path="/u/member7")


def store(db: Database, ps: Pseudonymiser, decisions: list[Decision]) -> None:
    with db.session() as s:
        add_decisions(s, [decision_record(d, ps) for d in decisions])


def test_a_reference_is_looked_up_with_every_reason_in_words_and_pseudonymised_keys(
        db: Database, pseudonymiser: Pseudonymiser) -> None:
    store(db, pseudonymiser, [
        refusal(REF, T0), refusal(REF, T0 + 60, action="block"),      # one penalty, refused twice
        refusal("sg-0000000000b1", T0 - 3600, account="43"),           # the office's other person, same ip
        refusal("sg-0000000000b2", T0 + 2 * 86400),                    # two days later: not around it
        refusal("sg-0000000000b3", T0, ip="198.51.100.9", account="77"),  # someone else
    ])
    with db.session() as s:
        appeal = appeals.look_up(s, SUE, "  SG-00000000A11E ")
    assert appeal.reference == REF
    assert [(r.action, r.at) for r in appeal.refusals] == [
        ("throttle", datetime.fromtimestamp(T0, UTC)), ("block", datetime.fromtimestamp(T0 + 60, UTC))]
    first = appeal.first
    assert first.action_words.startswith("throttled") and first.mode.startswith("enforced")
    assert appeal.last.action_words.startswith("blocked")
    quota, escalation = first.reasons
    assert (quota.title, quota.detail) == ("Profile quotas", "account 42 viewed 151 distinct profiles in "
                                                             "an hour (limit 150)")
    assert "profiles" in quota.control and quota.key_words == "account 42"
    assert escalation.title == "Repeat refusals" and escalation.detail == "throttling escalated to a block"
    ip = pseudonymiser.key("ip", OFFICE)
    assert appeal.actors == (ip, "account:42")
    assert ("address", "ip", ip.split(":", 1)[1]) in appeal.keys
    assert ("account", "account", "42") in appeal.keys
    assert [r.reference for r in appeal.around] == ["sg-0000000000b1"]  # same address, within 12 h
    assert not appeal.around_cut and appeal.outcomes == ()
    assert OFFICE not in json.dumps([str(r) for r in (*appeal.refusals, *appeal.around)])


def test_observe_mode_and_unknown_detectors_still_read_as_words(db: Database,
                                                                pseudonymiser: Pseudonymiser) -> None:
    decision = refusal(REF, T0, enforced=False)
    decision.reasons = (Reason("some_new_rule", "ip:" + OFFICE, 0.5, "odd"),)
    store(db, pseudonymiser, [decision])
    with db.session() as s:
        appeal = appeals.look_up(s, ANA, REF)
    assert appeal.first.mode.startswith("observe mode")
    (reason,) = appeal.first.reasons
    assert reason.title == "Some new rule" and reason.key_words.startswith("address p-")
    assert reason.key_words.endswith("(pseudonymised)")


@pytest.mark.parametrize("typed", ["sg-123", "1a2b3c4d5e6f", "sg-1a2b3c4d5e6g", "", "sg-1a2b3c4d5e6f0"])
def test_a_malformed_reference_says_what_one_looks_like(db: Database, typed: str) -> None:
    with db.session() as s, pytest.raises(RecordsError, match="a reference looks like sg-1a2b3c4d5e6f"):
        appeals.look_up(s, SUE, typed)


def test_a_reference_the_records_do_not_hold_is_not_found(db: Database) -> None:
    with db.session() as s, pytest.raises(NotFound, match="no refusal with the reference sg-1a2b3c4d5e6f"):
        appeals.look_up(s, SUE, "sg-1a2b3c4d5e6f")


def test_outcomes_are_audited_under_the_reference_and_shown_with_the_appeal(
        db: Database, pseudonymiser: Pseudonymiser) -> None:
    store(db, pseudonymiser, [refusal(REF, T0), refusal("sg-0000000000c1", T0)])
    with db.session() as s:
        appeals.record_outcome(s, SUE, REF, appeals.UPHELD, "kept going after the first warning")
    with db.session() as s:
        appeals.record_outcome(s, ANA, "sg-0000000000c1", appeals.NO_ACTION, "penalty had ended")
    with db.session() as s:
        appeals.record_outcome(s, SUE, REF, appeals.LIFTED, "member explained: shared office")
    with db.session() as s:
        assert [(o.by, o.outcome) for o in appeals.outcomes_of(s, REF)] == [
            ("sue", appeals.UPHELD), ("sue", appeals.LIFTED)]
        assert [o.outcome for o in appeals.look_up(s, SUE, REF).outcomes] == [appeals.UPHELD, appeals.LIFTED]
        latest = appeals.latest_outcomes(s, SUE, limit=2)
        assert [(o.reference, o.outcome) for o in latest] == [(REF, appeals.LIFTED),
                                                              ("sg-0000000000c1", appeals.NO_ACTION)]
        entries = s.execute(select(AuditEntry).where(AuditEntry.entity == "appeal")).scalars().all()
        assert {(e.entity_id, e.action) for e in entries} == {(REF, "appeal.outcome"),
                                                               ("sg-0000000000c1", "appeal.outcome")}
        assert json.loads(entries[0].details) == {"outcome": appeals.UPHELD,
                                                  "note": "kept going after the first warning"}


def test_a_bad_outcome_is_refused_before_anything_is_written(db: Database,
                                                             pseudonymiser: Pseudonymiser) -> None:
    store(db, pseudonymiser, [refusal(REF, T0)])
    with db.session() as s, pytest.raises(RecordsError, match="is not an outcome"):
        appeals.record_outcome(s, SUE, REF, "forgiven", "")
    with db.session() as s, pytest.raises(RecordsError, match=r"names an address \(2001:db8::/64\)"):
        appeals.record_outcome(s, SUE, REF, appeals.LIFTED, "their network 2001:db8::/64.")
    with db.session() as s, pytest.raises(NotFound):
        appeals.record_outcome(s, SUE, "sg-0000000000ff", appeals.LIFTED, "")
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(appeal\.resolve\)"):
        appeals.record_outcome(s, VIC, REF, appeals.LIFTED, "")
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(appeal\.resolve\)"):
        appeals.look_up(s, VIC, REF)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.entity == "appeal")).scalar_one() == 0


def test_an_address_in_a_note_is_kept_pseudonymised(db: Database, pseudonymiser: Pseudonymiser) -> None:
    store(db, pseudonymiser, [refusal(REF, T0)])
    with db.session() as s:
        appeals.record_outcome(s, SUE, REF, appeals.NO_ACTION, f"the office at {OFFICE}, say hi")
    with db.session() as s:
        (outcome,) = appeals.outcomes_of(s, REF)
        kept = Pseudonymiser(db.record_keys(s).pseudonym).key("ip", OFFICE)
    assert outcome.note == f"the office at {kept}, say hi"


def test_times_and_versions_in_a_note_are_not_mistaken_for_addresses() -> None:
    note = "called at 14:30, v1.2 of the app, ratio 3.5, see sg-1a2b3c4d5e6f"
    assert appeals.clear_addresses_in(note) == []
    assert appeals.clear_addresses_in("from 10.0.0.1 and ::1") == ["10.0.0.1", "::1"]


def test_lifting_and_allowlisting_act_on_the_appeals_own_keys_and_record_outcomes(
        db: Database) -> None:
    with db.session() as s:
        ps = Pseudonymiser(db.record_keys(s).pseudonym)
    store(db, ps, [refusal(REF, T0)])
    guard = MemoryStore(1000, 1000)
    now = datetime.fromtimestamp(T0 + 60, UTC)
    reasons = (("profile_quota", "account:42", 0.6, "over", "{}"),)
    guard.hold(T0, "account:42", "throttle", T0 + 600, REF, reasons)
    guard.hold(T0, f"ip:{OFFICE}", "block", T0 + 3600, "sg-0000000000b1", reasons)
    guard.hold(T0, "ip:198.51.100.9", "block", T0 + 3600, "sg-0000000000b3", reasons)  # someone else
    with db.session() as s:
        appeal = appeals.look_up(s, SUE, REF)
        found = appeals.store_state(s, SUE, guard, appeal, now) or []
        state = {k.actor: (k.penalty, k.pardon_until) for k in found}
    ip, net = ps.key("ip", OFFICE), ps.key("net", "203.0.113.0/24")
    assert state == {ip: ("block", None), net: (None, None), "account:42": ("throttle", None)}
    with db.session() as s, pytest.raises(RecordsError, match="is not a key of the refusal"):
        appeals.lift_penalties(s, SUE, guard, REF, "", now, only="ip:p-0000")
    with db.session() as s:
        assert appeals.lift_penalties(s, SUE, guard, REF, "shared office", now) == [ip, "account:42"]
    assert [p.key for p in guard.penalties(T0 + 60)] == ["ip:198.51.100.9"]
    with db.session() as s, pytest.raises(RecordsError, match="nothing to lift"):
        appeals.lift_penalties(s, SUE, guard, REF, "", now)
    until = now + timedelta(days=7)
    with db.session() as s:
        assert appeals.allowlist_client(s, SUE, guard, REF, "account", until, "recruiter", now) == \
            ("account:42", until)
    # the network is named by the address the store holds something about: nothing since the lift
    with db.session() as s, pytest.raises(RecordsError, match="its network cannot be named"):
        appeals.allowlist_client(s, SUE, guard, REF, "net", until, "office", now)
    guard.pardon(T0, f"ip:{OFFICE}", T0 + 60 * 60)
    with db.session() as s:
        appeals.allowlist_client(s, SUE, guard, REF, "net", until, "office", now)
    assert dict(guard.pardons(T0 + 60)) == {"account:42": until.timestamp(), f"ip:{OFFICE}": T0 + 3600,
                                           "net:203.0.113.0/24": until.timestamp()}
    with db.session() as s, pytest.raises(RecordsError, match="at most 90 days"):
        appeals.allowlist_client(s, SUE, guard, REF, "account", now + timedelta(days=91), "long", now)
    with db.session() as s, pytest.raises(PermissionDenied):
        appeals.lift_penalties(s, VIC, guard, REF, "", now)
    with db.session() as s:
        assert [o.outcome for o in appeals.outcomes_of(s, REF)] == [appeals.LIFTED, appeals.ALLOWLISTED,
                                                                    appeals.ALLOWLISTED]
        assert appeals.outcomes_of(s, REF)[0].action == {"lifted": [ip, "account:42"]}
        texts = [f"{e.entity_id} {e.details}" for e in s.execute(select(AuditEntry)).scalars()]
    assert texts and not any("203.0.113" in t or "198.51.100" in t for t in texts)


def test_without_a_store_the_state_is_unknown_and_nothing_is_lifted(db: Database,
                                                                     pseudonymiser: Pseudonymiser) -> None:
    store(db, pseudonymiser, [refusal(REF, T0)])
    now = datetime.fromtimestamp(T0, UTC)
    with db.session() as s:
        assert appeals.store_state(s, SUE, None, appeals.look_up(s, SUE, REF), now) is None
        with pytest.raises(RecordsError, match="not connected to the guard's store"):
            appeals.lift_penalties(s, SUE, None, REF, "", now)
