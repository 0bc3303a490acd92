"""The sink writes in batches off the hot path and loses nothing while the database is down."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select

from scrapeguard.decisions import Decision, Reason
from scrapeguard.events import Event
from scrapeguard.records.db import Database
from scrapeguard.records.models import DecisionActor, DecisionRecord, ExposureRecord
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.sink import RecordSink
from scrapeguard.routes import RouteMatch

from .conftest import PG_URL, TcpForwarder  # type: ignore[import-not-found]

PROFILE = RouteMatch("profile", "id:7", ("user.name", "user.contact.email"), "/api/v1/members/{id}")


def refusal(i: int, ip: str = "203.0.113.7") -> Decision:
    return Decision("throttle", 1_700_000_000.0 + i, (Reason("profile_quota", f"ip:{ip}", 0.6, "over"),),
                    until=1_700_000_300.0, id=f"sg-{i:012x}", keys={"ip": ip, "net": "203.0.113.0/24"},
                    route="profile", subject="id:7", path="/api/v1/members/7")


def viewed(member: int, ts: float, ip: str = "203.0.113.7") -> Event:
    route = RouteMatch("profile", f"id:{member}", PROFILE.categories, PROFILE.pattern)
    return Event(ts=ts, ip=ip, path=f"/api/v1/members/{member}", route=route)


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_records_are_written_in_batches_and_addresses_never_stored(
    db: Database, pseudonymiser: Pseudonymiser, tmp_path: Path
) -> None:
    sink = RecordSink(db, pseudonymiser, tmp_path / "spill.jsonl", batch_size=7)
    for i in range(20):
        sink.exposure(viewed(i % 5, 1_700_000_000.0 + i))
    sink.exposure(Event(ts=1.0, ip="203.0.113.7", route=RouteMatch("asset", None, (), "/static/{p*}")))
    for i in range(10):
        sink.decision(refusal(i))
    sink.decision(Decision("allow", 1.0))  # allows are not records
    assert sink.flush()
    sink.close()
    # 20 views of 5 members: aggregated before the database (5 records), and 10 decisions
    assert sink.counts.written == 15 and sink.counts.spilled == 0 and sink.counts.dropped == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DecisionRecord)) == 10
        rows = list(s.scalars(select(ExposureRecord)))
        assert len(rows) == 5  # one per (actor, member, route)
        assert sum(r.count for r in rows) == 20
        assert {r.member for r in rows} == {f"id:{m}" for m in range(5)}
        ip_actor = pseudonymiser.key("ip", "203.0.113.7")
        assert {r.actor for r in rows} == {ip_actor}
        decision = s.scalars(select(DecisionRecord)).first()
        assert decision is not None and decision.actors == [ip_actor]
        assert decision.keys["ip"] == ip_actor.split(":", 1)[1]
        assert s.scalar(select(func.count()).select_from(DecisionActor)) == 10
        everything = json.dumps([[r.actor for r in rows], [d.keys for d in s.scalars(select(DecisionRecord))],
                                 [d.reasons for d in s.scalars(select(DecisionRecord))]])
    assert "203.0.113" not in everything


@pytest.fixture(params=["sqlite", "postgresql"])
def down_db(request: pytest.FixtureRequest, tmp_path: Path,
            pg_schema_url_factory: Callable[[], str]) -> Iterator[tuple[str, Callable[[], None]]]:
    """(URL of a database that is down, a function that brings it up)."""
    if request.param == "sqlite":
        folder = tmp_path / "not-yet"  # SQLite cannot open a file in a folder that does not exist
        yield f"sqlite:///{folder / 'records.db'}", lambda: folder.mkdir()
        return
    schema_url = pg_schema_url_factory()
    forwarder = TcpForwarder(urlparse(PG_URL).port or 5432)
    query = urlparse(schema_url).query
    yield f"postgresql://postgres@127.0.0.1:{forwarder.port}/test?{query}", forwarder.start
    forwarder.stop()


@pytest.fixture
def pg_schema_url_factory(request: pytest.FixtureRequest) -> Callable[[], str]:
    return lambda: request.getfixturevalue("pg_schema_url")[0]


def test_nothing_is_lost_while_the_database_is_down(
    down_db: tuple[str, Callable[[], None]], pseudonymiser: Pseudonymiser, tmp_path: Path
) -> None:
    url, bring_up = down_db
    db = Database(url, connect_timeout=1)
    spill = tmp_path / "spill.jsonl"
    sink = RecordSink(db, pseudonymiser, spill, max_queue=50, batch_size=20, max_backoff=0.3,
                      prepare=db.ensure_schema)
    for i in range(300):
        sink.decision(refusal(i))
    wait_for(lambda: sink.status()["database"] == "down")
    assert sink.counts.spilled >= 200  # the queue holds 50, a batch 20: the rest went to disk
    assert spill.exists() and "203.0.113" not in spill.read_text()
    bring_up()
    wait_for(lambda: sink.counts.written + sink.counts.reimported == 300 and not spill.exists())
    sink.close()
    assert sink.counts.dropped == 0 and sink.status()["database"] == "ok"
    with db.session() as s:
        ids = list(s.scalars(select(DecisionRecord.decision_id)))
    assert sorted(ids) == sorted(f"sg-{i:012x}" for i in range(300))
    db.dispose()


def test_records_queued_at_shutdown_while_down_are_spilled_then_reimported(
    down_db: tuple[str, Callable[[], None]], pseudonymiser: Pseudonymiser, tmp_path: Path
) -> None:
    url, bring_up = down_db
    db = Database(url, connect_timeout=1)
    spill = tmp_path / "spill.jsonl"
    sink = RecordSink(db, pseudonymiser, spill, max_backoff=0.3, prepare=db.ensure_schema)
    for i in range(40):
        sink.exposure(viewed(i, 1_700_000_000.0 + i))
    sink.close(timeout=2)
    assert sink.counts.spilled == 40 and len(spill.read_text().splitlines()) == 40
    bring_up()
    with spill.open("a") as out:
        out.write('{"type": "exposure", "ts": 1')  # a line cut short by a crash
    again = RecordSink(db, pseudonymiser, spill, prepare=db.ensure_schema)
    wait_for(lambda: again.counts.reimported == 40 and not spill.exists())
    again.close()
    assert spill.with_name(spill.name + ".bad").read_text() == '{"type": "exposure", "ts": 1'
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ExposureRecord)) == 40
    db.dispose()


def test_exposure_records_the_audience_and_its_categories(
    db: Database, pseudonymiser: Pseudonymiser, tmp_path: Path
) -> None:
    """The default route map: anonymous visitors of the member API get no contact details, logged-in
    members do; a site that says the viewer is a connection gets the connection's categories."""
    from scrapeguard.policy import default_policy, load_policy_text
    from scrapeguard.routes import RouteMap

    policy = default_policy()
    route = RouteMap(policy.routes).match("/api/v1/members/7")
    sink = RecordSink(db, pseudonymiser, tmp_path / "spill.jsonl", routes=policy.routes)
    sink.exposure(Event(ts=1_700_000_000.0, ip="203.0.113.7", path="/api/v1/members/7", route=route))
    sink.exposure(Event(ts=1_700_000_001.0, ip="198.51.100.9", path="/api/v1/members/7", route=route,
                        account="42"))
    assert sink.flush()
    sink.close()
    contact = {"user.contact.email", "user.contact.phone_number"}
    with db.session() as s:
        rows = {r.actor: r for r in s.scalars(select(ExposureRecord))}
    anonymous = rows[pseudonymiser.key("ip", "203.0.113.7")]
    assert anonymous.audiences == ["anonymous"] and not contact & set(anonymous.categories)
    assert "user.name" in anonymous.categories
    member = rows["account:42"]
    assert member.audiences == ["member"] and contact <= set(member.categories)

    connections = load_policy_text("""
[[routes]]
pattern = "/p/{id}"
kind = "profile"
subject = "id"
categories = { anonymous = ["user.name"], connection = ["user.name", "user.contact.email"] }
""")
    route = RouteMap(connections.routes).match("/p/9")
    sink = RecordSink(db, pseudonymiser, tmp_path / "spill2.jsonl", routes=connections.routes)
    for said, account in [(None, "50"), ("connection", "51"), ("nonsense", None)]:
        sink.exposure(Event(ts=1_700_000_002.0, ip="192.0.2.1", path="/p/9", route=route, account=account),
                      said)
    assert sink.flush()
    sink.close()
    with db.session() as s:
        found = s.scalars(select(ExposureRecord).where(ExposureRecord.route == "/p/{id}"))
        rows = {r.actor: r for r in found}
    assert rows["account:50"].audiences == ["member"] and rows["account:50"].categories == ["user.name"]
    assert rows["account:51"].audiences == ["connection"]
    assert rows["account:51"].categories == ["user.contact.email", "user.name"]
    # the address saw it three times: as a member, as a connection, and anonymously (an unknown word)
    assert rows[pseudonymiser.key("ip", "192.0.2.1")].audiences == ["anonymous", "connection", "member"]
