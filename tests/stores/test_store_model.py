"""The memory store and the Redis store are one model: the same operations, in any order generated
by hypothesis (counts, histories, penalties, refused events, values, time passing), give the same
answers. The clock is the operations' own event time: no wall clock anywhere.

One known difference is left out of the model and pinned by its own test below: two members
counted at the very same event time when the per-key cap drops one of them (see
`test_ties_at_the_member_cap_are_broken_differently`). So every generated operation happens a
millisecond after the one before; pauses come on top."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from scrapeguard.decisions import BLOCK, CHALLENGE, NO_EVIDENCE, THROTTLE
from scrapeguard.stores import CountRequest, Escalation, HistoryRequest, MemoryStore, StoreRequest, Window
from scrapeguard.stores.redis import RedisStore

REDIS_URL = os.environ.get("SCRAPEGUARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
T0 = 1_800_000_000.0
TICK = 0.001
#: Small, so that generated runs reach the limits, the cap and escalation.
CAP = 4
ESCALATION = Escalation(throttle_seconds=300, escalate_after=3, strike_window=3600, block_seconds=1000,
                        block_growth=4, block_max_seconds=20_000, offender_memory=86400,
                        reason=("escalation", "", 1.0, "3 refusals: escalated", NO_EVIDENCE))
#: Each set name has fixed windows (as each detector has), as do histories.
SETS = {"profiles": (Window(3600, 3), Window(86400, 5)), "networks": (Window(600, 100),)}
HISTORY_KEEP, HISTORY_SECONDS = 3, 900

actors = st.sampled_from(["ip:192.0.2.1", "ip:192.0.2.2", "account:7", "session:s1"])
members = st.sampled_from([f"m{i}" for i in range(7)])
pauses = st.sampled_from([0.0, 0.5, 1.0, 60.0, 599.0, 600.0, 900.0, 3599.0, 3600.0, 3601.0, 86400.0])
count_requests = st.builds(lambda key, name, member: CountRequest(key, name, member, SETS[name]),
                           actors, st.sampled_from(sorted(SETS)), members)
history_requests = st.builds(lambda key, value: HistoryRequest(key, "recent", value, HISTORY_KEEP,
                                                               HISTORY_SECONDS),
                             actors, members)


def _redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, OSError) as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return client


class SameAnswers(RuleBasedStateMachine):
    """Every operation goes to both stores; their answers must be equal."""

    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"sgmodel-{uuid.uuid4().hex[:10]}"
        self.memory = MemoryStore(max_keys=100_000, max_members_per_key=CAP)
        self.redis = RedisStore.from_url(REDIS_URL, self.prefix, timeout=5.0, max_members_per_key=CAP)
        self.now = T0
        self.ids = 0

    def _id(self) -> str:
        """A new decision id; every operation is a new event, a millisecond after the last."""
        self.ids += 1
        self.now += TICK
        return f"sg-{self.ids}"

    @rule(pause=pauses)
    def time_passes(self, pause: float) -> None:
        self.now += pause

    @rule(held=st.lists(actors, max_size=2, unique=True),
          requests=st.lists(st.one_of(count_requests, history_requests), min_size=0, max_size=4,
                            unique_by=lambda r: (r.key, r.name)))
    def observe(self, held: list[str], requests: list[StoreRequest]) -> None:
        decision_id = self._id()
        expected = self.memory.observe(self.now, held, requests, ESCALATION, decision_id)
        got = self.redis.observe(self.now, held, requests, ESCALATION, decision_id)
        assert got == expected

    @rule(key=actors, action=st.sampled_from([THROTTLE, CHALLENGE, BLOCK]),
          score=st.sampled_from([0.25, 0.6, 1.0]))
    def penalize(self, key: str, action: str, score: float) -> None:
        decision_id = self._id()
        reasons = (("profile_quota", key, score, f"over quota ({action})", f'{{"action":"{action}"}}'),)
        expected = self.memory.penalize(self.now, key, action, decision_id, reasons, ESCALATION)
        got = self.redis.penalize(self.now, key, action, decision_id, reasons, ESCALATION)
        assert got == expected

    @rule(key=st.sampled_from(["session:s1", "session:s2"]), value=members,
          ttl=st.sampled_from([1.0, 60.0, 3600.0]))
    def put_value(self, key: str, value: str, ttl: float) -> None:
        self._id()
        self.memory.put_value(key, value, self.now, ttl)
        self.redis.put_value(key, value, self.now, ttl)

    @invariant()
    def values_agree(self) -> None:
        for key in ("session:s1", "session:s2"):
            assert self.redis.get_value(key, self.now) == self.memory.get_value(key, self.now)

    def teardown(self) -> None:
        client = self.redis.client
        for key in client.scan_iter(f"{self.prefix}:*", count=1000):
            client.delete(key)
        self.redis.close()


SameAnswers.TestCase.settings = settings(
    max_examples=int(os.environ.get("SG_MODEL_EXAMPLES", "40")), stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_memory_and_redis_give_the_same_answers() -> None:
    _redis_client().close()  # skip (or, in CI, fail) clearly when there is no Redis
    SameAnswers.TestCase().runTest()


@pytest.mark.xfail(strict=True, reason="known: at the same event time, the cap drops the member "
                   "counted first (memory) or the lowest in byte order (Redis: equal scores)")
def test_ties_at_the_member_cap_are_broken_differently() -> None:
    """Five members counted at one instant under a cap of four: which one is forgotten differs.
    Live event times carry microseconds and the cap (4096 by default) lies far beyond every quota,
    so this is rare and changes no decision within a quota; it is pinned here so that a fix shows."""
    client = _redis_client()
    prefix = f"sgtie-{uuid.uuid4().hex[:10]}"
    memory = MemoryStore(max_keys=100, max_members_per_key=CAP)
    shared = RedisStore.from_url(REDIS_URL, prefix, timeout=5.0, max_members_per_key=CAP)
    try:
        answers = []
        for store in (memory, shared):
            for member in ("m5", "m1", "m3", "m0", "m2"):
                store.observe(T0, [], [CountRequest("ip:a", "networks", member, SETS["networks"])],
                              ESCALATION, "")
            again = store.observe(T0, [], [CountRequest("ip:a", "networks", "m5", SETS["networks"])],
                                  ESCALATION, "")
            answers.append(again.counted)
        assert answers[0] == answers[1]
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        shared.close()
        client.close()
