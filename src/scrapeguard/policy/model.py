"""The policy as typed, validated values.

Each table is declared once, as a dataclass of `option(...)`s (see `policy/options.py`); its
defaults are read from `defaults.toml`, the only source of default values. A detector's options
live in the detector's own module (e.g. `FloodOptions` in `detectors/flood.py`) and reach the
policy through the detector registry (`detectors/__init__.py`), under `Policy.detectors`.
"""

from __future__ import annotations

import dataclasses
import importlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from scrapeguard.policy.options import OptionProblem, option, table

if TYPE_CHECKING:
    from scrapeguard.detectors.anonymous_challenge import AnonymousChallengeOptions
    from scrapeguard.detectors.automation import AutomationOptions
    from scrapeguard.detectors.bot_agents import BotAgentsOptions
    from scrapeguard.detectors.campaign import CampaignOptions
    from scrapeguard.detectors.enumeration import EnumerationOptions
    from scrapeguard.detectors.failed_logins import FailedLoginsOptions
    from scrapeguard.detectors.flood import FloodOptions
    from scrapeguard.detectors.honeypot import HoneypotOptions
    from scrapeguard.detectors.ip_reputation import IpReputationOptions, NetworkList
    from scrapeguard.detectors.ip_sharing import IpSharingOptions
    from scrapeguard.detectors.login_wall import LoginWallOptions
    from scrapeguard.detectors.new_account import NewAccountOptions
    from scrapeguard.detectors.profile_quota import ProfileQuotaOptions

#: Detector options that moved to their detectors' modules, still importable from here (lazily: the
#: detectors import this module).
MOVED = {
    "AnonymousChallengeOptions": "anonymous_challenge", "AutomationOptions": "automation",
    "BotAgentsOptions": "bot_agents", "CampaignOptions": "campaign", "EnumerationOptions": "enumeration",
    "FailedLoginsOptions": "failed_logins", "FloodOptions": "flood", "HoneypotOptions": "honeypot",
    "IpReputationOptions": "ip_reputation", "NetworkList": "ip_reputation",
    "IpSharingOptions": "ip_sharing", "LoginWallOptions": "login_wall", "NewAccountOptions": "new_account",
    "ProfileQuotaOptions": "profile_quota",
}

Mode = Literal["enforce", "observe"]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Header and cookie names: an HTTP token.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
TOKEN_CHARACTERS = "letters, digits and !#$%&'*+-.^_`|~"
OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True, slots=True)
@table("client")
class ClientOptions:
    session_cookie: str = option("Cookie that carries the site's session.")
    account_header: str = option("Response header naming the logged-in account.")
    account_created_header: str = option("Response header with the account's creation time (ISO 8601).")
    session_ttl_seconds: float = option("How long a learned session -> account mapping is kept.", lo=1)
    login_failed_header: str = option("Response header by which the site says a login failed "
                                      '(value "1"); see failed_logins.')
    audience_header: str = option("Response header by which the site says the viewer is a connection of "
                                  'the member shown (value "connection"); see the routes\' per-audience '
                                  "categories.")

    def check(self) -> Iterator[OptionProblem]:
        for name in ("login_failed_header", "audience_header"):
            value = getattr(self, name)
            if value and not TOKEN.fullmatch(value):
                yield OptionProblem(name, f"{value!r} is not a valid header name", TOKEN_CHARACTERS)


@dataclass(frozen=True, slots=True)
@table("allowlist")
class Allowlist:
    cidrs: tuple[IPNetwork, ...] = option("Networks never counted nor refused.")
    accounts: frozenset[str] = option("Accounts never counted nor refused.")


@dataclass(frozen=True, slots=True)
class Quota:
    """A distinct-members quota: at most `per_hour` in any hour, `per_day` in any day and, if
    `per_week` is not 0, `per_week` in any seven days (a table without per_week has none)."""

    per_hour: int = option("Distinct members in any hour.", lo=1)
    per_day: int = option("Distinct members in any day.", lo=1)
    per_week: int = option("Distinct members in any seven days; 0: no weekly quota.", lo=0, default=0)

    def check(self) -> Iterator[OptionProblem]:
        if self.per_day < self.per_hour:
            yield OptionProblem("per_day", f"{self.per_day} is less than per_hour ({self.per_hour})",
                                "per_day >= per_hour", ("per_hour",))
        if 0 < self.per_week < self.per_day:
            yield OptionProblem("per_week", f"{self.per_week} is less than per_day ({self.per_day})",
                                "per_week >= per_day, or 0 for no weekly quota", ("per_day",))


