"""Exposure: which members' data each flagged actor received, by route and data category.

A response exposes a member's data when it was a success (2xx) on a route of
the route map that shows one member (profile, contact look-up). Redirects
(3xx), refusals and errors showed nothing. Listings (directory, search) show
many members at once and name none in the URL: they are counted per actor in
the analysis, not here.

What a response showed depends on whom it was shown to (`RouteRule.categories_for`): with
`accounts_known` (the log format names the account), a request with an account is a member's and
one without an anonymous visitor's, and each gets its audience's categories; otherwise the audience
is not known ("") and a route counts with every category it may show anyone.

The result is small, typed and plain so that it can be stored (the records
database keeps an exposure ledger) as well as reported. A large exposure (a
scraper that got 100,000 members) is also kept as one table (`exposed_rows`'
columns), from which the counts and the CSV are made without building an
object per member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from scrapeguard.policy.model import AUDIENCES, RouteRule
from scrapeguard.routes import MEMBER_KINDS


@dataclass(frozen=True, slots=True)
class ExposedMember:
    """One member's data as one actor received it through one route."""

    #: The member as the route names it, e.g. "username:anna" or "id:42" or "email:a@example.org".
    member: str
    #: The route pattern, e.g. "/u/{username}".
    route: str
    #: Data categories the route shows (fideslang names, from the route map).
    categories: tuple[str, ...]
    first_seen: float
    last_seen: float
    #: Successful responses with this member's data.
    responses: int
    #: Whom they were shown to ("anonymous", "member"), or "" when the log cannot tell.
    audience: str = ""


@dataclass(frozen=True, slots=True)
class ActorExposure:
    """Everything one flagged actor received."""

    #: The actor key, e.g. "ip:198.51.100.9" or "account:17".
    actor: str
    #: Why the actor is flagged (see `analysis.py`).
    reasons: tuple[str, ...]
    records: tuple[ExposedMember, ...]

    @property
    def members(self) -> int:
        """Distinct members whose data the actor received."""
        return len({r.member for r in self.records})

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for r in self.records for c in r.categories}))

    @property
    def responses(self) -> int:
        return sum(r.responses for r in self.records)


def exposed_rows(requests: pl.LazyFrame, actors: Sequence[str], accounts_known: bool = False) -> pl.LazyFrame:
    """One row per (actor, member, rule, audience): responses, first_seen, last_seen — for the given
    actors. The audience is "member" or "anonymous" with `accounts_known` (from the `account`
    column), else "".

    `requests` has the columns of `scanning.SCHEMA` plus `actor` and `kind`.
    """
    audience = (pl.when(pl.col("account").is_not_null()).then(pl.lit("member")).otherwise(pl.lit("anonymous"))
                if accounts_known else pl.lit(""))
    return (
        requests.filter(
            pl.col("actor").is_in(list(actors))
            & pl.col("kind").is_in(sorted(MEMBER_KINDS))
            & pl.col("subject").is_not_null()
            & pl.col("status").is_between(200, 299)
        )
        .with_columns(audience.alias("audience"))
        .group_by("actor", "subject", "rule", "audience")
        .agg(
            pl.len().alias("responses"),
            pl.col("ts").min().alias("first_seen"),
            pl.col("ts").max().alias("last_seen"),
        )
        .sort("actor", "subject", "rule", "audience")
    )


def compute_exposure(
    requests: pl.LazyFrame, flagged: Mapping[str, Sequence[str]], rules: Sequence[RouteRule],
    accounts_known: bool = False,
) -> list[ActorExposure]:
    """The exposure of every flagged actor (`flagged`: actor -> reasons), most members first."""
    rows = exposed_rows(requests, list(flagged), accounts_known).collect(engine="streaming")
    return exposure_of(rows, flagged, rules)


def _audiences(rows: pl.DataFrame) -> pl.Expr:
    """The rows' audience column, or "" (not known) for rows made without one."""
    return pl.col("audience") if "audience" in rows.columns else pl.lit("")


