"""login_wall: "log in to see more profiles", after an allowance for anonymous visitors.

What real social networks do against residential-proxy scraping: a campaign
that takes three profiles from each of a thousand addresses stays under every
per-address quota, but cannot log in with a thousand aged accounts. Off by
default (it changes what anonymous visitors see): turn it on with an
allowance of distinct member profiles per address, and optionally per
network, per day. Over it, an anonymous request for a member's profile is
answered with a page that asks the visitor to log in (action "login"); it
holds no penalty and counts no strike, and a logged-in member is never
affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scrapeguard.detectors.base import BY_LOGIN, Counted, Detector, Signal, distinct
from scrapeguard.detectors.description import ControlDescription, Expectation
from scrapeguard.detectors.windows import DAY
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import OptionProblem, option, table
from scrapeguard.routes import PROFILE
from scrapeguard.stores.base import CountRequest, StateStore, StoreRequest, Window

#: Name of the distinct set of profiles anonymous visitors of one address (or network) viewed.
SET = "anonymous_profiles"


@dataclass(frozen=True, slots=True)
@table("detectors.login_wall")
class LoginWallOptions:
    """An allowance of member profiles for anonymous visitors."""

    enabled: bool = option("Whether the login wall is up.")
    per_address_per_day: int = option("Profiles anonymous visitors of one address see a day (0: no limit).",
                                      lo=0)
    per_network_per_day: int = option("Profiles anonymous visitors of one network see a day (0: no limit).",
                                      lo=0)
    #: Where the login wall sends people (a path on the site, or a URL).
    login_url: str = option("Where the login wall sends people (a path on the site, or a URL).")
    status: int = option("Status of the login wall's page.", lo=200, hi=599)

    def check(self) -> Iterator[OptionProblem]:
        if not self.login_url.startswith(("/", "https://", "http://")):
            yield OptionProblem("login_url", f"{self.login_url!r} is neither a path nor a URL",
                                "a path starting with / or an http(s):// URL")

    def counted_per_key(self) -> tuple[int, ...]:
        return (self.per_address_per_day, self.per_network_per_day) if self.enabled else ()


class LoginWall(Detector):
    name = "login_wall"
    options_class = LoginWallOptions

    def __init__(self, options: LoginWallOptions) -> None:
        self.options = options
        self._address = (Window(DAY, options.per_address_per_day),) if options.per_address_per_day else None
        self._network = (Window(DAY, options.per_network_per_day),) if options.per_network_per_day else None

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> LoginWall | None:
        o = policy.options(LoginWallOptions)
        if not o.enabled or not (o.per_address_per_day or o.per_network_per_day):
            return None
        return cls(o)

    def _counted(self, event: Event) -> list[tuple[str, tuple[Window, ...], str]]:
        """(key, window, who in words) of each allowance this request counts against."""
        if event.account is not None or event.route.kind != PROFILE or event.route.subject is None \
                or not event.ip:
            return []
        if event.status is not None and event.status >= 400:
            return []
        out: list[tuple[str, tuple[Window, ...], str]] = []
        if self._address is not None:
            out.append((f"ip:{event.ip}", self._address, "this address"))
        net = event.net
        if self._network is not None and net:
            out.append((f"net:{net}", self._network, f"the network {net}"))
        return out

    def plan(self, event: Event) -> list[StoreRequest]:
        subject = event.route.subject
        if subject is None:
            return []
        return [CountRequest(key, SET, subject, windows) for key, windows, _ in self._counted(event)]

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        signals = []
        for key, windows, who in self._counted(event):
            result = distinct(counted, key, SET)
            if result is None or result.admitted:
                continue
            signals.append(Signal(
                self.name, key, 1.0,
                f"anonymous visitors from {who} viewed {result.counts[0]} member profiles today "
                f"(allowance {windows[0].limit}/day without logging in)",
                {"per_day": result.counts[0], "allowance": windows[0].limit}, answered_by=BY_LOGIN))
        return signals

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """The login wall in words, from the policy (what the regulator report says of it)."""
        o = policy.login_wall
        limits = "asks anonymous visitors to log in after an allowance of member profiles."
        serves: tuple[Expectation, ...] = ("profile_limits",)
        if not o.enabled or not (o.per_address_per_day or o.per_network_per_day):
            return ControlDescription(cls.name, "Login wall", False, limits, serves=serves, refuses=False)
        rules = []
        if o.per_address_per_day:
            rules.append(f"{o.per_address_per_day} distinct profiles a day per address.")
        if o.per_network_per_day:
            rules.append(f"{o.per_network_per_day} distinct profiles a day per network (IPv4 /24, IPv6 /64).")
        rules.append(f"Over it, an anonymous visitor is asked to log in (HTTP {o.status}); members are never "
                     "affected.")
        return ControlDescription(cls.name, "Login wall", True, limits, tuple(rules), serves)
