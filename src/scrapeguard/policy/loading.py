"""Read a policy TOML file, lay it over the defaults and validate it.

Every problem is collected (not just the first) and reported with the file,
the line where the key stands, the dotted key, what is wrong and what is
allowed, so that `scrapeguard policy check` can list them all at once.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from scrapeguard.policy.errors import PolicyError, PolicyProblem
from scrapeguard.policy.model import (
    AUDIENCES,
    ActionOptions,
    Allowlist,
    AnonymousChallengeOptions,
    AudienceCategories,
    AutomationOptions,
    BotAgentsOptions,
    CampaignOptions,
    ChallengeOptions,
    ClientOptions,
    EnumerationOptions,
    FailedLoginsOptions,
    FloodOptions,
    HoneypotOptions,
    IncidentOptions,
    IpReputationOptions,
    IpSharingOptions,
    LoginWallOptions,
    NetworkList,
    NewAccountOptions,
    Policy,
    ProfileQuotaOptions,
    Quota,
    RiskThresholds,
    RouteMatching,
    RouteRule,
    StoreOptions,
)

CHALLENGE_PROVIDERS = ("pow", "hcaptcha", "turnstile", "recaptcha")
ROUTE_KINDS = ("profile", "contact_lookup", "listing", "asset", "auth", "page", "login")
ROUTE_KEYS = ("pattern", "kind", "subject", "categories", "methods")
#: HTTP methods a route rule may name.
ROUTE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def defaults_text() -> str:
    """The commented default policy, exactly as shipped."""
    return resources.files("scrapeguard.policy").joinpath("defaults.toml").read_text("utf-8")


def default_policy() -> Policy:
    return load_policy_text("", source="<defaults>")


def load_policy(path: str | Path) -> Policy:
    """Load a policy file. Raises PolicyError with every problem found."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        problem = PolicyProblem("", f"cannot read policy file: {exc.strerror}", file=str(p))
        raise PolicyError([problem]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyProblem("", f"not UTF-8 text: {exc}", file=str(p))]) from exc
    return load_policy_text(text, source=str(p))


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_from_toml_error(str(exc))
        raise PolicyError([PolicyProblem("", f"not valid TOML: {exc}", file=source, line=line)]) from exc
    defaults = tomllib.loads(defaults_text())
    checker = _Checker(text, source)
    checker.unknown_keys(user, defaults, "")
    merged = _merge(defaults, user)
    policy = checker.build(merged)
    checker.raise_if_problems()
    assert policy is not None
    return policy


