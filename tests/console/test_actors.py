"""The Actors pages: the top actors and what the store holds now, an actor's timeline, and the actions
(block, unblock, allowlist, annotate) changing the guard's store and the audit log at once."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from scrapeguard.decisions import ALLOW, BLOCK
from scrapeguard.records import actor_actions
from scrapeguard.records.db import Database
from scrapeguard.records.models import AuditEntry
from scrapeguard.stores import MemoryStore

from .actors_seed import SCRAPER, Sweep, sweep  # type: ignore[import-not-found]
from .helpers import ConsoleHarness, make_harness  # type: ignore[import-not-found]


def setup(team_db: Database) -> tuple[ConsoleHarness, MemoryStore, Sweep]:
    store = MemoryStore()
    harness = make_harness(team_db, store=store)
    swept = sweep(team_db, store, harness.clock.now - 600)
    assert swept.decisions[-1].action == BLOCK
    return harness, store, swept


def audit_rows(db: Database) -> list[tuple[str, str, str, str]]:
    with db.session() as s:
        return [(e.actor, e.action, e.entity_id, e.details)
                for e in s.execute(select(AuditEntry).where(AuditEntry.entity == "actor")).scalars()]


def path(actor: str) -> str:
    return "/actors/" + quote(actor, safe=":")


def test_the_actors_page_shows_the_sweep_and_the_block_in_force(team_db: Database) -> None:
    harness, _, swept = setup(team_db)
    page = harness.client("vic").get("/actors")
    assert page.status_code == 200
    assert swept.pseudonym in page.text and SCRAPER not in page.text
    assert "Top actors, last 24 hours" in page.text
    assert ">block<" in page.text  # the block in force, listed from the store
    assert 'class="badge good">ok<' in page.text
    actor = harness.client("vic").get(path(swept.pseudonym))
    assert actor.status_code == 200
    # every reason, in words: the alphabetical sweep, then the escalation to a block
    assert "20 member names in alphabetical order" in actor.text and "escalated to a block" in actor.text
    assert "member018" in actor.text and "user.profile.photo" in actor.text  # members reached
    assert "until" in actor.text and SCRAPER not in actor.text
    assert 'action="/actors/' not in actor.text  # a viewer is offered no action


def test_a_clear_address_in_the_path_is_shown_as_its_pseudonym(team_db: Database) -> None:
    harness, _, swept = setup(team_db)
    response = harness.client("ana").get(f"/actors/ip:{SCRAPER}")
    assert response.status_code == 303 and response.headers["location"] == path(swept.pseudonym)
    assert harness.client("ana").get("/actors/no-such-key").status_code == 404


def test_unblock_lifts_the_block_in_the_store_and_is_audited(team_db: Database) -> None:
    harness, store, swept = setup(team_db)
    now = harness.clock.now
    assert swept.request(now).action == BLOCK
    client = harness.client("ana")
    response = client.post(path(swept.pseudonym) + "/unblock", {"note": "a researcher, agreed by mail"})
    assert response.status_code == 303, response.text
    assert "Unblocked" in client.get(response.headers["location"]).text
    assert store.penalties(now) == []
    assert swept.request(now + 1).action == ALLOW
    [(who, action, entity_id, details)] = audit_rows(team_db)
    assert (who, action, entity_id) == ("ana", actor_actions.UNBLOCKED, swept.pseudonym)
    assert SCRAPER not in details and "a researcher" in details


def test_block_writes_the_block_to_the_store(team_db: Database) -> None:
    harness, store, swept = setup(team_db)
    now = harness.clock.now
    client = harness.client("ana")
    client.post(path(swept.pseudonym) + "/unblock", {})
    assert swept.request(now).action == ALLOW
    # the store holds nothing about it any more, so its address is typed (and checked)
    response = client.post(path(swept.pseudonym) + "/block", {"minutes": "1440", "note": "back again",
                                                             "address": SCRAPER})
    assert response.status_code == 303, response.text
    assert swept.request(now + 1).action == BLOCK
    [penalty] = store.penalties(now)
    assert (penalty.key, penalty.until) == (f"ip:{SCRAPER}", now + 86400)
    assert [a for _, a, _, _ in audit_rows(team_db)] == [actor_actions.UNBLOCKED, actor_actions.BLOCKED]


def test_an_address_the_store_does_not_know_must_be_typed_and_match(team_db: Database) -> None:
    harness, store, _ = setup(team_db)
    client = harness.client("ana")
    other = actor_actions.Pseudonymiser(team_db.record_keys().pseudonym).key("ip", "192.0.2.55")
    refused = client.post(path(other) + "/block", {"minutes": "60", "note": "x"})
    assert refused.status_code == 400 and "type the address" in refused.text
    wrong = client.post(path(other) + "/block", {"minutes": "60", "note": "x", "address": "192.0.2.56"})
    assert wrong.status_code == 400 and "is not the address of" in wrong.text
    ok = client.post(path(other) + "/block", {"minutes": "60", "note": "x", "address": "192.0.2.55"})
    assert ok.status_code == 303
    assert {p.key for p in store.penalties(harness.clock.now)} == {f"ip:{SCRAPER}", "ip:192.0.2.55"}


def test_allowlist_by_support_and_analyst(team_db: Database) -> None:
    harness, store, swept = setup(team_db)
    now = harness.clock.now
    response = harness.client("sue").post(path(swept.pseudonym) + "/allowlist",
                                          {"duration": "0.5", "unit": "hours", "note": "appeal: a person"})
    # (support may not read the actor's page: back to the appeals)
    assert response.status_code == 303 and response.headers["location"] == "/appeals"
    assert store.pardons(now) == [(f"ip:{SCRAPER}", now + 1800)]
    assert swept.request(now + 1, "/u/someone-new").action == ALLOW  # blocked, but allowlisted: served
    assert swept.request(now + 1800).action == BLOCK  # the block (1 h, still in force) applies again
    too_long = harness.client("ana").post(path(swept.pseudonym) + "/allowlist",
                                          {"duration": "91", "unit": "days", "note": "x"})
    assert too_long.status_code == 400 and "at most 90 days" in too_long.text
    session_key = harness.client("ana").post("/actors/session:abc/allowlist",
                                             {"duration": "1", "unit": "days", "note": "x"})
    assert session_key.status_code == 400 and "cannot be acted on" in session_key.text


def test_annotate_adds_a_note_to_the_timeline(team_db: Database) -> None:
    harness, _, swept = setup(team_db)
    client = harness.client("ana")
    response = client.post(path(swept.pseudonym) + "/annotate",
                           {"note": f"also seen as {SCRAPER} on the forum"})
    assert response.status_code == 303
    page = client.get(path(swept.pseudonym)).text
    assert "also seen as ip:p-" in page and SCRAPER not in page
    [(_, action, _, details)] = audit_rows(team_db)
    assert action == actor_actions.NOTED and SCRAPER not in details


def test_a_viewers_posts_are_refused_and_change_nothing(team_db: Database) -> None:
    harness, store, swept = setup(team_db)
    now = harness.clock.now
    before = store.penalties(now)
    viewer = harness.client("vic")
    for action, form in (("block", {"minutes": "60", "note": "x"}), ("unblock", {"note": "x"}),
                         ("allowlist", {"duration": "1", "unit": "days", "note": "x"}),
                         ("annotate", {"note": "x"})):
        assert viewer.post(path(swept.pseudonym) + f"/{action}", form).status_code == 403
    support = harness.client("sue")
    assert support.post(path(swept.pseudonym) + "/unblock", {"note": "x"}).status_code == 403
    assert store.penalties(now) == before and store.pardons(now) == []
    assert swept.request(now).action == BLOCK
    assert audit_rows(team_db) == []


def test_without_a_store_the_pages_say_so_and_actions_are_refused(harness: ConsoleHarness) -> None:
    client = harness.client("ana")
    assert "not connected" in client.get("/actors").text
    response = client.post("/actors/account:42/block", {"minutes": "60", "note": "x"})
    assert response.status_code == 400 and "not connected to the guard&#39;s store (--store)" in response.text


def test_the_look_up_form_opens_an_actor_by_address_network_or_key(team_db: Database) -> None:
    harness, _, swept = setup(team_db)
    client = harness.client("vic")  # a look-up only: viewers may
    form = client.get("/actors").text
    assert 'action="/actors/look-up"' in form and 'method="post"' in form  # no address in a URL

    def look_up(typed: str) -> Any:
        return client.post("/actors/look-up", {"key": typed})

    for typed in (SCRAPER, f" ip:{SCRAPER} ", swept.pseudonym):
        response = look_up(typed)
        assert response.status_code == 303 and response.headers["location"] == path(swept.pseudonym)
    # a network has a "/" (which a path cannot carry): typed in the form it is found, as the guard
    # counts networks (an address in it, or a narrower prefix, is the same /24)
    network = SCRAPER.rsplit(".", 1)[0] + ".0/24"
    pseudonyms = set()
    for typed in (network, f"net:{SCRAPER}", SCRAPER.rsplit(".", 1)[0] + ".128/25"):
        response = look_up(typed)
        assert response.status_code == 303
        pseudonyms.add(response.headers["location"])
    assert len(pseudonyms) == 1 and next(iter(pseudonyms)).startswith("/actors/net:p-")
    assert network not in next(iter(pseudonyms))
    assert client.get(next(iter(pseudonyms))).status_code == 200
    assert look_up("account:42").headers["location"] == "/actors/account:42"
    wrong = look_up("not an address")
    assert wrong.status_code == 400 and "is not an address" in wrong.text
    wide = look_up("203.0.0.0/16")  # many actors, not one: said so, not narrowed silently
    assert wide.status_code == 400 and "wider than the networks the guard counts" in wide.text
    assert client.post("/actors/look-up", {"key": SCRAPER}, csrf=False).status_code == 403


def test_looked_up_keys_are_the_guard_s_keys() -> None:
    from scrapeguard.console.actors import looked_up_key

    assert looked_up_key("203.0.113.7") == "ip:203.0.113.7"
    assert looked_up_key("::ffff:203.0.113.7") == "ip:203.0.113.7"  # as the guard reads a client
    assert looked_up_key("2001:db8::1/64") == "net:2001:db8::/64"
    assert looked_up_key("2001:db8::1/80") == "net:2001:db8::/64"
    assert looked_up_key("net:2001:db8::5") == "net:2001:db8::/64"
    for wrong in ("ip:203.0.113.0/24", "account:", ":42", "net:nowhere", "203.0.113.256"):
        with pytest.raises(ValueError, match="is not an address"):
            looked_up_key(wrong)
    assert looked_up_key("::ffff:203.0.113.0/120") == "net:203.0.113.0/24"  # an IPv4 /24, mapped
    for wide in ("203.0.0.0/16", "2001:db8::/32", "net:2001:db8::/48", "::ffff:0:0/96",
                 "::ffff:203.0.0.0/112"):
        with pytest.raises(ValueError, match="wider than the networks the guard counts"):
            looked_up_key(wide)
