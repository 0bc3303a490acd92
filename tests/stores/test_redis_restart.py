"""The Redis store when its server forgets the actor script (SCRIPT FLUSH, a restart), and the
per-key member cap both stores apply (`max_members_per_key`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from scrapeguard.stores import CountRequest, DistinctResult, Escalation, MemoryStore, StateStore, Window
from scrapeguard.stores.base import UNLIMITED
from scrapeguard.stores.failover import FailoverStore
from scrapeguard.stores.redis import RedisStore

from ..conftest import RedisServer  # type: ignore[import-not-found]

ESCALATION = Escalation(throttle_seconds=300, escalate_after=50, strike_window=3600, block_seconds=1000,
                        block_growth=4, block_max_seconds=20_000, offender_memory=86400)
WINDOWS = (Window(3600, 50), Window(86400, 100))
T0 = 1_800_000_000.0


def count(store: StateStore, now: float, actor: str, member: str,
          windows: tuple[Window, ...] = WINDOWS) -> DistinctResult:
    seen = store.observe(now, [actor], [CountRequest(actor, "profiles", member, windows)], ESCALATION, "sg-t")
    assert seen.penalty is None
    result = seen.counted[(actor, "profiles")]
    assert isinstance(result, DistinctResult)
    return result


def count_both(store: StateStore, now: float, member: str) -> list[tuple[int, ...]]:
    """One event counted under two actors: two script calls in one pipeline."""
    actors = ["ip:192.0.2.1", "account:7"]
    requests = [CountRequest(a, "profiles", member, WINDOWS) for a in actors]
    seen = store.observe(now, actors, requests, ESCALATION, "sg-t")
    return [seen.counted[(a, "profiles")].counts for a in actors]  # type: ignore[union-attr]


@pytest.fixture
def store(own_redis: RedisServer) -> Iterator[RedisStore]:
    s = RedisStore.from_url(own_redis.url, "sg", timeout=5.0, max_members_per_key=100)
    yield s
    s.close()


def flush_scripts(server: RedisServer) -> None:
    client = redis.Redis(port=server.port)
    client.script_flush()
    client.close()


def test_a_flushed_script_is_loaded_again_for_one_call_and_for_a_pipeline(
        own_redis: RedisServer, store: RedisStore) -> None:
    assert count(store, T0, "ip:192.0.2.1", "m0").counts == (1, 1)
    flush_scripts(own_redis)
    assert count(store, T0 + 1, "ip:192.0.2.1", "m1").counts == (2, 2)

    assert count_both(store, T0 + 2, "m2") == [(3, 3), (1, 1)]
    flush_scripts(own_redis)
    # every call of the pipeline failed with NOSCRIPT: each is run once more, none twice
    assert count_both(store, T0 + 3, "m3") == [(4, 4), (2, 2)]


def test_a_restarted_server_is_used_again_with_its_script_loaded_anew(
        own_redis: RedisServer, store: RedisStore) -> None:
    count(store, T0, "ip:192.0.2.1", "m0")
    own_redis.stop()
    own_redis.start()  # same port, empty (no persistence), no scripts
    # the client reconnects; the script is missing on the new server and is loaded again
    assert count(store, T0 + 1, "ip:192.0.2.1", "m1").counts == (1, 1)
    assert count_both(store, T0 + 2, "m2") == [(2, 2), (1, 1)]


def test_a_server_restarted_behind_the_failover_store_is_used_again_after_the_retry_pause(
        own_redis: RedisServer) -> None:
    now = [1000.0]
    shared = FailoverStore(RedisStore.from_url(own_redis.url, "sg", timeout=5.0, max_members_per_key=100),
                           MemoryStore(), fail_open=True, retry_seconds=5, clock=lambda: now[0])
    count(shared, T0, "ip:192.0.2.1", "m0")
    own_redis.stop()
    assert count(shared, T0 + 1, "ip:192.0.2.1", "m1").counts == (1, 1)  # down: the local fallback
    assert shared.degraded
    own_redis.start()
    now[0] += 5
    assert count(shared, T0 + 2, "ip:192.0.2.1", "m2").counts == (1, 1)  # the new server, script reloaded
    assert not shared.degraded
    assert shared.fallback_calls == 1
    shared.close()


# -- the per-key member cap ---------------------------------------------------------------------

CAP = 10
OPEN_WINDOWS = (Window(3600, UNLIMITED), Window(86400, UNLIMITED))


@pytest.fixture(params=["memory", "redis"])
def capped(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    """A store that keeps at most CAP members per set."""
    if request.param == "memory":
        s: StateStore = MemoryStore(max_keys=10_000, max_members_per_key=CAP)
    else:
        server: RedisServer = request.getfixturevalue("own_redis")
        s = RedisStore.from_url(server.url, "cap", timeout=5.0, max_members_per_key=CAP)
    yield s
    s.close()


def test_a_set_keeps_only_its_most_recent_members(capped: StateStore) -> None:
    """Whatever windows a detector asks for, one actor's set never holds more than the cap: the
    members seen longest ago are forgotten first."""
    counts = [count(capped, T0 + i, "ip:a", f"m{i}", OPEN_WINDOWS).counts for i in range(3 * CAP)]
    assert counts[: CAP] == [(i + 1, i + 1) for i in range(CAP)]
    assert set(counts[CAP:]) == {(CAP, CAP)}
    # the last CAP members are remembered, the ones before are not
    assert count(capped, T0 + 100, "ip:a", f"m{3 * CAP - 1}", OPEN_WINDOWS).seen_before
    forgotten = count(capped, T0 + 101, "ip:a", "m0", OPEN_WINDOWS)
    assert not forgotten.seen_before and forgotten.counts == (CAP, CAP)
    # another actor has a cap of its own
    assert count(capped, T0 + 102, "ip:b", "m0", OPEN_WINDOWS).counts == (1, 1)


def test_the_cap_counts_each_window_from_what_is_left(capped: StateStore) -> None:
    """Eight members seen hours ago, then five within the hour: the cap keeps the ten most recent,
    so the hour counts 5 and the day 10 (3 of the old members and the 5 new)."""
    for i in range(8):
        count(capped, T0 + i, "ip:a", f"old{i}", OPEN_WINDOWS)
    later = T0 + 7200
    results = [count(capped, later + i, "ip:a", f"new{i}", OPEN_WINDOWS) for i in range(5)]
    assert [r.counts for r in results] == [(1, 9), (2, 10), (3, 10), (4, 10), (5, 10)]
    # old0..old4 were dropped by the cap: counted again, they are new to the day too
    assert count(capped, later + 10, "ip:a", "old0", OPEN_WINDOWS).counts == (6, 10)
