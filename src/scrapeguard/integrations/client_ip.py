"""Which address is the client: the socket peer, or X-Forwarded-For from a trusted proxy only."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from scrapeguard.policy.model import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class ForwardedHeaderError(ValueError):
    """A trusted proxy sent an X-Forwarded-For that is not a list of addresses."""


#: A hop written as a plain address: IPv4 dotted quad or IPv6 hex (bracketed IPv6 allowed). No
#: scope id (fe80::1%eth0 names an interface of the proxy's host, not a client), no port, no name.
_PLAIN_HOP = re.compile(r"[0-9.]+|\[?[0-9A-Fa-f:.]+\]?")


def parse_hop(hop: str) -> str:
    """One X-Forwarded-For element as a canonical address, or ForwardedHeaderError."""
    if _PLAIN_HOP.fullmatch(hop) and (hop[0] == "[") == (hop[-1] == "]") and (hop[0] != "[" or ":" in hop):
        try:
            return str(_unmapped(ipaddress.ip_address(hop.strip("[]"))))
        except ValueError:
            pass
    raise ForwardedHeaderError(f"X-Forwarded-For hop {hop[:60]!r} is not an IP address")


def _unmapped(addr: IPAddress) -> IPAddress:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def canonical_ip(ip: str) -> str:
    """One spelling per client: an IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, what a dual-stack
    socket reports for an IPv4 client) becomes the IPv4 address, an IPv6 address its compressed
    lower-case form. Text that is not an address is returned unchanged."""
    try:
        return str(_unmapped(ipaddress.ip_address(ip)))
    except ValueError:
        return ip


def _trusted_network(spec: str | IPNetwork) -> IPNetwork:
    net = ipaddress.ip_network(spec, strict=False) if isinstance(spec, str) else spec
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_IPV4_MAPPED):
        # clients are compared as IPv4, so a network written IPv4-mapped is one too
        mapped = net.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network((mapped, net.prefixlen - 96))
    return net


class ClientIPResolver:
    def __init__(self, trusted: Iterable[str | IPNetwork] = ()) -> None:
        self.trusted: tuple[IPNetwork, ...] = tuple(_trusted_network(t) for t in trusted)

    def is_trusted(self, ip: str) -> bool:
        if not self.trusted:
            return False
        try:
            addr = _unmapped(ipaddress.ip_address(ip))
        except ValueError:
            return False
        return any(addr in net for net in self.trusted)

    def resolve(self, peer: str, forwarded_for: str | Sequence[str] | None) -> str:
        """The client address, in canonical form (see `canonical_ip`). X-Forwarded-For (one value,
        or every header line in order: a proxy such as HAProxy appends a line of its own) is read
        as one list, right to left, skipping trusted hops and empty elements (RFC 9110 5.6.1); the
        first other hop is the client. It is ignored altogether unless the socket peer is trusted."""
        peer = canonical_ip(peer)
        if not forwarded_for or not self.is_trusted(peer):
            return peer
        lines = [forwarded_for] if isinstance(forwarded_for, str) else forwarded_for
        hops = [h.strip() for line in lines for h in line.split(",")]
        client = peer
        for hop in reversed(hops):
            if not hop:
                continue
            addr = parse_hop(hop)
            client = addr
            if not self.is_trusted(addr):
                break
        return client
