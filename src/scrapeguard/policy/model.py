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
    #: Response header by which the site says a login failed (value "1"); see failed_logins.
    login_failed_header: str = "X-Login-Failed"
    #: Response header by which the site says the viewer is a connection of the member shown
    #: (value "connection"); see routes' per-audience categories.
    audience_header: str = "X-Viewer-Audience"


@dataclass(frozen=True, slots=True)
class Allowlist:
    cidrs: tuple[IPNetwork, ...]
    accounts: frozenset[str]


@dataclass(frozen=True, slots=True)
class Quota:
    """A distinct-profiles quota: at most `per_hour` in any hour, `per_day` in any day and, if
    `per_week` is not 0, `per_week` in any seven days (profile quotas only)."""

    per_hour: int
    per_day: int
    per_week: int = 0


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
    #: All anonymous browser sessions of one address together (see profile_quota).
    shared_address: Quota = Quota(300, 1500, 4000)
    rotation_score: float = 0.95


@dataclass(frozen=True, slots=True)
class EnumerationOptions:
    enabled: bool
    score: float
    lookups_anonymous: Quota
    lookups_account: Quota
    sweep_views: int = 8
    sweep_max_step: int = 3
    alphabetical_views: int = 20
    sweep_score: float = 0.7
    probe_misses: int = 8
    probe_share: float = 0.5
    probe_score: float = 0.7
    probe_burst_misses: int = 4
    probe_burst_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class NewAccountOptions:
    enabled: bool
    watch_hours: float
    allowance_base: int
    allowance_per_hour: float
    score: float


@dataclass(frozen=True, slots=True)
class AutomationOptions:
    enabled: bool
    regular_requests: int
    regular_variation: float
    regular_score: float
    no_assets_pages: int
    no_assets_score: float
    headers_score: float


@dataclass(frozen=True, slots=True)
class FloodOptions:
    """Paces no person produces, on any route (see detectors/flood.py)."""

    enabled: bool = True
    pages: int = 40
    pages_seconds: float = 20.0
    pages_score: float = 0.6
    user_agents: int = 10
    user_agents_seconds: float = 60.0
    user_agents_score: float = 0.6


@dataclass(frozen=True, slots=True)
class LoginWallOptions:
    """An allowance of member profiles for anonymous visitors (see detectors/login_wall.py)."""

    enabled: bool = False
    per_address_per_day: int = 20
    per_network_per_day: int = 0
    #: Where the login wall sends people (a path on the site, or a URL).
    login_url: str = "/login"
    status: int = 403


@dataclass(frozen=True, slots=True)
class AnonymousChallengeOptions:
    """Challenge every anonymous visitor on these route kinds (see detectors/anonymous_challenge.py)."""

    enabled: bool = False
    route_kinds: tuple[str, ...] = ("profile",)


@dataclass(frozen=True, slots=True)
class FailedLoginsOptions:
    """Password guessing on login routes (see detectors/failed_logins.py)."""

    enabled: bool = True
    #: Statuses of a login route's response that mean "the login failed".
    failure_statuses: tuple[int, ...] = (401, 403)
    window_seconds: float = 900.0
    address_throttle: int = 10
    address_score: float = 0.6
    address_block_per_day: int = 50
    address_block_score: float = 1.0
    username_throttle: int = 10
    username_score: float = 0.6
    #: How long an address that logged in to a username is trusted for it (seconds).
    remember_success_seconds: float = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class NetworkList:
    """A named list of networks and the score a request for member data from one of them gets."""

    name: str
    cidrs: tuple[IPNetwork, ...]
    score: float


@dataclass(frozen=True, slots=True)
class IpReputationOptions:
    enabled: bool
    datacenter_score: float
    vpn_score: float
    asn_lookup: bool
    lists: tuple[NetworkList, ...]


@dataclass(frozen=True, slots=True)
class IpSharingOptions:
    enabled: bool
    networks_per_account: int
    rotation_score: float
    new_accounts_per_ip: int
    new_accounts_score: float


@dataclass(frozen=True, slots=True)
class HoneypotOptions:
    enabled: bool
    trap_paths: tuple[str, ...]
    trap_score: float
    canary_members: frozenset[str]
    canary_score: float


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    enabled: bool
    window_seconds: float
    min_networks: int
    min_members: int
    score: float
    #: Distinct members at least this share of the group's (actor, member) views: disjoint slices.
    min_disjoint_share: float = 0.8


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
    scanner_score: float


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    throttle: float
    block: float
    #: Bot evidence at or above this is challenged (see [challenge] and scrapeguard.risk).
    challenge: float = 0.3


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
    challenge_status: int = 403


CaptchaProvider = Literal["pow", "hcaptcha", "turnstile", "recaptcha"]


