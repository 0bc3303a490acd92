"""Sets of IP networks with fast membership tests (sorted ranges and bisection)."""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from functools import lru_cache


class NetworkSet:
    """IPv4 and IPv6 networks; `ip in s` costs one bisection, not one test per network."""

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for text in cidrs:
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            net = ipaddress.ip_network(text, strict=False)
            ranges[net.version].append((int(net.network_address), int(net.broadcast_address)))
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        for version, spans in ranges.items():
            spans.sort()
            merged: list[tuple[int, int]] = []
            for start, end in spans:
                if merged and start <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            self._starts[version] = [s for s, _ in merged]
            self._ends[version] = [e for _, e in merged]
        self._contains = lru_cache(maxsize=65536)(self._lookup)

    def __len__(self) -> int:
        return sum(len(v) for v in self._starts.values())

    def _lookup(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return self.holds(addr)

    def holds(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Membership of an address already parsed (for callers testing one address against
        several sets); not cached."""
        starts = self._starts[addr.version]
        value = int(addr)
        i = bisect.bisect_right(starts, value) - 1
        return i >= 0 and value <= self._ends[addr.version][i]

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, str) and self._contains(ip)
