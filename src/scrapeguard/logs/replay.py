"""Replay: every log line through the same engine and policy as live traffic, in event time.

This is how a policy is tried on last week's traffic before it is enforced:
the decisions file says what it would have refused and why, the summary
counts them per action and per detector and names the top actors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scrapeguard.decisions import ALLOW, DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.logs.ahead import Row, can_read_ahead, record_row, rows_ahead
from scrapeguard.logs.formats import LogFormat
from scrapeguard.logs.reading import ReadStats, read_records
from scrapeguard.policy.model import Policy
from scrapeguard.routes import RouteMap, RouteMatch


def offline_policy(policy: Policy) -> Policy:
    """The policy with reverse-DNS checks of crawlers switched off.

    A replay is offline and deterministic: a crawler's claim is checked
    against the operator's published IP ranges only, never by DNS look-ups
    (slow, and answers change over time).
    """
    if not policy.bot_agents.verify_dns:
        return policy
    return policy.with_options(dataclasses.replace(policy.bot_agents, verify_dns=False))


@dataclass
class ReplaySummary:
    stats: ReadStats
    events: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    detectors: Counter[str] = field(default_factory=Counter)
    #: refused requests per actor key ("ip:…", "account:…")
    actors: Counter[str] = field(default_factory=Counter)
    #: why each actor was first refused (the leading reason's detector and detail)
    first_reasons: dict[str, tuple[str, str]] = field(default_factory=dict)
    first_ts: float | None = None
    last_ts: float | None = None
    seconds: float = 0.0

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "lines": self.stats.lines,
            "events": self.events,
            "skipped_lines": self.stats.skipped,
            "skipped_by_reason": dict(self.stats.bad),
            "client_not_an_ip": self.stats.invalid_ips,
            "bad_line_samples": [
                {"source": s.source, "line": s.line_number, "reason": s.reason, "text": s.text}
                for s in self.stats.samples
            ],
            "actions": dict(self.actions),
            "refusals_by_detector": dict(self.detectors),
            "top_actors": [{"key": k, "refusals": n, "first_reason": self._first_reason(k)}
                           for k, n in self.actors.most_common(top)],
            "log_time_from": self.first_ts,
            "log_time_to": self.last_ts,
            "seconds": round(self.seconds, 3),
            "lines_per_second": round(self.stats.lines / self.seconds) if self.seconds else None,
        }

    def text(self, top: int = 10) -> str:
        d = self.to_dict(top)
        out = [f"{d['lines']} lines read, {d['events']} requests replayed, {d['skipped_lines']} lines skipped"
               f" ({d['seconds']} s, {d['lines_per_second'] or '-'} lines/s)"]
        for reason, n in self.stats.bad.most_common():
            out.append(f"  skipped {n}: {reason}")
        for s in self.stats.samples:
            out.append(f"    {s.source}:{s.line_number}: {s.reason}: {s.text[:120]}")
        if self.stats.invalid_ips:
            out.append(f"{self.stats.invalid_ips} lines had a client field that is not an IP address "
                       "(counted by session or account instead)")
        refused = sum(n for a, n in self.actions.items() if a != ALLOW)
        out.append(f"the policy would have refused {refused} requests: "
                   + (", ".join(f"{a} {n}" for a, n in sorted(self.actions.items()) if a != ALLOW) or "none"))
        if self.detectors:
            out.append("refusals by detector: "
                       + ", ".join(f"{k} {n}" for k, n in self.detectors.most_common()))
        if self.actors:
            out.append("top actors refused:")
            for key, n in self.actors.most_common(top):
                out.append(f"  {key:40} {n:>6}  {self._first_reason(key)[:110]}")
        return "\n".join(out)

    def _first_reason(self, key: str) -> str:
        detector, detail = self.first_reasons.get(key, ("", ""))
        return f"{detector}: {detail}" if detector else ""


def replay(paths: Iterable[str], fmt: LogFormat, engine: Engine, writer: DecisionWriter | None,
           progress: Callable[[ReplaySummary], None] | None = None, every: int = 100_000,
           read_ahead: bool = False) -> ReplaySummary:
    """Every line through the engine, in order. With `read_ahead`, a second process reads and parses
    the lines while this one judges them (see logs/ahead.py; not for standard input)."""
    paths = list(paths)
    stats = ReadStats()
    summary = ReplaySummary(stats)
    routes = RouteMap(engine.policy.routes)
    started = time.perf_counter()
    if read_ahead and can_read_ahead(paths):
        routed: Iterator[tuple[Row, RouteMatch]] = rows_ahead(paths, fmt, stats, routes)
    else:
        routed = ((record_row(r), routes.match(r.path, r.query)) for r in read_records(paths, fmt, stats))
    # (a log line cannot tell whether the site issued its session cookie: replay trusts it)
    events: Generator[Event, None, None] = (
        Event(ts=ts, ip=ip, method=method, path=path, query=query, route=route, status=status,
              user_agent=user_agent, session=session, account=account, session_issued=session is not None)
        for (ts, ip, method, path, query, status, user_agent, session, account), route in routed)
    with contextlib.closing(events):  # an error while judging stops the reader process at once
        for event in events:
            decision = engine.decide(event)
            summary.events += 1
            summary.actions[decision.action] += 1
            if summary.first_ts is None or event.ts < summary.first_ts:
                summary.first_ts = event.ts
            if summary.last_ts is None or event.ts > summary.last_ts:
                summary.last_ts = event.ts
            if decision.refused:
                if writer is not None:
                    writer.write(decision)
                for reason in decision.reasons:
                    summary.detectors[reason.detector] += 1
                if decision.reasons:
                    lead = decision.reasons[0]
                    summary.actors[lead.key] += 1
                    summary.first_reasons.setdefault(lead.key, (lead.detector, lead.detail))
            if progress is not None and summary.events % every == 0:
                summary.seconds = time.perf_counter() - started
                progress(summary)
    summary.seconds = time.perf_counter() - started
    return summary


def stderr_progress(summary: ReplaySummary) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{summary.stats.lines} lines, {summary.events} requests, "
                         f"{sum(n for a, n in summary.actions.items() if a != ALLOW)} refused")
        sys.stderr.flush()