@dataclass(frozen=True, slots=True)
class ChallengeOptions:
    """[challenge]: what a client in the challenge band must pass, and what passing gives."""

    enabled: bool = True
    provider: CaptchaProvider = "pow"
    difficulty: int = 50000
    difficulty_max: int = 1000000
    challenge_seconds: float = 600
    cookie: str = "scrapeguard_clearance"
    clearance_seconds: float = 1800
    clearance_requests: int = 100
    max_solves: int = 3
    solve_window_seconds: float = 3600
    secret_key_env: str = "SCRAPEGUARD_SECRET_KEY"
    secret_key_file: str = ""
    site_key: str = ""
    captcha_secret_env: str = "SCRAPEGUARD_CAPTCHA_SECRET"
    verify_url: str = ""
    verify_timeout_seconds: float = 5
    #: CAPTCHA providers: hostnames a token must be solved on (empty: not checked), the action
    #: it must carry ("" : not checked; Turnstile, reCAPTCHA) and reCAPTCHA v3's minimum score.
    hostnames: tuple[str, ...] = ()
    action: str = ""
    min_score: float = 0.0


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
    #: For a campaign (coordinated, deliberate): an incident opens from this many members.
    open_at_campaign_members: int = 10
    organisation: str = "the site's operator"
    contact: str = "the site's privacy officer"
    pseudonym_key: str = "auto"
    retain_decisions_days: int = 180
    retain_exposure_days: int = 365
    #: Where the controller is established (ISO 3166-1 alpha-2, e.g. "DE"); "": not recorded.
    controller_country: str = ""
    #: The representative designated under GDPR Art. 27 / UK GDPR Art. 27 ("": none).
    eu_representative: str = ""
    uk_representative: str = ""


Audience = Literal["anonymous", "member", "connection"]
#: Who a response is shown to: a visitor with no account, a logged-in member, a member connected to
#: the member shown (when the site says so). See docs/records.md, "Audiences".
AUDIENCES: tuple[Audience, ...] = ("anonymous", "member", "connection")
AUDIENCE_WORDS: dict[str, str] = {"anonymous": "anonymous visitors", "member": "members",
                                  "connection": "connections"}


@dataclass(frozen=True, slots=True)
class AudienceCategories:
    """The data categories a route shows to each audience (`categories = { anonymous = [...], ... }`)."""

    anonymous: tuple[str, ...]
    member: tuple[str, ...]
    connection: tuple[str, ...]

    def of(self, audience: str) -> tuple[str, ...]:
        return {"anonymous": self.anonymous, "member": self.member}.get(audience, self.connection)


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One entry of the route map (see `routes.py`)."""

    pattern: str
    kind: str
    subject: str | None
    #: Every category the route shows to anyone (the union over its audiences).
    categories: tuple[str, ...]
    #: Upper-case HTTP methods the rule applies to; empty: every method (see `routes.py`).
    methods: tuple[str, ...] = ()
    #: Categories per audience; None: the rule gave one list, the same for every audience.
    audiences: AudienceCategories | None = None

    def categories_for(self, audience: str | None) -> tuple[str, ...]:
        """What a response of this route shows to `audience` (None or unknown: everything it may show)."""
        if self.audiences is None or audience not in AUDIENCES:
            return self.categories
        return self.audiences.of(audience)


@dataclass(frozen=True, slots=True)
class RouteMatching:
    """[route_matching]: how the site reads request paths and member parameters, so that the guard
    keys the route and the member the site serves (see docs/security.md, "Ambiguous requests")."""

    #: The site matches paths (and member names in them) regardless of case.
    case_insensitive: bool = False
    #: The site treats runs of slashes in a path as one ("//u/x" is "/u/x"); else they are refused.
    merge_slashes: bool = False
    #: The site drops ";params" from path segments (Java servlet containers do).
    strip_path_params: bool = False
    #: A member parameter given more than once (?email=a&email=b): "refuse" (400), or the value the
    #: site's framework reads: "first" (Flask's args.get) or "last" (Starlette, Django).
    repeated_subject: Literal["refuse", "first", "last"] = "refuse"


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    client: ClientOptions
    allowlist: Allowlist
    profile_quota: ProfileQuotaOptions
    enumeration: EnumerationOptions
    bot_agents: BotAgentsOptions
    new_account: NewAccountOptions
    automation: AutomationOptions
    ip_reputation: IpReputationOptions
    ip_sharing: IpSharingOptions
    honeypot: HoneypotOptions
    campaign: CampaignOptions
    risk: RiskThresholds
    actions: ActionOptions
    store: StoreOptions
    routes: tuple[RouteRule, ...]
    source: str = "<defaults>"
    challenge: ChallengeOptions = ChallengeOptions()
    incidents: IncidentOptions = IncidentOptions()
    flood: FloodOptions = FloodOptions()
    login_wall: LoginWallOptions = LoginWallOptions()
    anonymous_challenge: AnonymousChallengeOptions = AnonymousChallengeOptions()
    route_matching: RouteMatching = RouteMatching()
    failed_logins: FailedLoginsOptions = FailedLoginsOptions()

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"
