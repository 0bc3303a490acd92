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

from scrapeguard.detectors.base import Counted, Detector, Signal
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
from scrapeguard.policy.model import IpReputationOptions, Policy
from scrapeguard.routes import CONTACT_LOOKUP, LISTING, PROFILE
from scrapeguard.stores.base import StateStore

MEMBER_DATA = frozenset({PROFILE, CONTACT_LOOKUP, LISTING})


def actor_key(event: Event) -> str | None:
    if event.account is not None:
        return f"account:{event.account}"
    if event.session is not None and event.session_issued:
        return f"session:{event.session}"
    if event.ip:
        return f"ip:{event.ip}"
    return None


class IpReputation(Detector):
    name = "ip_reputation"

    def __init__(self, options: IpReputationOptions, asn: AsnLookup | None) -> None:
        self.options = options
        self.asn = asn
        self.lists = [(entry.name, entry.score, NetworkSet(str(n) for n in entry.cidrs))
                      for entry in options.lists]

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> IpReputation | None:
        o = policy.ip_reputation
        if not o.enabled:
            return None
        return cls(o, asn_lookup() if o.asn_lookup else None)

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        if event.route.kind not in MEMBER_DATA or not event.ip:
            return []
        key = actor_key(event)
        if key is None:
            return []
        ip, o = event.ip, self.options
        signals = [Signal(self.name, key, score, f"{ip} is listed in {name}", {"list": name})
                   for name, score, networks in self.lists if score > 0 and ip in networks]
        found = origin(ip)
        if found is not None and found.kind == RELAY:
            return signals  # people's traffic: nothing held against it
        operator = self.asn.operator(ip) if self.asn is not None else None
        if (found is not None and found.kind == HOSTING) or (found is None and operator and
                                                            looks_like_hosting(operator)):
            who = found.operator if found is not None else operator
            if o.datacenter_score > 0:
                signals.append(Signal(self.name, key, o.datacenter_score,
                                      f"{ip} is in a hosting network ({who}), not where people browse from",
                                      {"network": "hosting", "operator": who}))
        elif found is not None and found.kind == VPN and o.vpn_score > 0:
            signals.append(Signal(self.name, key, o.vpn_score, f"{ip} is a VPN exit ({found.operator})",
                                  {"network": "vpn", "operator": found.operator}))
        return signals
