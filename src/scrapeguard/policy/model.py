"""The policy as typed, validated values. Defaults live in `defaults.toml`, not here."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

Mode = Literal["observe", "enforce"]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ClientOptions:
    session_cookie: str
    account_header: str
    account_created_header: str
    session_ttl_seconds: float


@dataclass(frozen=True, slots=True)
class Allowlist:
    cidrs: tuple[IPNetwork, ...]
    accounts: frozenset[str]


@dataclass(frozen=True, slots=True)
class Quota:
    """A distinct-profiles quota: at most `per_hour` in any hour, `per_day` in any day."""

    per_hour: int
    per_day: int


@dataclass(frozen=True, slots=True)
class ProfileQuotaOptions:
    enabled: bool
    score: float
    anonymous: Quota
    account: Quota
    new_account: Quota
    new_account_max_age_days: float
    network_enabled: bool
    network: Quota


@dataclass(frozen=True, slots=True)
class EnumerationOptions:
    enabled: bool
    score: float
    lookups_anonymous: Quota
    lookups_account: Quota


@dataclass(frozen=True, slots=True)
class BotAgentsOptions:
    enabled: bool
    search_engines: Literal["allow", "count"]
    verify_dns: bool
    fake_crawler_score: float
    refuse_ai_training: bool
    ai_training_score: float
    tool_score: float
    crawler_score: float


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    throttle: float
    block: float


@dataclass(frozen=True, slots=True)
class ActionOptions:
    throttle_seconds: float
    throttle_status: int
    block_status: int
    escalate_after: int
    strike_window_seconds: float
    block_seconds: float
    block_growth: float
    block_max_seconds: float
    offender_memory_seconds: float
    appeal_contact: str


@dataclass(frozen=True, slots=True)
class StoreOptions:
    max_keys: int
    max_members_per_key: int
    prefix: str = "scrapeguard"
    timeout_ms: float = 50
    fail: Literal["open", "closed"] = "open"
    retry_seconds: float = 5


@dataclass(frozen=True, slots=True)
class IncidentOptions:
    """When incidents open, who the controller is, and how the records protect people."""

    open_at_members: int = 50
    organisation: str = "the site's operator"
    contact: str = "the site's privacy officer"
    pseudonym_key: str = "auto"
    retain_decisions_days: int = 180
    retain_exposure_days: int = 365


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One entry of the route map (see `routes.py`)."""

    pattern: str
    kind: str
    subject: str | None
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    client: ClientOptions
    allowlist: Allowlist
    profile_quota: ProfileQuotaOptions
    enumeration: EnumerationOptions
    bot_agents: BotAgentsOptions
    risk: RiskThresholds
    actions: ActionOptions
    store: StoreOptions
    routes: tuple[RouteRule, ...]
    source: str = "<defaults>"
    incidents: IncidentOptions = IncidentOptions()

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"
