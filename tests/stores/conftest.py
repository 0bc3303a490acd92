"""Every store backend runs the same conformance suite (tests/stores/test_conformance.py).

Add a backend by adding a parameter here; the suite must pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scrapeguard.stores import MemoryStore, StateStore


@pytest.fixture(params=["memory"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        s: StateStore = MemoryStore(max_keys=10_000, max_members_per_key=500)
    else:  # pragma: no cover - future backends
        raise AssertionError(request.param)
    yield s
    s.close()
