"""What only the Redis store promises: every key expires, keys carry the actor's hash tag."""

from __future__ import annotations

import redis

from scrapeguard.decisions import NO_EVIDENCE, THROTTLE
from scrapeguard.stores import CountRequest, Escalation, Window
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
