"""failed_logins: password guessing on login forms.

The site says a login failed by the status of its answer to a login POST (401 or 403 by
default, `failure_statuses`) or by a response header ([client] login_failed_header = "1",
which the proxy reports as LOGIN_FAILED_STATUS). Any other answer below 400 is a success.
Outcomes are recorded after the response (`after`; replayed log lines carry their status,
so there `plan` records them).

Two counts, two holds:

- per address (IPv4 address, IPv6 /64): `address_throttle` failures within the window
  throttle it on the login routes; going on while throttled escalates to a block as the
  policy's [actions] say, and `address_block_per_day` failures within a day block it at once.
  The penalty is held under a key of its own (`ip:<address>#login`), which only the login
  routes look up: a password guesser's other pages, and members logged in at that address,
  are not affected; and a scraper's penalty on member data never stops anyone logging in.
- per username (its hash; the route's `form:` subject): `username_throttle` failures within
  the window, from anywhere, and attempts on that username are refused from the networks
  (/24, /64) that failed it, while the failures stay in the window. That penalty is never
  held (the engine does not look it up), so it lasts only as long as the evidence: the real
  owner is never locked out for longer, is never held at all from a network that did not
  fail, nor from an address that logged in to the username before
  (`remember_success_days`).

Keys of addresses keep the address's key name ("ip:", "net:"), so that the records
pseudonymise them like any other address.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import DAY
from scrapeguard.events import Event, network_of
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import OptionProblem, option, table
from scrapeguard.routes import LOGIN
from scrapeguard.stores.base import UNLIMITED, CountRequest, StateStore, StoreRequest, Window

#: The status the proxy reports for a login the site's header says failed (always a failure).
LOGIN_FAILED_STATUS = 401
#: Distinct sets: failures (one member per failure), networks that failed a username, addresses
#: that logged in to it.
FAILS = "login.fails"
NETS = "login.nets"
OK = "login.ok"
#: The member a read asks for (never recorded: a read admits nothing, see `_read`).
PROBE = "?"


def username_hash(subject: str) -> str:
    """A username (the route subject "username:NAME") as kept: a short hash, any length in."""
    value = subject.partition(":")[2].strip().casefold()
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def address_key(ip: str) -> str | None:
    """The key failures of an address count under: the IPv4 address, or the IPv6 /64 (one
    subscriber's), with "#login" so that no other penalty is looked up with it."""
    net = network_of(ip)
    if net is None:
        return None
    return f"net:{net}#login" if ":" in net else f"ip:{ip}#login"


@dataclass(frozen=True, slots=True)
@table("detectors.failed_logins")
class FailedLoginsOptions:
    """Password guessing on login routes."""

    enabled: bool = option("Whether the detector runs.")
    #: Statuses of a login route's response that mean "the login failed".
    failure_statuses: tuple[int, ...] = option("Statuses of a login route's answer that mean it failed.",
                                               lo=400, hi=599, nonempty=True, items="4xx/5xx statuses")
    window_seconds: float = option("The window failures are counted in.", lo=60, hi=86400)
    address_throttle: int = option("Failures of one address within the window that throttle it.", lo=1)
    address_score: float = option("Risk score of an address over address_throttle.", lo=0, hi=1)
    address_block_per_day: int = option("Failures of one address within a day that block it.", lo=1)
    address_block_score: float = option("Risk score of an address over address_block_per_day.", lo=0, hi=1)
    username_throttle: int = option("Failures on one username within the window that hold its attempts.",
                                    lo=1)
    username_score: float = option("Risk score of an attempt on such a username.", lo=0, hi=1)
    #: How long an address that logged in to a username is trusted for it (seconds).
    remember_success_seconds: float = option("How long an address that logged in to a username is "
                                             "trusted for it.", key="remember_success_days", lo=0, hi=365,
                                             convert=lambda days: days * 86400.0)

    def check(self) -> Iterator[OptionProblem]:
        if self.address_block_per_day < self.address_throttle:
            yield OptionProblem("address_block_per_day", f"{self.address_block_per_day} is less than "
                                f"address_throttle ({self.address_throttle})",
                                "address_block_per_day >= address_throttle", ("address_throttle",))

    def counted_per_key(self) -> tuple[int, ...]:
        return (self.address_block_per_day, self.username_throttle) if self.enabled else ()


class FailedLogins(Detector):
    name = "failed_logins"
    options_class = FailedLoginsOptions
    plans_every_route = True
    guards = frozenset({LOGIN})

    def __init__(self, options: FailedLoginsOptions) -> None:
        self.options = options
        window = options.window_seconds
        self._address_windows = (Window(window, UNLIMITED), Window(DAY, UNLIMITED))
        self._address_read = (Window(window, 0), Window(DAY, 0))
        self._window = (Window(window, UNLIMITED),)
        self._window_read = (Window(window, 0),)
        self._remember = (Window(options.remember_success_seconds, UNLIMITED),)
        self._remember_read = (Window(options.remember_success_seconds, 0),)
        self._statuses = frozenset({*options.failure_statuses, LOGIN_FAILED_STATUS})
        # failures are distinct members: unique across instances sharing a store
        self._ids = (f"{secrets.token_hex(4)}-{n}" for n in itertools.count())

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> FailedLogins | None:
        options = policy.options(FailedLoginsOptions)
        return cls(options) if options.enabled else None

    # -- which requests ---------------------------------------------------------------

    @staticmethod
    def _attempt(event: Event) -> bool:
        return event.route.kind == LOGIN and event.method == "POST" and bool(event.ip)

    def judges(self, event: Event) -> bool:
        return self._attempt(event)

    def held_keys(self, event: Event) -> list[str]:
        key = address_key(event.ip) if self._attempt(event) and event.ip else None
        return [key] if key else []

    def _outcome(self, status: int | None) -> bool | None:
        """True: failed; False: succeeded; None: unknown (not yet served, or neither)."""
        if status is None:
            return None
        if status in self._statuses:
            return True
        return False if status < 400 else None

    # -- recording -------------------------------------------------------------------

    def _requests(self, event: Event, outcome: bool | None) -> list[StoreRequest]:
        """Reads of the counts (outcome None), or records of an outcome. A read asks for a member
        that is not there within limits of 0: the store admits nothing and says how many there are.
        A record's result says the same about the time before it (`seen_before`, counts less one)."""
        assert event.ip is not None
        address = address_key(event.ip)
        if address is None:
            return []
        failed = outcome is True
        uid = next(self._ids) if failed else PROBE
        requests: list[StoreRequest] = [
            CountRequest(address, FAILS, uid, self._address_windows if failed else self._address_read)]
        subject = event.route.subject
        net = network_of(event.ip)
        if subject is not None and net is not None:
            user = "login:" + username_hash(subject)
            requests += [
                CountRequest(user, FAILS, uid, self._window if failed else self._window_read),
                CountRequest(user, NETS, net, self._window if failed else self._window_read),
                CountRequest(user, OK, event.ip, self._remember if outcome is False else self._remember_read),
            ]
        return requests

    def plan(self, event: Event) -> list[StoreRequest]:
        if not self._attempt(event):
            return []
        return self._requests(event, self._outcome(event.status))

    def after(self, event: Event, status: int) -> list[StoreRequest]:
        if not self._attempt(event):
            return []
        outcome = self._outcome(status)
        return self._requests(event, outcome) if outcome is not None else []

    # -- judging ---------------------------------------------------------------------

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        if not self._attempt(event) or event.ip is None:
            return []
        address = address_key(event.ip)
        if address is None:
            return []
        o = self.options
        current = 1 if self._outcome(event.status) is True else 0  # (replay: counted already)
        signals = []
        fails = distinct(counted, address, FAILS)
        if fails is not None:
            in_window, in_day = (n - current for n in fails.counts)
            minutes = f"{o.window_seconds / 60:g} minutes"
            if in_day >= o.address_block_per_day:
                signals.append(Signal(
                    self.name, address, o.address_block_score,
                    f"{in_day} failed logins from this address within a day: password guessing",
                    {"failed": in_day, "seconds": DAY}))
            elif in_window >= o.address_throttle:
                signals.append(Signal(
                    self.name, address, o.address_score,
                    f"{in_window} failed logins from this address within {minutes}: password guessing",
                    {"failed": in_window, "seconds": o.window_seconds}))
        subject = event.route.subject
        net = network_of(event.ip)
        if subject is None or net is None:
            return signals
        user = "login:" + username_hash(subject)
        user_fails, nets, ok = (distinct(counted, user, name) for name in (FAILS, NETS, OK))
        if user_fails is None or nets is None or ok is None or ok.seen_before or not nets.seen_before:
            return signals
        failed = user_fails.counts[0] - current
        if failed >= o.username_throttle:
            signals.append(Signal(
                self.name, f"net:{net}#{user}", o.username_score,
                f"{failed} failed logins to this username within {o.window_seconds / 60:g} minutes, "
                "some from this network: its attempts on it wait until they are older",
                {"failed": failed, "seconds": o.window_seconds}))
        return signals

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Password-guessing limits in words, from the policy (what the regulator report says of them)."""
        o = policy.failed_logins
        limits = "limits password guessing on the login forms."
        serves: tuple[Expectation, ...] = ("suspicious_ips",)
        if not o.enabled:
            return ControlDescription(cls.name, "Failed logins", False, limits, serves=serves, refuses=False)
        window = f"{o.window_seconds / 60:g} minutes"
        rules = (f"{o.address_throttle} failed logins from one address within {window}: its logins are "
                 f"{outcome(policy, o.address_score)}; {o.address_block_per_day} within a day: "
                 f"{outcome(policy, o.address_block_score)}.",
                 f"{o.username_throttle} failed logins on one username within {window}: attempts on it from "
                 f"the networks that failed are {outcome(policy, o.username_score)}.")
        strongest = max(o.address_score, o.address_block_score, o.username_score)
        return ControlDescription(cls.name, "Failed logins", True, limits, rules, serves,
                                  refuses=refused_alone(policy, strongest))
