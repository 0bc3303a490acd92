"""The memory store's own promises: bounded in total and per key."""

from __future__ import annotations

import pytest

from scrapeguard.stores import CountRequest, Escalation, MemoryStore, Window

WINDOWS = (Window(3600, 60), Window(86400, 300))
ESCALATION = Escalation(300, 10, 3600, 3600, 4, 86400, 86400)


def admit(store: MemoryStore, key: str, member: str, now: float, windows=WINDOWS):  # type: ignore[no-untyped-def]
    return store.observe(now, [key], [CountRequest(key, "p", member, windows)], ESCALATION, "sg-x") \
        .counted[(key, "p")]


def test_a_flood_of_new_keys_stays_within_max_keys() -> None:
    store = MemoryStore(max_keys=1000, max_members_per_key=100)
    for i in range(20_000):
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        admit(store, f"ip:{ip}", "u1", 1000 + i * 0.01, WINDOWS)
    stats = store.stats()
    assert stats.entries <= 1000
    assert stats.evicted + stats.expired == 19_000


def test_recently_used_keys_survive_a_flood() -> None:
    store = MemoryStore(max_keys=100, max_members_per_key=100)
    admit(store, "ip:scraper", "u1", 1000, WINDOWS)
    for i in range(1000):
        admit(store, f"ip:new{i}", "u1", 1000 + i, WINDOWS)
        if i % 50 == 0:  # the scraper keeps coming back
            admit(store, "ip:scraper", f"u{i}", 1000 + i, WINDOWS)
    assert admit(store, "ip:scraper", "u1", 2001, WINDOWS).seen_before


def test_members_per_key_are_bounded() -> None:
    store = MemoryStore(max_keys=100, max_members_per_key=50)
    big = (Window(3600, 10_000), Window(86400, 10_000))
    for i in range(500):
        result = admit(store, "k", f"m{i}", 1000 + i, big)
    assert result.counts == (50, 50)


def test_idle_keys_expire() -> None:
    store = MemoryStore(max_keys=100, max_members_per_key=50)
    admit(store, "k", "a", 1000, WINDOWS)
    store.put_value("v", "x", 1000, ttl=10)
    assert store.get_value("v", 1011) is None
    # a day later the distinct set is gone: the member counts as new
    assert not admit(store, "k", "a", 1000 + 86401, WINDOWS).seen_before


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        MemoryStore(max_keys=0)
