"""flood: paces no person produces, judged on every route (not only member data).

Two rules, each about requests a person's browser never makes at that pace:

- pages: more than N distinct paths (static files aside, query strings
  aside) within a few seconds from one client: an aggressive crawl, or a
  flood of made-up URLs. Member data has its quotas and sweep rules, so
  only the other routes count here. A reader opens a few pages a minute; even a single
  page application loading its data asks for the same few endpoints again.
  Only the requests over the limit are refused: the window slides, so a
  crawler that slows down to a reader's pace is served again.
- user agents: more than N user agents from one address within a minute,
  each seen on one request only, while not one static file was loaded from
  that address, among requests with no account, no session the site issued
  and (live) no cookie at all: a tool switching its user agent on every
  request. People sharing an address (an office, a carrier's NAT) keep their
  browser's user agent, come back for another page, carry the site's cookies
  when they return, and someone among them is always loading a page's
  stylesheets and images. In logs without cookies, many slow readers behind
  one address with warm caches, each reading one page a minute, look alike:
  name the session cookie in the log format where that matters.

The client is the account when logged in, else the browser session the site
issued, else the address (`windows.actor`). Verified search engine crawlers
are not refused (the engine asks the detectors' exemptions before refusing a
request off the member-data routes).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct, history
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import actor
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import MEMBER_DATA_KINDS, is_static
from scrapeguard.stores.base import CountRequest, HistoryRequest, StateStore, StoreRequest, Window

#: Name of the distinct set of paths a client asked for.
PAGES = "flood.pages"
#: Name of an address's history of cookie-less requests: "a" (static file) or "p" (anything else)
#: followed by a short hash of the user agent.
AGENTS = "flood.agents"
#: Requests remembered per address for the user-agent rule (the policy's limit must fit in it).
KEEP = 48


@lru_cache(maxsize=4096)
def _agent_hash(user_agent: str) -> str:
    return format(zlib.crc32(user_agent.encode("utf-8", "surrogateescape")), "08x")


def agent_entry(event: Event, static: bool) -> str:
    """A history entry: "a" (static file) or "p" (anything else), then a short hash of the user agent."""
    return ("a" if static else "p") + _agent_hash(event.user_agent)


def one_shot_agents(entries: list[tuple[float, str]], since: float) -> int:
    """User agents seen on exactly one request since `since`; none if any request since then was
    for a static file (browsers, people's, load them: an address where one does is not a tool's)."""
    seen: dict[str, int] = {}
    for ts, value in entries:
        if ts < since:
            continue
        if value[0] == "a":
            return 0
        agent = value[1:]
        seen[agent] = seen.get(agent, 0) + 1
    return sum(1 for n in seen.values() if n == 1)


@dataclass(frozen=True, slots=True)
@table("detectors.flood")
class FloodOptions:
    """Paces no person produces, on any route."""

    enabled: bool = option("Whether the detector runs.")
    pages: int = option("Distinct paths one client may ask for within pages_seconds.", lo=2)
    pages_seconds: float = option("The window of the pages rule.", lo=1, hi=3600)
    pages_score: float = option("Risk score of a request over the pages limit.", lo=0, hi=1)
    # an address's history keeps KEEP requests: the limit, and some repeated agents, must fit in it
    user_agents: int = option("One-request user agents from one address within user_agents_seconds.",
                              lo=2, hi=KEEP - 8)
    user_agents_seconds: float = option("The window of the user-agents rule.", lo=1, hi=3600)
    user_agents_score: float = option("Risk score of a tool switching its user agent.", lo=0, hi=1)

    def counted_per_key(self) -> tuple[int, ...]:
        return (self.pages,) if self.enabled else ()


class Flood(Detector):
    name = "flood"
    options_class = FloodOptions
    plans_every_route = True

    def __init__(self, options: FloodOptions) -> None:
        self.options = options
        self._pages = (Window(options.pages_seconds, options.pages),)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Flood | None:
        options = policy.options(FloodOptions)
        return cls(options) if options.enabled else None

    def judges(self, event: Event) -> bool:
        return not is_static(event.path, event.route.kind)  # a static file is recorded, never refused

    @staticmethod
    def _cookieless(event: Event) -> bool:
        """Neither an account nor an issued session, and (live) no cookie at all: returning
        visitors carry the site's cookies; a tool that switches user agents keeps none."""
        if event.ip is None or event.account is not None:
            return False
        if event.session is not None and event.session_issued:
            return False
        return event.headers is None or "cookie" not in event.headers

    def plan(self, event: Event) -> list[StoreRequest]:
        static = is_static(event.path, event.route.kind)
        requests: list[StoreRequest] = []
        if not static and event.route.kind not in MEMBER_DATA_KINDS and self.options.pages_score > 0:
            who = actor(event)
            if who is not None:
                requests.append(CountRequest(who[0], PAGES, event.path, self._pages))
        if self._cookieless(event) and self.options.user_agents_score > 0:
            requests.append(HistoryRequest(f"ip:{event.ip}", AGENTS, agent_entry(event, static), KEEP,
                                           self.options.user_agents_seconds))
        return requests

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        signals: list[Signal] = []
        o = self.options
        who = actor(event)
        pages = distinct(counted, who[0], PAGES) if who is not None else None
        if who is not None and pages is not None and not pages.admitted:
            signals.append(Signal(
                self.name, who[0], o.pages_score,
                f"{who[1]} asked for more than {o.pages} distinct pages within "
                f"{o.pages_seconds:g} seconds: a crawl at a pace no reader keeps",
                {"pages": pages.counts[0] + 1, "limit": o.pages, "seconds": o.pages_seconds}))
        if self._cookieless(event):
            past = history(counted, f"ip:{event.ip}", AGENTS)
            # (with no more requests in the window than the limit, no more user agents either)
            if past is not None and len(past.entries) >= o.user_agents:
                static = is_static(event.path, event.route.kind)
                entries = [*past.entries, (event.ts, agent_entry(event, static))]
                agents = one_shot_agents(entries, event.ts - o.user_agents_seconds)
                if agents > o.user_agents and not static:
                    signals.append(Signal(
                        self.name, f"ip:{event.ip}", o.user_agents_score,
                        f"{agents} different user agents from one address within "
                        f"{o.user_agents_seconds:g} seconds, each on a single request without its "
                        "page's files: a tool switching its user agent",
                        {"user_agents": agents, "limit": o.user_agents, "seconds": o.user_agents_seconds}))
        return signals

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Flood detection in words, from the policy (what the regulator report says of it)."""
        o = policy.flood
        limits = "refuses paces no person produces, on every route."
        serves: tuple[Expectation, ...] = ("bot_patterns",)
        if not o.enabled:
            return ControlDescription(cls.name, "Floods", False, limits, serves=serves, refuses=False)
        rules = (f"More than {o.pages} distinct pages within {o.pages_seconds:g} seconds from one client: "
                 f"{outcome(policy, o.pages_score)}.",
                 f"More than {o.user_agents} user agents from one address within {o.user_agents_seconds:g} "
                 f"seconds, each used once and without cookies: {outcome(policy, o.user_agents_score)}.")
        return ControlDescription(cls.name, "Floods", True, limits, rules, serves,
                                  refuses=refused_alone(policy, max(o.pages_score, o.user_agents_score)))