def exposure_of(
    rows: pl.DataFrame, flagged: Mapping[str, Sequence[str]], rules: Sequence[RouteRule]
) -> list[ActorExposure]:
    """`compute_exposure` from rows as `exposed_rows` gives them (actor, subject, rule, responses,
    first_seen, last_seen, and audience if known), most members first."""
    records: dict[str, list[ExposedMember]] = {actor: [] for actor in flagged}
    columns = ("actor", "subject", "rule", "responses", "first_seen", "last_seen")
    table = rows.select(*columns, _audiences(rows).alias("audience"))
    for actor, subject, rule, responses, first, last, audience in table.iter_rows():
        categories = rules[rule].categories_for(audience or None)
        records[actor].append(ExposedMember(subject, rules[rule].pattern, categories, first, last, responses,
                                            audience))
    result = [ActorExposure(actor, tuple(flagged[actor]), tuple(found)) for actor, found in records.items()]
    return sorted(result, key=lambda e: (-e.members, e.actor))


@dataclass(frozen=True, slots=True)
class ExposureCounts:
    """An `ActorExposure` in figures (what the summary and the HTML report show)."""

    actor: str
    reasons: tuple[str, ...]
    members: int
    responses: int
    categories: tuple[str, ...]


def exposure_counts(
    rows: pl.DataFrame, flagged: Mapping[str, Sequence[str]], rules: Sequence[RouteRule]
) -> list[ExposureCounts]:
    """The figures of `exposure_of(rows, flagged, rules)`, in the same order, from the table alone."""
    per_actor = rows.with_columns(_audiences(rows).alias("audience")).group_by("actor").agg(
        pl.col("subject").n_unique().alias("members"),
        pl.col("responses").sum(),
        pl.struct("rule", "audience").unique().alias("used"),
    )
    found = {actor: (members, responses, used) for actor, members, responses, used in per_actor.rows()}
    result = []
    for actor, reasons in flagged.items():
        members, responses, used = found.get(actor, (0, 0, []))
        categories = tuple(sorted({c for u in used
                                   for c in rules[u["rule"]].categories_for(u["audience"] or None)}))
        result.append(ExposureCounts(actor, tuple(reasons), members, responses, categories))
    return sorted(result, key=lambda e: (-e.members, e.actor))


def exposure_table(
    rows: pl.DataFrame, flagged: Mapping[str, Sequence[str]], rules: Sequence[RouteRule]
) -> pl.DataFrame:
    """One row per (flagged actor, member, route, audience), in the order of `exposure_of`: actor,
    member, route, categories (the audience's, joined by ";"), first_seen, last_seen, responses,
    reasons (joined by "; ")."""
    audiences = ("", *AUDIENCES)
    routes = pl.DataFrame(
        {
            "rule": [i for i in range(len(rules)) for _ in audiences],
            "audience": [a for _ in rules for a in audiences],
            "route": [rule.pattern for rule in rules for _ in audiences],
            "categories": [";".join(rule.categories_for(a or None)) for rule in rules for a in audiences],
        },
        schema={"rule": rows.schema["rule"], "audience": pl.String, "route": pl.String,
                "categories": pl.String},
    )
    why = pl.DataFrame(
        {"actor": list(flagged), "reasons": ["; ".join(r) for r in flagged.values()]},
        schema={"actor": pl.String, "reasons": pl.String},
    )
    return (
        rows.with_columns(pl.col("subject").n_unique().over("actor").alias("members"),
                          _audiences(rows).alias("audience"))
        .join(routes, on=["rule", "audience"], how="left")
        .join(why, on="actor", how="left")
        .sort(["members", "actor", "subject", "rule"], descending=[True, False, False, False])
        .select(
            "actor",
            pl.col("subject").alias("member"),
            "route",
            "categories",
            "first_seen",
            "last_seen",
            "responses",
            "reasons",
        )
    )
