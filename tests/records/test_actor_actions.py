"""What the team does to an actor in the guard's store (block, unblock, lift, allowlist, notes):
written to the store, audited under the pseudonymised key, never with a clear address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from scrapeguard.decisions import ALLOW, BLOCK, THROTTLE
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.records import actor_actions as aa
from scrapeguard.records import audit, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.errors import PermissionDenied, RecordsError
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.users import Actor
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore

from .helpers import ROOT, T0, exposure, refusal, seed  # type: ignore[import-not-found]

ANALYST = Actor("ana", "analyst")
SUPPORT = Actor("sue", "support")
VIEWER = Actor("vic", "viewer")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
IP = "203.0.113.7"


def audit_text(db: Database) -> str:
    with db.session() as s:
        return "\n".join(f"{e.entity_id} {e.details}" for e in s.execute(select(AuditEntry)).scalars())


def decide(engine: Engine, ip: str, ts: float, path: str = "/u/someone") -> str:
    routes = RouteMap(engine.policy.routes)
    return engine.decide(Event(ts=ts, ip=ip, path=path, route=routes.match(path),
                               user_agent="Mozilla/5.0")).action


def test_block_is_written_to_the_store_so_the_guard_refuses_at_once(db: Database) -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    assert decide(engine, IP, NOW.timestamp()) == ALLOW
    with db.session() as s:
        penalty = aa.block(s, ANALYST, store, f"ip:{IP}", 60, f"sweeping the directory from {IP}", NOW)
    assert (penalty.key, penalty.action, penalty.until) == (f"ip:{IP}", BLOCK, NOW.timestamp() + 3600)
    assert decide(engine, IP, NOW.timestamp() + 1) == BLOCK
    assert decide(engine, IP, NOW.timestamp() + 3601) == ALLOW  # it ends by event time
    with db.session() as s:
        pseudonymised = aa.pseudonymiser_of(s).key("ip", IP)
        [entry] = aa.history_of(s, pseudonymised)
    assert (entry.by, entry.action, entry.details["minutes"]) == ("ana", aa.BLOCKED, 60)
    assert entry.note == f"sweeping the directory from {pseudonymised}"  # the typed address too
    assert IP not in audit_text(db)
    with db.session() as s:
        assert audit.verify(s).ok


def test_unblock_and_lift_remove_the_penalty_and_say_what_it_was(db: Database) -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    with db.session() as s:
        aa.block(s, ANALYST, store, f"ip:{IP}", 600, "scraper", NOW)
    with db.session() as s:
        lifted = aa.unblock(s, ANALYST, store, f"ip:{IP}", "false positive: a partner", NOW)
    assert lifted is not None and lifted.action == BLOCK
    assert decide(engine, IP, NOW.timestamp() + 2) == ALLOW
    with db.session() as s:
        assert aa.unblock(s, ANALYST, store, f"ip:{IP}", "", NOW) is None  # nothing in force: audited too
    store.penalize(NOW.timestamp(), "account:42", THROTTLE, "sg-1", (), engine.escalation)
    with db.session() as s:
        lifted = aa.lift(s, SUPPORT, store, "account:42", "appeal sg-1: a person", NOW)
    assert lifted is not None and lifted.decision_id == "sg-1"
    assert store.penalties(NOW.timestamp()) == []
    with db.session() as s:
        history = aa.history_of(s, aa.pseudonymiser_of(s).key("ip", IP))
        assert [e.action for e in history] == [aa.BLOCKED, aa.UNBLOCKED, aa.UNBLOCKED]
        assert history[1].details["lifted"]["action"] == BLOCK and history[2].details["lifted"] is None
        assert [e.by for e in aa.history_of(s, "account:42")] == ["sue"]
    assert IP not in audit_text(db)


def test_allowlist_pardons_the_key_until_its_end(db: Database) -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    with db.session() as s:
        aa.allowlist(s, SUPPORT, store, "net:203.0.113.0/24", NOW + timedelta(hours=2), "office of a partner",
                     NOW)
    assert store.pardons(NOW.timestamp()) == [("net:203.0.113.0/24", (NOW + timedelta(hours=2)).timestamp())]
    assert all(decide(engine, IP, NOW.timestamp() + i, f"/u/m{i}") == ALLOW for i in range(200))
    with db.session() as s:
        [entry] = aa.history_of(s, aa.pseudonymiser_of(s).key("net", "203.0.113.0/24"))
    assert entry.details["until"] == "2026-12-03T14:00:00+00:00" and entry.by == "sue"
    assert "203.0.113" not in audit_text(db)


@pytest.mark.parametrize(("key", "until", "message"), [
    ("session:abc", NOW + timedelta(days=1), "not an address, network or account"),
    ("fingerprint:x", NOW + timedelta(days=1), "not an address, network or account"),
    ("ip:p-0123456789abcdef01234567", NOW + timedelta(days=1), "pseudonymised"),
    ("ip:not-an-address", NOW + timedelta(days=1), "not an IP address"),
    ("account:7", NOW + timedelta(days=91), "at most 90 days"),
    ("account:7", NOW - timedelta(minutes=1), "in the future"),
    ("account:7", datetime(2026, 12, 4, 12, 0), "zone"),
])
def test_allowlist_refuses_other_keys_long_or_past_ends(db: Database, key: str, until: datetime,
                                                         message: str) -> None:
    store = MemoryStore()
    with db.session() as s, pytest.raises(RecordsError, match=message):
        aa.allowlist(s, ANALYST, store, key, until, "why", NOW)
    assert store.pardons(NOW.timestamp()) == []


def test_block_needs_a_reason_and_a_sensible_length(db: Database) -> None:
    store = MemoryStore()
    with db.session() as s, pytest.raises(RecordsError, match="say why"):
        aa.block(s, ANALYST, store, f"ip:{IP}", 60, "  ", NOW)
    for minutes in (0, 90 * 24 * 60 + 1):
        with db.session() as s, pytest.raises(RecordsError, match="a block lasts"):
            aa.block(s, ANALYST, store, f"ip:{IP}", minutes, "why", NOW)
    assert store.penalties(NOW.timestamp()) == []


def test_without_a_store_nothing_is_done_and_the_message_says_why(db: Database) -> None:
    message = r"not connected to the guard's store \(--store\)"
    with db.session() as s, pytest.raises(RecordsError, match=message):
        aa.block(s, ANALYST, None, f"ip:{IP}", 60, "why", NOW)
    with pytest.raises(RecordsError, match="not connected"):
        aa.clear_keys(None, aa.Pseudonymiser(b"k" * 32), ["ip:p-1"], NOW)
    assert audit_text(db) == ""


def test_roles_that_may_not_act_are_refused_before_the_store_changes(db: Database) -> None:
    store = MemoryStore()
    with db.session() as s:
        for call in (lambda: aa.block(s, VIEWER, store, f"ip:{IP}", 60, "why", NOW),
                     lambda: aa.block(s, SUPPORT, store, f"ip:{IP}", 60, "why", NOW),
                     lambda: aa.unblock(s, SUPPORT, store, f"ip:{IP}", "", NOW),
                     lambda: aa.allowlist(s, VIEWER, store, f"ip:{IP}", NOW + timedelta(hours=1), "x", NOW),
                     lambda: aa.annotate(s, SUPPORT, f"ip:{IP}", "a note")):
            with pytest.raises(PermissionDenied):
                call()
    assert store.penalties(NOW.timestamp()) == [] and store.pardons(NOW.timestamp()) == []
    assert audit_text(db) == ""


def test_notes_are_kept_under_the_pseudonymised_key(db: Database) -> None:
    with db.session() as s:
        aa.annotate(s, ANALYST, f"ip:{IP}", f"same operator as 198.51.100.4 and ip:{IP}", NOW)
        aa.annotate(s, ANALYST, "account:42", "a partner's crawler account", NOW + timedelta(minutes=1))
    with db.session() as s:
        p = aa.pseudonymiser_of(s)
        [note] = aa.notes_of(s, p.key("ip", IP))
        assert note.note == f"same operator as {p.key('ip', '198.51.100.4')} and {p.key('ip', IP)}"
        assert [n.note for n in aa.notes_of(s, "account:42")] == ["a partner's crawler account"]
        with pytest.raises(RecordsError, match="say why"):
            aa.annotate(s, ANALYST, "account:42", "")
    text = audit_text(db)
    assert IP not in text and "198.51.100.4" not in text


def test_clear_keys_maps_pseudonyms_to_what_the_store_holds(db: Database) -> None:
    store = MemoryStore()
    t = NOW.timestamp()
    store.hold(t, f"ip:{IP}", BLOCK, t + 60, "sg-1", ())
    store.pardon(t, "net:198.51.100.0/24", t + 60)
    with db.session() as s:
        p = aa.pseudonymiser_of(s)
    blocked, pardoned = p.key("ip", IP), p.key("net", "198.51.100.0/24")
    unknown = p.key("ip", "192.0.2.1")
    found = aa.clear_keys(store, p, [blocked, pardoned, unknown, "account:9"], NOW)
    assert found == {blocked: f"ip:{IP}", pardoned: "net:198.51.100.0/24", "account:9": "account:9"}
    # an address the store knows nothing about: a person types it, and it is checked
    assert aa.resolve_key(store, p, unknown, "192.0.2.1", NOW) == "ip:192.0.2.1"
    assert aa.resolve_key(store, p, blocked, "", NOW) == f"ip:{IP}"
    with pytest.raises(RecordsError, match="is not the address of"):
        aa.resolve_key(store, p, unknown, "192.0.2.2", NOW)
    with pytest.raises(RecordsError, match="type the address"):
        aa.resolve_key(store, p, unknown, "", NOW)
    with pytest.raises(RecordsError, match="cannot be acted on"):
        aa.resolve_key(store, p, "campaign:c1", "", NOW)


def test_a_long_account_key_is_audited_under_a_bounded_id(db: Database) -> None:
    account = "account:" + "x" * 250
    with db.session() as s:
        aa.annotate(s, ANALYST, account, "long", NOW)
    with db.session() as s:
        assert [n.note for n in aa.notes_of(s, account)] == ["long"]
        assert aa.notes_of(s, "account:" + "x" * 249) == []
    assert all(len(aa.entity_id(a)) <= 100 for a in (account, "account:1"))


def test_top_actors_and_campaigns_of_the_last_hours(db: Database) -> None:
    seed(db, [refusal("ip:p-aaaa", n, T0 + n, campaign="campaign:c1") for n in range(5)]
         + [refusal("ip:p-bbbb", 100 + n, T0 + n) for n in range(3)]
         + [refusal("ip:p-cccc", 200, T0 - 2 * 86400)]  # two days earlier
         + exposure("ip:p-aaaa", range(1, 8)))
    with db.session() as s:
        incident = incidents.open_incident(s, ROOT, "sweep", {"ip:p-bbbb"})
    since = datetime.fromtimestamp(T0, UTC) - timedelta(hours=24)
    with db.session() as s:
        top = aa.top_actors(s, since)
        assert [(a.actor, a.refusals, a.members, a.campaign) for a in top] == [
            ("ip:p-aaaa", 5, 7, "campaign:c1"), ("ip:p-bbbb", 3, 0, None)]
        assert (top[1].incident_id, top[1].incident_state) == (incident.id, "detected")
        assert [a.actor for a in aa.top_actors(s, since, limit=1)] == ["ip:p-aaaa"]
        everything = since - timedelta(days=3)
        assert [a.actor for a in aa.top_actors(s, everything, campaign="campaign:c1")] == ["ip:p-aaaa"]
        [campaign] = aa.campaigns_since(s, since)
        assert (campaign.campaign, campaign.refusals, campaign.actors) == ("campaign:c1", 5, 1)
        assert aa.campaigns_since(s, since + timedelta(days=2)) == []
