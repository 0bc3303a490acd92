"""Exposure: only successful responses on member routes expose data; the result is plain and typed."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from scrapeguard.logs.exposure import ActorExposure, ExposedMember, compute_exposure
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

RULES = default_policy().routes
ROUTES = RouteMap(RULES)


def requests(rows: list[tuple[str, str, int | None, float]]) -> pl.LazyFrame:
    """(actor, path, status, ts) -> the columns exposure reads."""
    out: dict[str, list[object]] = {
        "actor": [],
        "kind": [],
        "subject": [],
        "rule": [],
        "status": [],
        "ts": [],
    }
    for actor, target, status, ts in rows:
        path, _, query = target.partition("?")
        rule, subject = ROUTES.index_of(path, query)
        out["actor"].append(actor)
        out["kind"].append(RULES[rule].kind if rule is not None else "page")
        out["subject"].append(subject)
        out["rule"].append(rule)
        out["status"].append(status)
        out["ts"].append(ts)
    return pl.LazyFrame(
        out,
        schema={
            "actor": pl.String,
            "kind": pl.String,
            "subject": pl.String,
            "rule": pl.Int16,
            "status": pl.Int16,
            "ts": pl.Float64,
        },
    )


def test_only_2xx_on_member_routes_expose(tmp_path: Path) -> None:
    frame = requests(
        [
            ("ip:a", "/u/anna", 200, 10.0),
            ("ip:a", "/u/anna", 200, 20.0),
            ("ip:a", "/api/v1/members/7", 203, 15.0),
            ("ip:a", "/u/bob", 301, 30.0),
            ("ip:a", "/u/carl", 404, 31.0),
            ("ip:a", "/u/dora", 429, 32.0),
            ("ip:a", "/u/erin", None, 33.0),  # no status in the log: not known to have shown anything
            ("ip:a", "/directory", 200, 34.0),
            ("ip:a", "/static/x.css", 200, 35.0),
            ("ip:a", "/lookup?email=Zed%40x.org", 200, 36.0),
            ("ip:b", "/u/anna", 200, 40.0),  # not flagged
        ]
    )
    [a] = compute_exposure(frame, {"ip:a": ["over quota"]}, RULES)
    assert a.actor == "ip:a" and a.reasons == ("over quota",)
    assert [(r.member, r.route, r.responses, r.first_seen, r.last_seen) for r in a.records] == [
        ("email:zed@x.org", "/lookup", 1, 36.0, 36.0),
        ("id:7", "/api/v1/members/{id}", 1, 15.0, 15.0),
        ("username:anna", "/u/{username}", 2, 10.0, 20.0),
    ]
    assert a.members == 3 and a.responses == 4
    assert "user.contact.email" in a.categories and a.categories == tuple(sorted(a.categories))


def test_a_flagged_actor_that_got_nothing_has_an_empty_record() -> None:
    frame = requests([("ip:a", "/u/anna", 403, 1.0)])
    assert compute_exposure(frame, {"ip:a": ["bot"]}, RULES) == [ActorExposure("ip:a", ("bot",), ())]


def test_most_exposed_first() -> None:
    frame = requests([("ip:a", "/u/x", 200, 1.0), ("ip:b", "/u/x", 200, 1.0), ("ip:b", "/u/y", 200, 1.0)])
    result = compute_exposure(frame, {"ip:a": ["r"], "ip:b": ["r"]}, RULES)
    assert [e.actor for e in result] == ["ip:b", "ip:a"]
    assert isinstance(result[0].records[0], ExposedMember)


def test_with_accounts_in_the_log_each_audience_gets_its_categories() -> None:
    frame = requests([("ip:a", "/api/v1/members/7", 200, 10.0), ("ip:a", "/api/v1/members/8", 200, 11.0)])
    frame = frame.with_columns(pl.Series("account", [None, "42"], dtype=pl.String))
    contact = {"user.contact.email", "user.contact.phone_number"}
    [known] = compute_exposure(frame, {"ip:a": ["r"]}, RULES, accounts_known=True)
    by_member = {r.member: r for r in known.records}
    assert by_member["id:7"].audience == "anonymous" and not contact & set(by_member["id:7"].categories)
    assert by_member["id:8"].audience == "member" and contact <= set(by_member["id:8"].categories)
    # a log that names no account cannot tell: every category the route may show anyone
    [unknown] = compute_exposure(frame, {"ip:a": ["r"]}, RULES)
    assert all(r.audience == "" and contact <= set(r.categories) for r in unknown.records)
