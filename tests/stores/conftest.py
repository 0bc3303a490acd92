"""Every store backend runs the same conformance suite (tests/stores/test_conformance.py).

Add a backend by adding a parameter here; the suite must pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scrapeguard.stores import MemoryStore, StateStore
from scrapeguard.stores.redis import RedisStore


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        s: StateStore = MemoryStore(max_keys=10_000, max_members_per_key=500)
    else:
        url = request.getfixturevalue("redis_url")
        base, _, prefix = url.partition("?prefix=")
        s = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=500)
    yield s
    s.close()
