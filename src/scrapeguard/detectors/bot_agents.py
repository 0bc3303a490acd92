"""bot_agents: who the user agent says it is, and whether that checks out.

- A search engine's crawler whose claim checks out (published ranges or
  forward-confirmed reverse DNS) is exempt when the policy allows search engines.
- One that claims to be a search engine's crawler but is not is a liar.
- AI crawlers that collect training data are refused when the policy says so.
- Self-declared scraping tools and other bots asking for member data raise a
  moderate signal that adds to others (quotas) rather than refusing alone.
- Self-declared vulnerability scanners (Nikto, sqlmap, WPScan...) are refused on
  every route: they probe for ways in (admin pages, user enumeration) before any
  member page, and no person's browser calls itself one.
Other signals are raised on requests for member data only (profiles, lookups, listings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from scrapeguard.detectors.base import Counted, Detector, Signal
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import actor
from scrapeguard.events import Event
from scrapeguard.intel.crawlers import (
    AI_TRAINING,
    CRAWLER,
    SEARCH,
    TOOL,
    UNVERIFIED,
    VERIFIED,
    Agent,
    CrawlerVerifier,
    Resolver,
    classify,
    scanner_name,
)
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import MEMBER_DATA_KINDS
from scrapeguard.stores.base import StateStore

MEMBER_DATA = MEMBER_DATA_KINDS


@dataclass(frozen=True, slots=True)
@table("detectors.bot_agents")
class BotAgentsOptions:
    enabled: bool = option("Whether the detector runs.")
    search_engines: Literal["allow", "count"] = option("Verified search engine crawlers: never counted "
                                                       "nor refused, or treated like anyone else.")
    verify_dns: bool = option("Whether crawler claims are also checked by reverse DNS.")
    fake_crawler_score: float = option("Risk score of a crawler claim that does not check out.", lo=0, hi=1)
    refuse_ai_training: bool = option("Whether AI training crawlers are refused.")
    ai_training_score: float = option("Risk score of an AI training crawler.", lo=0, hi=1)
    tool_score: float = option("Risk score of a declared scraping tool asking for member data.", lo=0, hi=1)
    crawler_score: float = option("Risk score of another declared bot asking for member data.", lo=0, hi=1)
    scanner_score: float = option("Risk score of a declared vulnerability scanner, on any route.",
                                  lo=0, hi=1)


class Verdict(NamedTuple):
    """What a user agent says about its client: a signal's score, detail and evidence."""

    score: float
    detail: str
    evidence: dict[str, Any]


def scanner_verdict(user_agent: str, options: BotAgentsOptions) -> Verdict | None:
    """A self-declared vulnerability scanner, on any route; None if it is not one (or not refused)."""
    scanner = scanner_name(user_agent) if options.scanner_score > 0 else None
    if scanner is None:
        return None
    return Verdict(options.scanner_score, f"vulnerability scanner ({scanner}) probing the site",
                   {"scanner": scanner})


def agent_verdict(agent: Agent, ip: str | None, options: BotAgentsOptions,
                  verifier: CrawlerVerifier) -> Verdict | None:
    """What a user agent asking for member data says about its client (the engine's and log
    analysis' one definition); None for a browser, a search crawler whose claim checks out, or a
    kind the policy does not refuse."""
    o = options
    if agent.kind == SEARCH and agent.crawler is not None and ip:
        if verifier.verify(ip, agent.crawler) == UNVERIFIED and o.fake_crawler_score > 0:
            return Verdict(o.fake_crawler_score,
                           f"claims to be {agent.name} but {ip} is not {agent.operator}'s "
                           "(published ranges, reverse DNS)", {"claimed": agent.name})
        return None
    if agent.kind == AI_TRAINING and o.refuse_ai_training and o.ai_training_score > 0:
        operator = f" ({agent.operator})" if agent.operator else ""
        return Verdict(o.ai_training_score, f"AI training crawler {agent.name}{operator}: refused by policy",
                       {"crawler": agent.name})
    if agent.kind == TOOL and o.tool_score > 0:
        return Verdict(o.tool_score, f"scraping tool ({agent.name}) asking for member data",
                       {"tool": agent.name})
    if agent.kind == CRAWLER and o.crawler_score > 0:
        return Verdict(o.crawler_score, "self-declared bot asking for member data",
                       {"user_agent": agent.name})
    return None


class BotAgents(Detector):
    name = "bot_agents"
    options_class = BotAgentsOptions

    def __init__(self, options: BotAgentsOptions, verifier: CrawlerVerifier) -> None:
        self.options = options
        self.verifier = verifier

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> BotAgents | None:
        options = policy.options(BotAgentsOptions)
        if not options.enabled:
            return None
        resolver = Resolver() if options.verify_dns else None
        # live traffic must not wait for DNS: the first requests are judged when the answer is in
        return cls(options, CrawlerVerifier(resolver, background=live))

    def exempts(self, event: Event) -> bool:
        if self.options.search_engines != "allow" or not event.ip:
            return False
        agent = classify(event.user_agent)
        return agent.kind == SEARCH and agent.crawler is not None and \
            self.verifier.verify(event.ip, agent.crawler) == VERIFIED

    def judges(self, event: Event) -> bool:
        """Scanners are refused on any route (they probe for ways in before any member page)."""
        return self.options.scanner_score > 0 and scanner_name(event.user_agent) is not None

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        who = actor(event)  # the key the request's other evidence goes to, so that they combine
        if who is None:
            return []
        scanner = scanner_verdict(event.user_agent, self.options)
        if scanner is not None:
            return [Signal(self.name, who[0], *scanner)]
        if event.route.kind not in MEMBER_DATA:
            return []
        verdict = agent_verdict(classify(event.user_agent), event.ip, self.options, self.verifier)
        return [Signal(self.name, who[0], *verdict)] if verdict is not None else []

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """User-agent checks in words, from the policy (what the regulator report says of them)."""
        from scrapeguard.risk import BOT_EVIDENCE

        o = policy.bot_agents
        bot = cls.name in BOT_EVIDENCE
        limits = "judges who the user agent says it is, and whether that checks out."
        serves: tuple[Expectation, ...] = ("bot_patterns",)
        if not o.enabled:
            return ControlDescription(cls.name, "Bot user agents", False, limits, serves=serves,
                                      refuses=False)
        search = ("Verified search-engine crawlers are let through." if o.search_engines == "allow"
                  else "Search-engine crawlers are counted like everyone else.")
        fake = (f"Clients claiming to be a search-engine crawler from outside its published ranges"
                f"{' or reverse DNS' if o.verify_dns else ''}: {outcome(policy, o.fake_crawler_score, bot)}.")
        ai = (f"AI-training crawlers: {outcome(policy, o.ai_training_score, bot)}." if o.refuse_ai_training
              else "AI-training crawlers are not refused.")
        rules = (
            search, fake, ai,
            f"User agents of scraping tools asking for member data: {outcome(policy, o.tool_score, bot)}.",
            f"User agents of other crawlers asking for member data: {outcome(policy, o.crawler_score, bot)}.",
            f"Vulnerability scanners, on every route: {outcome(policy, o.scanner_score, bot)}.",
        )
        strongest = max(o.tool_score, o.crawler_score, o.fake_crawler_score, o.scanner_score,
                        o.ai_training_score if o.refuse_ai_training else 0.0)
        return ControlDescription(cls.name, "Bot user agents", True, limits, rules, serves,
                                  refuses=refused_alone(policy, strongest, bot))