@dataclass(frozen=True, slots=True)
@table("risk")
class RiskThresholds:
    throttle: float = option("Behaviour evidence (or the whole risk) that throttles.", lo=0, hi=1,
                             lo_open=True)
    block: float = option("The whole risk that blocks.", lo=0, hi=1, lo_open=True)
    #: Bot evidence at or above this is challenged (see [challenge] and scrapeguard.risk).
    challenge: float = option("Bot evidence that is challenged.", lo=0, hi=1, lo_open=True)

    def check(self) -> Iterator[OptionProblem]:
        if self.block < self.throttle:
            yield OptionProblem("block", f"{self.block} is below risk.throttle ({self.throttle})",
                                "block >= throttle", ("throttle", "challenge"))
        elif self.challenge > self.block:
            yield OptionProblem("challenge", f"{self.challenge} is above risk.block ({self.block})",
                                "challenge <= block", ("throttle", "block"))


@dataclass(frozen=True, slots=True)
@table("actions")
class ActionOptions:
    throttle_seconds: float = option("How long a throttle holds.", lo=1)
    throttle_status: int = option("Status of a throttled request.", lo=400, hi=599)
    block_status: int = option("Status of a blocked request.", lo=400, hi=599)
    escalate_after: int = option("Refused requests within strike_window_seconds that make a block.", lo=1)
    strike_window_seconds: float = option("The window strikes are counted in.", lo=1)
    block_seconds: float = option("How long a first block holds.", lo=1)
    block_growth: float = option("Factor of each further block of a repeat offender.", lo=1)
    block_max_seconds: float = option("The longest block.", lo=1)
    offender_memory_seconds: float = option("How long earlier blocks are remembered.", lo=1)
    appeal_contact: str = option("Where a person can appeal, shown on refusal pages.")
    challenge_status: int = option("Status of the challenge page.", lo=200, hi=599)


CaptchaProvider = Literal["pow", "hcaptcha", "turnstile", "recaptcha"]
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?|\[?[0-9A-Fa-f:.]+\]?")


@dataclass(frozen=True, slots=True)
@table("challenge")
class ChallengeOptions:
    """[challenge]: what a client in the challenge band must pass, and what passing gives."""

    enabled: bool = option("Whether clients in the challenge band are challenged (else throttled).")
    provider: CaptchaProvider = option("The built-in proof-of-work or a CAPTCHA provider.")
    difficulty: int = option("Proof-of-work difficulty at risk.challenge.", lo=1, hi=10**9)
    difficulty_max: int = option("Proof-of-work difficulty at risk.block.", lo=1, hi=10**9)
    challenge_seconds: float = option("How long a served challenge can be solved.", lo=10)
    cookie: str = option("Name of the clearance cookie.")
    clearance_seconds: float = option("How long a clearance lasts.", lo=1)
    clearance_requests: int = option("Member-data requests a clearance is good for.", lo=1)
    max_solves: int = option("Solves within solve_window_seconds before a client is blocked.", lo=1)
    solve_window_seconds: float = option("The window solves are counted in.", lo=1)
    secret_key_env: str = option("Environment variable holding the signing key(s).")
    secret_key_file: str = option("File holding the signing key(s), if no variable.", blank=True)
    site_key: str = option("CAPTCHA providers: the widget's site key.", blank=True)
    captcha_secret_env: str = option("CAPTCHA providers: environment variable holding the secret.")
    verify_url: str = option('CAPTCHA providers: where to verify ("": the official URL).', blank=True)
    verify_timeout_seconds: float = option("CAPTCHA providers: how long to wait for verification.",
                                           lo=0.1, hi=60)
    #: CAPTCHA providers: hostnames a token must be solved on (empty: not checked), the action
    #: it must carry ("" : not checked; Turnstile, reCAPTCHA) and reCAPTCHA v3's minimum score.
    hostnames: tuple[str, ...] = option("Host names a CAPTCHA token must be solved on (empty: any).")
    action: str = option('The action a CAPTCHA token must carry ("": not checked).', blank=True)
    min_score: float = option("reCAPTCHA v3: the lowest score that passes (0: not checked).", lo=0, hi=1)

    def check(self) -> Iterator[OptionProblem]:
        for i, host in enumerate(self.hostnames):
            if not _HOSTNAME.fullmatch(host):
                yield OptionProblem(f"hostnames[{i}]", f"{host!r} is not a host name",
                                    '"www.example.org" (no scheme, port or path)')
        if self.action and self.provider not in ("turnstile", "recaptcha"):
            yield OptionProblem("action", f"provider {self.provider!r} does not report an action",
                                '"" (or provider "turnstile" or "recaptcha")')
        if self.min_score > 0 and self.provider != "recaptcha":
            yield OptionProblem("min_score", f"provider {self.provider!r} does not report a score",
                                '0 (or provider "recaptcha" with a v3 key)')
        if self.difficulty_max < self.difficulty:
            yield OptionProblem("difficulty_max", f"{self.difficulty_max} is below difficulty "
                                f"({self.difficulty})", "difficulty_max >= difficulty", ("difficulty",))
        if not TOKEN.fullmatch(self.cookie):
            yield OptionProblem("cookie", f"{self.cookie!r} is not a valid cookie name", TOKEN_CHARACTERS)
        if self.verify_url and not re.match(r"https?://", self.verify_url):
            yield OptionProblem("verify_url", f"{self.verify_url!r} is not an http(s) URL",
                                '"" (the provider\'s own) or an https:// URL')
        if self.enabled and self.provider != "pow" and not self.site_key:
            yield OptionProblem("site_key", f"provider {self.provider!r} needs the site key of its widget",
                                "the site key from the provider's dashboard")


