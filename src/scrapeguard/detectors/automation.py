"""automation: bot patterns in how a client's requests arrive.

Three patterns, each raised only on requests for member data:

- machine-regular timing: the last N page requests came at near-equal
  intervals (variation = standard deviation / mean below a bound). People
  pause to read, scroll and think; a script's sleep(2) ticks.
- pages without assets: many HTML pages in the last hour and not one
  stylesheet, script or image. Browsers load them; HTTP libraries do not.
  Browsers with warm caches load fewer, so this stays weak on its own.
- missing browser headers: a user agent naming a mainstream browser, without
  the Accept-Language or Accept-Encoding every such browser sends (live
  traffic only: logs do not keep request headers).

A client is the account when logged in, else its browser session when the
site issued it, else the client IP. Its recent requests are a store history of one letter each:
"p" page, "a" asset, "o" other (API calls, robots.txt...).
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct, history
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import HOUR, actor
from scrapeguard.events import Event
from scrapeguard.intel.crawlers import BROWSER, classify
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import ASSET, CONTACT_LOOKUP, LISTING, MEMBER_DATA_KINDS, PAGE, PROFILE
from scrapeguard.stores.base import (
    NO_ESCALATION,
    UNLIMITED,
    CountRequest,
    History,
    HistoryRequest,
    StateStore,
    StoreRequest,
    Window,
)

HISTORY = "requests"
KEEP = 64
#: A set of at most two members per client, each kept for an hour since last seen: "a" when it
#: loaded any asset, "p" when it was asked whether it did. Its history (KEEP entries) may be all
#: pages long after a browser with a warm cache loaded the page's files (a directory's thumbnails
#: are the profiles' pictures): whether any asset came within the hour is asked here.
ASSETS = "assets"
_HOUR_UNLIMITED = (Window(HOUR, UNLIMITED),)
MEMBER_DATA = MEMBER_DATA_KINDS
#: Timing only judges clients that ask at least this often: a person reading one profile a minute
#: for an hour is not a script, however steady.
MAX_MEAN_INTERVAL = 60.0
#: Mainstream browsers as they name themselves (the checks below apply to these only).
CLAIMS_BROWSER = re.compile(r"^Mozilla/5\.0 .*(Chrome|Firefox|Safari|Edg)/\d+")
PAGE_KINDS = frozenset({PROFILE, LISTING, PAGE, CONTACT_LOOKUP})


def request_kind(event: Event) -> str:
    """"a" asset, "p" HTML page, "r" robots.txt, "o" anything else (API calls, feeds)."""
    kind = event.route.kind
    if kind == ASSET:
        return "a"
    if event.path == "/robots.txt":
        return "r"
    if kind not in PAGE_KINDS:
        return "o"
    if event.headers is not None:  # live: an API client says it wants JSON; anything else is a page
        accept = event.headers.get("accept", "").lower()
        if "json" in accept and "html" not in accept:
            return "o"
    return "p"  # (HTTP libraries send "*/*" or nothing; log lines: a page, as far as anyone can tell)


@dataclass(frozen=True, slots=True)
@table("detectors.automation")
class AutomationOptions:
    enabled: bool = option("Whether the detector runs.")
    regular_requests: int = option("Requests whose intervals are judged for machine-regular timing.",
                                   lo=4, hi=64)
    regular_variation: float = option("Variation (standard deviation / mean) below which timing is "
                                      "machine-regular.", lo=0, hi=1)
    regular_score: float = option("Risk score of machine-regular timing.", lo=0, hi=1)
    no_assets_pages: int = option("HTML pages within the hour without one static file.", lo=2, hi=64)
    no_assets_score: float = option("Risk score of pages without assets.", lo=0, hi=1)
    headers_score: float = option("Risk score of a browser claim without a browser's headers.", lo=0, hi=1)


class Automation(Detector):
    name = "automation"
    options_class = AutomationOptions
    plans_every_route = True

    def __init__(self, options: AutomationOptions) -> None:
        self.options = options

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Automation | None:
        options = policy.options(AutomationOptions)
        return cls(options) if options.enabled else None

    def _who(self, event: Event) -> tuple[str, str] | None:
        return actor(event)

    def _judged(self, event: Event) -> list[tuple[str, str]]:
        """Whose histories this request goes into: the client's and, for a browser session, its
        address's too, so that a script that throws its session away now and then is still seen
        by its address (an office's many browsers together look like no script)."""
        who = self._who(event)
        if who is None:
            return []
        if who[0].startswith("session:") and event.ip:
            return [who, (f"ip:{event.ip}", "anonymous visitor")]
        return [who]

    def plan(self, event: Event) -> list[StoreRequest]:
        kind = request_kind(event)
        judged = self._judged(event)
        requests: list[StoreRequest] = [HistoryRequest(key, HISTORY, kind, KEEP, HOUR) for key, _ in judged]
        if kind == "a":  # (asked only when a client's history shows no asset: see _loaded_assets)
            requests += [CountRequest(key, ASSETS, "a", _HOUR_UNLIMITED) for key, _ in judged]
        return requests

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        if event.route.kind not in MEMBER_DATA:
            return []
        signals = []
        for who in self._judged(event):
            past = history(counted, who[0], HISTORY)
            if past is not None:
                signals += self._judge(who, past, event, store)
        missing = self._missing_headers(event)
        client_who = self._who(event)
        if missing and self.options.headers_score > 0 and client_who is not None:
            signals.append(Signal(self.name, client_who[0], self.options.headers_score,
                                  f"claims to be a web browser but sends no {' or '.join(missing)}",
                                  {"missing": missing}))
        return signals

    def _judge(self, who: tuple[str, str], past: History, event: Event, store: StateStore) -> list[Signal]:
        kind = request_kind(event)
        entries = [*past.entries, (event.ts, kind)]
        signals = []
        o = self.options
        timing = self._regular(entries)
        if timing is not None and o.regular_score > 0:
            mean, spread = timing
            signals.append(Signal(self.name, who[0], o.regular_score,
                                  f"{who[1]}'s last {o.regular_requests} requests came every {mean:.1f} s "
                                  f"(± {spread:.2f} s): machine-regular timing",
                                  {"mean_interval": round(mean, 3), "stdev": round(spread, 3)}))
        pages = sum(1 for _, k in entries if k == "p")
        if pages >= o.no_assets_pages and o.no_assets_score > 0 \
                and not any(k == "a" for _, k in entries) and not self._loaded_assets(who[0], event, store):
            signals.append(Signal(self.name, who[0], o.no_assets_score,
                                  f"{who[1]} asked for {pages} pages in the last hour and not one "
                                  "stylesheet, script or image", {"pages": pages, "assets": 0}))
        return signals

    @staticmethod
    def _loaded_assets(key: str, event: Event, store: StateStore) -> bool:
        """Whether the client loaded any asset within the hour, beyond what its history still holds
        (a second store call, made only when the history shows pages and no asset)."""
        asked = [CountRequest(key, ASSETS, "p", _HOUR_UNLIMITED)]
        seen = store.observe(event.ts, [], asked, NO_ESCALATION, "")
        markers = distinct(seen.counted, key, ASSETS)
        return markers is not None and markers.counts[0] > 1  # {"p"} alone: no asset within the hour

    def _regular(self, entries: list[tuple[float, str]]) -> tuple[float, float] | None:
        n = self.options.regular_requests
        times = [t for t, k in entries if k != "a"][-n:]
        if len(times) < n:
            return None
        gaps = [b - a for a, b in itertools.pairwise(times)]
        mean = statistics.fmean(gaps)
        if mean <= 0 or mean > MAX_MEAN_INTERVAL:
            return None
        spread = statistics.pstdev(gaps)
        return (mean, spread) if spread / mean < self.options.regular_variation else None

    @staticmethod
    def _missing_headers(event: Event) -> list[str]:
        if event.headers is None or not CLAIMS_BROWSER.match(event.user_agent):
            return []
        if classify(event.user_agent).kind != BROWSER:
            return []  # declared bots are bot_agents' business
        return [name.title() for name in ("accept-language", "accept-encoding") if name not in event.headers]

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Bot-pattern detection in words, from the policy (what the regulator report says of it)."""
        from scrapeguard.risk import BOT_EVIDENCE

        o = policy.automation
        bot = cls.name in BOT_EVIDENCE
        limits = "detects requests that arrive the way scripts send them, not the way browsers do."
        serves: tuple[Expectation, ...] = ("bot_patterns",)
        if not o.enabled:
            return ControlDescription(cls.name, "Automation patterns", False, limits, serves=serves,
                                      refuses=False)
        rules = (
            f"{o.regular_requests} page requests at near-equal intervals (variation under "
            f"{o.regular_variation:.0%}): {outcome(policy, o.regular_score, bot)}.",
            f"{o.no_assets_pages} pages within an hour without one stylesheet, script or image: "
            f"{outcome(policy, o.no_assets_score, bot)}.",
            "A mainstream browser's user agent without the headers every such browser sends: "
            f"{outcome(policy, o.headers_score, bot)}.",
        )
        strongest = max(o.regular_score, o.no_assets_score, o.headers_score)
        return ControlDescription(cls.name, "Automation patterns", True, limits, rules, serves,
                                  refuses=refused_alone(policy, strongest, bot))
