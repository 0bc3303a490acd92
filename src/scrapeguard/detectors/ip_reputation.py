"""ip_reputation: where a request for member data comes from.

People rarely browse from a data centre; scrapers mostly do (or from VPNs and
proxies). So hosting and cloud networks (shipped ranges, and operators whose
ASN name says hosting) and commercial VPN exits raise a weak signal that makes
other evidence count sooner, never a refusal on its own with the defaults.
Relays that carry ordinary people's browsing (iCloud Private Relay) raise
nothing. The policy's own lists (Tor exits, known scraping services, the
company's office) add their own scores.

Signals go to the key the request's other evidence goes to (the account when
logged in, else the site-issued browser session, else the address), so that
they combine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from scrapeguard.detectors.base import Counted, Detector, Signal
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import actor
from scrapeguard.events import Event
from scrapeguard.intel.networks import NetworkSet
from scrapeguard.intel.reputation import (
    HOSTING,
    RELAY,
    VPN,
    AsnLookup,
    asn_lookup,
    looks_like_hosting,
    origin,
)
from scrapeguard.policy.model import IPNetwork, Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import MEMBER_DATA_KINDS
from scrapeguard.stores.base import StateStore

MEMBER_DATA = MEMBER_DATA_KINDS


@dataclass(frozen=True, slots=True)
class NetworkList:
    """A named list of networks and the score a request for member data from one of them gets."""

    name: str = option("What the list is (named in reasons).", convert=str.strip)
    cidrs: tuple[IPNetwork, ...] = option("The list's networks.")
    score: float = option("Risk score of a request from one of them.", lo=0, hi=1)


@dataclass(frozen=True, slots=True)
@table("detectors.ip_reputation")
class IpReputationOptions:
    enabled: bool = option("Whether the detector runs.")
    datacenter_score: float = option("Risk score of a hosting or cloud network.", lo=0, hi=1)
    vpn_score: float = option("Risk score of a commercial VPN exit.", lo=0, hi=1)
    asn_lookup: bool = option("Whether the network's operator is looked up (offline ASN database).")
    lists: tuple[NetworkList, ...] = option("The policy's own lists ([[detectors.ip_reputation.lists]]).")


class IpReputation(Detector):
    name = "ip_reputation"
    options_class = IpReputationOptions
    #: A network look-up per new address: asked only to corroborate, unless its scores alone can
    #: refuse or challenge (with the default policy they challenge: a hosting network is bot evidence).
    corroborates = True

    def __init__(self, options: IpReputationOptions, asn: AsnLookup | None) -> None:
        self.options = options
        self.asn = asn
        self.lists = [(entry.name, entry.score, NetworkSet(str(n) for n in entry.cidrs))
                      for entry in options.lists]
        #: Addresses repeat: where each is from is looked up once (bounded cache).
        self._where = lru_cache(maxsize=65536)(self._lookup)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> IpReputation | None:
        o = policy.options(IpReputationOptions)
        if not o.enabled:
            return None
        asn = asn_lookup() if o.asn_lookup else None
        if asn is not None and live:
            asn.load_in_background()  # live traffic must not wait for it (replay loads it on first use)
        return cls(o, asn)

    def strongest_score(self) -> float:
        """Its signals on one request combined at worst: every list, and hosting or VPN (not both)."""
        o = self.options
        remaining = 1.0 - max(o.datacenter_score, o.vpn_score)
        for _, score, _ in self.lists:
            remaining *= 1.0 - score
        return 1.0 - remaining

    def _lookup(self, ip: str) -> tuple[str, str] | None:
        """(kind, operator) of the address's network, or None if it is nothing in particular."""
        found = origin(ip)
        if found is not None:
            return found.kind, found.operator
        operator = self.asn.operator(ip) if self.asn is not None else None
        if operator and looks_like_hosting(operator):
            return HOSTING, operator
        return None

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        if event.route.kind not in MEMBER_DATA or not event.ip:
            return []
        who = actor(event)
        if who is None:
            return []
        key = who[0]
        ip, o = event.ip, self.options
        signals = [Signal(self.name, key, score, f"{ip} is listed in {name}", {"list": name})
                   for name, score, networks in self.lists if score > 0 and ip in networks]
        where = self._where(ip)
        if where is None or where[0] == RELAY:
            return signals  # nothing in particular, or people's traffic: nothing held against it
        kind, operator = where
        if kind == HOSTING and o.datacenter_score > 0:
            signals.append(Signal(self.name, key, o.datacenter_score,
                                  f"{ip} is in a hosting network ({operator}), not where people browse from",
                                  {"network": "hosting", "operator": operator}))
        elif kind == VPN and o.vpn_score > 0:
            signals.append(Signal(self.name, key, o.vpn_score, f"{ip} is a VPN exit ({operator})",
                                  {"network": "vpn", "operator": operator}))
        return signals

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Network reputation in words, from the policy (what the regulator report says of it)."""
        from scrapeguard.risk import BOT_EVIDENCE

        o = policy.ip_reputation
        bot = cls.name in BOT_EVIDENCE
        limits = "weighs where a request for member data comes from (data centres, VPNs, the policy's lists)."
        serves: tuple[Expectation, ...] = ("suspicious_ips",)
        if not o.enabled:
            return ControlDescription(cls.name, "Network reputation", False, limits, serves=serves,
                                      refuses=False)
        hosting = "hosting and cloud networks" + (" (ranges, and operators whose ASN says hosting)"
                                                  if o.asn_lookup else " (shipped ranges)")
        rules = [f"Requests from {hosting}: {outcome(policy, o.datacenter_score, bot)}.",
                 f"Requests from commercial VPN exits: {outcome(policy, o.vpn_score, bot)}."]
        rules += [f"Requests from the list {n.name!r} ({len(n.cidrs)} networks): "
                  f"{outcome(policy, n.score, bot)}." for n in o.lists]
        strongest = max([o.datacenter_score, o.vpn_score, *(n.score for n in o.lists)])
        return ControlDescription(cls.name, "Network reputation", True, limits, tuple(rules), serves,
                                  refuses=refused_alone(policy, strongest, bot))
