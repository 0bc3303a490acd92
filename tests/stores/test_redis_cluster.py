"""The Redis store on a real Redis Cluster while the cluster changes under it: a slot moved to
another node, and a node that fails and comes back (see stores/redis.py and stores/failover.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from scrapeguard.decisions import NO_EVIDENCE, THROTTLE
from scrapeguard.stores import CountRequest, DistinctResult, Escalation, MemoryStore, StoreUnavailable, Window
from scrapeguard.stores.base import StateStore
from scrapeguard.stores.failover import FailoverStore
from scrapeguard.stores.redis import RedisStore

from ..conftest import RedisClusterNodes, RedisServer  # type: ignore[import-not-found]

ESCALATION = Escalation(throttle_seconds=300, escalate_after=50, strike_window=3600, block_seconds=1000,
                        block_growth=4, block_max_seconds=20_000, offender_memory=86400)
WINDOWS = (Window(3600, 50), Window(86400, 100))
ACTOR = "ip:192.0.2.7"
PREFIX = "sg"
T0 = 1_800_000_000.0
RETRY_SECONDS = 5.0


class Clock:
    """The failover store's clock, moved by the test (no waiting for retry_seconds to pass)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def count(store: StateStore, now: float, member: str, actor: str = ACTOR) -> DistinctResult:
    seen = store.observe(now, [actor], [CountRequest(actor, "profiles", member, WINDOWS)], ESCALATION, "sg-t")
    assert seen.penalty is None
    result = seen.counted[(actor, "profiles")]
    assert isinstance(result, DistinctResult)
    return result


def cluster_store(cluster: RedisClusterNodes) -> RedisStore:
    return RedisStore.from_url(f"redis://127.0.0.1:{cluster.nodes[0].port}", PREFIX, timeout=5.0,
                               max_members_per_key=100, cluster=True)


@pytest.fixture
def store(cluster_nodes: RedisClusterNodes) -> Iterator[RedisStore]:
    s = cluster_store(cluster_nodes)
    yield s
    s.close()


def slot_of(cluster: RedisClusterNodes, actor: str) -> int:
    key = f"{PREFIX}:{{{actor}}}:pen"
    return int(cluster.client(cluster.nodes[0]).execute_command("CLUSTER", "KEYSLOT", key))


def start_migration(cluster: RedisClusterNodes, slot: int, target: RedisServer) -> RedisServer:
    """Mark `slot` as moving from its owner to `target` and move every key of it; the owner still
    owns the slot (it answers ASK for the keys it no longer has). Returns the owner."""
    source = cluster.owner_of(slot)
    assert source is not target
    src, dst = cluster.client(source), cluster.client(target)
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.node_id(source))
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.node_id(target))
    while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 10_000, "KEYS", *keys)
    return source


def finish_migration(cluster: RedisClusterNodes, slot: int, target: RedisServer) -> None:
    """Give `slot` to `target` (told to the target first, then to every other node)."""
    target_id = cluster.node_id(target)
    for node in [target, *(n for n in cluster.nodes if n is not target)]:
        cluster.client(node).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


def another_node(cluster: RedisClusterNodes, slot: int) -> RedisServer:
    owner = cluster.owner_of(slot)
    return next(n for n in cluster.nodes if n is not owner)


def actor_on(cluster: RedisClusterNodes, node: RedisServer) -> str:
    """An actor key whose slot `node` serves."""
    return next(a for a in (f"ip:203.0.113.{i}" for i in range(1, 250))
                if cluster.owner_of(slot_of(cluster, a)) is node)


