"""Support's main path, in a real browser: a person behind a shared office address is throttled by
the guard; support types the reference the refusal page gave them, reads why in words, lifts the
penalty, allowlists the account for 7 days and records the outcome; the guard then serves the
person, and the audit log has it all without a clear address."""

from __future__ import annotations

import json

from sqlalchemy import select

from scrapeguard.decisions import ALLOW, THROTTLE, Decision
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.routes import RouteMap
from scrapeguard.stores.memory import MemoryStore

from .conftest import LiveConsole  # type: ignore[import-not-found]
from .helpers import browser_page, make_harness, screenshot, sign_in_browser  # type: ignore[import-not-found]

OFFICE = "203.0.113.7"
T0 = 1_796_000_000.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PAUSES = (0.6, 1.4, 0.8, 1.2, 1.0)


class Visitor:
    """One person's browser at the office: member pages and the stylesheet each loads."""

    def __init__(self, engine: Engine, account: str | None, session: str | None, created: float | None,
                 start: float) -> None:
        self.engine, self.routes = engine, RouteMap(engine.policy.routes)
        self.account, self.session, self.created = account, session, created
        self.now, self.views = start, 0

    def view(self, member: int) -> Decision:
        self.now += 4 * PAUSES[self.views % len(PAUSES)]
        self.views += 1
        path = f"/u/m{(member * 2654435761) % 2**32:08x}"
        decision = self.event(path)
        self.event("/static/site.css", 0.01)
        return decision

    def event(self, path: str, after: float = 0.0) -> Decision:
        return self.engine.decide(Event(ts=self.now + after, ip=OFFICE, path=path,
                                        route=self.routes.match(path), account=self.account,
                                        account_created=self.created, session=self.session,
                                        user_agent=BROWSER))


def test_support_resolves_an_appeal_from_a_reference(team_db: Database) -> None:
    store = MemoryStore(10_000, 10_000)
    engine = Engine(default_policy(), store)
    refusals: list[Decision] = []
    # a colleague browses anonymously from the office address until it is throttled...
    colleague = Visitor(engine, None, None, None, T0)
    refusals += [d for d in (colleague.view(i) for i in range(70)) if d.refused]
    assert refusals and all(d.keys.get("ip") == OFFICE for d in refusals)
    # ...and a new recruiter (an account two days old) goes past the young accounts' hourly quota
    person = Visitor(engine, "42", "s-42", T0 - 2 * 86400, colleague.now)
    mine = [d for d in (person.view(1000 + i) for i in range(32)) if d.refused]
    assert mine and mine[0].action == THROTTLE and mine[0].keys["account"] == "42"
    refusals += mine
    reference = mine[0].id
    with team_db.session() as s:
        pseudonymiser = Pseudonymiser(team_db.record_keys(s).pseudonym)
        add_decisions(s, [decision_record(d, pseudonymiser) for d in refusals])
    assert person.view(2000).refused  # still refused before support acts
    harness = make_harness(team_db, store=store)
    harness.clock.now = person.now
    live = LiveConsole(harness)
    try:
        with browser_page(live.url) as page:
            sign_in_browser(page, "sue")
            page.wait_for_url("**/appeals")
            page.get_by_label("Reference").fill(reference.upper())
            page.get_by_role("button", name="Look up").click()
            page.wait_for_url(f"**/appeals/{reference}")
            page.get_by_role("heading", name=f"Appeal {reference}").wait_for()
            why = page.locator("section", has=page.get_by_role("heading", name="Why"))
            assert "Profile quotas" in why.inner_text()
            assert "profiles" in why.inner_text()
            assert OFFICE not in page.content()
            screenshot(page, "appeal")

            page.get_by_label("Penalty to lift").select_option(label="the account 42 (throttle)")
            page.get_by_label("Note (lift)").fill("new recruiter, verified by phone")
            page.get_by_role("button", name="Lift the penalty").click()
            page.get_by_text("Penalty lifted (account 42)").wait_for()

            page.get_by_label("For how long (allowlist the account)").fill("7")
            page.get_by_label("Unit (allowlist the account)").select_option("days")
            page.get_by_label("Note (allowlist the account)").fill("recruiting week")
            page.get_by_role("button", name="Allowlist the account").click()
            page.get_by_text("Allowlisted the account 42 until").wait_for()

            page.get_by_label("Outcome", exact=True).select_option("allowlisted")
            page.get_by_label("Note (outcome)").fill("replied to the member by e-mail")
            page.get_by_role("button", name="Record the outcome").click()
            page.get_by_text("Outcome recorded: allowlisted.").wait_for()

            page.get_by_role("link", name="Appeals", exact=True).first.click()
            page.wait_for_url("**/appeals")
            page.get_by_role("cell", name="replied to the member by e-mail").wait_for()
            screenshot(page, "appeals")
    finally:
        live.close()

    # the guard serves the person now (the account is allowlisted for 7 days), on the office address
    assert person.view(2001).action == ALLOW
    person.now += 6 * 86400
    assert person.view(2002).action == ALLOW
    with team_db.session() as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())
    appeal = [(e.actor, e.action, json.loads(e.details)["outcome"]) for e in entries if e.entity == "appeal"]
    assert appeal == [("sue", "appeal.outcome", "penalty lifted"), ("sue", "appeal.outcome", "allowlisted"),
                      ("sue", "appeal.outcome", "allowlisted")]
    assert any(e.actor == "sue" and e.entity != "appeal" for e in entries)  # the store actions themselves
    assert all("203.0.113" not in f"{e.entity_id} {e.details}" for e in entries)
