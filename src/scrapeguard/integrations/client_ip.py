"""Which address is the client: the socket peer, or X-Forwarded-For from a trusted proxy only."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from scrapeguard.policy.model import IPNetwork


class ForwardedHeaderError(ValueError):
    """A trusted proxy sent an X-Forwarded-For that is not a list of addresses."""


class ClientIPResolver:
    def __init__(self, trusted: Iterable[str | IPNetwork] = ()) -> None:
        self.trusted: tuple[IPNetwork, ...] = tuple(
            t if not isinstance(t, str) else ipaddress.ip_network(t, strict=False) for t in trusted
        )

    def is_trusted(self, ip: str) -> bool:
        if not self.trusted:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.trusted)

    def resolve(self, peer: str, forwarded_for: str | None) -> str:
        """The client address. X-Forwarded-For is read right to left, skipping trusted hops;
        it is ignored altogether unless the socket peer is trusted."""
        if not forwarded_for or not self.is_trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",")]
        client = peer
        for hop in reversed(hops):
            try:
                addr = str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError as exc:
                raise ForwardedHeaderError(f"X-Forwarded-For hop {hop[:60]!r} is not an IP address") from exc
            client = addr
            if not self.is_trusted(addr):
                break
        return client
