"""Analysis of large access logs: who asked for what, who went over the policy, whose data they got.

Built on the tables `aggregates.py` reduced the requests to, block by block
(Polars, bounded memory). Each detector it judges by has one meaning, the
engine's: the thresholds are the policy's (the loaded one, else the default),
and the reasons are the detectors' own sentences (`profile_quota.over_quota`,
`enumeration.over_lookup_quota`, `bot_agents.agent_verdict`,
`campaign.is_campaign` and `campaign_detail`). The words used, also in
docs/log-analysis.md:

- **actor**: whom a request counts against, as in the engine: the account when
  the log names one, else the client IP, else the session.
- **flagged actor**, for one or more of these reasons:
  - distinct member profiles served (status below 400, own profile excluded)
    over the profile quota in one clock hour, one UTC day or one calendar
    week (Monday to Sunday, UTC; when the quota has a weekly limit)
    (anonymous quota for IPs and sessions, account quota for accounts);
  - distinct contact look-ups over the look-up quota in an hour or a day;
  - asking for member data while the user agent declares what `bot_agents`
    refuses or counts: a vulnerability scanner, a scraping tool, a
    self-declared bot, an AI training crawler (when the policy refuses them);
  - claiming to be a search engine's crawler from an IP outside the
    operator's published ranges (no DNS: analysis is offline).
  Search engines' crawlers whose claim checks out are listed apart, never flagged.
- **campaign**: actors (IPs) that are each under the quotas but together sweep
  the members, by the campaign detector's definition and the policy's
  `[detectors.campaign]` options: IPs with the same user agent spanning at least
  `min_networks` networks (/24, /64) and reaching at least `min_members`
  members together, their member sets largely disjoint (distinct members at
  least `min_disjoint_share` of the (actor, member) pairs). The engine groups
  actors whose own pages form a sweep; the reduced tables keep no order, so
  here an IP stands for a sweeper when it reached `SWEEPER_MEMBERS` members,
  and the user agent stands for the kind of sweep. Its actors are flagged too.

Clock hours, UTC days and calendar weeks are used (not sliding windows as in
the live engine), and a campaign is judged over the whole log (not within
the detector's `window_seconds`): an actor spreading views across an hour
boundary can stay under here and not in `replay`, which is the exact check.

- **timeline** (daily and weekly views): distinct member profiles served per
  UTC day and per calendar week, for each flagged actor and each campaign (all
  its actors together), with the peak day: what shows a scraper that paces
  itself under the hourly quota, day after day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl

from scrapeguard.detectors.bot_agents import agent_verdict, scanner_verdict
from scrapeguard.detectors.campaign import campaign_detail, is_campaign
from scrapeguard.detectors.enumeration import over_lookup_quota
from scrapeguard.detectors.profile_quota import over_quota
from scrapeguard.detectors.windows import WHO
from scrapeguard.events import network_of
from scrapeguard.intel.crawlers import (
    AI_TRAINING,
    CRAWLER,
    SEARCH,
    TOOL,
    UNVERIFIED,
    CrawlerVerifier,
    classify,
    scanner_name,
)
from scrapeguard.logs.aggregates import Aggregates, aggregate_scan
from scrapeguard.logs.exposure import ActorExposure, ExposureCounts, exposure_counts, exposure_of
from scrapeguard.logs.reading import ReadStats
from scrapeguard.logs.scanning import ScanResult
from scrapeguard.policy.model import CampaignOptions, Policy, Quota, RouteRule
from scrapeguard.routes import PAGE
from scrapeguard.stores.base import UNLIMITED

DAY = 86400
WEEK = 7 * DAY
#: The periods of the profile quota, shortest first (a quota gone over in a shorter one is told so).
PERIODS = ("hour", "day", "week")
#: The time a quota's period counts here, in words: clock periods (the engine's slide).
CLOCK_PERIODS = {"hour": "in one clock hour", "day": "in one UTC day", "week": "in one calendar week"}
#: Distinct members an IP reached for it to count towards a campaign. The engine counts an actor
#: into a campaign when its own latest pages form a sweep (member ids in order); the tables a log
#: is reduced to keep no order, so reaching this many members stands for sweeping here.
SWEEPER_MEMBERS = 20
#: Day 0 of the epoch (1970-01-01) was a Thursday: (day + 3) // 7 numbers the weeks from Monday.
_MONDAY = 3


def _week(day: pl.Expr) -> pl.Expr:
    """The calendar week (Monday to Sunday, UTC) of an epoch day number."""
    return (day + _MONDAY) // 7


@dataclass
class Timeline:
    """Distinct member profiles served to one actor, or to one campaign's actors together, per UTC
    day and per calendar week (Monday to Sunday, UTC)."""

    who: str
    #: (day start, epoch seconds; distinct profiles that day), days without views left out.
    days: list[tuple[int, int]]
    #: (week start: Monday 00:00 UTC, epoch seconds; distinct profiles that week).
    weeks: list[tuple[int, int]]
    #: Distinct profiles over the whole log.
    total: int

    @property
    def peak_day(self) -> tuple[int, int]:
        return max(self.days, key=lambda d: (d[1], -d[0]), default=(0, 0))

    @property
    def peak_week(self) -> tuple[int, int]:
        return max(self.weeks, key=lambda w: (w[1], -w[0]), default=(0, 0))

    @property
    def mean_per_day(self) -> float:
        """Profiles per day over the days with any (a steady scraper's daily rate)."""
        return sum(n for _, n in self.days) / len(self.days) if self.days else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "total": self.total,
            "peak_day": {"day": self.peak_day[0], "profiles": self.peak_day[1]},
            "peak_week": {"week": self.peak_week[0], "profiles": self.peak_week[1]},
            "active_days": len(self.days),
            "mean_per_active_day": round(self.mean_per_day, 1),
            "per_day": [{"day": d, "profiles": n} for d, n in self.days],
            "per_week": [{"week": w, "profiles": n} for w, n in self.weeks],
        }


