"""The Live view's queries (SQLite and PostgreSQL): refusals per bucket by action, route kind and
detector; traffic per minute written by the sink and read back per bucket; the actors and
campaigns refused most; retention of the traffic counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from scrapeguard.decisions import Decision, Reason
from scrapeguard.records.db import Database
from scrapeguard.records.errors import PermissionDenied, RecordsError
from scrapeguard.records.live import (
    Window,
    refusals_by,
    top_actors,
    top_campaigns,
    traffic,
    traffic_recorded,
    write_traffic,
)
from scrapeguard.records.models import TrafficMinute
from scrapeguard.records.privacy import Pseudonymiser, purge
from scrapeguard.records.sink import RecordSink
from scrapeguard.records.users import Actor

from .helpers import seed  # type: ignore[import-not-found]

VIEWER = Actor("vic", "viewer")
SUPPORT = Actor("sue", "support")
NOW = datetime(2026, 12, 3, 10, 7, 30, tzinfo=UTC).timestamp()


def decision(n: int, ts: float, action: str, route: str, detectors: tuple[str, ...], actor: str,
             campaign: str | None = None) -> dict[str, Any]:
    reasons = [{"detector": d, "key": actor, "score": 0.6, "detail": d} for d in detectors]
    return {"type": "decision", "ts": ts, "id": f"sg-{n:012x}", "action": action, "enforced": True,
            "keys": {}, "route": route, "subject": None, "path": "/x", "reasons": reasons,
            "actors": [actor], "campaign": campaign, "source": "live"}


def seeded(db: Database) -> Window:
    """Refusals in the last hour at known minutes (5-minute buckets ending with 10:10)."""
    window = Window.ending_at(NOW, 3600, 300)
    assert datetime.fromtimestamp(window.start, UTC) == datetime(2026, 12, 3, 9, 10, tzinfo=UTC)
    at = [NOW - 60 * m for m in (0, 1, 2, 6, 30, 55)]  # buckets 11, 11, 11, 10, 5, 0
    records = [
        decision(1, at[0], "block", "profile", ("profile_quota", "automation"), "ip:p-aaa"),
        decision(2, at[1], "block", "profile", ("profile_quota",), "ip:p-aaa"),
        decision(3, at[2], "challenge", "search", ("enumeration",), "ip:p-bbb", "campaign:7"),
        decision(4, at[3], "throttle", "profile", ("profile_quota",), "ip:p-aaa"),
        decision(5, at[4], "challenge", "lookup", ("campaign",), "account:42", "campaign:7"),
        decision(6, at[5], "block", "profile", (), "ip:p-ccc"),
        decision(7, NOW - 3700, "block", "profile", ("automation",), "ip:p-old"),  # before the window
    ]
    seed(db, records)
    return window


def test_a_window_is_aligned_buckets_ending_with_the_one_holding_now() -> None:
    window = Window.ending_at(NOW, 24 * 3600, 3600)
    assert window.n == 24 and window.start % 3600 == 0 and window.start < NOW < window.end
    assert window.index(NOW) == 23 and window.index(window.start - 1) is None
    with pytest.raises(RecordsError):
        Window.ending_at(NOW, 60, 300)


def test_refusals_per_bucket_by_action_route_and_detector(db: Database) -> None:
    window = seeded(db)
    with db.session() as s:
        by_action = refusals_by(s, VIEWER, window, "action")
        by_route = refusals_by(s, VIEWER, window, "route")
        by_detector = refusals_by(s, VIEWER, window, "detector")
    zero = [0] * 12

    def at(**buckets: int) -> tuple[int, ...]:
        values = list(zero)
        for i, n in buckets.items():
            values[int(i[1:])] = n
        return tuple(values)

    assert by_action.series == {"block": at(b0=1, b11=2), "challenge": at(b5=1, b11=1),
                                "throttle": at(b10=1)}
    assert list(by_action.series) == ["block", "challenge", "throttle"]  # most first
    assert by_route.totals == [("profile", 4), ("lookup", 1), ("search", 1)]
    assert by_detector.series == {"profile_quota": at(b10=1, b11=2), "automation": at(b11=1),
                                  "campaign": at(b5=1), "enumeration": at(b11=1), "unknown": at(b0=1)}
    assert by_detector.counted is None


def test_top_actors_and_campaigns_of_the_window(db: Database) -> None:
    window = seeded(db)
    with db.session() as s:
        actors = top_actors(s, VIEWER, window)
        campaigns = top_campaigns(s, VIEWER, window)
    assert [(a.key, a.refusals, a.actions) for a in actors][:2] == [
        ("ip:p-aaa", 3, ("block", "throttle")), ("account:42", 1, ("challenge",))]
    assert {a.key for a in actors} == {"ip:p-aaa", "ip:p-bbb", "account:42", "ip:p-ccc"}  # not p-old
    assert actors[0].last_at is not None and abs(actors[0].last_at.timestamp() - NOW) < 1
    assert [(c.key, c.refusals) for c in campaigns] == [("campaign:7", 2)]


def test_traffic_counts_add_up_per_minute_and_read_back_per_bucket(db: Database) -> None:
    window = Window.ending_at(NOW, 3600, 300)
    minute = NOW // 60 * 60
    with db.session() as s:
        assert not traffic_recorded(s, VIEWER)
        write_traffic(s, [{"type": "traffic", "minute": minute, "route": "profile", "action": "allow",
                           "count": 5},
                          {"type": "traffic", "minute": minute + 10, "route": "profile", "action": "allow",
                           "count": 2}])
    with db.session() as s:  # a second batch adds to the same minute (an upsert)
        write_traffic(s, [{"type": "traffic", "minute": minute, "route": "profile", "action": "allow",
                           "count": 3},
                          {"type": "traffic", "minute": minute - 600, "route": "search", "action": "block",
                           "count": 4}])
    with db.session() as s:
        assert s.scalar(select(TrafficMinute.count).where(TrafficMinute.route == "profile")) == 10
        by_action = traffic(s, VIEWER, window)
        by_route = traffic(s, VIEWER, window, "route")
        assert traffic_recorded(s, VIEWER)
        day = traffic(s, VIEWER, Window.ending_at(NOW, 86400, 3600))
    assert by_action.series["allow"][11] == 10 and by_action.series["block"][9] == 4
    assert by_route.totals == [("profile", 10), ("search", 4)]
    assert day.series["allow"][23] == 10 and day.total("block") == 4


def test_the_sink_counts_every_judged_request_in_its_minute(db: Database, tmp_path: Path) -> None:
    sink = RecordSink(db, Pseudonymiser(b"k" * 32), tmp_path / "spill.jsonl")
    base = NOW // 60 * 60
    for i in range(50):
        sink.traffic(Decision("allow", base + i % 60, route="page"))
    for i in range(3):
        sink.traffic(Decision("block", base + 61 + i, (Reason("automation", "ip:x", 1, "bot"),),
                              route="profile"))
    assert sink.flush(30)
    sink.close()
    with db.session() as s:
        rows = {(r.minute.timestamp(), r.route, r.action): r.count for r in s.scalars(select(TrafficMinute))}
    assert rows == {(base, "page", "allow"): 50, (base + 60, "profile", "block"): 3}


def test_traffic_counts_are_purged_with_the_decisions(db: Database) -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    with db.session() as s:
        write_traffic(s, [{"type": "traffic", "minute": NOW - 200 * 86400, "route": "page",
                           "action": "allow", "count": 1},
                          {"type": "traffic", "minute": NOW, "route": "page", "action": "allow", "count": 1}])
    with db.session() as s:
        counts = purge(s, 180, 365, "root", now=now)
    assert counts["traffic_minutes"] == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TrafficMinute)) == 1
        assert s.scalar(select(TrafficMinute.minute)) > now - timedelta(days=1)  # type: ignore[operator]


def test_the_queries_need_the_read_permission(db: Database) -> None:
    window = Window.ending_at(NOW, 3600, 300)
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(read\)"):
        refusals_by(s, SUPPORT, window, "action")
    with db.session() as s, pytest.raises(PermissionDenied):
        traffic(s, SUPPORT, window)
    with db.session() as s, pytest.raises(RecordsError, match="broken down by"):
        refusals_by(s, VIEWER, window, "colour")


def test_a_guard_with_records_counts_every_request_it_judges(tmp_path: Path) -> None:
    """Through the ASGI middleware with `db=`: allows and refusals land in traffic_minutes."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from scrapeguard.integrations.asgi import ScrapeGuardMiddleware

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    site = Starlette(routes=[Route("/{path:path}", hello)])
    clock = [NOW]
    policy = tmp_path / "policy.toml"
    policy.write_text('[detectors.honeypot]\ntrap_paths = ["/trap"]\n')
    middleware = ScrapeGuardMiddleware(site, policy, db=str(tmp_path / "records.db"), clock=lambda: clock[0])
    client = TestClient(middleware, client=("198.51.100.9", 40000))
    for i in range(5):
        assert client.get(f"/blog/{i}", headers={"User-Agent": "Mozilla/5.0 Firefox/120"}).status_code == 200
    clock[0] += 60
    refused = client.get("/trap", headers={"User-Agent": "python-requests/2.31"})
    assert refused.status_code == 403
    records = middleware.guard.records
    assert records is not None and records.flush(30)
    records.close()
    db = Database(str(tmp_path / "records.db"))
    with db.session() as s:
        rows = {(r.minute.timestamp(), r.action): r.count for r in s.scalars(select(TrafficMinute))}
    minute = NOW // 60 * 60
    assert rows[(minute, "allow")] == 5
    assert rows == {(minute, "allow"): 5, (minute + 60, "block"): 1}
    db.dispose()
