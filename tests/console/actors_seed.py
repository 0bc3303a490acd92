"""A sweep through a real Engine on the harness's store, its decisions and exposure recorded in the
records as the guard's sink writes them: the Actors pages' test data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapeguard.decisions import ALLOW, Decision
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.exposure import write_exposure
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.routes import RouteMap
from scrapeguard.stores import StateStore

SCRAPER = "203.0.113.7"
PAUSES = (0.6, 1.4, 0.8, 1.2, 1.0)
CATEGORIES = ["user.name", "user.profile.photo"]


@dataclass
class Sweep:
    engine: Engine
    pseudonym: str
    decisions: list[Decision]
    last_ts: float

    def request(self, ts: float, path: str = "/u/member005", ip: str = SCRAPER) -> Decision:
        """A request of the sweeper's (by default a profile it has seen: its quota does not refuse it)."""
        routes = RouteMap(self.engine.policy.routes)
        return self.engine.decide(Event(ts=ts, ip=ip, path=path, route=routes.match(path),
                                        user_agent="Mozilla/5.0"))


def sweep(db: Database, store: StateStore, start: float, profiles: int = 80, ip: str = SCRAPER) -> Sweep:
    """An anonymous client views `profiles` member pages (and their stylesheet, as a browser does)
    from `start`: the guard throttles it after 60, then blocks it. Its refusals and what it received
    are recorded, pseudonymised."""
    engine = Engine(default_policy(), store=store)
    routes = RouteMap(engine.policy.routes)
    pseudonymiser = Pseudonymiser(db.record_keys().pseudonym)
    ts = start
    made: list[Decision] = []
    refusals: list[dict[str, Any]] = []
    exposure: list[dict[str, Any]] = []
    for i in range(profiles):
        ts += PAUSES[i % len(PAUSES)]
        path = f"/u/member{i:03d}"
        event = Event(ts=ts, ip=ip, path=path, route=routes.match(path), user_agent="Mozilla/5.0")
        decision = engine.decide(event)
        css = "/static/site.css"
        engine.decide(Event(ts=ts + 0.01, ip=ip, path=css, route=routes.match(css), user_agent="Mozilla/5.0"))
        made.append(decision)
        if decision.action == ALLOW:
            exposure.append({"type": "exposure", "ts": ts, "actors": [pseudonymiser.key("ip", ip)],
                             "member": f"username:member{i:03d}", "route": "/u/{username}",
                             "categories": CATEGORIES, "source": "live"})
        else:
            refusals.append(decision_record(decision, pseudonymiser))
    with db.session() as session:
        add_decisions(session, refusals)
        write_exposure(session, exposure)
    return Sweep(engine, pseudonymiser.key("ip", ip), made, ts)
