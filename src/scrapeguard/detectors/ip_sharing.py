"""ip_sharing: addresses and accounts that do not go together the way people's do.

- One account from many networks within an hour: its session is being
  rotated across proxies (phones switching between Wi-Fi and mobile data use
  two or three networks).
- Many young accounts used from one address within a day: an account farm.
Relay exits (iCloud Private Relay) are never judged: they change often and
many people share each.
  Established members are not counted, so a campus or carrier NAT with
  hundreds of members is never judged by its size; and each young account
  there gets only a small score, which matters only with other evidence.
Judged on requests for member data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import DAY, HOUR
from scrapeguard.events import Event
from scrapeguard.intel.reputation import RELAY, origin
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import MEMBER_DATA_KINDS
from scrapeguard.stores.base import UNLIMITED, CountRequest, StateStore, StoreRequest, Window

MEMBER_DATA = MEMBER_DATA_KINDS


@lru_cache(maxsize=65536)
def _relayed(ip: str) -> bool:
    """iCloud Private Relay and the like: exits that many people share and that change often."""
    found = origin(ip)
    return found is not None and found.kind == RELAY
NETWORKS = "networks"
NEW_ACCOUNTS = "new_accounts"


@dataclass(frozen=True, slots=True)
@table("detectors.ip_sharing")
class IpSharingOptions:
    enabled: bool = option("Whether the detector runs.")
    networks_per_account: int = option("Networks one account may use within an hour.", lo=2)
    rotation_score: float = option("Risk score of an account used from more networks.", lo=0, hi=1)
    new_accounts_per_ip: int = option("Young accounts one IP may use within a day.", lo=1)
    new_accounts_score: float = option("Risk score of a young account beyond them.", lo=0, hi=1)


class IpSharing(Detector):
    name = "ip_sharing"
    options_class = IpSharingOptions

    def __init__(self, options: IpSharingOptions, young_seconds: float) -> None:
        self.options = options
        self.young_seconds = young_seconds
        self._hour = (Window(HOUR, UNLIMITED),)
        self._day = (Window(DAY, UNLIMITED),)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> IpSharing | None:
        options = policy.options(IpSharingOptions)
        if not options.enabled:
            return None
        return cls(options, policy.profile_quota.new_account_max_age_days * DAY)

    def _young(self, event: Event) -> bool:
        return event.account_created is not None and event.ts - event.account_created < self.young_seconds

    def plan(self, event: Event) -> list[StoreRequest]:
        if event.account is None or event.route.kind not in MEMBER_DATA or not event.ip:
            return []
        if _relayed(event.ip):
            return []  # relay exits change often and carry many people: nothing to judge
        account = f"account:{event.account}"
        requests: list[StoreRequest] = [CountRequest(account, NETWORKS, event.net or event.ip, self._hour)]
        if self._young(event):
            requests.append(CountRequest(f"ip:{event.ip}", NEW_ACCOUNTS, event.account, self._day))
        return requests

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        if event.account is None or event.route.kind not in MEMBER_DATA or not event.ip or _relayed(event.ip):
            return []
        account, o = f"account:{event.account}", self.options
        signals = []
        networks = distinct(counted, account, NETWORKS)
        if networks is not None and networks.counts[0] > o.networks_per_account and o.rotation_score > 0:
            signals.append(Signal(self.name, account, o.rotation_score,
                                  f"account used from {networks.counts[0]} networks within the hour "
                                  f"(people use up to {o.networks_per_account}): rotating proxies",
                                  {"networks": networks.counts[0], "limit": o.networks_per_account}))
        if self._young(event):
            young = distinct(counted, f"ip:{event.ip}", NEW_ACCOUNTS)
            if young is not None and young.counts[0] > o.new_accounts_per_ip and o.new_accounts_score > 0:
                signals.append(Signal(self.name, account, o.new_accounts_score,
                                      f"one of {young.counts[0]} young accounts used from {event.ip} today "
                                      "(an account farm?)", {"young_accounts": young.counts[0]}))
        return signals

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Address sharing in words, from the policy (what the regulator report says of it)."""
        o = policy.ip_sharing
        limits = "detects accounts rotated across networks and addresses that run many young accounts."
        serves: tuple[Expectation, ...] = ("suspicious_ips",)
        if not o.enabled:
            return ControlDescription(cls.name, "Address sharing", False, limits, serves=serves,
                                      refuses=False)
        rules = (f"One account from more than {o.networks_per_account} networks within an hour: "
                 f"{outcome(policy, o.rotation_score)}.",
                 f"More than {o.new_accounts_per_ip} young accounts from one address within a day: each "
                 f"{outcome(policy, o.new_accounts_score)}.")
        return ControlDescription(cls.name, "Address sharing", True, limits, rules, serves,
                                  refuses=refused_alone(policy, max(o.rotation_score, o.new_accounts_score)))
