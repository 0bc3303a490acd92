"""Prometheus metrics of one guard, fed by the request adapter (so the proxy, the middlewares and
the decide server all have them, with no copy).

Each `GuardAdapter` has its own `CollectorRegistry` (never the process-wide default one): tests
and several guards in one process do not collide. Labels are bounded: actions, detector names,
route kinds and challenge outcomes; never an address, a path or a key. A value outside the known
set (a detector name from a penalty some other version wrote to a shared store) is counted as
"other".

What is measured where:

- decisions by action and detector: every decision the engine makes (`allow` with detector
  "none"); the detector is the one whose reason scored highest (the first of equals);
- refusals by route kind and action: the refusals actually enforced (not those of observe mode);
- store latency: each call to a shared store (Redis), by operation, failed calls included (a
  timeout shows as its length); the in-process memory store has no calls to time;
- store state: 1 while the shared store is degraded (read when scraped);
- challenges: issued, and each answer by outcome (solved, failed, replayed, blocked);
- queues: the records sink's queue and the shared-store writes waiting (read when scraped);
- the guard's own counters (the status page's "proxy" and "engine" counts) as counters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from scrapeguard.challenge.solves import CLEARED
from scrapeguard.decisions import ACTIONS, Decision
from scrapeguard.routes import ROUTE_KINDS

if TYPE_CHECKING:
    from scrapeguard.integrations.adapter import GuardAdapter, ResponseParts
    from scrapeguard.records.sink import RecordSink
    from scrapeguard.stores.base import StateStore

#: Label value for a name outside the known set (bounded cardinality).
OTHER = "other"
#: Detector label of a decision without reasons (an allow).
NO_DETECTOR = "none"
#: Reasons that come from the guard itself rather than a detector module.
GUARD_REASONS = ("escalation", "challenge")
#: Store call durations: 0.25 ms (a local Redis) up to the seconds of a hung store's timeout.
STORE_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Challenge answer outcomes as the metrics name them (the challenge service's statuses).
CHALLENGE_OUTCOMES = {CLEARED: "solved", "failed": "failed", "replayed": "replayed", "blocked": "blocked"}


class _CountsCollector(Collector):
    """The guard's and the engine's plain counters (what the status page shows), as counters."""

    def __init__(self, guard_counts: Callable[[], dict[str, int]],
                 engine_counts: Callable[[], dict[str, int]]) -> None:
        self._guard_counts = guard_counts
        self._engine_counts = engine_counts

    def collect(self) -> Iterable[Metric]:
        for name, doc, counts in (
            ("scrapeguard_guard_events", "What the integration counted (the status page's \"proxy\").",
             self._guard_counts()),
            ("scrapeguard_engine_events", "What the engine counted (the status page's \"engine\").",
             self._engine_counts()),
        ):
            family = CounterMetricFamily(name, doc, labels=["event"])
            for event, value in sorted(counts.items()):
                family.add_metric([event], value)
            yield family


class GuardMetrics:
    """The metrics of one guard and its registry (see the module docstring)."""

    def __init__(self, detectors: Iterable[str], store: StateStore,
                 records: RecordSink | None = None,
                 store_backlog: Callable[[], int] | None = None,
                 guard_counts: Callable[[], dict[str, int]] | None = None,
                 engine_counts: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._detectors = frozenset((*detectors, *GUARD_REASONS))
        r = self.registry
        self._decisions = Counter("scrapeguard_decisions", "Decisions by action and leading detector.",
                                  ["action", "detector"], registry=r)
        self._refusals = Counter("scrapeguard_refusals", "Enforced refusals by route kind and action.",
                                 ["route", "action"], registry=r)
        self._store_seconds = Histogram("scrapeguard_store_call_seconds",
                                        "Duration of calls to the shared state store, by operation.",
                                        ["operation"], buckets=STORE_BUCKETS, registry=r)
        degraded = Gauge("scrapeguard_store_degraded",
                         "1 while the shared state store is degraded (local fallback or refusing), else 0.",
                         registry=r)
        degraded.set_function(lambda: 1.0 if store.degraded else 0.0)
        self._challenges = Counter("scrapeguard_challenges", "Challenges issued, and answers by outcome.",
                                   ["outcome"], registry=r)
        for outcome in ("issued", *CHALLENGE_OUTCOMES.values()):
            self._challenges.labels(outcome)  # present at 0 from the start: rates need a first sample
        if records is not None:
            queue = Gauge("scrapeguard_records_queue_depth",
                          "Records waiting for the records database (the sink's queue).", registry=r)
            queue.set_function(lambda: float(records.backlog))
        if store_backlog is not None:
            backlog = Gauge("scrapeguard_store_backlog",
                            "Writes to the shared store queued in the background (nobody waits for them).",
                            registry=r)
            backlog.set_function(lambda: float(store_backlog()))
        if guard_counts is not None and engine_counts is not None:
            r.register(_CountsCollector(guard_counts, engine_counts))
        # children by label values: one dict look-up on the hot path instead of labels()' lock
        self._decision_children: dict[tuple[str, str], Any] = {}
        self._refusal_children: dict[tuple[str, str], Any] = {}
        self._store_children: dict[str, Any] = {}

    # -- fed by the adapter -------------------------------------------------------

    def decision(self, decision: Decision) -> None:
        """Count a decision the engine made (whether enforced or not)."""
        reasons = decision.reasons
        if not reasons:
            detector = NO_DETECTOR
        elif len(reasons) == 1:
            detector = reasons[0].detector
        else:
            detector = max(reasons, key=lambda reason: reason.score).detector
        key = (decision.action, detector)
        child = self._decision_children.get(key)
        if child is None:
            action = decision.action if decision.action in ACTIONS else OTHER
            label = detector if detector in self._detectors or detector == NO_DETECTOR else OTHER
            child = self._decisions.labels(action, label)
            if len(self._decision_children) < 1024:  # unknown names map to one child anyway
                self._decision_children[key] = child
        child.inc()

    def refusal(self, decision: Decision) -> None:
        """Count an enforced refusal."""
        key = (decision.route, decision.action)
        child = self._refusal_children.get(key)
        if child is None:
            route = decision.route if decision.route in ROUTE_KINDS else OTHER
            action = decision.action if decision.action in ACTIONS else OTHER
            child = self._refusals.labels(route, action)
            if len(self._refusal_children) < 1024:
                self._refusal_children[key] = child
        child.inc()

    def store_call(self, operation: str, seconds: float) -> None:
        """Time one call to the shared store (the failover store's hook)."""
        child = self._store_children.get(operation)
        if child is None:
            child = self._store_children[operation] = self._store_seconds.labels(operation)
        child.observe(seconds)

    def challenge_issued(self) -> None:
        self._challenges.labels("issued").inc()

    def challenge_answered(self, status: str) -> None:
        """Count a challenge answer by the challenge service's status ("cleared" counts as solved)."""
        self._challenges.labels(CHALLENGE_OUTCOMES.get(status, OTHER)).inc()

    # -- exposure ---------------------------------------------------------------

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics in the format the scraper asks for (Prometheus text, or OpenMetrics by its
        Accept header) and that format's content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


def metrics_page(guard: GuardAdapter, accept: str | None = None) -> ResponseParts:
    """The metrics of `guard` as response parts, for any server to send (the proxy's and the
    middlewares' reserved path, the decide server's /metrics). Who may see it is the caller's
    to decide (see `GuardAdapter.may_see_status`)."""
    from scrapeguard.integrations.adapter import ResponseParts, error_page

    if guard.metrics is None:
        return error_page(404, "Not found", "Metrics are off for this guard.")
    body, content_type = guard.metrics.exposition(accept)
    return ResponseParts(200, [("Content-Type", content_type), ("Cache-Control", "no-store")], body)


def _registry(guard: GuardAdapter) -> CollectorRegistry:
    if guard.metrics is None:
        raise ValueError("this guard was built with metrics=False: it has no metrics to serve")
    return guard.metrics.registry


def metrics_asgi_app(guard: GuardAdapter) -> Callable[..., Awaitable[None]]:
    """An ASGI app serving `guard`'s metrics to anyone who reaches it: mount it where only
    Prometheus can (`app.mount("/metrics", metrics_asgi_app(guard))` on an internal route, or
    served alone on an internal port)."""
    registry = _registry(guard)

    async def app(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
                  send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":  # served alone: nothing to start or stop
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        accept = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                       if name.lower() == b"accept"), None)
        encoder, content_type = choose_encoder(accept or "")
        body = encoder(registry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def metrics_wsgi_app(guard: GuardAdapter) -> Any:
    """A WSGI app serving `guard`'s metrics to anyone who reaches it (mount it as for the ASGI app,
    e.g. with werkzeug's DispatcherMiddleware)."""
    return make_wsgi_app(_registry(guard))


def metric_samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) of each sample of a Prometheus text page (for tests and scripts)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, dict(sample.labels), float(sample.value)


__all__ = ["GuardMetrics", "metric_samples", "metrics_asgi_app", "metrics_page", "metrics_wsgi_app"]
