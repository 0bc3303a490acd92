"""Breach-notification rules as versioned data: one TOML file per regime, loaded and validated here.

A rule says who must be told (regulator or individuals), when the legal test is met (`trigger`, in the
law's words, plus `min_severity`: ScrapeGuard's editable mapping of that test onto the ENISA severity
level), when the clock starts (the controller's recorded awareness, or detection), the offset (fixed
hours/days/business days, or none: "as soon as practicable") and what the notice must contain.
"assess" rules (a duty to assess a suspected breach within a time) are kept apart from "notify" rules.
Facts that the reference leaves unconfirmed are `requirement = "unconfirmed"` or listed in
`open_questions`: the loader never fills them in.

A notice's required contents are machine-checkable: an entry of `contents` is either the item in words
or `{ item = "...", check = "REGEX" }`, where the regular expression must match the rendered notice
(`{members}`, `{contact}`, `{organisation}`, `{regulator}` and `{incident}` stand for the incident's
values). An optional `[jurisdiction]` table says when a controller's establishment brings it under the
regime (and then for every affected member), whether a controller from outside needs a representative
(GDPR Art. 27) and whether a lead authority is named by the main establishment (Art. 56).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast, get_args

RuleKind = Literal["assess", "notify"]
Audience = Literal["regulator", "individuals", "controller"]
Requirement = Literal["required", "conditional", "recommended", "not_required", "unconfirmed"]
ClockStart = Literal["awareness", "detection"]
SeverityLevel = Literal["low", "medium", "high", "very high"]
OffsetSource = Literal["law", "guidance"]

SEVERITY_LEVELS: tuple[SeverityLevel, ...] = get_args(SeverityLevel)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class Offset:
    """A fixed time allowed after the clock starts. Business days skip Saturdays and Sundays only."""

    hours: int = 0
    days: int = 0
    business_days: int = 0

    def after(self, start: datetime) -> datetime:
        due = start + timedelta(hours=self.hours, days=self.days)
        remaining = self.business_days
        while remaining > 0:
            due += timedelta(days=1)
            if due.weekday() < 5:
                remaining -= 1
        return due

    def describe(self) -> str:
        parts = [f"{n} {unit}" for n, unit in ((self.hours, "h"), (self.days, "days"),
                                                 (self.business_days, "business days")) if n]
        return " + ".join(parts)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a regime's facts come from: a document by its title and address, and which of its
    provisions (`citation`, e.g. "Art. 33(1), 34"; "" for the whole)."""

    title: str
    url: str
    citation: str = ""

    def __str__(self) -> str:
        return f"{self.title}{', ' + self.citation if self.citation else ''} <{self.url}>"


PLACEHOLDERS = ("members", "contact", "organisation", "regulator", "incident")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
Representative = Literal["eu", "uk"]


@dataclass(frozen=True, slots=True)
class ContentCheck:
    """One required element of a notice and the pattern that finds it in the rendered text."""

    item: str
    pattern: str  # a regular expression; {members}, {contact}, ... are filled in (escaped) first

    def regex(self, values: dict[str, str]) -> re.Pattern[str]:
        filled = _PLACEHOLDER.sub(lambda m: re.escape(values.get(m.group(1), "")), self.pattern)
        return re.compile(filled, re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """When the regime binds a controller by where it is established, not only by where members live."""

    basis: str
    establishment_countries: frozenset[str]  # establishment here brings the controller under the regime
    covers_all_members: bool  # an established controller is bound for every affected member
    representative: Representative | None  # a controller from outside must designate one (Art. 27)
    lead_authority: bool  # one-stop-shop: the main establishment's authority leads (Art. 56)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: RuleKind
    audience: Audience
    recipient: str
    requirement: Requirement
    trigger: str
    basis: str
    deadline: str  # the deadline in the law's (or guidance's) words
    clock_start: ClockStart
    offset: Offset | None
    offset_source: OffsetSource
    min_severity: SeverityLevel | None  # only for requirement "required"
    contents: tuple[str, ...]
    contents_confirmed: bool
    exemptions: tuple[str, ...]
    checks: tuple[ContentCheck, ...] = ()  # the contents that can be checked in a rendered notice


@dataclass(frozen=True, slots=True)
class Regime:
    id: str
    name: str
    regulator: str
    version: str
    effective: date  # from when this version of the rule data applies (not the law's commencement)
    countries: frozenset[str]
    rules: tuple[Rule, ...]
    records: str | None  # record-keeping duty; None when unconfirmed
    open_questions: tuple[str, ...]
    sources: tuple[Source, ...]
    file: str
    jurisdiction: Jurisdiction | None = None

    def rule(self, kind: RuleKind, audience: Audience) -> Rule | None:
        return next((r for r in self.rules if r.kind == kind and r.audience == audience), None)


@dataclass(frozen=True, slots=True)
class RuleSet:
    regimes: tuple[Regime, ...]

    def regime(self, regime_id: str) -> Regime:
        for regime in self.regimes:
            if regime.id == regime_id:
                return regime
        known = ", ".join(r.id for r in self.regimes)
        raise KeyError(f"no regime {regime_id!r} (known: {known})")

    def regime_for_country(self, country: str | None) -> Regime | None:
        if country is None:
            return None
        code = country.upper()
        return next((r for r in self.regimes if code in r.countries), None)


@dataclass(frozen=True, slots=True)
class RuleProblem:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}" if self.key else f"{self.file}: {self.message}"


