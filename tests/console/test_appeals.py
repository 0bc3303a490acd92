"""The appeals pages: a reference looked up in words, outcomes recorded, penalties lifted and
clients allowlisted in the guard's store, all audited without a clear address."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from scrapeguard.decisions import Decision, Reason
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.stores.memory import MemoryStore

from .helpers import ConsoleHarness, make_harness  # type: ignore[import-not-found]

OFFICE = "203.0.113.7"
REF = "sg-00000000a11e"
DETAIL = "account 42 viewed 31 distinct profiles in an hour (limit 30 for accounts younger than 7 days)"


def seed_refusal(db: Database, ts: float, ref: str = REF, ip: str = OFFICE, account: str | None = "42",
                 session: str = "s-42") -> Decision:
    keys = {"ip": ip, "net": ip.rsplit(".", 1)[0] + ".0/24", "session": session}
    if account:
        keys["account"] = account
    decision = Decision("throttle", ts, (Reason("profile_quota", f"account:{account}", 0.6, DETAIL),),
                        until=ts + 600, id=ref, keys=keys, route="profile", subject="username:m7",
                        path="/u/m7")
    with db.session() as s:
        add_decisions(s, [decision_record(decision, Pseudonymiser(db.record_keys(s).pseudonym))])
    return decision


def audit_entries(db: Database) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def test_support_types_a_reference_and_reads_the_refusal_in_words(harness: ConsoleHarness) -> None:
    seed_refusal(harness.db, harness.clock.now - 300)
    seed_refusal(harness.db, harness.clock.now - 3600, ref="sg-0000000000b1", account=None, session="s-9")
    sue = harness.client("sue")
    home = sue.get("/appeals")
    assert home.status_code == 200 and '<label for="reference">Reference</label>' in home.text
    found = sue.get("/appeals", params={"reference": " SG-00000000A11E "})
    assert found.status_code == 303 and found.headers["location"] == f"/appeals/{REF}"
    page = sue.get("/appeals/SG-00000000A11E")  # typed into the address bar: the same page
    assert page.status_code == 200, page.text
    text = page.text
    assert "throttled (slowed down for a while)" in text and "enforced: the request was refused" in text
    assert "Profile quotas" in text and DETAIL in text
    pseudonym = Pseudonymiser(harness.db.record_keys().pseudonym).value(OFFICE)
    assert pseudonym in text and OFFICE not in text
    assert 'href="/appeals/sg-0000000000b1"' in text  # the office's other refusal, same address
    assert "not connected to the guard's store" in text  # this harness has no store


def test_a_malformed_reference_is_400_and_a_missing_one_404_with_the_message(harness: ConsoleHarness) -> None:
    sue = harness.client("sue")
    malformed = sue.get("/appeals/sg-12")
    assert malformed.status_code == 400 and "a reference looks like sg-1a2b3c4d5e6f" in malformed.text
    missing = sue.get("/appeals/sg-1a2b3c4d5e6f")
    assert missing.status_code == 404 and "no refusal with the reference sg-1a2b3c4d5e6f" in missing.text
    assert sue.get("/appeals", params={"reference": "  "}).status_code == 400


def test_an_outcome_is_recorded_audited_and_listed(harness: ConsoleHarness) -> None:
    seed_refusal(harness.db, harness.clock.now - 300)
    sue = harness.client("sue")
    response = sue.post(f"/appeals/{REF}/outcome", {"outcome": "refusal upheld", "note": "kept scraping"})
    assert response.status_code == 303 and response.headers["location"] == f"/appeals/{REF}"
    page = sue.get(f"/appeals/{REF}").text
    assert "Outcome recorded: refusal upheld." in page and "kept scraping" in page
    assert f'href="/appeals/{REF}"' in sue.get("/appeals").text
    (entry,) = [e for e in audit_entries(harness.db) if e.entity == "appeal"]
    assert (entry.actor, entry.action, entry.entity_id) == ("sue", "appeal.outcome", REF)
    assert entry.at == datetime.fromtimestamp(harness.clock.now, UTC)
    bad = sue.post(f"/appeals/{REF}/outcome", {"outcome": "forgiven"})
    assert bad.status_code == 400 and "is not an outcome" in bad.text
    network = sue.post(f"/appeals/{REF}/outcome", {"outcome": "no action needed",
                                                   "note": "from 2001:db8::/64"})
    assert network.status_code == 400 and "the audit log keeps no clear address" in network.text


def test_a_viewer_may_not_look_up_nor_resolve_an_appeal(harness: ConsoleHarness) -> None:
    seed_refusal(harness.db, harness.clock.now - 300)
    vic = harness.client("vic")
    assert vic.get(f"/appeals/{REF}").status_code == 403
    assert vic.post(f"/appeals/{REF}/outcome", {"outcome": "no action needed"}).status_code == 403
    assert [e for e in audit_entries(harness.db) if e.entity == "appeal"] == []


def test_without_the_guards_store_nothing_can_be_lifted(harness: ConsoleHarness) -> None:
    seed_refusal(harness.db, harness.clock.now - 300)
    response = harness.client("sue").post(f"/appeals/{REF}/lift", {"note": ""})
    assert response.status_code == 400 and "not connected to the guard&#39;s store" in response.text


def store_harness(team_db: Database) -> tuple[ConsoleHarness, MemoryStore]:
    store = MemoryStore(10_000, 10_000)
    return make_harness(team_db, store=store), store


def test_lifting_and_allowlisting_change_the_store_and_record_the_outcome(team_db: Database) -> None:
    harness, store = store_harness(team_db)
    now = harness.clock.now
    decision = seed_refusal(harness.db, now - 300)
    reasons = tuple(r.as_tuple() for r in decision.reasons)
    store.hold(now, "account:42", "throttle", now + 600, REF, reasons)
    store.hold(now, f"ip:{OFFICE}", "throttle", now + 600, "sg-0000000000b1", reasons)
    sue = harness.client("sue")
    page = sue.get(f"/appeals/{REF}").text
    assert page.count('<span class="badge bad">throttle</span>') == 2
    lifted = sue.post(f"/appeals/{REF}/lift", {"key": "account:42", "note": "new recruiter"})
    assert lifted.status_code == 303, lifted.text
    assert {p.key for p in store.penalties(now)} == {f"ip:{OFFICE}"}  # the office's own stays
    assert "Penalty lifted (account 42)" in sue.get(f"/appeals/{REF}").text
    again = sue.post(f"/appeals/{REF}/lift", {"key": "account:42"})
    assert again.status_code == 400 and "nothing to lift" in again.text
    outside = sue.post(f"/appeals/{REF}/lift", {"key": "account:77"})
    assert outside.status_code == 400 and "is not a key of the refusal" in outside.text

    too_long = sue.post(f"/appeals/{REF}/allowlist", {"which": "account", "amount": "91", "unit": "days"})
    assert too_long.status_code == 400 and "at most 90 days" in too_long.text
    allowed = sue.post(f"/appeals/{REF}/allowlist", {"which": "account", "amount": "7", "unit": "days",
                                                     "note": "recruiter, verified by phone"})
    assert allowed.status_code == 303, allowed.text
    assert dict(store.pardons(now)) == {"account:42": now + 7 * 86400}
    network = sue.post(f"/appeals/{REF}/allowlist", {"which": "net", "amount": "12", "unit": "hours",
                                                     "note": "the whole office, this week"})
    assert network.status_code == 303, network.text
    assert dict(store.pardons(now))["net:203.0.113.0/24"] == now + 12 * 3600
    page = sue.get(f"/appeals/{REF}").text
    assert "penalty lifted" in page and "allowlisted" in page
    entries = audit_entries(harness.db)
    outcomes = [e for e in entries if e.entity == "appeal"]
    assert [e.action for e in outcomes] == ["appeal.outcome"] * 3
    assert all("203.0.113" not in f"{e.entity_id} {e.details}" for e in entries)


def test_a_network_cannot_be_allowlisted_once_the_guard_forgot_the_address(team_db: Database) -> None:
    harness, store = store_harness(team_db)
    seed_refusal(harness.db, harness.clock.now - 300)
    response = harness.client("sue").post(f"/appeals/{REF}/allowlist",
                                          {"which": "net", "amount": "1", "unit": "days"})
    assert response.status_code == 400 and "its network cannot be named" in response.text
    assert store.pardons(harness.clock.now) == []