def test_a_slot_moved_to_another_node_keeps_its_counts_and_penalties(
        cluster_nodes: RedisClusterNodes, store: RedisStore) -> None:
    for i in range(5):
        assert count(store, T0 + i, f"m{i}").counts == (i + 1, i + 1)
    other = "ip:198.51.100.9"
    reasons = (("profile_quota", other, 0.6, "over quota", NO_EVIDENCE),)
    store.penalize(T0 + 5, other, THROTTLE, "sg-p", reasons, ESCALATION)
    slot = slot_of(cluster_nodes, ACTOR)
    target = another_node(cluster_nodes, slot)
    start_migration(cluster_nodes, slot, target)
    finish_migration(cluster_nodes, slot, target)

    # the store still sends the actor to the old owner: MOVED, it learns the new layout, asks again
    after = count(store, T0 + 10, "m5")
    assert (after.admitted, after.counts) == (True, (6, 6))
    assert count(store, T0 + 11, "m0").seen_before  # the members counted before the move are still there
    # the state now lives on the new owner, under the actor's hash tag
    assert cluster_nodes.client(target).exists(f"{PREFIX}:{{{ACTOR}}}:d:profiles") == 1
    # another actor, on a node that did not change, keeps its penalty
    seen = store.observe(T0 + 12, [other], [], ESCALATION, "sg-q")
    assert seen.penalty is not None and seen.penalty.action == THROTTLE


def test_an_event_of_two_actors_on_two_nodes_survives_a_slot_move(
        cluster_nodes: RedisClusterNodes, store: RedisStore) -> None:
    """One event counts under several actors, which may live on different nodes: one pipeline per
    node; after a slot move the whole event is asked again, nothing is counted twice."""
    home = cluster_nodes.owner_of(slot_of(cluster_nodes, ACTOR))
    actors = [ACTOR, actor_on(cluster_nodes, next(n for n in cluster_nodes.nodes if n is not home))]

    def both(now: float, member: str) -> tuple[tuple[int, ...], ...]:
        requests = [CountRequest(a, "profiles", member, WINDOWS) for a in actors]
        seen = store.observe(now, actors, requests, ESCALATION, "sg-t")
        return tuple(seen.counted[(a, "profiles")].counts for a in actors)  # type: ignore[union-attr]

    assert both(T0, "m0") == ((1, 1), (1, 1))
    slot = slot_of(cluster_nodes, actors[1])
    target = another_node(cluster_nodes, slot)
    start_migration(cluster_nodes, slot, target)
    finish_migration(cluster_nodes, slot, target)
    assert both(T0 + 1, "m1") == ((2, 2), (2, 2))


def test_while_a_slot_is_being_migrated_only_its_actors_go_to_the_failure_policy(
        cluster_nodes: RedisClusterNodes) -> None:
    """A reshard moves a slot key by key. Meanwhile Redis Cluster refuses a script whose keys are
    not all on one side (ASK from the old owner, TRYAGAIN from the new one): the actor script cannot
    run, so that slot's actors go to the failure policy, call by call, and come back to the shared
    state, moved intact, once the slot has its new owner. The other actors stay on the shared
    store meanwhile (it is reachable: it is not left alone for retry_seconds)."""
    clock = Clock()
    fail_open = FailoverStore(cluster_store(cluster_nodes), MemoryStore(), fail_open=True,
                              retry_seconds=RETRY_SECONDS, clock=clock)
    fail_closed = FailoverStore(cluster_store(cluster_nodes), MemoryStore(), fail_open=False,
                                retry_seconds=RETRY_SECONDS, clock=clock)
    slot = slot_of(cluster_nodes, ACTOR)
    elsewhere = actor_on(cluster_nodes, another_node(cluster_nodes, slot))
    for i in range(3):
        count(fail_open, T0 + i, f"m{i}")
        count(fail_open, T0 + i, f"m{i}", actor=elsewhere)
    target = another_node(cluster_nodes, slot)
    start_migration(cluster_nodes, slot, target)

    assert count(fail_open, T0 + 3, "m3").counts == (1, 1)  # this call: the local fallback
    with pytest.raises(StoreUnavailable):
        count(fail_closed, T0 + 3, "m3")
    # the other actors are still counted in the shared store, by both instances
    assert count(fail_open, T0 + 4, "m4", actor=elsewhere).counts == (4, 4)
    assert count(fail_closed, T0 + 5, "m5", actor=elsewhere).counts == (5, 5)
    assert not fail_open.degraded and not fail_closed.degraded

    finish_migration(cluster_nodes, slot, target)
    back = count(fail_open, T0 + 6, "m6")
    assert back.counts == (4, 4)  # the three counted before the move, and this one
    assert cluster_nodes.client(target).exists(f"{PREFIX}:{{{ACTOR}}}:d:profiles") == 1
    assert fail_open.failures == 1 and fail_open.fallback_calls == 1
    fail_open.close()
    fail_closed.close()