def _line_from_toml_error(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge tables; lists (like [[routes]]) are replaced, not appended."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict):
            if isinstance(value, dict):
                out[key] = _merge(out[key], value)
            # else: a value where a table belongs; reported by unknown_keys, defaults kept
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Checker:
    """Collects problems while turning the merged dict into a Policy."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.problems: list[PolicyProblem] = []
        #: Keys already reported, so that checks between keys do not pile on.
        self.invalid: set[str] = set()

    # -- reporting -------------------------------------------------------

    def problem(self, key: str, message: str, allowed: str = "") -> None:
        self.invalid.add(key)
        self.problems.append(
            PolicyProblem(key, message, allowed, file=self.source, line=self.find_line(key))
        )

    def raise_if_problems(self) -> None:
        if self.problems:
            raise PolicyError(self.problems)

    def find_line(self, dotted: str) -> int | None:
        """Best-effort line of a key in the user's file (None if it is a default)."""
        if not dotted:
            return None
        route = re.match(r"routes\[(\d+)\](?:\.(\w+))?", dotted)
        if route:
            return self._find_route_line(int(route.group(1)), route.group(2))
        dotted = re.sub(r"\[\d+\]$", "", dotted)  # allowlist.cidrs[1] stands on the cidrs line
        *tables, leaf = dotted.split(".")
        header = ".".join(tables)
        current = ""
        key_re = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
        table_re = re.compile(rf"^\s*\[\s*{re.escape(dotted)}\s*\]")
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if table_re.match(line):
                return number
            if stripped.startswith("["):
                current = stripped.split("#", 1)[0].strip().strip("[] ").strip()
                continue
            if current == header and key_re.match(line):
                return number
            if current == "" and tables and re.match(rf"^\s*{re.escape(dotted)}\s*=", line):
                return number
        return None

    def _find_route_line(self, index: int, field: str | None) -> int | None:
        """The line of `field` in the index-th [[routes]] table, else that table's header line."""
        seen = -1
        header = None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped.startswith("[[routes]]"):
                seen += 1
                if seen == index:
                    header = number
                    if field is None:
                        return number
                continue
            if stripped.startswith("["):
                if seen == index:
                    break
                continue
            if seen == index and field and re.match(rf"^\s*{field}\s*=", line):
                return number
        return header

    # -- structure -------------------------------------------------------

    def unknown_keys(self, user: dict[str, Any], defaults: dict[str, Any], prefix: str) -> None:
        for key, value in user.items():
            dotted = f"{prefix}{key}"
            if key == "routes" and not prefix:
                continue  # validated as rules in build()
            if key not in defaults:
                close = difflib.get_close_matches(key, list(defaults), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.problem(dotted, f"unknown key{hint}", ", ".join(sorted(defaults)))
                continue
            if isinstance(defaults[key], dict):
                if not isinstance(value, dict):
                    self.problem(dotted, f"must be a table, not {_type_name(value)}")
                else:
                    self.unknown_keys(value, defaults[key], f"{dotted}.")

    # -- typed getters -----------------------------------------------------

    def get(self, data: dict[str, Any], dotted: str) -> Any:
        node: Any = data
        for part in dotted.split("."):
            node = node[part]
        return node

    def number(
        self, data: dict[str, Any], dotted: str, lo: float | None = None, hi: float | None = None,
        integer: bool = False, lo_open: bool = False,
    ) -> float:
        value = self.get(data, dotted)
        kind = "a whole number" if integer else "a number"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            self.problem(dotted, f"must be {kind}, not {_type_name(value)} {value!r}",
                         _range(lo, hi, lo_open))
            return lo if lo is not None else 0
        if (lo is not None and (value < lo or (lo_open and value == lo))) or (hi is not None and value > hi):
            self.problem(dotted, f"{value!r} is out of range", _range(lo, hi, lo_open))
            return lo if lo is not None else 0
        return float(value) if not integer else int(value)

    def integer(self, data: dict[str, Any], dotted: str, lo: int | None = None, hi: int | None = None) -> int:
        return int(self.number(data, dotted, lo, hi, integer=True))

    def boolean(self, data: dict[str, Any], dotted: str) -> bool:
        value = self.get(data, dotted)
        if not isinstance(value, bool):
            self.problem(dotted, f"must be true or false, not {_type_name(value)} {value!r}", "true, false")
            return False
        return value

    def string(self, data: dict[str, Any], dotted: str, choices: tuple[str, ...] = ()) -> str:
        value = self.get(data, dotted)
        if not isinstance(value, str):
            self.problem(dotted, f"must be a string, not {_type_name(value)}", ", ".join(choices))
            return choices[0] if choices else ""
        if choices and value not in choices:
            self.problem(dotted, f"{value!r} is not a valid value", ", ".join(repr(c) for c in choices))
            return choices[0]
        if not choices and not value.strip():
            self.problem(dotted, "must not be empty")
        return value

    def string_list(self, data: dict[str, Any], dotted: str) -> list[str]:
        value = self.get(data, dotted)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(dotted, "must be a list of strings", '["..."]')
            return []
        return list(value)

    def quota(self, data: dict[str, Any], dotted: str, weekly: bool = False) -> Quota:
        """A quota table: per_hour and per_day, and with `weekly` per_week (0: none)."""
        per_hour = self.integer(data, f"{dotted}.per_hour", lo=1)
        per_day = self.integer(data, f"{dotted}.per_day", lo=1)
        if per_day < per_hour and not self.invalid & {f"{dotted}.per_hour", f"{dotted}.per_day"}:
            self.problem(f"{dotted}.per_day", f"{per_day} is less than per_hour ({per_hour})",
                         "per_day >= per_hour")
        if not weekly:
            return Quota(per_hour, per_day)
        per_week = self.integer(data, f"{dotted}.per_week", lo=0)
        if 0 < per_week < per_day and not self.invalid & {f"{dotted}.per_day", f"{dotted}.per_week"}:
            self.problem(f"{dotted}.per_week", f"{per_week} is less than per_day ({per_day})",
                         "per_week >= per_day, or 0 for no weekly quota")
        return Quota(per_hour, per_day, per_week)

    # -- the whole policy --------------------------------------------------

    def build(self, d: dict[str, Any]) -> Policy | None:
        mode = self.string(d, "mode", ("enforce", "observe"))
        client = ClientOptions(
            session_cookie=self.string(d, "client.session_cookie"),
            account_header=self.string(d, "client.account_header"),
            account_created_header=self.string(d, "client.account_created_header"),
            session_ttl_seconds=self.number(d, "client.session_ttl_seconds", lo=1),
            login_failed_header=self._header_name(d, "client.login_failed_header"),
            audience_header=self._header_name(d, "client.audience_header"),
        )
        cidrs = []
        for i, text in enumerate(self.string_list(d, "allowlist.cidrs")):
            try:
                cidrs.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self.problem(f"allowlist.cidrs[{i}]", f"{text!r} is not an IP network",
                             "CIDR like 192.0.2.0/24 or 2001:db8::/32, or a single address")
        allowlist = Allowlist(tuple(cidrs), frozenset(self.string_list(d, "allowlist.accounts")))
        pq = "detectors.profile_quota"
        profile_quota = ProfileQuotaOptions(
            enabled=self.boolean(d, f"{pq}.enabled"),
            score=self.number(d, f"{pq}.score", lo=0, hi=1),
            anonymous=self.quota(d, f"{pq}.anonymous", weekly=True),
            account=self.quota(d, f"{pq}.account", weekly=True),
            new_account=self.quota(d, f"{pq}.new_account", weekly=True),
            new_account_max_age_days=self.number(d, f"{pq}.new_account.max_age_days", lo=0),
            network_enabled=self.boolean(d, f"{pq}.network.enabled"),
            network=self.quota(d, f"{pq}.network", weekly=True),
            shared_address=self.quota(d, f"{pq}.shared_address", weekly=True),
            rotation_score=self.number(d, f"{pq}.rotation_score", lo=0, hi=1),
        )
        en = "detectors.enumeration"
        enumeration = EnumerationOptions(
            enabled=self.boolean(d, f"{en}.enabled"),
            score=self.number(d, f"{en}.score", lo=0, hi=1),
            lookups_anonymous=self.quota(d, f"{en}.contact_lookups.anonymous"),
            lookups_account=self.quota(d, f"{en}.contact_lookups.account"),
            sweep_views=self.integer(d, f"{en}.sweep_views", lo=3),
            sweep_max_step=self.integer(d, f"{en}.sweep_max_step", lo=1),
            alphabetical_views=self.integer(d, f"{en}.alphabetical_views", lo=3),
            sweep_score=self.number(d, f"{en}.sweep_score", lo=0, hi=1),
            probe_misses=self.integer(d, f"{en}.probe_misses", lo=1),
            probe_share=self.number(d, f"{en}.probe_share", lo=0, hi=1),
            probe_score=self.number(d, f"{en}.probe_score", lo=0, hi=1),
            probe_burst_misses=self.integer(d, f"{en}.probe_burst_misses", lo=2),
            probe_burst_seconds=self.number(d, f"{en}.probe_burst_seconds", lo=1, hi=3600),
        )
        ba = "detectors.bot_agents"
        bot_agents = BotAgentsOptions(
            enabled=self.boolean(d, f"{ba}.enabled"),
            search_engines=self.string(d, f"{ba}.search_engines", ("allow", "count")),  # type: ignore[arg-type]
            verify_dns=self.boolean(d, f"{ba}.verify_dns"),
            fake_crawler_score=self.number(d, f"{ba}.fake_crawler_score", lo=0, hi=1),
            refuse_ai_training=self.boolean(d, f"{ba}.refuse_ai_training"),
            ai_training_score=self.number(d, f"{ba}.ai_training_score", lo=0, hi=1),
            tool_score=self.number(d, f"{ba}.tool_score", lo=0, hi=1),
            crawler_score=self.number(d, f"{ba}.crawler_score", lo=0, hi=1),
            scanner_score=self.number(d, f"{ba}.scanner_score", lo=0, hi=1),
        )
        risk = RiskThresholds(
            throttle=self.number(d, "risk.throttle", lo=0, hi=1, lo_open=True),
            block=self.number(d, "risk.block", lo=0, hi=1, lo_open=True),
            challenge=self.number(d, "risk.challenge", lo=0, hi=1, lo_open=True),
        )
        if not self.invalid & {"risk.block", "risk.throttle", "risk.challenge"}:
            if risk.block < risk.throttle:
                self.problem("risk.block", f"{risk.block} is below risk.throttle ({risk.throttle})",
                             "block >= throttle")
            elif risk.challenge > risk.block:
                self.problem("risk.challenge", f"{risk.challenge} is above risk.block ({risk.block})",
                             "challenge <= block")
        a = "actions"
        actions = ActionOptions(
            throttle_seconds=self.number(d, f"{a}.throttle_seconds", lo=1),
            throttle_status=self.integer(d, f"{a}.throttle_status", lo=400, hi=599),
            block_status=self.integer(d, f"{a}.block_status", lo=400, hi=599),
            escalate_after=self.integer(d, f"{a}.escalate_after", lo=1),
            strike_window_seconds=self.number(d, f"{a}.strike_window_seconds", lo=1),
            block_seconds=self.number(d, f"{a}.block_seconds", lo=1),
            block_growth=self.number(d, f"{a}.block_growth", lo=1),
            block_max_seconds=self.number(d, f"{a}.block_max_seconds", lo=1),
            offender_memory_seconds=self.number(d, f"{a}.offender_memory_seconds", lo=1),
            appeal_contact=self.string(d, f"{a}.appeal_contact"),
            challenge_status=self.integer(d, f"{a}.challenge_status", lo=200, hi=599),
        )
        challenge = self.challenge(d)
        prefix = self.string(d, "store.prefix")
        if "{" in prefix or "}" in prefix:
            self.problem("store.prefix", "must not contain braces (they mark Redis hash tags)")
        store = StoreOptions(
            max_keys=self.integer(d, "store.max_keys", lo=100),
            max_members_per_key=self.integer(d, "store.max_members_per_key", lo=10),
            prefix=prefix,
            timeout_ms=self.number(d, "store.timeout_ms", lo=1, hi=60_000),
            fail=self.string(d, "store.fail", ("open", "closed")),  # type: ignore[arg-type]
            retry_seconds=self.number(d, "store.retry_seconds", lo=0.1),
        )
        quotas = [profile_quota.anonymous, profile_quota.account, profile_quota.shared_address,
                  profile_quota.new_account, enumeration.lookups_anonymous, enumeration.lookups_account]
        if profile_quota.network_enabled:
            quotas.append(profile_quota.network)
        counted = [max(q.per_day, q.per_week) for q in quotas]
        flood = self.flood(d)
        if flood.enabled:
            counted.append(flood.pages)
        login_wall = self.login_wall(d)
        if login_wall.enabled:
            counted += [login_wall.per_address_per_day, login_wall.per_network_per_day]
        failed_logins = self.failed_logins(d)
        if failed_logins.enabled:
            counted += [failed_logins.address_block_per_day, failed_logins.username_throttle]
        if store.max_members_per_key <= max(counted) and "store.max_members_per_key" not in self.invalid:
            self.problem("store.max_members_per_key",
                         "must be larger than every per_day and per_week quota (and the flood "
                         "detector's pages, failed_logins' thresholds), or they cannot be counted",
                         f"> {max(counted)}")
        routes = self.routes(d.get("routes"))
        incidents = self.incidents(d)
        return Policy(mode=mode, client=client, allowlist=allowlist,  # type: ignore[arg-type]
                      profile_quota=profile_quota, enumeration=enumeration, bot_agents=bot_agents,
                      new_account=self.new_account(d), automation=self.automation(d),
                      ip_reputation=self.ip_reputation(d), ip_sharing=self.ip_sharing(d),
                      honeypot=self.honeypot(d), campaign=self.campaign(d),
                      risk=risk, actions=actions,
                      store=store, routes=routes, source=self.source, challenge=challenge,
                      incidents=incidents, flood=flood, login_wall=login_wall,
                      route_matching=self.route_matching(d), failed_logins=failed_logins,
                      anonymous_challenge=self.anonymous_challenge(d))

    def _header_name(self, data: dict[str, Any], dotted: str) -> str:
        value = self.string(data, dotted)
        if value and not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value) \
                and dotted not in self.invalid:
            self.problem(dotted, f"{value!r} is not a valid header name",
                         "letters, digits and !#$%&'*+-.^_`|~")
        return value

    def failed_logins(self, d: dict[str, Any]) -> FailedLoginsOptions:
        k = "detectors.failed_logins"
        raw = self.get(d, f"{k}.failure_statuses")
        statuses: list[int] = []
        if not isinstance(raw, list) or not raw or not all(
                isinstance(v, int) and not isinstance(v, bool) and 400 <= v <= 599 for v in raw):
            self.problem(f"{k}.failure_statuses",
                         f"must be a non-empty list of 4xx/5xx statuses, not {raw!r}", "[401, 403]")
        else:
            statuses = list(raw)
        options = FailedLoginsOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            failure_statuses=tuple(statuses),
            window_seconds=self.number(d, f"{k}.window_seconds", lo=60, hi=86400),
            address_throttle=self.integer(d, f"{k}.address_throttle", lo=1),
            address_score=self.number(d, f"{k}.address_score", lo=0, hi=1),
            address_block_per_day=self.integer(d, f"{k}.address_block_per_day", lo=1),
            address_block_score=self.number(d, f"{k}.address_block_score", lo=0, hi=1),
            username_throttle=self.integer(d, f"{k}.username_throttle", lo=1),
            username_score=self.number(d, f"{k}.username_score", lo=0, hi=1),
            remember_success_seconds=self.number(d, f"{k}.remember_success_days", lo=0, hi=365) * 86400,
        )
        if options.address_block_per_day < options.address_throttle and not self.invalid & {
                f"{k}.address_throttle", f"{k}.address_block_per_day"}:
            self.problem(f"{k}.address_block_per_day", f"{options.address_block_per_day} is less than "
                         f"address_throttle ({options.address_throttle})",
                         "address_block_per_day >= address_throttle")
        return options

    def incidents(self, d: dict[str, Any]) -> IncidentOptions:
        i = "incidents"
        key = self.string(d, f"{i}.pseudonym_key")
        if key != "auto" and not (key.startswith(("env:", "file:")) and len(key.split(":", 1)[1]) > 0):
            self.problem(f"{i}.pseudonym_key", f"{key!r} is not a key source",
                         '"auto", "env:NAME", "file:PATH"')
        return IncidentOptions(
            open_at_members=self.integer(d, f"{i}.open_at_members", lo=1),
            open_at_campaign_members=self.integer(d, f"{i}.open_at_campaign_members", lo=1),
            organisation=self.string(d, f"{i}.organisation"),
            contact=self.string(d, f"{i}.contact"),
            pseudonym_key=key,
            retain_decisions_days=self.integer(d, f"{i}.retention_days.decisions", lo=1),
            retain_exposure_days=self.integer(d, f"{i}.retention_days.exposure", lo=1),
            controller_country=self.controller_country(d, f"{i}.controller_country"),
            eu_representative=self.text_or_empty(d, f"{i}.eu_representative"),
            uk_representative=self.text_or_empty(d, f"{i}.uk_representative"),
        )

    def controller_country(self, d: dict[str, Any], dotted: str) -> str:
        value = self.text_or_empty(d, dotted)
        if value and not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
            self.problem(dotted, f"{value!r} is not an ISO 3166-1 alpha-2 code in capitals", '"DE", or ""')
            return ""
        return value

    def text_or_empty(self, d: dict[str, Any], dotted: str) -> str:
        value = self.get(d, dotted)
        if not isinstance(value, str):
            self.problem(dotted, f"must be a string, not {_type_name(value)}", '"..." or ""')
            return ""
        return value.strip()

    def challenge(self, d: dict[str, Any]) -> ChallengeOptions:
        c = "challenge"
        options = ChallengeOptions(
            enabled=self.boolean(d, f"{c}.enabled"),
            provider=self.string(d, f"{c}.provider", CHALLENGE_PROVIDERS),  # type: ignore[arg-type]
            difficulty=self.integer(d, f"{c}.difficulty", lo=1, hi=10**9),
            difficulty_max=self.integer(d, f"{c}.difficulty_max", lo=1, hi=10**9),
            challenge_seconds=self.number(d, f"{c}.challenge_seconds", lo=10),
            cookie=self.string(d, f"{c}.cookie"),
            clearance_seconds=self.number(d, f"{c}.clearance_seconds", lo=1),
            clearance_requests=self.integer(d, f"{c}.clearance_requests", lo=1),
            max_solves=self.integer(d, f"{c}.max_solves", lo=1),
            solve_window_seconds=self.number(d, f"{c}.solve_window_seconds", lo=1),
            secret_key_env=self.string(d, f"{c}.secret_key_env"),
            secret_key_file=self._optional_string(d, f"{c}.secret_key_file"),
            site_key=self._optional_string(d, f"{c}.site_key"),
            captcha_secret_env=self.string(d, f"{c}.captcha_secret_env"),
            verify_url=self._optional_string(d, f"{c}.verify_url"),
            verify_timeout_seconds=self.number(d, f"{c}.verify_timeout_seconds", lo=0.1, hi=60),
            hostnames=tuple(self.string_list(d, f"{c}.hostnames")),
            action=self._optional_string(d, f"{c}.action"),
            min_score=self.number(d, f"{c}.min_score", lo=0, hi=1),
        )
        for i, host in enumerate(options.hostnames):
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?|\[?[0-9A-Fa-f:.]+\]?", host):
                self.problem(f"{c}.hostnames[{i}]", f"{host!r} is not a host name",
                             '"www.example.org" (no scheme, port or path)')
        if options.action and options.provider not in ("turnstile", "recaptcha"):
            self.problem(f"{c}.action", f"provider {options.provider!r} does not report an action",
                         '"" (or provider "turnstile" or "recaptcha")')
        if options.min_score > 0 and options.provider != "recaptcha":
            self.problem(f"{c}.min_score", f"provider {options.provider!r} does not report a score",
                         '0 (or provider "recaptcha" with a v3 key)')
        if options.difficulty_max < options.difficulty and not self.invalid & {
                f"{c}.difficulty", f"{c}.difficulty_max"}:
            self.problem(f"{c}.difficulty_max", f"{options.difficulty_max} is below difficulty "
                         f"({options.difficulty})", "difficulty_max >= difficulty")
        cookie_ok = re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", options.cookie)
        if not cookie_ok and f"{c}.cookie" not in self.invalid:
            self.problem(f"{c}.cookie", f"{options.cookie!r} is not a valid cookie name",
                         "letters, digits and !#$%&'*+-.^_`|~")
        if options.verify_url and not re.match(r"https?://", options.verify_url):
            self.problem(f"{c}.verify_url", f"{options.verify_url!r} is not an http(s) URL",
                         '"" (the provider\'s own) or an https:// URL')
        if options.enabled and options.provider != "pow" and not options.site_key:
            self.problem(f"{c}.site_key", f"provider {options.provider!r} needs the site key of its widget",
                         "the site key from the provider's dashboard")
        return options

    def _optional_string(self, data: dict[str, Any], dotted: str) -> str:
        value = self.get(data, dotted)
        if not isinstance(value, str):
            self.problem(dotted, f"must be a string, not {_type_name(value)}")
            return ""
        return value

    # -- detectors -------------------------------------------------------------

    def new_account(self, d: dict[str, Any]) -> NewAccountOptions:
        k = "detectors.new_account"
        return NewAccountOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            watch_hours=self.number(d, f"{k}.watch_hours", lo=0, hi=24 * 30, lo_open=True),
            allowance_base=self.integer(d, f"{k}.allowance_base", lo=1),
            allowance_per_hour=self.number(d, f"{k}.allowance_per_hour", lo=0),
            score=self.number(d, f"{k}.score", lo=0, hi=1),
        )

    def automation(self, d: dict[str, Any]) -> AutomationOptions:
        k = "detectors.automation"
        return AutomationOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            regular_requests=self.integer(d, f"{k}.regular_requests", lo=4, hi=64),
            regular_variation=self.number(d, f"{k}.regular_variation", lo=0, hi=1),
            regular_score=self.number(d, f"{k}.regular_score", lo=0, hi=1),
            no_assets_pages=self.integer(d, f"{k}.no_assets_pages", lo=2, hi=64),
            no_assets_score=self.number(d, f"{k}.no_assets_score", lo=0, hi=1),
            headers_score=self.number(d, f"{k}.headers_score", lo=0, hi=1),
        )

    def flood(self, d: dict[str, Any]) -> FloodOptions:
        k = "detectors.flood"
        return FloodOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            pages=self.integer(d, f"{k}.pages", lo=2),
            pages_seconds=self.number(d, f"{k}.pages_seconds", lo=1, hi=3600),
            pages_score=self.number(d, f"{k}.pages_score", lo=0, hi=1),
            # an address's history keeps detectors.flood.KEEP (48) requests: the limit must fit in it
            user_agents=self.integer(d, f"{k}.user_agents", lo=2, hi=40),
            user_agents_seconds=self.number(d, f"{k}.user_agents_seconds", lo=1, hi=3600),
            user_agents_score=self.number(d, f"{k}.user_agents_score", lo=0, hi=1),
        )

    def anonymous_challenge(self, d: dict[str, Any]) -> AnonymousChallengeOptions:
        k = "detectors.anonymous_challenge"
        kinds = self.get(d, f"{k}.route_kinds")
        allowed = ("contact_lookup", "listing", "profile")  # (routes.MEMBER_DATA_KINDS)
        if not isinstance(kinds, list) or not kinds or not all(v in allowed for v in kinds):
            self.problem(f"{k}.route_kinds",
                         f"must be a non-empty list of member-data route kinds, not {kinds!r}",
                         ", ".join(allowed))
            kinds = ["profile"]
        return AnonymousChallengeOptions(enabled=self.boolean(d, f"{k}.enabled"), route_kinds=tuple(kinds))

    def login_wall(self, d: dict[str, Any]) -> LoginWallOptions:
        k = "detectors.login_wall"
        login_url = self.string(d, f"{k}.login_url")
        if f"{k}.login_url" not in self.invalid and not login_url.startswith(("/", "https://", "http://")):
            self.problem(f"{k}.login_url", f"{login_url!r} is neither a path nor a URL",
                         "a path starting with / or an http(s):// URL")
        return LoginWallOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            per_address_per_day=self.integer(d, f"{k}.per_address_per_day", lo=0),
            per_network_per_day=self.integer(d, f"{k}.per_network_per_day", lo=0),
            login_url=login_url,
            status=self.integer(d, f"{k}.status", lo=200, hi=599),
        )

    def ip_reputation(self, d: dict[str, Any]) -> IpReputationOptions:
        k = "detectors.ip_reputation"
        lists = []
        raw = self.get(d, f"{k}.lists")
        if not isinstance(raw, list):
            self.problem(f"{k}.lists", "must be a list of tables ([[detectors.ip_reputation.lists]])")
            raw = []
        for i, entry in enumerate(raw):
            key = f"{k}.lists[{i}]"
            if not isinstance(entry, dict):
                self.problem(key, "must be a table with name, cidrs and score")
                continue
            unknown = sorted(set(entry) - {"name", "cidrs", "score"})
            if unknown:
                self.problem(f"{key}.{unknown[0]}", "unknown key", "name, cidrs, score")
            name, cidrs, score = entry.get("name"), entry.get("cidrs"), entry.get("score")
            if not isinstance(name, str) or not name.strip():
                self.problem(f"{key}.name", "must be a non-empty string")
                continue
            if not isinstance(cidrs, list) or not all(isinstance(c, str) for c in cidrs):
                self.problem(f"{key}.cidrs", "must be a list of CIDR strings", '["192.0.2.0/24", ...]')
                continue
            if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
                self.problem(f"{key}.score", f"must be a number from 0 to 1, not {score!r}",
                             "0 <= value <= 1")
                continue
            networks = []
            for j, text in enumerate(cidrs):
                try:
                    networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    self.problem(f"{key}.cidrs[{j}]", f"{text!r} is not an IP network",
                                 "CIDR like 192.0.2.0/24 or 2001:db8::/32")
            lists.append(NetworkList(name.strip(), tuple(networks), float(score)))
        return IpReputationOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            datacenter_score=self.number(d, f"{k}.datacenter_score", lo=0, hi=1),
            vpn_score=self.number(d, f"{k}.vpn_score", lo=0, hi=1),
            asn_lookup=self.boolean(d, f"{k}.asn_lookup"),
            lists=tuple(lists),
        )

    def ip_sharing(self, d: dict[str, Any]) -> IpSharingOptions:
        k = "detectors.ip_sharing"
        return IpSharingOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            networks_per_account=self.integer(d, f"{k}.networks_per_account", lo=2),
            rotation_score=self.number(d, f"{k}.rotation_score", lo=0, hi=1),
            new_accounts_per_ip=self.integer(d, f"{k}.new_accounts_per_ip", lo=1),
            new_accounts_score=self.number(d, f"{k}.new_accounts_score", lo=0, hi=1),
        )

    def honeypot(self, d: dict[str, Any]) -> HoneypotOptions:
        k = "detectors.honeypot"
        paths = self.string_list(d, f"{k}.trap_paths")
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                self.problem(f"{k}.trap_paths[{i}]", f"{path!r} must be a path starting with '/'",
                             '"/trap/" or "/members/all*"')
        canaries = self.string_list(d, f"{k}.canary_members")
        for i, subject in enumerate(canaries):
            name, _, value = subject.partition(":")
            if not name or not value:
                self.problem(f"{k}.canary_members[{i}]", f"{subject!r} is not a member subject",
                             '"id:N" or "username:NAME" (the route map\'s subject name and value)')
        return HoneypotOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            trap_paths=tuple(paths),
            trap_score=self.number(d, f"{k}.trap_score", lo=0, hi=1),
            canary_members=frozenset(c.lower() for c in canaries),
            canary_score=self.number(d, f"{k}.canary_score", lo=0, hi=1),
        )

    def campaign(self, d: dict[str, Any]) -> CampaignOptions:
        k = "detectors.campaign"
        return CampaignOptions(
            enabled=self.boolean(d, f"{k}.enabled"),
            window_seconds=self.number(d, f"{k}.window_seconds", lo=60, hi=7 * 86400),
            min_networks=self.integer(d, f"{k}.min_networks", lo=2),
            min_members=self.integer(d, f"{k}.min_members", lo=2),
            score=self.number(d, f"{k}.score", lo=0, hi=1),
            min_disjoint_share=self.number(d, f"{k}.min_disjoint_share", lo=0, hi=1),
        )

    def route_matching(self, d: dict[str, Any]) -> RouteMatching:
        m = "route_matching"
        return RouteMatching(
            case_insensitive=self.boolean(d, f"{m}.case_insensitive"),
            merge_slashes=self.boolean(d, f"{m}.merge_slashes"),
            strip_path_params=self.boolean(d, f"{m}.strip_path_params"),
            repeated_subject=self.string(d, f"{m}.repeated_subject",  # type: ignore[arg-type]
                                         ("refuse", "first", "last")),
        )

    def routes(self, value: Any) -> tuple[RouteRule, ...]:
        if not isinstance(value, list):
            self.problem("routes", "must be an array of tables ([[routes]])")
            return ()
        rules = []
        for i, entry in enumerate(value):
            key = f"routes[{i}]"
            if not isinstance(entry, dict):
                self.problem(key, "must be a table")
                continue
            for name in entry:
                if name not in ROUTE_KEYS:
                    self.problem(f"{key}.{name}", "unknown key", ", ".join(ROUTE_KEYS))
            pattern = entry.get("pattern")
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                self.problem(f"{key}.pattern", f"must be a path starting with '/', not {pattern!r}",
                             'a path like "/u/{username}"')
                continue
            kind = entry.get("kind", "page")
            if kind not in ROUTE_KINDS:
                self.problem(f"{key}.kind", f"{kind!r} is not a route kind", ", ".join(ROUTE_KINDS))
                continue
            subject = entry.get("subject")
            placeholders = re.findall(r"\{(\w+)\*?\}", pattern)
            repeated = sorted({p for p in placeholders if placeholders.count(p) > 1})
            if repeated:
                self.problem(f"{key}.pattern", f"placeholder {{{repeated[0]}}} appears more than once",
                             "each placeholder name once per pattern")
                continue
            if subject is not None:
                if not isinstance(subject, str) or not (
                    subject in placeholders or (subject.startswith("query:") and len(subject) > 6)
                    or (subject.startswith("form:") and len(subject) > 5)
                ):
                    self.problem(f"{key}.subject", f"{subject!r} names no placeholder of the pattern",
                                 ", ".join([*placeholders, "query:NAME", "form:NAME"]))
                    continue
            elif kind in ("profile", "contact_lookup"):
                self.problem(f"{key}.subject", f"a {kind} route must say which member it shows",
                             ", ".join([*placeholders, "query:NAME", "form:NAME"]))
                continue
            categories = entry.get("categories", [])
            audiences = None
            if isinstance(categories, dict):
                audiences = self.audience_categories(f"{key}.categories", categories)
                if audiences is None:
                    continue
                categories = list(dict.fromkeys([*audiences.anonymous, *audiences.member,
                                                 *audiences.connection]))
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                self.problem(f"{key}.categories", "must be a list of data category names, or a table of "
                             "them per audience",
                             '["user.name", ...] or { anonymous = [...], member = [...] }')
                continue
            methods = entry.get("methods", [])
            if not isinstance(methods, list) or not all(
                    isinstance(m, str) and m.upper() in ROUTE_METHODS for m in methods):
                self.problem(f"{key}.methods", f"must be a list of HTTP methods, not {methods!r}",
                             ", ".join(f'"{m}"' for m in ROUTE_METHODS))
                continue
            rules.append(RouteRule(pattern, kind, subject, tuple(categories),
                                   tuple(dict.fromkeys(m.upper() for m in methods)), audiences))
        return tuple(rules)

    def audience_categories(self, key: str, table: dict[str, Any]) -> AudienceCategories | None:
        """`{ anonymous = [...], member = [...], connection = [...] }`: a missing member list is the
        anonymous one, a missing connection list the member one (each sees at least as much)."""
        found: dict[str, tuple[str, ...]] = {}
        for name, value in table.items():
            if name not in AUDIENCES:
                self.problem(f"{key}.{name}", "unknown audience", ", ".join(AUDIENCES))
                return None
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                self.problem(f"{key}.{name}", "must be a list of data category names",
                             '["user.name", "user.contact.email", ...]')
                return None
            found[name] = tuple(value)
        if "anonymous" not in found:
            self.problem(f"{key}.anonymous", "a table of categories per audience must name the anonymous "
                         "ones (an empty list if anonymous visitors see nothing)", "anonymous = [...]")
            return None
        member = found.get("member", found["anonymous"])
        return AudienceCategories(found["anonymous"], member, found.get("connection", member))


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _range(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"{lo} {'<' if lo_open else '<='} value <= {hi}"
    if lo is not None:
        return f"value {'>' if lo_open else '>='} {lo}"
    return ""
