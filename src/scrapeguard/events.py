"""Event: the facts of one request that detection needs.

Time is the event's own (`ts`, seconds since the epoch): the wall clock for
live traffic, the log's time for replayed lines, so that one engine serves both.

Every text an attacker chooses (path, query, route subject, session, account,
user agent, header values, even the client field of a log line) reaches the
detectors, the state store, the decisions and the records only through an
Event, and every Event bounds them when it is made (`__post_init__`): a value
longer than its limit becomes its start plus a hash of the whole (`bounded`),
so distinct values stay distinct and normal ones stay as they are. That one
place keeps the state each request can leave behind small, whatever the
detectors do with these values.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from scrapeguard.routes import UNMATCHED, RouteMatch

#: Request headers detectors look at (lower-case names). The cookie header's value is never
#: kept, only whether there was one ("1").
HEADER_FACTS = ("accept", "accept-language", "accept-encoding", "sec-fetch-mode", "sec-ch-ua", "cookie")

#: Longest kept text of each attacker-chosen Event field, in characters (a route subject's
#: value, after its "<placeholder>:"; each header value). Longer values are `bounded`.
#: Generous for real values: e-mail addresses (at most 254), user names, browser user agents.
MAX_LENGTHS = {
    "ip": 64, "method": 40, "path": 512, "query": 512, "account": 256, "session": 256,
    "user_agent": 512, "clearance": 256, "subject": 256, "header": 256,
}
_IP, _METHOD, _PATH, _QUERY, _ACCOUNT, _SESSION, _USER_AGENT, _CLEARANCE, _SUBJECT, _HEADER = (
    MAX_LENGTHS[name] for name in ("ip", "method", "path", "query", "account", "session", "user_agent",
                                   "clearance", "subject", "header"))
#: What marks a bounded value: its start, this, then 32 hex digits of a hash of the whole value.
BOUND_MARK = "~h"
_HASH_LENGTH = len(BOUND_MARK) + 32


def bounded(value: str, limit: int) -> str:
    """`value` if it has at most `limit` characters, else its start and a hash of all of it, in
    exactly `limit` characters (so bounding a bounded value changes nothing)."""
    if len(value) <= limit:
        return value
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return value[: max(0, limit - _HASH_LENGTH)] + BOUND_MARK + digest


def bounded_subject(subject: str) -> str:
    """A route subject ("<placeholder>:<value>") with its value bounded; the placeholder (from
    the policy's route map) is kept whole, so detectors still read the subject's kind."""
    limit = MAX_LENGTHS["subject"]
    name, sep, value = subject.partition(":")
    if not sep:
        return bounded(subject, limit)
    return subject if len(value) <= limit else f"{name}:{bounded(value, limit)}"


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

    def __post_init__(self) -> None:
        # The one place attacker-chosen text is bounded (see the module's docstring). Normal
        # values cost a few length comparisons (module constants, not dict look-ups: this runs
        # for every request); values are rebuilt only when over a limit.
        if self.ip is not None and len(self.ip) > _IP:
            self.ip = bounded(self.ip, _IP)
        if len(self.method) > _METHOD:
            self.method = bounded(self.method, _METHOD)
        if len(self.path) > _PATH:
            self.path = bounded(self.path, _PATH)
        if len(self.query) > _QUERY:
            self.query = bounded(self.query, _QUERY)
        if self.account is not None and len(self.account) > _ACCOUNT:
            self.account = bounded(self.account, _ACCOUNT)
        if self.session is not None and len(self.session) > _SESSION:
            self.session = bounded(self.session, _SESSION)
        if len(self.user_agent) > _USER_AGENT:
            self.user_agent = bounded(self.user_agent, _USER_AGENT)
        if self.clearance is not None and len(self.clearance) > _CLEARANCE:
            self.clearance = bounded(self.clearance, _CLEARANCE)
        route = self.route
        if route.subject is not None and len(route.subject) > _SUBJECT:
            subject = bounded_subject(route.subject)
            if subject is not route.subject:
                self.route = RouteMatch(route.kind, subject, route.categories, route.pattern)
        if self.headers is not None:
            for name, value in self.headers.items():
                if len(value) > _HEADER or len(name) > _HEADER:
                    self.headers = {bounded(k, _HEADER): bounded(v, _HEADER) for k, v in self.headers.items()}
                    break

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