@dataclass(frozen=True, slots=True)
@table("store")
class StoreOptions:
    max_keys: int = option("Entries the in-process store keeps at most.", lo=100)
    max_members_per_key: int = option("Distinct members remembered per key (and per Redis set).", lo=10)
    prefix: str = option("What every shared-store key starts with.")
    timeout_ms: float = option("A shared-store call slower than this is a failure.", lo=1, hi=60_000)
    fail: Literal["open", "closed"] = option("What to do while the shared store is unreachable.")
    retry_seconds: float = option("How often an unreachable shared store is tried again.", lo=0.1)

    def check(self) -> Iterator[OptionProblem]:
        if "{" in self.prefix or "}" in self.prefix:
            yield OptionProblem("prefix", "must not contain braces (they mark Redis hash tags)")


@dataclass(frozen=True, slots=True)
@table("incidents")
class IncidentOptions:
    """When incidents open, who the controller is, and how the records protect people."""

    open_at_members: int = option("Members one actor received that open an incident.", lo=1)
    #: For a campaign (coordinated, deliberate): an incident opens from this many members.
    open_at_campaign_members: int = option("Members a campaign received that open an incident.", lo=1)
    organisation: str = option("The controller, named in notices and letters.")
    contact: str = option("How to reach the privacy officer, named in notices and letters.")
    pseudonym_key: str = option('Key of the address pseudonyms: "auto", "env:NAME" or "file:PATH".')
    retain_decisions_days: int = option("Days decisions are kept.", key="retention_days.decisions", lo=1)
    retain_exposure_days: int = option("Days exposure records are kept.", key="retention_days.exposure", lo=1)

    controller_country: str = option("Where the controller is established (ISO 3166-1 alpha-2 in capitals, "
                                     'e.g. "DE"); "": not recorded (an open question in every assessment).',
                                     blank=True)
    eu_representative: str = option('The representative designated under GDPR Art. 27 ("": none).',
                                    blank=True)
    uk_representative: str = option('The representative designated under UK GDPR Art. 27 ("": none).',
                                    blank=True)

    def check(self) -> Iterator[OptionProblem]:
        country = self.controller_country
        if country and not (len(country) == 2 and country.isascii() and country.isalpha()
                            and country.isupper()):
            yield OptionProblem("controller_country",
                                f"{country!r} is not an ISO 3166-1 alpha-2 code in capitals", '"DE", or ""')
        key = self.pseudonym_key
        if key != "auto" and not (key.startswith(("env:", "file:")) and key.split(":", 1)[1]):
            yield OptionProblem("pseudonym_key", f"{key!r} is not a key source",
                                '"auto", "env:NAME", "file:PATH"')


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
@table("route_matching")
class RouteMatching:
    """[route_matching]: how the site reads request paths and member parameters, so that the guard
    keys the route and the member the site serves (see docs/security.md, "Ambiguous requests")."""

    case_insensitive: bool = option("The site matches paths (and member names in them) regardless of case.")
    merge_slashes: bool = option('The site reads runs of slashes as one ("//u/x" is "/u/x"); else refused.')
    strip_path_params: bool = option('The site drops ";params" from path segments (Java servlet containers).')
    repeated_subject: Literal["refuse", "first", "last"] = option(
        "A member parameter given twice: refused (400), or the value the site's framework reads.")


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    client: ClientOptions
    allowlist: Allowlist
    risk: RiskThresholds
    actions: ActionOptions
    challenge: ChallengeOptions
    store: StoreOptions
    incidents: IncidentOptions
    route_matching: RouteMatching
    routes: tuple[RouteRule, ...]
    #: Each detector's options by its name, in the registry's order (`detectors/__init__.py`).
    detectors: Mapping[str, Any]
    source: str = "<defaults>"

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"

    def options(self, kind: type[OptionsT]) -> OptionsT:
        """A detector's options, by their class: `policy.options(FloodOptions)`."""
        for value in self.detectors.values():
            if isinstance(value, kind):
                return value
        raise KeyError(f"no detector options of type {kind.__name__} in the policy")

    def with_options(self, options: object) -> Policy:
        """This policy with one detector's options replaced (e.g. replay's, without DNS checks)."""
        names = [name for name, value in self.detectors.items() if type(value) is type(options)]
        if not names:
            raise KeyError(f"no detector options of type {type(options).__name__} in the policy")
        return dataclasses.replace(self, detectors={**self.detectors, names[0]: options})

    # Shortcuts to the built-in detectors' options (a new detector needs none: `options(...)`).

    @property
    def profile_quota(self) -> ProfileQuotaOptions:
        return cast("ProfileQuotaOptions", self.detectors["profile_quota"])

    @property
    def enumeration(self) -> EnumerationOptions:
        return cast("EnumerationOptions", self.detectors["enumeration"])

    @property
    def new_account(self) -> NewAccountOptions:
        return cast("NewAccountOptions", self.detectors["new_account"])

    @property
    def automation(self) -> AutomationOptions:
        return cast("AutomationOptions", self.detectors["automation"])

    @property
    def bot_agents(self) -> BotAgentsOptions:
        return cast("BotAgentsOptions", self.detectors["bot_agents"])

    @property
    def ip_reputation(self) -> IpReputationOptions:
        return cast("IpReputationOptions", self.detectors["ip_reputation"])

    @property
    def ip_sharing(self) -> IpSharingOptions:
        return cast("IpSharingOptions", self.detectors["ip_sharing"])

    @property
    def honeypot(self) -> HoneypotOptions:
        return cast("HoneypotOptions", self.detectors["honeypot"])

    @property
    def campaign(self) -> CampaignOptions:
        return cast("CampaignOptions", self.detectors["campaign"])

    @property
    def flood(self) -> FloodOptions:
        return cast("FloodOptions", self.detectors["flood"])

    @property
    def login_wall(self) -> LoginWallOptions:
        return cast("LoginWallOptions", self.detectors["login_wall"])

    @property
    def failed_logins(self) -> FailedLoginsOptions:
        return cast("FailedLoginsOptions", self.detectors["failed_logins"])

    @property
    def anonymous_challenge(self) -> AnonymousChallengeOptions:
        return cast("AnonymousChallengeOptions", self.detectors["anonymous_challenge"])


def __getattr__(name: str) -> Any:
    if name in MOVED:
        return getattr(importlib.import_module(f"scrapeguard.detectors.{MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MOVED", "TOKEN", "TOKEN_CHARACTERS", "ActionOptions", "Allowlist", "AnonymousChallengeOptions",
    "AutomationOptions", "BotAgentsOptions", "CampaignOptions", "CaptchaProvider", "ChallengeOptions",
    "ClientOptions", "EnumerationOptions", "FailedLoginsOptions", "FloodOptions", "HoneypotOptions",
    "IPNetwork", "IncidentOptions", "IpReputationOptions", "IpSharingOptions", "LoginWallOptions", "Mode",
    "NetworkList", "NewAccountOptions", "Policy", "ProfileQuotaOptions", "Quota", "RiskThresholds",
    "RouteMatching", "RouteRule", "StoreOptions",
]
