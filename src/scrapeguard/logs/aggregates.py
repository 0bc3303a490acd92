"""What `analyze` keeps of the requests: small tables, reduced block by block and merged as they come.

Each block of parsed requests (the columns of `scanning.SCHEMA`) is reduced in
Polars, in the thread that parsed it, to tables keyed by what the analysis
counts: per actor; per actor and member; per actor, hour and member; per
user agent; per hour. Partial tables of many blocks are concatenated and
reduced again whenever they have grown as large as what was already merged,
so memory follows (at most about twice) the number of distinct actors,
members, hours and user agents, never the number of lines, and no request is
written anywhere.

The analysis (`analysis.py`) reads only these tables. Every figure it shows
is a sum, a minimum, a maximum or a count of distinct values, so reducing
blocks first and merging afterwards gives exactly what one pass over all the
requests would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from scrapeguard.logs.formats import LogFormat
from scrapeguard.logs.reading import ReadStats
from scrapeguard.logs.scanning import SCHEMA, Progress, ScanResult, scan_blocks
from scrapeguard.policy.model import RouteRule
from scrapeguard.routes import CONTACT_LOOKUP, LISTING, MEMBER_DATA_KINDS, MEMBER_KINDS, PROFILE, RouteMap

HOUR = 3600
DAY = 86400

#: Partial rows a table gathers before they are merged, at the least (bounded memory, few merges).
MERGE_AFTER = 500_000

#: Whom a request counts against, as in the engine: the account, else the client IP, else the session.
ACTOR = (
    pl.when(pl.col("account").is_not_null())
    .then(pl.lit("account:") + pl.col("account"))
    .when(pl.col("ip").is_not_null())
    .then(pl.lit("ip:") + pl.col("ip"))
    .when(pl.col("session").is_not_null())
    .then(pl.lit("session:") + pl.col("session"))
)


@dataclass(frozen=True)
class _Table:
    """How partial tables of one kind merge: by `keys`, with `merge`; distinct rows when `merge` is empty.

    A table `kept_raw` holds one row per request (of some kind): its rows are merged only when
    there are many of them, never at the end; whoever reads it aggregates the rows it needs, which
    is cheaper than merging them all (a block hardly shrinks such tables: few of their keys repeat).
    """

    keys: tuple[str, ...]
    merge: tuple[pl.Expr, ...] = ()
    kept_raw: bool = False

    def reduce(self, frames: list[pl.DataFrame]) -> pl.DataFrame:
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=False)
        if not self.keys:
            return frame.select(self.merge)
        if not self.merge:
            return frame.unique()
        return frame.group_by(self.keys).agg(self.merge)


def _sums(*names: str) -> tuple[pl.Expr, ...]:
    return tuple(pl.col(n).sum() for n in names)


#: The tables kept while reading, by name.
TABLES = {
    #: n, first, last: requests and the log's time span.
    "totals": _Table((), (*_sums("n"), pl.col("first").min(), pl.col("last").max())),
    #: requests per status code (null: no status in the log).
    "status": _Table(("status",), _sums("n")),
    #: requests per route rule (null: a page no rule matches).
    "rules": _Table(("rule",), _sums("n")),
    #: per clock hour (start, epoch seconds): requests, requests for member data.
    "hourly": _Table(("h",), _sums("n", "member_data")),
    #: per actor (null: none) and user agent: requests, requests for member data, status mix, listing
    #: pages served, first and last time ("agents", "actors" and "agents_of" are read from it).
    "by_agent": _Table(
        ("actor", "user_agent"),
        (
            *_sums("n", "member_data", "s2xx", "s3xx", "s4xx", "s5xx", "snone", "listing_pages"),
            pl.col("first_seen").min(),
            pl.col("last_seen").max(),
        ),
    ),
    #: distinct (actor, ip) of actors that are not an IP themselves (accounts, sessions).
    "ips": _Table(("actor", "ip")),
    #: distinct (actor, user agent, ip) of requests for member data by actors that are not an IP.
    "member_ips": _Table(("actor", "user_agent", "ip")),
    #: per actor, member and member route: successful (2xx) responses, first and last time.
    #: The subject is null on a member route that named no member (a look-up without its query).
    "reached": _Table(
        ("actor", "subject", "rule"),
        (*_sums("responses"), pl.col("first_seen").min(), pl.col("last_seen").max()),
        kept_raw=True,
    ),
    #: (actor, hour, day, member) of profiles served (what the profile quota counts), repeats possible.
    "views": _Table(("actor", "hour", "day", "subject"), kept_raw=True),
    #: (actor, hour, day, member) of contact look-ups (any status), repeats possible.
    "lookups": _Table(("actor", "hour", "day", "subject"), kept_raw=True),
}


def _rules_of(rules: Sequence[RouteRule], kinds: Sequence[str] | frozenset[str]) -> list[int]:
    return [i for i, r in enumerate(rules) if r.kind in kinds]


class Aggregator:
    """Reduces blocks of requests (`reduce`, any thread) and merges the reductions (`add`, one thread)."""

    def __init__(self, rules: Sequence[RouteRule]) -> None:
        self.rules = tuple(rules)
        self._pending: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLES}
        self._pending_rows = dict.fromkeys(TABLES, 0)
        self._merged_rows = dict.fromkeys(TABLES, 0)

    def reduce(self, rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """The tables of one block of requests."""
        rule = pl.col("rule")

        def kind_in(kinds: Sequence[str] | frozenset[str]) -> pl.Expr:
            return rule.is_in(_rules_of(self.rules, kinds)).fill_null(False)

        status, subject, ts, actor = pl.col("status"), pl.col("subject"), pl.col("ts"), pl.col("actor")
        ok = status.is_between(200, 299)
        served = status.is_null() | (status < 400)
        own = subject == (pl.lit("id:") + pl.col("account"))
        frame = rows.lazy().with_columns(ACTOR.alias("actor"), kind_in(MEMBER_DATA_KINDS).alias("md"))
        by_actor = frame.filter(actor.is_not_null())
        # the actor is an account, or a session when there is no IP
        not_an_ip = frame.filter(
            pl.col("account").is_not_null() | (pl.col("ip").is_null() & pl.col("session").is_not_null())
        )
        buckets = (actor, (ts // HOUR).alias("hour"), (ts // DAY).alias("day"), subject)
        views = kind_in([PROFILE]) & subject.is_not_null() & served & ~own.fill_null(False)
        lookups = kind_in([CONTACT_LOOKUP]) & subject.is_not_null()
        queries = {
            "totals": frame.select(pl.len().alias("n"), ts.min().alias("first"), ts.max().alias("last")),
            "status": frame.group_by("status").agg(pl.len().alias("n")),
            "rules": frame.group_by("rule").agg(pl.len().alias("n")),
            "hourly": frame.group_by((ts // HOUR * HOUR).cast(pl.Int64).alias("h")).agg(
                pl.len().alias("n"), pl.col("md").sum().alias("member_data")
            ),
            "by_agent": frame.group_by("actor", "user_agent").agg(
                pl.len().alias("n"),
                pl.col("md").sum().alias("member_data"),
                *[(status // 100 == h).sum().alias(f"s{h}xx") for h in (2, 3, 4, 5)],
                status.is_null().sum().alias("snone"),
                (kind_in([LISTING]) & ok).sum().alias("listing_pages"),
                ts.min().alias("first_seen"),
                ts.max().alias("last_seen"),
            ),
            "ips": not_an_ip.select("actor", "ip").unique(),
            "member_ips": not_an_ip.filter("md").select("actor", "user_agent", "ip").unique(),
            "reached": by_actor.filter(kind_in(MEMBER_KINDS) & ok).select(
                "actor",
                "subject",
                "rule",
                pl.lit(1, pl.UInt32).alias("responses"),
                ts.alias("first_seen"),
                ts.alias("last_seen"),
            ),
            "views": by_actor.filter(views).select(buckets),
            "lookups": by_actor.filter(lookups).select(buckets),
        }
        return dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))

    def add(self, tables: dict[str, pl.DataFrame]) -> None:
        """Keep one block's tables; merge a table once the rows added since its last merge outnumber
        the rows that merge left (and MERGE_AFTER): each row is merged a few times at most."""
        for name, frame in tables.items():
            self._pending[name].append(frame)
            self._pending_rows[name] += frame.height
            merged = self._merged_rows[name]
            if self._pending_rows[name] - merged > max(MERGE_AFTER, merged):
                self._merge(name)

    def add_rows(self, rows: pl.DataFrame) -> None:
        self.add(self.reduce(rows))

    def _merge(self, name: str) -> None:
        merged = TABLES[name].reduce(self._pending[name])
        self._pending[name] = [merged]
        self._pending_rows[name] = self._merged_rows[name] = merged.height

    def result(self, stats: ReadStats) -> Aggregates:
        if not self._pending["totals"]:
            self.add_rows(pl.DataFrame(schema=SCHEMA))
        tables = {}
        for name, table in TABLES.items():
            frames = self._pending[name]
            if table.kept_raw:
                tables[name] = pl.concat(frames) if len(frames) > 1 else frames[0]
            else:
                tables[name] = frames[0] if len(frames) == 1 else table.reduce(frames)
        return Aggregates(stats, self.rules, {**tables, **_by_agent(tables["by_agent"])})


def _by_agent(by_agent: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The tables read from "by_agent"."""
    with_actor = by_agent.filter(pl.col("actor").is_not_null())
    return {
        #: requests per user agent.
        "agents": by_agent.group_by("user_agent").agg(pl.col("n").sum()),
        #: per actor: volume, first and last time, status mix, listing pages served.
        "actors": with_actor.group_by("actor").agg(
            pl.col("n").sum().alias("requests"),
            *_sums("s2xx", "s3xx", "s4xx", "s5xx", "snone", "listing_pages"),
            pl.col("first_seen").min(),
            pl.col("last_seen").max(),
        ),
        #: per actor and user agent: requests, and requests for member data.
        "agents_of": with_actor.select("actor", "user_agent", "n", "member_data"),
    }


@dataclass(frozen=True)
class Aggregates:
    """The tables (see TABLES), the route rules their `rule` numbers, and the reading's stats."""

    stats: ReadStats
    rules: tuple[RouteRule, ...]
    tables: dict[str, pl.DataFrame]

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def aggregate_logs(
    paths: Iterable[str], fmt: LogFormat, rules: Sequence[RouteRule], progress: Progress | None = None
) -> Aggregates:
    """Read and reduce every input (see `scanning.scan_blocks`); nothing is written to disk."""
    stats = ReadStats()
    aggregator = Aggregator(rules)
    for tables in scan_blocks(paths, fmt, RouteMap(list(rules)), aggregator.reduce, stats, progress):
        aggregator.add(tables)
    return aggregator.result(stats)


def aggregate_scan(scan: ScanResult, rules: Sequence[RouteRule]) -> Aggregates:
    """The same tables from requests kept by `scanning.scan_logs`."""
    aggregator = Aggregator(rules)
    for part in scan.parts:
        aggregator.add_rows(pl.read_ipc(part))
    return aggregator.result(scan.stats)
