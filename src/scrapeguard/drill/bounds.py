"""A drill's bounds: which targets it may attack, how fast, and for how long.

A drill sends real scraping traffic, so it runs only against loopback (the
built-in demo, or a site on this machine) unless its operator states that they
own the target. Every request passes `BoundedClock.before_request`: at most
`max_rate` requests a second of clock time (with the wall clock against a real
target), and none once `max_seconds` of wall time or `max_requests` have been
spent (the strategy then stops, with what it got so far).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from scrapeguard.drill.client import Tally
from scrapeguard.drill.harness import Clock

#: Requests a second against an external target unless told otherwise.
DEFAULT_MAX_RATE = 20.0
#: Wall seconds a whole drill may take unless told otherwise.
DEFAULT_MAX_SECONDS = 900.0
#: Requests one strategy or persona may send unless told otherwise.
DEFAULT_MAX_REQUESTS = 20_000


class DrillError(Exception):
    """A drill that cannot run as asked (bad target, options or expectations file)."""


class TimeUp(Exception):
    """A drill's bound was reached: the strategy running stops."""


def is_loopback_url(url: str, resolve: Callable[[str], list[str]] | None = None) -> bool:
    """Whether every address `url`'s host names is a loopback address."""
    host = urlsplit(url).hostname
    if not host:
        raise DrillError(f"--target {url!r}: not a URL (http://host:port/)")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    lookup = resolve or _resolve
    try:
        addresses = lookup(host)
    except OSError as exc:
        raise DrillError(f"--target {url!r}: cannot resolve {host!r} ({exc})") from exc
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def check_target(url: str, i_own_this_site: bool,
                 resolve: Callable[[str], list[str]] | None = None) -> None:
    """Refuse a target that is not on loopback unless its operator says they own it."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DrillError(f"--target {url!r}: only http:// and https:// targets")
    if not is_loopback_url(url, resolve) and not i_own_this_site:
        raise DrillError(f"--target {url!r} is not on loopback: a drill sends scraping traffic; run it "
                         "only against a site you own, and say so with --i-own-this-site")


class BoundedClock:
    """A clock (fake or wall) that also paces and stops requests: see the module's docstring.

    The rate applies on the clock's own time: on a FakeClock it is off unless asked (the demo
    runs as fast as it answers); `wall` is where the duration bound is read."""

    def __init__(self, clock: Clock, max_rate: float | None, max_seconds: float, max_requests: int,
                 wall: Callable[[], float] = time.monotonic) -> None:
        if max_rate is not None and max_rate <= 0:
            raise DrillError("--max-rate must be above 0")
        if max_seconds <= 0 or max_requests <= 0:
            raise DrillError("--max-seconds and --max-requests must be above 0")
        self.clock = clock
        self.max_rate = max_rate
        self.max_requests = max_requests
        self.wall = wall
        self.deadline = wall() + max_seconds
        self.requests = 0
        self._next_at: float | None = None
        #: The tally of the last request let through (what a stopped strategy got so far).
        self.last_tally: Tally | None = None

    def time(self) -> float:
        return self.clock.time()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def restart(self, max_requests: int | None = None) -> None:
        """A new strategy or persona: its own request budget."""
        self.requests = 0
        self.last_tally = None
        if max_requests is not None:
            self.max_requests = max_requests

    def before_request(self, tally: Tally) -> None:
        self.last_tally = tally
        if self.wall() >= self.deadline:
            raise TimeUp("the drill's time limit (--max-seconds)")
        if self.requests >= self.max_requests:
            raise TimeUp(f"{self.max_requests} requests (--max-requests)")
        if self.max_rate is not None:
            now = self.clock.time()
            if self._next_at is not None and now < self._next_at:
                self.clock.sleep(self._next_at - now)
                now = self._next_at
            self._next_at = now + 1 / self.max_rate
        self.requests += 1
