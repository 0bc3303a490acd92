from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.records.db import Database
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.exposure import (
    distinct_members,
    ledger,
    listing_pages,
    parse_exposure_import,
    write_exposure,
)
from scrapeguard.records.privacy import Pseudonymiser

from .helpers import T0, directory, exposure, seed  # type: ignore[import-not-found]

A, B = "ip:p-aaaa", "account:42"


def test_the_ledger_lists_each_member_once_with_routes_categories_times_and_counts(db: Database) -> None:
    directory(db, {1: "DE", 2: "GB"})
    records = exposure(A, [1, 2, 3, 1]) + exposure(B, [4])
    records.append({"type": "exposure", "ts": T0 + 50, "actors": [A], "member": "username:m1",
                    "route": "/u/{username}", "categories": ["user.content.self_image"], "source": "live"})
    records.append({"type": "exposure", "ts": T0 + 60, "actors": [A], "member": "", "route": "/directory",
                    "categories": ["user.name"], "source": "live"})
    seed(db, records)
    with db.session() as s:
        rows = {m.member: m for m in ledger(s, {A})}
        assert set(rows) == {"1", "2", "id:3"}  # id:1 and username:m1 are one member; id:3 unknown
        one = rows["1"]
        assert one.country == "DE" and one.count == 3
        assert one.aliases == ("id:1", "username:m1")
        assert one.routes == ("/api/v1/members/{id}", "/u/{username}")
        assert "user.content.self_image" in one.categories and "user.contact.email" in one.categories
        assert one.first_at == datetime.fromtimestamp(T0, UTC)
        assert one.last_at == datetime.fromtimestamp(T0 + 50, UTC)
        assert rows["id:3"].country is None
        assert distinct_members(s, {A, B}) == 4
        assert listing_pages(s, {A}) == 1


def test_a_second_batch_merges_into_the_same_rows(db: Database) -> None:
    seed(db, exposure(A, [1, 2]))
    seed(db, exposure(A, [2], t0=T0 + 500))
    with db.session() as s:
        rows = {m.member: m for m in ledger(s, {A})}
        assert rows["id:2"].count == 2
        assert rows["id:2"].last_at == datetime.fromtimestamp(T0 + 500, UTC)


GOOD = {"actors": [{"actor": "ip:203.0.113.7", "exposure": [
    {"member": "id:42", "route": "/api/v1/members/{id}", "categories": ["user.name"],
     "first": "2026-11-01T10:00:00Z", "last": "2026-11-01T10:05:00+00:00", "count": 3}]}]}


def test_exposure_from_logs_is_imported_pseudonymised(db: Database, pseudonymiser: Pseudonymiser) -> None:
    records = parse_exposure_import(GOOD, pseudonymiser)
    actor = pseudonymiser.key("ip", "203.0.113.7")
    assert records[0]["actors"] == [actor]
    with db.session() as s:
        write_exposure(s, records)
    with db.session() as s:
        (row,) = ledger(s, {actor})
        assert row.count == 3
        assert row.first_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
        assert row.last_at == datetime(2026, 11, 1, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(("data", "message"), [
    ([], "JSON object"),
    ({"actors": [{"actor": "nocolon", "exposure": []}]}, "name:value"),
    ({"actors": [{"actor": "ip:1.2.3.4"}]}, "exposure"),
    ({"actors": [{"actor": "ip:1.2.3.4", "exposure": [{"member": "id:1", "route": "/x", "count": 0,
                                                      "first": "2026-11-01T10:00:00Z",
                                                      "last": "2026-11-01T10:00:00Z"}]}]}, "count"),
    ({"actors": [{"actor": "ip:1.2.3.4", "exposure": [{"member": "id:1", "route": "/x",
                                                      "first": "2026-11-01T10:00:00",
                                                      "last": "2026-11-01T10:00:00Z"}]}]}, "time zone"),
    ({"actors": [{"actor": "ip:1.2.3.4", "exposure": [{"member": "id:1", "route": "/x",
                                                      "first": "2026-11-02T10:00:00Z",
                                                      "last": "2026-11-01T10:00:00Z"}]}]}, "before first"),
])
def test_bad_exposure_files_are_refused_saying_where(data: Any, message: str,
                                                       pseudonymiser: Pseudonymiser) -> None:
    with pytest.raises(RecordsError, match=message):
        parse_exposure_import(data, pseudonymiser)


FIELDS = st.sampled_from(["actors", "actor", "exposure", "member", "route", "categories", "first", "last",
                          "count"])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(FIELDS, inner, max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_parsed_or_refused_with_a_records_error(data: Any) -> None:
    try:
        records = parse_exposure_import(data, Pseudonymiser(b"k" * 32))
    except RecordsError:
        return
    for r in records:
        assert r["count"] >= 1 and r["ts"] >= r["first_ts"]


@pytest.mark.parametrize(("members", "message"), [
    ([{"country": "DE"}], "needs a member_id"),
    ([{"member_id": True}], "needs a member_id"),
    ([{"member_id": "1", "country": "Germany"}], "alpha-2"),
    ([{"member_id": "1", "aliases": "id:1"}], "aliases"),
])
def test_bad_member_directories_are_refused(db: Database, members: list[Any], message: str) -> None:
    from scrapeguard.records.exposure import import_members

    with db.session() as s, pytest.raises(RecordsError, match=message):
        import_members(s, members, "root")