def test_a_node_that_fails_sends_its_actors_to_the_policy_and_they_return_with_it(
        cluster_nodes: RedisClusterNodes) -> None:
    clock = Clock()
    fail_open = FailoverStore(cluster_store(cluster_nodes), MemoryStore(), fail_open=True,
                              retry_seconds=RETRY_SECONDS, clock=clock)
    fail_closed = FailoverStore(cluster_store(cluster_nodes), MemoryStore(), fail_open=False,
                                retry_seconds=RETRY_SECONDS, clock=clock)
    for i in range(3):
        count(fail_open, T0 + i, f"m{i}")
    assert count(fail_closed, T0 + 3, "m3").counts == (4, 4)  # both instances share the counts
    owner = cluster_nodes.owner_of(slot_of(cluster_nodes, ACTOR))
    owner.stop()

    # fail open: served from the local fallback, which starts empty; the store says it is degraded
    local = count(fail_open, T0 + 4, "m4")
    assert local.counts == (1, 1)
    assert fail_open.degraded and fail_open.failures == 1
    # fail closed: refused
    with pytest.raises(StoreUnavailable):
        count(fail_closed, T0 + 4, "m4")
    # within retry_seconds the failed store is left alone: no second failure, no waiting on it
    clock.now += RETRY_SECONDS / 2
    assert count(fail_open, T0 + 5, "m5").counts == (2, 2)
    assert fail_open.failures == 1 and fail_open.fallback_calls == 2

    owner.start()  # same port and cluster config, no data (no persistence): it rejoins with its slots
    cluster_nodes.wait_until_ok()
    clock.now += RETRY_SECONDS
    # back on the cluster (its scripts are loaded again on the restarted node): fresh counts there
    assert count(fail_open, T0 + 6, "m6").counts == (1, 1)
    assert not fail_open.degraded
    assert count(fail_closed, T0 + 7, "m7").counts == (2, 2)
    assert not fail_closed.degraded
    fail_open.close()
    fail_closed.close()


def test_without_the_failover_wrapper_a_failed_node_is_an_error_not_a_hang(
        cluster_nodes: RedisClusterNodes, store: RedisStore) -> None:
    count(store, T0, "m0")
    cluster_nodes.owner_of(slot_of(cluster_nodes, ACTOR)).stop()
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        count(store, T0 + 1, "m1")


def test_a_failed_master_replaced_by_its_replica_is_found_again_with_its_state(
        replicated_cluster: RedisClusterNodes) -> None:
    """stores/redis.py: after a connection error the store relearns the cluster's layout, so once
    the replica has taken over, the store finds the actor there, with what the master had."""
    store = cluster_store(replicated_cluster)
    for i in range(3):
        count(store, T0 + i, f"m{i}")
    slot = slot_of(replicated_cluster, ACTOR)
    master = replicated_cluster.owner_of(slot)
    replicated_cluster.client(master).execute_command("WAIT", 1, 10_000)  # the replica has it all
    master.stop()
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        count(store, T0 + 3, "m3")
    wait_for_new_owner(replicated_cluster, slot, master)

    answers: list[object] = []
    for attempt in range(2):  # the layout learnt at the failure may still name the old master
        try:
            answers.append(count(store, T0 + 4 + attempt, f"m{4 + attempt}").counts)
            break
        except redis.exceptions.ConnectionError as exc:
            answers.append(type(exc).__name__)
    assert answers[-1] == (4, 4), answers  # the three counted before the failure, and this one
    store.close()


def wait_for_new_owner(cluster: RedisClusterNodes, slot: int, old: RedisServer, timeout: float = 60) -> None:
    """Poll until a live node serves `slot` (its replica, promoted) and the cluster is ok again."""
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            live = next(n for n in cluster.nodes if n is not old)
            for start, end, owner, *_ in cluster.client(live).execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end) and int(owner[1]) != old.port:
                    cluster.wait_until_ok()
                    return
        except redis.exceptions.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no replica took over slot {slot}")
