"""What only the Redis store promises: every key expires, keys carry the actor's hash tag."""

from __future__ import annotations

import pytest
import redis

from scrapeguard.decisions import NO_EVIDENCE, THROTTLE
from scrapeguard.stores import CountRequest, Escalation, MemoryStore, StoreUnavailable, Window
from scrapeguard.stores.failover import FailoverStore
from scrapeguard.stores.redis import RedisStore

ESCALATION = Escalation(300, 2, 3600, 1000, 4, 20_000, 86400)


def test_every_key_expires_and_is_tagged_by_actor(redis_url: str) -> None:
    base, _, prefix = redis_url.partition("?prefix=")
    store = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=100)
    windows = (Window(3600, 5), Window(86400, 9))
    store.observe(1000, ["ip:a"], [CountRequest("ip:a", "profiles", "m", windows)], ESCALATION, "sg-1")
    store.penalize(1001, "ip:a", THROTTLE, "sg-2", (("d", "ip:a", 0.6, "x"),), ESCALATION)
    store.observe(1002, ["ip:a"], [], ESCALATION, "sg-3")  # strike 2: escalates, counts a block
    store.put_value("session:s-1", "42|", 1000, ttl=600)
    client = redis.Redis.from_url(base)
    keys = sorted(k.decode() for k in client.scan_iter(f"{prefix}:*"))
    assert keys == [f"{prefix}:{{ip:a}}:blocks", f"{prefix}:{{ip:a}}:d:profiles", f"{prefix}:{{ip:a}}:pen",
                    f"{prefix}:{{ip:a}}:strikes", f"{prefix}:{{v:session:s-1}}"]
    for key in keys:
        assert client.ttl(key) > 0, key
    store.close()
    client.close()


def test_a_penalty_kept_before_reasons_had_evidence_reads_with_none(redis_url: str) -> None:
    # (a rolling upgrade: another instance of the earlier version wrote this penalty)
    base, _, prefix = redis_url.partition("?prefix=")
    store = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=100)
    client = redis.Redis.from_url(base)
    client.hset(f"{prefix}:{{ip:b}}:pen", mapping={
        "action": THROTTLE, "until": "5000", "id": "sg-earlier",
        "reasons": '[["profile_quota","ip:b",0.6,"over the quota"]]'})
    client.expire(f"{prefix}:{{ip:b}}:pen", 600)
    seen = store.observe(1000, ["ip:b"], [], ESCALATION, "sg-4")
    assert seen.penalty is not None and seen.penalty.decision_id == "sg-earlier"
    assert seen.penalty.reasons == (("profile_quota", "ip:b", 0.6, "over the quota", NO_EVIDENCE),)
    store.close()
    client.close()


def test_operator_keys_expire_and_are_tagged_by_actor(redis_url: str) -> None:
    base, _, prefix = redis_url.partition("?prefix=")
    store = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=100)
    store.pardon(1000, "net:198.51.100.0/24", until=1600)
    store.hold(1000, "account:7", "block", 5000, "sg-op", ())
    client = redis.Redis.from_url(base)
    keys = sorted(k.decode() for k in client.scan_iter(f"{prefix}:*"))
    assert keys == [f"{prefix}:{{account:7}}:pen", f"{prefix}:{{net:198.51.100.0/24}}:pardon"]
    for key in keys:
        assert client.ttl(key) > 0, key
    store.close()
    client.close()


def test_operator_actions_never_go_to_the_local_fallback() -> None:
    """The console's own fallback is not the guard's: an operator's action on an unreachable shared
    store is an error, not a block that silently takes no effect."""
    fallback = MemoryStore()
    shared = RedisStore.from_url("redis://127.0.0.1:9", "sg", timeout=0.2, max_members_per_key=10)
    store = FailoverStore(shared, fallback, fail_open=True, retry_seconds=30)
    for call in (lambda: store.hold(100, "ip:a", "block", 200, "sg-1", ()), lambda: store.lift(100, "ip:a"),
                 lambda: store.pardon(100, "ip:a", 200), lambda: store.unpardon(100, "ip:a"),
                 lambda: store.penalties(100), lambda: store.pardons(100)):
        with pytest.raises(StoreUnavailable, match="unreachable"):
            call()
    assert fallback.penalties(100) == [] and fallback.pardons(100) == []
    # the guard's own calls still fail open to the fallback
    assert not store.observe(100, ["ip:a"], [], ESCALATION, "sg-2", pardon_keys=["ip:a"]).pardoned
    assert store.degraded
