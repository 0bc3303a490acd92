"""Redis / Valkey state store: many guard instances, one set of limits.

Each actor key's state is updated by one server-side script (`lua/actor.lua`)
whose keys all carry the actor as hash tag (`<prefix>:{ip:192.0.2.7}:pen`),
so it runs atomically and works on Redis Cluster. One event's scripts go
out in one pipeline: one round trip (per cluster node involved).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from scrapeguard.decisions import NO_EVIDENCE
from scrapeguard.stores.base import (
    NO_ESCALATION,
    DistinctResult,
    Escalation,
    History,
    HistoryRequest,
    Observation,
    Penalty,
    ReasonTuple,
    StateStore,
    StoreRequest,
    check_hold,
    stricter,
)

SCRIPT = resources.files("scrapeguard.stores").joinpath("lua/actor.lua").read_text("utf-8")


def _tag(actor: str) -> str:
    return "{" + actor + "}"


class RedisStore(StateStore):
    """State in Redis. `client` is a redis.Redis or redis.cluster.RedisCluster."""

    def __init__(self, client: redis.Redis | RedisCluster, prefix: str = "scrapeguard",
                 max_members_per_key: int = 4096) -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the key prefix must not contain braces (they mark Redis hash tags)")
        self.client = client
        self.prefix = prefix
        self.max_members_per_key = max_members_per_key
        #: SHA of the loaded script, per server connection (every cluster node loads it).
        self._shas: dict[int, str] = {}
        self._escalation_args: dict[Escalation, tuple[str, str]] = {}

    @classmethod
    def from_url(cls, url: str, prefix: str, timeout: float, max_members_per_key: int,
                 cluster: bool = False) -> RedisStore:
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                   "retry": Retry(NoBackoff(), 0), "decode_responses": True}
        client: redis.Redis | RedisCluster = (
            RedisCluster.from_url(url, **options) if cluster else redis.Redis.from_url(url, **options))
        return cls(client, prefix, max_members_per_key)

    # -- keys ------------------------------------------------------------------

    def _keys(self, actor: str, requests: Sequence[StoreRequest] = ()) -> list[str]:
        base = f"{self.prefix}:{_tag(actor)}"
        return [f"{base}:pen", f"{base}:strikes", f"{base}:blocks", f"{base}:pardon",
                *(f"{base}:{'h' if isinstance(r, HistoryRequest) else 'd'}:{r.name}" for r in requests)]

    def _common_args(self, mode: str, now: float, actor: str, escalation: Escalation,
                     decision_id: str) -> list[Any]:
        config = self._escalation_args.get(escalation)
        if config is None:  # the same for every event: encoded once
            e = escalation
            config = self._escalation_args[escalation] = (
                " ".join(repr(float(x)) for x in (e.throttle_seconds, e.escalate_after, e.strike_window,
                                                  e.block_seconds, e.block_growth, e.block_max_seconds,
                                                  e.offender_memory)),
                f"{e.reason[0]}\t{e.reason[2]!r}\t{e.reason[4]}\t{e.reason[3]}")
        return [mode, repr(now), config[0], config[1], actor, decision_id]

    # -- scripts ---------------------------------------------------------------

    def _load(self, client: redis.Redis) -> str:
        sha = self._shas.get(id(client))
        if sha is None:
            sha = self._shas[id(client)] = str(client.script_load(SCRIPT))
        return sha

    def _run(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run the script once per (keys, args), all in one pipeline: one round trip
        (on a cluster, one pipeline per node that holds any of the actors)."""
        if isinstance(self.client, RedisCluster):
            return self._run_on_cluster(calls)
        return self._pipeline(self.client, calls)

    def _pipeline(self, client: redis.Redis, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        for attempt in (1, 2):
            sha = self._load(client)
            if len(calls) == 1:  # the usual case: one actor; a plain call is cheaper than a pipeline
                keys, args = calls[0]
                try:
                    return [client.evalsha(sha, len(keys), *keys, *args)]
                except redis.exceptions.NoScriptError:
                    if attempt == 2:
                        raise
                    self._shas.pop(id(client), None)
                    continue
            pipe = client.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(sha, len(keys), *keys, *args)
            try:
                return list(pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                self._shas.pop(id(client), None)  # restarted or flushed: load the script again
        raise AssertionError("unreachable")

    def _run_on_cluster(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        # redis-py's cluster pipeline refuses scripts, so group the calls by node ourselves
        # (every key of a call shares one hash tag, hence one slot and one node).
        assert isinstance(self.client, RedisCluster)
        for attempt in (1, 2):
            by_node: dict[str, list[int]] = {}
            nodes = {}
            for i, (keys, _) in enumerate(calls):
                node = self.client.get_node_from_key(keys[0])  # type: ignore[no-untyped-call]
                nodes[node.name] = node
                by_node.setdefault(node.name, []).append(i)
            replies: list[Any] = [None] * len(calls)
            try:
                for name, indexes in by_node.items():
                    connection = nodes[name].redis_connection
                    assert connection is not None
                    for i, reply in zip(indexes, self._pipeline(connection, [calls[i] for i in indexes]),
                                        strict=True):
                        replies[i] = reply
                return replies
            except (redis.exceptions.MovedError, redis.exceptions.AskError,
                    redis.exceptions.TryAgainError):
                if attempt == 2:
                    raise
                self.client.nodes_manager.initialize()  # slots moved: learn the new layout, once
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                # a node may have failed over to a replica: relearn the layout for the next call
                with contextlib.suppress(redis.exceptions.RedisError):
                    self.client.nodes_manager.initialize()
                raise
        raise AssertionError("unreachable")

    # -- StateStore ------------------------------------------------------------

    def observe(
        self, now: float, keys: Sequence[str], requests: Sequence[StoreRequest],
        escalation: Escalation, decision_id: str, pardon_keys: Sequence[str] = (),
    ) -> Observation:
        # (pardon keys first: their scripts are the ones that find a pardon)
        by_actor: dict[str, list[StoreRequest]] = {k: [] for k in pardon_keys}
        for k in keys:
            by_actor.setdefault(k, [])
        for r in requests:
            by_actor.setdefault(r.key, []).append(r)
        checked = set(keys)
        pardonable = set(pardon_keys)
        calls = []
        for actor, reqs in by_actor.items():
            args = self._common_args("observe", now, actor, escalation, decision_id)
            args += ["1" if actor in checked else "0", self.max_members_per_key,
                     "1" if actor in pardonable else "0"]
            for r in reqs:
                if isinstance(r, HistoryRequest):
                    args += [r.value, -1, max(1, r.keep), repr(float(r.seconds))]
                    continue
                args += [r.member, len(r.windows)]
                for w in r.windows:
                    args += [repr(w.seconds), w.limit]
            calls.append((self._keys(actor, reqs), args))
        if not calls:
            return Observation()
        replies = self._run(calls)
        found: Penalty | None = None
        escalated = False
        pardoned = False
        counted: dict[tuple[str, str], DistinctResult | History] = {}
        # actor -> (request, its restore arguments: member, previous score or ""; or for a history:
        # the entry added, "\0h", the number of entries its trim dropped, those entries)
        undo: dict[str, list[tuple[StoreRequest, list[str]]]] = {}
        for (actor, reqs), reply in zip(by_actor.items(), replies, strict=True):
            if reply[2]:
                pardoned = True
                continue
            if reply[0]:
                penalty = _penalty(actor, reply[0])
                if found is None or stricter(penalty, found):
                    found, escalated = penalty, bool(reply[1])
                continue
            pos = 3
            for r in reqs:
                if isinstance(r, HistoryRequest):
                    counted[(actor, r.name)] = _history(reply[pos])
                    dropped = [str(entry) for entry in reply[pos + 2]]
                    undo.setdefault(actor, []).append(
                        (r, [str(reply[pos + 1]), "\0h", str(len(dropped)), *dropped]))
                    pos += 3
                    continue
                n = len(r.windows)
                admitted = bool(reply[pos])
                counts = tuple(int(c) for c in reply[pos + 3 : pos + 3 + n])
                counted[(actor, r.name)] = DistinctResult(admitted, counts, bool(reply[pos + 1]))
                if admitted:
                    undo.setdefault(actor, []).append((r, [r.member, str(reply[pos + 2])]))
                pos += 3 + n
        if found is not None or pardoned:
            # Refused (or pardoned): the counts other actors' scripts made for this event are
            # undone, so that it is counted nowhere (a second round trip, for these only).
            if undo:
                restore = []
                for actor, items in undo.items():
                    args = self._common_args("restore", now, actor, escalation, decision_id)
                    for _, restore_args in items:
                        args += restore_args
                    restore.append((self._keys(actor, [r for r, _ in items]), args))
                self._run(restore)
            if pardoned:
                return Observation(pardoned=True)
            return Observation(found, escalated, {})
        return Observation(None, False, counted)

    def penalize(
        self, now: float, key: str, action: str, decision_id: str, reasons: tuple[ReasonTuple, ...],
        escalation: Escalation,
    ) -> tuple[Penalty, bool]:
        args = self._common_args("penalize", now, key, escalation, decision_id)
        args += [action, json.dumps([list(r) for r in reasons])]
        reply = self._run([(self._keys(key), args)])[0]
        return _penalty(key, reply[0]), bool(reply[1])

    # -- what operators do ------------------------------------------------------

    def _operator(self, mode: str, now: float, key: str, *extra: Any, decision_id: str = "") -> Any:
        args = self._common_args(mode, now, key, NO_ESCALATION, decision_id)
        return self._run([(self._keys(key), [*args, *extra])])[0]

    def _scan(self, suffix: str, limit: int) -> list[tuple[str, str]]:
        """(redis key, actor key) of this prefix's `suffix` keys (a SCAN: operators ask now and
        then, the guard never does)."""
        start, end = f"{self.prefix}:{{", "}:" + suffix
        found: list[tuple[str, str]] = []
        for name in self.client.scan_iter(f"{start}*{end}", count=1000):
            name = str(name)
            if name.startswith(start) and name.endswith(end):
                found.append((name, name[len(start):-len(end)]))
                if len(found) >= limit:
                    break
        return found

    def penalties(self, now: float, limit: int = 1000) -> list[Penalty]:
        out: list[Penalty] = []
        names = self._scan("pen", 10 * limit)
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            pipe = self.client.pipeline(transaction=False)
            for name, _ in chunk:
                pipe.hmget(name, ["action", "until", "id", "reasons"])
            for (_, actor), fields in zip(chunk, pipe.execute(), strict=True):
                if fields[0] is None or fields[1] is None or float(fields[1]) <= now:
                    continue
                out.append(_penalty(actor, [str(f) for f in fields]))
                if len(out) >= limit:
                    return out
        return out

    def lift(self, now: float, key: str) -> Penalty | None:
        reply = self._operator("lift", now, key)
        return _penalty(key, reply[0]) if reply and reply[0] else None

    def hold(self, now: float, key: str, action: str, until: float, decision_id: str,
             reasons: tuple[ReasonTuple, ...]) -> Penalty:
        check_hold(now, action, until)
        reply = self._operator("hold", now, key, action, repr(float(until)),
                               json.dumps([list(r) for r in reasons]), decision_id=decision_id)
        return _penalty(key, reply[0])

    def pardon(self, now: float, key: str, until: float) -> None:
        if until <= now:
            raise ValueError("a pardon must end after now")
        self._operator("pardon", now, key, repr(float(until)))

    def unpardon(self, now: float, key: str) -> bool:
        return bool(self._operator("unpardon", now, key))

    def pardons(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        names = self._scan("pardon", 10 * limit)
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            pipe = self.client.pipeline(transaction=False)
            for name, _ in chunk:
                pipe.get(name)
            for (_, actor), until in zip(chunk, pipe.execute(), strict=True):
                if until is not None and float(until) > now:
                    out.append((actor, float(until)))
                    if len(out) >= limit:
                        return out
        return out

    def put_value(self, key: str, value: str, now: float, ttl: float) -> None:
        # the event-time expiry travels with the value; Redis' own TTL only collects garbage
        self.client.set(f"{self.prefix}:{_tag('v:' + key)}", f"{now + ttl!r}|{value}",
                        ex=max(1, int(ttl) + 1))

    def get_value(self, key: str, now: float) -> str | None:
        raw = self.client.get(f"{self.prefix}:{_tag('v:' + key)}")
        if raw is None:
            return None
        expires, _, value = str(raw).partition("|")
        return value if float(expires) > now else None

    def close(self) -> None:
        self.client.close()


def _history(raw: list[str]) -> History:
    entries = []
    for item in raw:
        ts, _, value = str(item).partition("|")
        entries.append((float(ts), value))
    return History(tuple(entries))


def _penalty(actor: str, fields: list[str]) -> Penalty:
    action, until, decision_id, reasons = fields
    # (penalties kept before reasons had evidence have none)
    parsed: tuple[ReasonTuple, ...] = tuple(
        (str(r[0]), str(r[1]), float(r[2]), str(r[3]), str(r[4]) if len(r) > 4 else NO_EVIDENCE)
        for r in json.loads(reasons))
    return Penalty(actor, action, float(until), decision_id, parsed)