class RulesError(ValueError):
    """Rule files could not be used; `problems` lists every reason (file, key, what is wrong)."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@cache
def packaged_rules() -> RuleSet:
    """The rule files shipped in `scrapeguard/compliance/regimes/` (read once)."""
    folder = resources.files("scrapeguard.compliance").joinpath("regimes")
    texts = [(f"regimes/{f.name}", f.read_text("utf-8"))
             for f in folder.iterdir() if f.name.endswith(".toml")]
    return load_rule_texts(sorted(texts))


def load_rules(directory: str | Path) -> RuleSet:
    """Load every `*.toml` in a directory (a user's edited copy of the rules)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RulesError([RuleProblem(str(folder), "", "not a directory of rule files")])
    texts: list[tuple[str, str]] = []
    problems: list[RuleProblem] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            texts.append((str(path), path.read_text("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(RuleProblem(str(path), "", f"cannot read: {exc}"))
    if problems:
        raise RulesError(problems)
    return load_rule_texts(texts)


def load_rule_texts(texts: list[tuple[str, str]]) -> RuleSet:
    """Parse and validate (file name, TOML text) pairs; every problem in every file is reported."""
    problems: list[RuleProblem] = []
    regimes: list[Regime] = []
    for name, text in texts:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problems.append(RuleProblem(name, "", f"not valid TOML: {exc}"))
            continue
        try:
            regimes.append(regime_from_data(data, name))
        except RulesError as exc:
            problems.extend(exc.problems)
    if not texts:
        problems.append(RuleProblem("<rules>", "", "no rule files"))
    problems.extend(_cross_file_problems(regimes))
    if problems:
        raise RulesError(problems)
    return RuleSet(tuple(regimes))


def regime_from_data(data: dict[str, Any], file: str) -> Regime:
    """Validate one parsed rule file; RulesError lists every problem."""
    checker = _Checker(file)
    regime = checker.regime(data)
    if regime is None or checker.problems:
        raise RulesError(checker.problems or [RuleProblem(file, "", "invalid")])
    return regime


def _cross_file_problems(regimes: list[Regime]) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    seen_ids: dict[str, str] = {}
    seen_countries: dict[str, str] = {}
    for regime in regimes:
        if regime.id in seen_ids:
            problems.append(RuleProblem(regime.file, "id",
                                        f"{regime.id!r} also defined in {seen_ids[regime.id]}"))
        seen_ids.setdefault(regime.id, regime.file)
        for country in sorted(regime.countries):
            if country in seen_countries:
                problems.append(RuleProblem(regime.file, "countries",
                                            f"{country} is also mapped by {seen_countries[country]}"))
            seen_countries.setdefault(country, regime.file)
    return problems


_REGIME_KEYS = {"id", "name", "regulator", "version", "effective", "countries", "rules", "records",
                "open_questions", "sources", "jurisdiction"}
_JURISDICTION_KEYS = {"basis", "establishment_countries", "covers_all_members", "representative",
                      "lead_authority"}
_RULE_KEYS = {"id", "kind", "audience", "recipient", "requirement", "trigger", "basis", "deadline",
              "clock_start", "offset", "offset_source", "min_severity", "contents", "exemptions"}
_OFFSET_KEYS = {"hours", "days", "business_days"}


class _Checker:
    """Collects problems while building typed values from one parsed file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[RuleProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(RuleProblem(self.file, key, message))

    def unknown(self, table: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in sorted(set(table) - allowed):
            self.problem(f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, table: dict[str, Any], key: str, prefix: str, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(prefix + key, "missing (a non-empty string)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(prefix + key, f"must be a non-empty string, got {value!r}")
            return None
        return value.strip()

    def texts(self, table: dict[str, Any], key: str, prefix: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(prefix + key, "must be a list of non-empty strings")
            return ()
        return tuple(v.strip() for v in value)

    def choice(self, table: dict[str, Any], key: str, prefix: str, allowed: tuple[str, ...]) -> str | None:
        value = table.get(key)
        if value not in allowed:
            shown = "missing" if value is None else f"{value!r} is not allowed"
            self.problem(prefix + key, f"{shown} (allowed: {', '.join(allowed)})")
            return None
        return cast(str, value)

    def regime(self, data: dict[str, Any]) -> Regime | None:
        self.unknown(data, _REGIME_KEYS, "")
        regime_id = self.text(data, "id", "")
        if regime_id is not None and not _ID.match(regime_id):
            self.problem("id", f"{regime_id!r} must be lower_snake_case")
        name = self.text(data, "name", "")
        regulator = self.text(data, "regulator", "")
        version = self.text(data, "version", "")
        effective = data.get("effective")
        if not isinstance(effective, date) or isinstance(effective, datetime):
            self.problem("effective", f"must be a TOML date (YYYY-MM-DD), got {effective!r}")
        countries = self.texts(data, "countries", "")
        for code in countries:
            if not _COUNTRY.match(code):
                self.problem("countries", f"{code!r} is not an ISO 3166-1 alpha-2 code in capitals")
        if not countries:
            self.problem("countries", "at least one country is needed")
        records = self.text(data, "records", "", required=False)
        open_questions = self.texts(data, "open_questions", "")
        sources = self.sources(data.get("sources"))
        jurisdiction = self.jurisdiction(data.get("jurisdiction"), countries)
        raw_rules = data.get("rules")
        rules: list[Rule] = []
        if not isinstance(raw_rules, list) or not raw_rules:
            self.problem("rules", "missing: at least one [[rules]] table")
        else:
            for index, raw in enumerate(raw_rules):
                rule = self.rule(raw, f"rules[{index}].")
                if rule is not None:
                    rules.append(rule)
            pairs = [(r.kind, r.audience) for r in rules]
            for pair in sorted(set(pairs)):
                if pairs.count(pair) > 1:
                    self.problem("rules", f"more than one {pair[0]} rule for {pair[1]}")
        if self.problems:
            return None
        assert regime_id and name and regulator and version and isinstance(effective, date)
        return Regime(regime_id, name, regulator, version, effective, frozenset(countries), tuple(rules),
                      records, open_questions, sources, self.file, jurisdiction)

    def jurisdiction(self, raw: Any, countries: tuple[str, ...]) -> Jurisdiction | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problem("jurisdiction", "must be a table")
            return None
        prefix = "jurisdiction."
        self.unknown(raw, _JURISDICTION_KEYS, prefix)
        basis = self.text(raw, "basis", prefix)
        established = self.texts(raw, "establishment_countries", prefix) or countries
        for code in established:
            if not _COUNTRY.match(code):
                self.problem(prefix + "establishment_countries",
                             f"{code!r} is not an ISO 3166-1 alpha-2 code in capitals")
        flags: dict[str, bool] = {}
        for key in ("covers_all_members", "lead_authority"):
            value = raw.get(key, False)
            if not isinstance(value, bool):
                self.problem(prefix + key, f"must be true or false, got {value!r}")
            flags[key] = value is True
        representative = raw.get("representative")
        if representative is not None and representative not in get_args(Representative):
            allowed = ", ".join(get_args(Representative))
            self.problem(prefix + "representative", f"{representative!r} is not allowed (allowed: {allowed})")
            representative = None
        if basis is None:
            return None
        return Jurisdiction(basis, frozenset(established), flags["covers_all_members"],
                            cast(Representative | None, representative), flags["lead_authority"])

    def contents(self, raw: dict[str, Any], prefix: str) -> tuple[tuple[str, ...], tuple[ContentCheck, ...]]:
        value = raw.get("contents", [])
        if not isinstance(value, list):
            self.problem(prefix + "contents", "must be a list of strings or {item = ..., check = ...} tables")
            return (), ()
        items: list[str] = []
        checks: list[ContentCheck] = []
        for index, entry in enumerate(value):
            where = f"{prefix}contents[{index}]"
            if isinstance(entry, str) and entry.strip():
                items.append(entry.strip())
                continue
            if not isinstance(entry, dict):
                self.problem(where, "must be a non-empty string or a table {item = ..., check = ...}")
                continue
            self.unknown(entry, {"item", "check"}, where + ".")
            item = self.text(entry, "item", where + ".")
            pattern = self.text(entry, "check", where + ".")
            if item is None or pattern is None:
                continue
            check = ContentCheck(item, pattern)
            try:
                check.regex({name: name for name in PLACEHOLDERS})
            except re.error as exc:
                self.problem(where + ".check", f"not a valid regular expression: {exc}")
                continue
            items.append(item)
            checks.append(check)
        return tuple(items), tuple(checks)

    def sources(self, raw: Any) -> tuple[Source, ...]:
        """Each source by title and https URL (a document anyone can open, not a file of ScrapeGuard's)."""
        if not isinstance(raw, list) or not raw:
            self.problem("sources", "missing: at least one {title = ..., url = ...} source")
            return ()
        out: list[Source] = []
        for index, item in enumerate(raw):
            prefix = f"sources[{index}]."
            if not isinstance(item, dict):
                self.problem(f"sources[{index}]", "must be a table {title = ..., url = ..., citation = ...}")
                continue
            self.unknown(item, {"title", "url", "citation"}, prefix)
            title = self.text(item, "title", prefix)
            url = self.text(item, "url", prefix)
            citation = self.text(item, "citation", prefix, required=False) or ""
            if url is not None and (not url.startswith("https://") or len(url) <= len("https://")
                                    or any(c.isspace() for c in url)):
                self.problem(prefix + "url", f"must be an https:// URL, got {url!r}")
                url = None
            if title and url:
                out.append(Source(title, url, citation))
        return tuple(out)

    def rule(self, raw: Any, prefix: str) -> Rule | None:
        if not isinstance(raw, dict):
            self.problem(prefix.rstrip("."), "must be a table")
            return None
        before = len(self.problems)
        self.unknown(raw, _RULE_KEYS, prefix)
        rule_id = self.text(raw, "id", prefix)
        kind = self.choice(raw, "kind", prefix, get_args(RuleKind))
        audience = self.choice(raw, "audience", prefix, get_args(Audience))
        requirement = self.choice(raw, "requirement", prefix, get_args(Requirement))
        recipient = self.text(raw, "recipient", prefix)
        trigger = self.text(raw, "trigger", prefix)
        basis = self.text(raw, "basis", prefix)
        deadline = self.text(raw, "deadline", prefix)
        clock_start = self.choice(raw, "clock_start", prefix, get_args(ClockStart))
        offset_source = cast(OffsetSource, raw.get("offset_source", "law"))
        if offset_source not in get_args(OffsetSource):
            self.problem(prefix + "offset_source",
                         f"{offset_source!r} is not allowed (allowed: law, guidance)")
        offset = self.offset(raw.get("offset"), prefix + "offset")
        min_severity = raw.get("min_severity")
        if requirement == "required":
            if min_severity not in SEVERITY_LEVELS:
                self.problem(prefix + "min_severity",
                             f"a required rule needs one of {', '.join(SEVERITY_LEVELS)}, "
                             f"got {min_severity!r}")
        elif min_severity is not None:
            self.problem(prefix + "min_severity",
                         "only a rule with requirement = \"required\" has a threshold")
        if kind == "assess" and audience != "controller":
            self.problem(prefix + "audience",
                         "an assess rule binds the controller (audience = \"controller\")")
        if kind == "notify" and audience == "controller":
            self.problem(prefix + "audience", "a notify rule tells the regulator or the individuals")
        contents, checks = self.contents(raw, prefix)
        exemptions = self.texts(raw, "exemptions", prefix)
        if len(self.problems) > before:
            return None
        assert rule_id and kind and audience and requirement and recipient and trigger and basis
        assert deadline and clock_start
        return Rule(rule_id, cast(RuleKind, kind), cast(Audience, audience), recipient,
                    cast(Requirement, requirement), trigger, basis, deadline, cast(ClockStart, clock_start),
                    offset, offset_source, cast(SeverityLevel | None, min_severity), contents,
                    bool(contents), exemptions, checks)

    def offset(self, raw: Any, key: str) -> Offset | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or not raw:
            self.problem(key, "must be a table like {hours = 72} or {business_days = 15}")
            return None
        self.unknown(raw, _OFFSET_KEYS, key + ".")
        values: dict[str, int] = {}
        for name in _OFFSET_KEYS & set(raw):
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10_000:
                self.problem(f"{key}.{name}", f"must be a positive whole number, got {value!r}")
            else:
                values[name] = value
        return Offset(**values) if values else None
