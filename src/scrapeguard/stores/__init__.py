"""State stores, built from a URI: `memory://` (default)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from scrapeguard.policy.model import StoreOptions
from scrapeguard.stores.base import (
    CountRequest,
    DistinctResult,
    Escalation,
    Observation,
    Penalty,
    StateStore,
    StoreUnavailable,
    Window,
)
from scrapeguard.stores.memory import MemoryStore

__all__ = [
    "CountRequest",
    "DistinctResult",
    "Escalation",
    "MemoryStore",
    "Observation",
    "Penalty",
    "StateStore",
    "StoreUnavailable",
    "Window",
    "store_from_uri",
]

SUPPORTED = ("memory://",)


def store_from_uri(uri: str | None, options: StoreOptions) -> StateStore:
    """Build a store. `memory://?max_keys=N&max_members_per_key=M` overrides the policy's bounds."""
    uri = uri or "memory://"
    parts = urlsplit(uri)
    if parts.scheme == "memory":
        query = parse_qs(parts.query)
        try:
            max_keys = int(query.get("max_keys", [options.max_keys])[0])
            max_members = int(query.get("max_members_per_key", [options.max_members_per_key])[0])
        except ValueError as exc:
            raise ValueError(f"store URI {uri!r}: {exc}") from exc
        return MemoryStore(max_keys=max_keys, max_members_per_key=max_members)
    raise ValueError(
        f"store URI {uri!r}: unsupported scheme {parts.scheme!r}; supported: {', '.join(SUPPORTED)}"
    )
