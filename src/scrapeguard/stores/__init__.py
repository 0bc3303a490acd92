"""State stores, built from a URI: `memory://` (default), `redis://`, `rediss://`,
`unix://` and `redis-cluster://`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from scrapeguard.policy.model import StoreOptions
from scrapeguard.stores.base import (
    CountRequest,
    DistinctResult,
    Escalation,
    History,
    HistoryRequest,
    Observation,
    Penalty,
    StateStore,
    StoreRequest,
    StoreUnavailable,
    Window,
)
from scrapeguard.stores.memory import MemoryStore

__all__ = [
    "CountRequest",
    "DistinctResult",
    "Escalation",
    "History",
    "HistoryRequest",
    "MemoryStore",
    "Observation",
    "Penalty",
    "StateStore",
    "StoreRequest",
    "StoreUnavailable",
    "Window",
    "store_from_uri",
]

SUPPORTED = ("memory://", "redis://", "rediss://", "unix://", "redis-cluster://")
#: Query parameters of a store URI that are ScrapeGuard's, not the Redis client's.
OWN_PARAMETERS = ("prefix", "timeout_ms", "fail", "retry_seconds", "max_keys", "max_members_per_key")


def store_from_uri(uri: str | None, options: StoreOptions) -> StateStore:
    """Build a store. Query parameters (`?prefix=...&fail=closed`) override the policy's [store].

    Redis stores come wrapped in the policy's failure mode (see failover.py),
    with a bounded memory store as the local fallback.
    """
    uri = uri or "memory://"
    parts = urlsplit(uri)
    query = parse_qs(parts.query)

    def option(name: str, default: str) -> str:
        return query.pop(name, [default])[0]

    try:
        max_keys = int(option("max_keys", str(options.max_keys)))
        max_members = int(option("max_members_per_key", str(options.max_members_per_key)))
        timeout = float(option("timeout_ms", str(options.timeout_ms))) / 1000
        retry = float(option("retry_seconds", str(options.retry_seconds)))
    except ValueError as exc:
        raise ValueError(f"store URI {uri!r}: {exc}") from exc
    ranges: list[tuple[str, float, float, float | None]] = [
        ("max_keys", max_keys, 100, None), ("max_members_per_key", max_members, 10, None),
        ("timeout_ms", timeout * 1000, 1, 60_000), ("retry_seconds", retry, 0.1, None)]
    for name, value, low, high in ranges:
        if value < low or (high is not None and value > high):
            allowed = f"{low}..{high}" if high is not None else f">= {low}"
            raise ValueError(f"store URI {uri!r}: {name} {value:g} is out of range ({allowed})")
    prefix = option("prefix", options.prefix)
    if not prefix or "{" in prefix or "}" in prefix:
        raise ValueError(f"store URI {uri!r}: the prefix must be non-empty and without braces")
    fail = option("fail", options.fail)
    if fail not in ("open", "closed"):
        raise ValueError(f"store URI {uri!r}: fail must be 'open' or 'closed', not {fail!r}")
    memory = MemoryStore(max_keys=max_keys, max_members_per_key=max_members)
    if parts.scheme == "memory":
        return memory
    if parts.scheme in ("redis", "rediss", "unix", "redis-cluster"):
        from scrapeguard.stores.failover import FailoverStore
        from scrapeguard.stores.redis import RedisStore

        cluster = parts.scheme == "redis-cluster"
        rest = urlencode(query, doseq=True)
        if parts.scheme == "unix":  # urlunsplit would drop the "//" of an empty host
            client_url = f"unix://{parts.path}" + (f"?{rest}" if rest else "")
        else:
            scheme = "redis" if cluster else parts.scheme
            client_url = urlunsplit((scheme, parts.netloc, parts.path, rest, ""))
        shared = RedisStore.from_url(client_url, prefix, timeout, max_members, cluster=cluster)
        return FailoverStore(shared, memory, fail_open=fail == "open", retry_seconds=retry)
    raise ValueError(
        f"store URI {uri!r}: unsupported scheme {parts.scheme!r}; supported: {', '.join(SUPPORTED)}"
    )
