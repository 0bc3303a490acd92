"""Store semantics every backend must share (run against each by conftest's `store` fixture)."""

from __future__ import annotations

from scrapeguard.decisions import BLOCK, THROTTLE
from scrapeguard.stores import Penalty, StateStore, Window

HOUR = Window(3600, 3)
DAY = Window(86400, 5)


def test_distinct_members_are_counted_once(store: StateStore) -> None:
    r1 = store.admit_distinct("k", "a", 1000, (HOUR, DAY))
    r2 = store.admit_distinct("k", "a", 1001, (HOUR, DAY))
    r3 = store.admit_distinct("k", "b", 1002, (HOUR, DAY))
    assert (r1.admitted, r1.counts, r1.seen_before) == (True, (1, 1), False)
    assert (r2.admitted, r2.counts, r2.seen_before) == (True, (1, 1), True)
    assert r3.counts == (2, 2)


def test_member_over_the_limit_is_refused_and_not_counted(store: StateStore) -> None:
    for i, m in enumerate("abc"):
        assert store.admit_distinct("k", m, 1000 + i, (HOUR, DAY)).admitted
    over = store.admit_distinct("k", "d", 1010, (HOUR, DAY))
    assert not over.admitted
    assert over.counts == (3, 3)
    # still not counted: asking again gives the same answer
    assert store.admit_distinct("k", "d", 1011, (HOUR, DAY)).counts == (3, 3)
    # a member already counted is still admitted while at the limit
    assert store.admit_distinct("k", "a", 1012, (HOUR, DAY)).admitted


def test_windows_slide(store: StateStore) -> None:
    for i, m in enumerate("abc"):
        store.admit_distinct("k", m, 1000 + i, (HOUR, DAY))
    # an hour after the first views, the hour window has room again; the day window keeps them
    later = store.admit_distinct("k", "d", 1000 + 3600 + 5, (HOUR, DAY))
    assert later.admitted
    assert later.counts == (1, 4)
    store.admit_distinct("k", "e", 1000 + 3600 + 6, (HOUR, DAY))
    # the day limit (5) now binds even though the hour window has room
    full = store.admit_distinct("k", "f", 1000 + 3600 + 7, (HOUR, DAY))
    assert not full.admitted
    assert full.counts == (2, 5)
    # after a day everything has slid out
    fresh = store.admit_distinct("k", "g", 1000 + 86400 + 3700, (HOUR, DAY))
    assert fresh.admitted and fresh.counts == (1, 1)


def test_reviewing_refreshes_a_member(store: StateStore) -> None:
    store.admit_distinct("k", "a", 1000, (HOUR, DAY))
    store.admit_distinct("k", "a", 1000 + 3000, (HOUR, DAY))
    # seen 3000 s ago first, 600 s ago last: still in the hour window
    assert store.admit_distinct("k", "a", 1000 + 3600, (HOUR, DAY)).seen_before


def test_keys_are_independent(store: StateStore) -> None:
    for i, m in enumerate("abc"):
        store.admit_distinct("k1", m, 1000 + i, (HOUR, DAY))
    assert store.admit_distinct("k2", "d", 1004, (HOUR, DAY)).counts == (1, 1)


def test_counter_counts_and_expires(store: StateStore) -> None:
    assert store.incr("c", 100, ttl=60) == 1
    assert store.incr("c", 130, ttl=60) == 2
    # the ttl runs from the first increment
    assert store.incr("c", 161, ttl=60) == 1


def _penalty(key: str, action: str, until: float, pid: str = "sg-1") -> Penalty:
    return Penalty(key, action, until, pid, (("profile_quota", key, 0.6, "over quota"),))


def test_penalty_is_found_by_any_key_until_it_ends(store: StateStore) -> None:
    store.put_penalty(_penalty("ip:192.0.2.1", THROTTLE, 500), now=100)
    found = store.active_penalty(["account:7", "ip:192.0.2.1"], now=200)
    assert found is not None and found.action == THROTTLE and found.until == 500
    assert found.reasons == (("profile_quota", "ip:192.0.2.1", 0.6, "over quota"),)
    assert store.active_penalty(["ip:192.0.2.1"], now=500) is None
    assert store.active_penalty(["ip:192.0.2.2"], now=200) is None


def test_strictest_penalty_wins(store: StateStore) -> None:
    store.put_penalty(_penalty("ip:a", THROTTLE, 900), now=100)
    store.put_penalty(_penalty("account:b", BLOCK, 400), now=100)
    assert store.active_penalty(["ip:a", "account:b"], now=200).action == BLOCK  # type: ignore[union-attr]
    # after the block ends the throttle is still there
    assert store.active_penalty(["ip:a", "account:b"], now=450).action == THROTTLE  # type: ignore[union-attr]


def test_a_milder_penalty_does_not_replace_a_stricter_one(store: StateStore) -> None:
    store.put_penalty(_penalty("ip:a", BLOCK, 1000, "sg-block"), now=100)
    store.put_penalty(_penalty("ip:a", THROTTLE, 400, "sg-throttle"), now=110)
    found = store.active_penalty(["ip:a"], now=120)
    assert found is not None and found.decision_id == "sg-block"
    # a stricter one replaces a milder one
    store.put_penalty(_penalty("ip:b", THROTTLE, 400, "sg-t"), now=100)
    store.put_penalty(_penalty("ip:b", BLOCK, 300, "sg-b"), now=110)
    assert store.active_penalty(["ip:b"], now=120).decision_id == "sg-b"  # type: ignore[union-attr]


def test_values_expire(store: StateStore) -> None:
    store.put_value("session:s1", "42|1700000000.0", now=100, ttl=50)
    assert store.get_value("session:s1", now=149) == "42|1700000000.0"
    assert store.get_value("session:s1", now=150) is None
    assert store.get_value("session:nope", now=100) is None
