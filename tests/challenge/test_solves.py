"""The solve ledger on both stores (memory and a shared Redis): single-use proofs across
instances, and solving too often turning into a block."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scrapeguard.challenge.solves import BLOCKED, CLEARED, REPLAYED, SolveLedger
from scrapeguard.decisions import BLOCK
from scrapeguard.stores import MemoryStore, StateStore
from scrapeguard.stores.base import Escalation
from scrapeguard.stores.redis import RedisStore

ESCALATION = Escalation(throttle_seconds=300, escalate_after=10, strike_window=3600, block_seconds=3600,
                        block_growth=4.0, block_max_seconds=604800, offender_memory=2592000)
NOW = 1_800_000_000.0
KEYS = {"ip": "198.51.100.7", "net": "198.51.100.0/24"}


@pytest.fixture(params=["memory", "redis"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[StateStore, StateStore]]:
    """Two instances' view of the state: the same memory store twice, or two Redis clients."""
    if request.param == "memory":
        s = MemoryStore(max_keys=10_000, max_members_per_key=500)
        yield s, s
        return
    url = request.getfixturevalue("redis_url")
    base, _, prefix = url.partition("?prefix=")
    a = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=500)
    b = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=500)
    yield a, b
    a.close()
    b.close()


def ledger(store: StateStore) -> SolveLedger:
    return SolveLedger(store, ESCALATION, max_solves=3, window=3600, proof_ttl=2400)


def test_a_proof_is_spent_once_even_on_another_instance(stores: tuple[StateStore, StateStore]) -> None:
    one, two = ledger(stores[0]), ledger(stores[1])
    assert one.record(NOW, KEYS, "nonce-1", "sg-000000000001").status == CLEARED
    replay = two.record(NOW + 1, {"ip": "203.0.113.9"}, "nonce-1", "sg-000000000002")
    assert replay.status == REPLAYED
    assert one.record(NOW + 2, KEYS, "nonce-2", "sg-000000000003").status == CLEARED
    # spent proofs are forgotten after their lifetime, with nothing left to replay against
    assert one.record(NOW + 2401, KEYS, "nonce-1", "sg-000000000004").status == CLEARED


def test_solving_more_than_max_solves_in_the_window_blocks(stores: tuple[StateStore, StateStore]) -> None:
    one, two = ledger(stores[0]), ledger(stores[1])
    member = {**KEYS, "account": "42"}
    outcomes = [(one if i % 2 else two).record(NOW + i * 60, member, f"n{i}", f"sg-{i:012d}")
                for i in range(3)]
    assert [o.status for o in outcomes] == [CLEARED] * 3 and [o.solves for o in outcomes] == [1, 2, 3]
    fourth = one.record(NOW + 200, KEYS, "n3", "sg-000000000009")
    assert fourth.status == BLOCKED and fourth.penalty is not None
    assert fourth.penalty.action == BLOCK and fourth.penalty.key == "ip:198.51.100.7"
    assert fourth.penalty.until == NOW + 200 + 3600
    assert "solved more than 3 challenges within an hour" in fourth.penalty.reasons[0][3]
    # the block is a penalty like any other: the engine's next observe finds it
    seen = stores[1].observe(NOW + 201, ["ip:198.51.100.7"], [], ESCALATION, "sg-00000000000a")
    assert seen.penalty is not None and seen.penalty.action == BLOCK


def test_solves_slide_out_of_the_window(stores: tuple[StateStore, StateStore]) -> None:
    one = ledger(stores[0])
    for i in range(3):
        assert one.record(NOW + i, KEYS, f"n{i}", f"sg-{i:012d}").status == CLEARED
    later = one.record(NOW + 3603, KEYS, "n9", "sg-000000000099")
    assert later.status == CLEARED and later.solves == 1
