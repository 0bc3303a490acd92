"""Building stores from URIs: schemes, options, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapeguard.policy import default_policy
from scrapeguard.stores import CountRequest, MemoryStore, Window, store_from_uri
from scrapeguard.stores.failover import FailoverStore
from scrapeguard.stores.redis import RedisStore

OPTIONS = default_policy().store


def test_memory_uri_and_its_bounds() -> None:
    store = store_from_uri("memory://?max_keys=500&max_members_per_key=50", OPTIONS)
    assert isinstance(store, MemoryStore)
    assert (store.max_keys, store.max_members_per_key) == (500, 50)
    assert isinstance(store_from_uri(None, OPTIONS), MemoryStore)


@pytest.mark.parametrize("uri,message", [
    ("carrier-pigeon://x", "unsupported scheme"),
    ("memory://?max_keys=lots", "store URI"),
    ("redis://127.0.0.1:6379/0?fail=maybe", "fail must be 'open' or 'closed'"),
    ("redis://127.0.0.1:6379/0?prefix=a{b}", "braces"),
    ("redis://127.0.0.1:6379/0?timeout_ms=-5", r"timeout_ms -5 is out of range \(1..60000\)"),
    ("redis://127.0.0.1:6379/0?timeout_ms=0", "timeout_ms 0 is out of range"),
    ("redis://127.0.0.1:6379/0?retry_seconds=-1", "retry_seconds -1 is out of range"),
    ("memory://?max_keys=5", "max_keys 5 is out of range"),
])
def test_bad_uris_are_explained(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store_from_uri(uri, OPTIONS)


def test_redis_uri_options_reach_the_store(redis_url: str) -> None:
    store = store_from_uri(redis_url.replace("?", "?fail=closed&retry_seconds=7&timeout_ms=250&"), OPTIONS)
    assert isinstance(store, FailoverStore) and isinstance(store.primary, RedisStore)
    assert store.fail_open is False and store.retry_seconds == 7
    assert store.primary.prefix.startswith("sgtest-")
    assert store.primary.client.connection_pool.connection_kwargs["socket_timeout"] == 0.25
    store.close()


def test_unix_socket_uri(own_redis_unix: Path) -> None:
    store = store_from_uri(f"unix://{own_redis_unix}?prefix=unix-test", OPTIONS)
    seen = store.observe(1000, ["ip:a"], [CountRequest("ip:a", "p", "m", (Window(3600, 5),))],
                         _escalation(), "sg-1")
    assert seen.counted[("ip:a", "p")].counts == (1,)
    assert not store.degraded
    store.close()


def _escalation():  # type: ignore[no-untyped-def]
    from scrapeguard.engine import Engine

    return Engine(default_policy()).escalation