@dataclass
class ActorSummary:
    actor: str
    requests: int
    first_seen: float
    last_seen: float
    status: dict[str, int]
    user_agents: int
    top_user_agent: str
    agent_kind: str
    #: Distinct members whose data the actor received (2xx on profile and look-up routes).
    members_reached: int
    listing_pages: int
    #: Most distinct profiles served in one clock hour / UTC day (what the profile quota counts).
    profiles_peak_hour: int
    profiles_peak_day: int
    lookups_peak_hour: int
    lookups_peak_day: int
    ips: int
    reasons: list[str] = field(default_factory=list)
    campaign: int | None = None
    #: Most distinct profiles served in one calendar week (Monday to Sunday, UTC).
    profiles_peak_week: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Campaign:
    number: int
    user_agent: str
    actors: list[str]
    networks: int
    members_reached: int
    #: Profiles its actors together received per day and per week.
    timeline: Timeline | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "user_agent": self.user_agent,
            "actors": self.actors,
            "networks": self.networks,
            "members_reached": self.members_reached,
            "timeline": self.timeline.to_dict() if self.timeline is not None else None,
        }


@dataclass
class Analysis:
    stats: ReadStats
    requests: int
    first_ts: float | None
    last_ts: float | None
    status: dict[str, int]
    route_kinds: dict[str, int]
    #: (hour start epoch, requests, requests for member data) per clock hour.
    hourly: list[tuple[int, int, int]]
    top_user_agents: list[tuple[str, str, int]]
    actors: int
    top_actors: list[ActorSummary]
    flagged: list[ActorSummary]
    verified_crawlers: list[ActorSummary]
    campaigns: list[Campaign]
    #: Why each flagged actor is flagged.
    reasons: dict[str, list[str]]
    #: What flagged actors received, one row per (actor, member, rule): `exposure.exposed_rows`' columns.
    exposed: pl.DataFrame
    #: The route rules `exposed` numbers.
    rules: tuple[RouteRule, ...]
    seconds: float = 0.0
    #: Profiles per day and per week of each flagged actor that was served any (most first).
    timelines: list[Timeline] = field(default_factory=list)

    @cached_property
    def exposure(self) -> list[ActorExposure]:
        """Every flagged actor's exposure as typed values (one object per member: made when asked for)."""
        return exposure_of(self.exposed, self.reasons, self.rules)

    @cached_property
    def exposure_counts(self) -> list[ExposureCounts]:
        """`exposure` in figures, most members first."""
        return exposure_counts(self.exposed, self.reasons, self.rules)

    @property
    def exposed_members(self) -> int:
        return self.exposed.get_column("subject").n_unique()

    def to_dict(self) -> dict[str, Any]:
        s = self.stats
        return {
            "lines": s.lines,
            "requests": self.requests,
            "skipped_lines": s.skipped,
            "skipped_by_reason": dict(s.bad),
            "client_not_an_ip": s.invalid_ips,
            "bad_line_samples": [
                {"source": b.source, "line": b.line_number, "reason": b.reason, "text": b.text}
                for b in s.samples
            ],
            "log_time_from": self.first_ts,
            "log_time_to": self.last_ts,
            "status": self.status,
            "route_kinds": self.route_kinds,
            "hourly": [{"hour": h, "requests": n, "member_data": m} for h, n, m in self.hourly],
            "top_user_agents": [
                {"user_agent": ua, "kind": kind, "requests": n} for ua, kind, n in self.top_user_agents
            ],
            "actors": self.actors,
            "top_actors": [a.to_dict() for a in self.top_actors],
            "flagged": [a.to_dict() for a in self.flagged],
            "verified_crawlers": [a.to_dict() for a in self.verified_crawlers],
            "campaigns": [c.to_dict() for c in self.campaigns],
            "timelines": [t.to_dict() for t in self.timelines],
            "exposure": [
                {
                    "actor": e.actor,
                    "reasons": list(e.reasons),
                    "members": e.members,
                    "responses": e.responses,
                    "categories": list(e.categories),
                }
                for e in self.exposure_counts
            ],
            "exposed_members": self.exposed_members,
            "seconds": round(self.seconds, 3),
            "lines_per_second": round(s.lines / self.seconds) if self.seconds else None,
        }


