"""agent_list: user agents the site's own list names, on requests for member data.

For the scraper an operator has just found in the logs under a user agent of its own
("ExampleScraper/2.1", a contractor's tool, a headless browser build) and wants refused now, before
any quota fills: a list of case-insensitive parts of user agents and the score a request for member
data from one of them gets (1.0 blocks; 0.6 throttles). Empty by default, and then off. A user agent
is only a claim: this stops those who name themselves; the other detectors stop those who do not.

It is also the worked example of docs/detectors.md, "Adding a detector": this module, the table
[detectors.agent_list] in policy/defaults.toml and one line in the registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scrapeguard.detectors.base import Counted, Detector, Signal
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import actor
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import OptionProblem, option, table
from scrapeguard.stores.base import StateStore


@dataclass(frozen=True, slots=True)
@table("detectors.agent_list")
class AgentListOptions:
    """User agents the site refuses member data to."""

    enabled: bool = option("Whether the detector runs (with an empty list it is off anyway).")
    agents: tuple[str, ...] = option("Parts of user agents, matched regardless of case.")
    score: float = option("Risk score of a request for member data from a listed user agent.", lo=0, hi=1)

    def check(self) -> Iterator[OptionProblem]:
        for i, agent in enumerate(self.agents):
            if len(agent.strip()) < 3:
                yield OptionProblem(f"agents[{i}]", f"{agent!r} is too short: it would match "
                                    "people's browsers", 'at least 3 characters, e.g. "ExampleScraper/"')


class AgentList(Detector):
    name = "agent_list"
    options_class = AgentListOptions

    def __init__(self, options: AgentListOptions) -> None:
        self.options = options
        self._parts = tuple(agent.strip().casefold() for agent in options.agents)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> AgentList | None:
        options = policy.options(AgentListOptions)
        return cls(options) if options.enabled and options.agents and options.score > 0 else None

    def listed(self, user_agent: str) -> str | None:
        """The list's entry a user agent matches, if any."""
        agent = user_agent.casefold()
        return next((part for part in self._parts if part in agent), None)

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        found = self.listed(event.user_agent) if event.user_agent else None
        who = actor(event) if found is not None else None
        if who is None:
            return []
        return [Signal(self.name, who[0], self.options.score,
                       f"user agent {event.user_agent[:80]!r} is on the policy's list ({found!r})",
                       {"listed": found})]

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """The site's own list of user agents in words (what the regulator report says of it)."""
        o = policy.options(AgentListOptions)
        limits = "refuses member data to user agents the site's own list names."
        serves: tuple[Expectation, ...] = ("bot_patterns",)
        if not (o.enabled and o.agents and o.score > 0):
            return ControlDescription(cls.name, "Listed user agents", False, limits, serves=serves,
                                      refuses=False)
        rule = (f"{len(o.agents)} listed user agent part(s); a request for member data from one is "
                f"{outcome(policy, o.score)}.")
        return ControlDescription(cls.name, "Listed user agents", True, limits, (rule,), serves,
                                  refuses=refused_alone(policy, o.score))
