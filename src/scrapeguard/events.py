"""Event: the facts of one request that detection needs.

Time is the event's own (`ts`, seconds since the epoch): the wall clock for
live traffic, the log's time for replayed lines, so that one engine serves both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from scrapeguard.routes import UNMATCHED, RouteMatch

#: Request headers detectors look at (lower-case names). The cookie header's value is never
#: kept, only whether there was one ("1").
HEADER_FACTS = ("accept", "accept-language", "accept-encoding", "sec-fetch-mode", "sec-ch-ua", "cookie")


@dataclass(slots=True)
class Event:
    ts: float
    ip: str | None
    method: str = "GET"
    path: str = "/"
    query: str = ""
    route: RouteMatch = UNMATCHED
    account: str | None = None
    #: When the account was created (epoch seconds), if the site said so.
    account_created: float | None = None
    session: str | None = None
    #: Whether the site itself issued the session (the guard saw it set the cookie), so that it
    #: stands for one browser. A made-up cookie does not. Log lines cannot tell: replay trusts them.
    session_issued: bool = False
    user_agent: str = ""
    status: int | None = None
    #: A few request headers (HEADER_FACTS) when the integration sees them; None for log lines.
    headers: Mapping[str, str] | None = None
    #: Id of a valid clearance the client presented (checked by the integration), if any.
    clearance: str | None = None

    @property
    def net(self) -> str | None:
        return network_of(self.ip) if self.ip else None

    def keys(self) -> dict[str, str]:
        """The keys this event is counted under, e.g. {"ip": "192.0.2.7", "net": "192.0.2.0/24"}."""
        keys: dict[str, str] = {}
        if self.ip:
            keys["ip"] = self.ip
            net = network_of(self.ip)
            if net:
                keys["net"] = net
        if self.account:
            keys["account"] = self.account
        if self.session:
            keys["session"] = self.session
        return keys


@lru_cache(maxsize=65536)
def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) network of an address, or None if it is not one. An IPv4-mapped
    IPv6 address (`::ffff:192.0.2.7`) counts as its IPv4 address: otherwise every IPv4 client seen
    through a dual-stack socket would share the one network ::/64."""
    if ip.count(".") == 3 and ":" not in ip:
        octets = ip.split(".")
        if all(o.isascii() and o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets):
            return f"{int(octets[0])}.{int(octets[1])}.{int(octets[2])}.0/24"
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