def _status_class(status: pl.Expr) -> pl.Expr:
    return (
        pl.when(status.is_null())
        .then(pl.lit("none"))
        .otherwise((status // 100).cast(pl.String) + pl.lit("xx"))
    )


def analyze(
    source: Aggregates | ScanResult,
    policy: Policy,
    top: int = 20,
    progress: Callable[[str], None] | None = None,
) -> Analysis:
    """Flag actors, find campaigns, compute exposure, from the reduced requests (`aggregates.py`).

    `source` may also be requests kept by `scanning.scan_logs`; they are reduced first.
    """
    step = progress or (lambda _: None)
    tables = source if isinstance(source, Aggregates) else aggregate_scan(source, policy.routes)

    step("totals")
    totals = tables["totals"].row(0)
    status = _counts(tables["status"].select(_status_class(pl.col("status")).alias("key"), "n"))
    kinds = [rule.kind for rule in tables.rules]
    rule_kind = pl.col("rule").replace_strict(
        list(range(len(kinds))), kinds, default=PAGE, return_dtype=pl.String
    )
    route_kinds = _counts(tables["rules"].select(rule_kind.alias("key"), "n"))
    hourly = tables["hourly"].sort("h").rows()

    step("user agents")
    agents = tables["agents"]
    agent_kinds = {ua: classify(ua).kind for ua in agents.get_column("user_agent").to_list()}
    ranked_agents = agents.sort(["n", "user_agent"], descending=[True, False]).head(top).rows()
    top_agents = [(ua, agent_kinds[ua], n) for ua, n in ranked_agents]

    step("actors")
    actors = tables["actors"]
    reasons, verified = _flags(tables, policy, _peaks(tables, _over_quota_maybe(tables, policy)), agent_kinds)
    campaigns = _campaigns(tables, reasons, policy.campaign)
    for c in campaigns:
        detail = campaign_detail(f"campaign #{c.number}", c.networks, c.members_reached,
                                 f"asking for member pages with one user agent ({len(c.actors)} IPs)",
                                 "in the log")
        for actor in c.actors:
            reasons.setdefault(actor, []).append(detail)

    # summaries (Python objects) only for the actors reported: flagged, verified crawlers, the top ones
    top_names = actors.sort(["requests", "actor"], descending=[True, False]).head(top).get_column("actor")
    wanted = set(reasons) | verified | set(top_names.to_list())
    agents_of = _user_agents(tables, sorted(wanted))
    summaries = {
        row["actor"]: _summary(row, agents_of[row["actor"]], agent_kinds)
        for row in _actor_table(tables, sorted(wanted)).iter_rows(named=True)
    }
    for c in campaigns:
        for actor in c.actors:
            summaries[actor].campaign = c.number
    for actor, why in reasons.items():
        summaries[actor].reasons = why
    flagged = sorted(
        (summaries[a] for a in reasons), key=lambda s: (-s.members_reached, -s.requests, s.actor)
    )
    top_actors = [summaries[a] for a in top_names.to_list()]

    step("days and weeks")
    timelines = _timelines(tables, {a: [a] for a in (s.actor for s in flagged)})
    for c, timeline in zip(campaigns, _timelines(
            tables, {f"campaign #{c.number}": c.actors for c in campaigns}, keep_empty=True), strict=True):
        c.timeline = timeline

    step("exposure")
    exposed = (
        tables["reached"]
        .filter(pl.col("actor").is_in(list(reasons)) & pl.col("subject").is_not_null())
        .group_by("actor", "subject", "rule")
        .agg(pl.col("responses").sum(), pl.col("first_seen").min(), pl.col("last_seen").max())
        .sort("actor", "subject", "rule")
    )
    return Analysis(
        stats=tables.stats,
        requests=totals[0],
        first_ts=totals[1],
        last_ts=totals[2],
        status=status,
        route_kinds=route_kinds,
        hourly=[(int(h), int(n), int(m)) for h, n, m in hourly],
        top_user_agents=top_agents,
        actors=actors.height,
        top_actors=top_actors,
        flagged=flagged,
        verified_crawlers=[summaries[a] for a in sorted(verified) if a in summaries and a not in reasons],
        campaigns=campaigns,
        reasons=reasons,
        exposed=exposed,
        rules=tables.rules,
        timelines=sorted(timelines, key=lambda t: (-t.total, -t.peak_day[1], t.who)),
    )


def _timelines(tables: Aggregates, groups: dict[str, list[str]], keep_empty: bool = False) -> list[Timeline]:
    """Per group of actors (name -> actors): distinct profiles served per UTC day and per calendar week
    (in the order of `groups`; groups without any left out unless `keep_empty`)."""
    if not groups:
        return []
    names = pl.DataFrame(
        [(name, actor) for name, actors in groups.items() for actor in actors],
        schema={"who": pl.String, "actor": pl.String}, orient="row",
    )
    views = tables["views"].join(names, on="actor", how="inner").select("who", "day", "subject")
    views = views.with_columns(_week(pl.col("day")).alias("week"))
    per_day = views.group_by("who", "day").agg(pl.col("subject").n_unique().alias("n")).sort("who", "day")
    per_week = views.group_by("who", "week").agg(pl.col("subject").n_unique().alias("n")).sort("who", "week")
    totals = dict(views.group_by("who").agg(pl.col("subject").n_unique()).iter_rows())
    days: dict[str, list[tuple[int, int]]] = {}
    for who, day, n in per_day.iter_rows():
        days.setdefault(who, []).append((int(day) * DAY, int(n)))
    weeks: dict[str, list[tuple[int, int]]] = {}
    for who, week, n in per_week.iter_rows():
        weeks.setdefault(who, []).append(((int(week) * 7 - _MONDAY) * DAY, int(n)))
    return [Timeline(name, days.get(name, []), weeks.get(name, []), int(totals.get(name, 0)))
            for name in groups if keep_empty or name in totals]


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    """{key: n} summed per key (several rules share a kind, several statuses a class), keys sorted."""
    return dict(frame.group_by("key").agg(pl.col("n").sum()).sort("key").iter_rows())


def _actor_table(tables: Aggregates, actors: list[str]) -> pl.DataFrame:
    """One row per actor (of those given): volume, timing, status mix, members reached, IPs, quota peaks."""
    actor = pl.col("actor")
    members = (
        tables["reached"]
        .filter(actor.is_in(actors))
        .group_by("actor")
        # a member route that named no member counts once (null is one of the distinct values)
        .agg(pl.col("subject").n_unique().alias("members_reached"))
    )
    ips = tables["ips"].filter(actor.is_in(actors)).group_by("actor").agg(pl.len().alias("ips"))
    return (
        tables["actors"]
        .filter(actor.is_in(actors))
        .join(members, on="actor", how="left")
        .join(ips, on="actor", how="left")
        .join(_peaks(tables, actors), on="actor", how="left")
        .with_columns(
            pl.when(actor.str.starts_with("ip:")).then(pl.lit(1, pl.UInt32)).otherwise("ips").alias("ips")
        )
        .fill_null(0)
    )


def _peaks(tables: Aggregates, actors: list[str]) -> pl.DataFrame:
    """Per actor (of those given): most distinct profiles served, and contact look-ups, in one clock
    hour, in one UTC day and in one calendar week (what the quotas count)."""
    actor = pl.col("actor")
    table = pl.DataFrame({"actor": actors}, schema={"actor": pl.String})
    for name, source in (("profiles", "views"), ("lookups", "lookups")):
        rows = tables[source].filter(actor.is_in(actors))
        rows = rows.with_columns(_week(pl.col("day")).alias("week"))
        periods = ("hour", "day", "week") if name == "profiles" else ("hour", "day")
        for period, bucket in ((p, p) for p in periods):
            peak = (
                rows.group_by("actor", bucket)
                .agg(pl.col("subject").n_unique().alias("n"))
                .group_by("actor")
                .agg(pl.col("n").max().alias(f"{name}_peak_{period}"))
            )
            table = table.join(peak, on="actor", how="left")
    return table.fill_null(0)


def _over_quota_maybe(tables: Aggregates, policy: Policy) -> list[str]:
    """The actors that may be over a quota: more profiles served, or contact look-ups, than the lowest
    of the quotas (an actor's peak in any hour or day is at most its number of them)."""
    pq, en = policy.profile_quota, policy.enumeration
    found: set[str] = set()
    for enabled, source, quotas in (
        (pq.enabled, "views", (pq.anonymous, pq.account)),
        (en.enabled, "lookups", (en.lookups_anonymous, en.lookups_account)),
    ):
        if enabled:
            lowest = min(min(q.per_hour, q.per_day) for q in quotas)
            counted = tables[source].group_by("actor").agg(pl.len().alias("n"))
            found.update(counted.filter(pl.col("n") > lowest).get_column("actor").to_list())
    return sorted(found)


def _user_agents(tables: Aggregates, actors: list[str]) -> dict[str, tuple[int, str]]:
    """Per actor (of those given): how many user agents, and the one it used most."""
    if not actors:
        return {}
    counted = (
        tables["agents_of"]
        .filter(pl.col("actor").is_in(actors))
        .group_by("actor", "user_agent")
        .agg(pl.col("n").sum().alias("len"))
    )
    ranked = counted.sort(["actor", "len", "user_agent"], descending=[False, True, False])
    return {
        actor: (n, top)
        for actor, n, top in ranked.group_by("actor", maintain_order=True)
        .agg(pl.len().alias("n"), pl.col("user_agent").first().alias("top"))
        .iter_rows()
    }


def _summary(row: dict[str, Any], agents: tuple[int, str], agent_kinds: dict[str, str]) -> ActorSummary:
    return ActorSummary(
        actor=row["actor"],
        requests=row["requests"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        status={c: row[f"s{c}"] for c in ("2xx", "3xx", "4xx", "5xx", "none") if row[f"s{c}"]},
        user_agents=agents[0],
        top_user_agent=agents[1] or "",
        agent_kind=agent_kinds.get(agents[1] or "", ""),
        members_reached=row["members_reached"],
        listing_pages=row["listing_pages"],
        profiles_peak_hour=row["profiles_peak_hour"],
        profiles_peak_day=row["profiles_peak_day"],
        lookups_peak_hour=row["lookups_peak_hour"],
        lookups_peak_day=row["lookups_peak_day"],
        ips=row["ips"],
        profiles_peak_week=row["profiles_peak_week"],
    )


def _flags(
    tables: Aggregates, policy: Policy, peaks: pl.DataFrame, agent_kinds: dict[str, str]
) -> tuple[dict[str, list[str]], set[str]]:
    """Reasons per flagged actor, and the actors that are verified search-engine crawlers.

    `peaks`: `_peaks` of (at least) every actor that may be over a quota.
    """
    reasons: dict[str, list[str]] = {}
    pq, en = policy.profile_quota, policy.enumeration
    is_account = pl.col("actor").str.starts_with("account:")

    def over(column: str, anonymous: int, accounts: int) -> pl.Expr:
        return pl.col(column) > pl.when(is_account).then(accounts).otherwise(anonymous)

    def weekly(q: Quota) -> int:
        return q.per_week or UNLIMITED  # 0: no weekly quota

    candidates = peaks.filter(
        (
            pl.lit(pq.enabled)
            & (
                over("profiles_peak_hour", pq.anonymous.per_hour, pq.account.per_hour)
                | over("profiles_peak_day", pq.anonymous.per_day, pq.account.per_day)
                | over("profiles_peak_week", weekly(pq.anonymous), weekly(pq.account))
            )
        )
        | (
            pl.lit(en.enabled)
            & (
                over("lookups_peak_hour", en.lookups_anonymous.per_hour, en.lookups_account.per_hour)
                | over("lookups_peak_day", en.lookups_anonymous.per_day, en.lookups_account.per_day)
            )
        )
    )
    for row in candidates.iter_rows(named=True):
        actor = row["actor"]
        kind = actor.partition(":")[0]
        who = WHO.get(kind, kind)
        by_account = kind == "account"
        why = []
        if pq.enabled:
            quota_name = "account" if by_account else "anonymous"
            quota = pq.account if by_account else pq.anonymous
            exceeded = _first_over(row, "profiles", [(p, getattr(quota, f"per_{p}")) for p in PERIODS])
            if exceeded is not None:
                period, peak, limit = exceeded
                why.append(over_quota(who, quota_name, period, peak, limit, CLOCK_PERIODS[period])[0])
        if en.enabled:
            quota_name = "lookups_account" if by_account else "lookups_anonymous"
            lookups = en.lookups_account if by_account else en.lookups_anonymous
            exceeded = _first_over(row, "lookups", [("hour", lookups.per_hour), ("day", lookups.per_day)])
            if exceeded is not None:
                period, peak, limit = exceeded
                why.append(over_lookup_quota(who, quota_name, period, peak, limit, CLOCK_PERIODS[period])[0])
        if why:
            reasons[actor] = why

    # what the user agent declares, on requests for member data (bot_agents' verdicts)
    ba = policy.bot_agents
    if not ba.enabled:
        return reasons, set()
    bots = sorted(ua for ua, kind in agent_kinds.items()
                  if kind in (SEARCH, TOOL, CRAWLER, AI_TRAINING) or scanner_name(ua) is not None)
    pairs = (
        tables["agents_of"]
        .filter((pl.col("member_data") > 0) & pl.col("user_agent").is_in(bots))
        .select("actor", "user_agent")
    )
    by_ip = pairs.filter(pl.col("actor").str.starts_with("ip:")).with_columns(
        pl.col("actor").str.slice(3).alias("ip")
    )
    others = tables["member_ips"].join(pairs, on=["actor", "user_agent"], how="semi")
    declared = pl.concat([by_ip, others.select(by_ip.columns)]).unique().sort(
        "actor", "user_agent", "ip", nulls_last=True
    )
    verifier = CrawlerVerifier(resolver=None)  # published ranges only: offline and deterministic
    verified: set[str] = set()
    lied: set[str] = set()
    for actor, ua, ip in declared.iter_rows():
        agent = classify(ua)
        verdict = scanner_verdict(ua, ba) or agent_verdict(agent, ip, ba, verifier)
        if agent.kind == SEARCH and agent.crawler is not None and ip:
            if verifier.verify(ip, agent.crawler) == UNVERIFIED:
                lied.add(actor)
            else:
                verified.add(actor)
        if verdict is not None and verdict.detail not in reasons.get(actor, []):
            reasons.setdefault(actor, []).append(verdict.detail)
    if ba.search_engines == "allow":
        # verified search engines are exempt from the quotas, as in the engine (unless they also lied)
        for actor in verified - lied:
            reasons.pop(actor, None)
    return reasons, verified


def _first_over(row: dict[str, Any], name: str,
                limits: Iterable[tuple[str, int]]) -> tuple[str, int, int] | None:
    """The first period (shortest first) whose peak in `row` went over its limit (0: no such quota),
    as (period, peak, limit); None if none did."""
    for period, limit in limits:
        peak = int(row[f"{name}_peak_{period}"])
        if limit and peak > limit:
            return period, peak, limit
    return None


def _campaigns(tables: Aggregates, reasons: dict[str, list[str]], options: CampaignOptions) -> list[Campaign]:
    """Groups of IPs, each under the quotas, with one user agent and disjoint slices of the members,
    that are campaigns by the campaign detector's definition (`campaign.is_campaign`)."""
    if not options.enabled:
        return []
    who = pl.col("actor")
    ips = tables["reached"].filter(who.str.starts_with("ip:") & ~who.is_in(list(reasons)))
    # members reached (distinct) are at most the successful responses: count those first
    enough = ips.group_by("actor").agg(pl.len().alias("n")).filter(pl.col("n") >= SWEEPER_MEMBERS)
    candidates = (
        ips.filter(who.is_in(enough.get_column("actor").to_list()))
        .group_by("actor")
        .agg(pl.col("subject").n_unique().alias("members_reached"))
        .filter(pl.col("members_reached") >= SWEEPER_MEMBERS)
        .sort("actor")
    )
    groups: dict[str, list[str]] = {}
    for actor, (_, ua) in _user_agents(tables, candidates.get_column("actor").to_list()).items():
        groups.setdefault(ua or "", []).append(actor)
    # (an IP is in one network: a group with fewer IPs than the networks needed cannot be one)
    groups = {ua: members for ua, members in groups.items() if len(members) >= options.min_networks}
    if not groups:
        return []
    involved = [a for members in groups.values() for a in members]
    reached = (
        tables["reached"]
        .filter(pl.col("actor").is_in(involved) & pl.col("subject").is_not_null())
        .select("actor", "subject")
        .unique()
    )
    found: list[Campaign] = []
    for ua, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        part = reached.filter(pl.col("actor").is_in(members))
        union = part.get_column("subject").n_unique()
        views = part.height  # distinct (actor, member) pairs, as the detector counts its views
        networks = {network_of(a.split(":", 1)[1]) for a in members}
        if is_campaign(len(networks), union, views, options):
            found.append(Campaign(len(found) + 1, ua, sorted(members), len(networks), union))
    return found
