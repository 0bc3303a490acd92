"""Log excerpts for evidence packs: the lines of the site's own access logs that show what an
incident's actors requested, quoted verbatim with their file and line number.

Actors are kept pseudonymised (`privacy.Pseudonymiser`), so each line's client address is
pseudonymised with the same key and compared; accounts and sessions are compared as they are.
The logs are streamed once; at most `cap` lines are kept (the rest are counted), so a pack
stays a readable size whatever the logs hold.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from scrapeguard.events import network_of
from scrapeguard.logs.formats import LogFormat, LogRecord
from scrapeguard.logs.reading import ReadStats, read_lines
from scrapeguard.records.privacy import Pseudonymiser

#: Lines kept in an excerpt unless the caller says otherwise.
DEFAULT_CAP = 10_000
EXCERPT_PATH = "logs/excerpts.jsonl"
SUMMARY_PATH = "logs/summary.json"
NO_LOGS = "none: no access logs were given (--log)"


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    file: str
    line: int
    text: str
    ts: float
    #: The incident's actor keys (as stored) that this line matched.
    actors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "time": _iso(self.ts), "actors": list(self.actors),
                "text": self.text}


@dataclass
class LogExcerpt:
    files: list[str]
    cap: int
    stats: ReadStats = field(default_factory=ReadStats)
    #: The first `cap` matching lines, in file order.
    lines: list[ExcerptLine] = field(default_factory=list)
    matched: int = 0
    #: The matching lines with the earliest and the latest event time (among all, not only those kept).
    earliest: ExcerptLine | None = None
    latest: ExcerptLine | None = None
    #: SHA-256 and size of each log file as it is on disk (compressed if it is), to check the excerpt against.
    file_digests: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def left_out(self) -> int:
        return self.matched - len(self.lines)

    def summary(self) -> dict[str, Any]:
        return {
            "excerpt": EXCERPT_PATH,
            "note": ("Lines of the site's access logs whose client address (pseudonymised with the records' "
                     "key and compared), network, account or session is one of the actors, verbatim "
                     "(invalid UTF-8 shown as U+FFFD), in file order. These lines show addresses in clear."),
            "files": [{"file": f, "sha256": self.file_digests[f][0], "bytes": self.file_digests[f][1]}
                      for f in self.files],
            "lines_read": self.stats.lines,
            "matched": self.matched,
            "kept": len(self.lines),
            "cap": self.cap,
            "left_out": self.left_out,
            "left_out_note": (f"{self.left_out} more matching lines are not quoted (cap {self.cap})"
                              if self.left_out else None),
            "bad_lines_skipped": self.stats.skipped,
            "bad_lines_by_reason": dict(self.stats.bad),
            # where, not what: a bad line may be anyone's request
            "bad_line_places": [{"file": s.source, "line": s.line_number, "reason": s.reason}
                                for s in self.stats.samples],
            "client_not_an_ip": self.stats.invalid_ips,
            "first_event_time": _iso(self.earliest.ts) if self.earliest else None,
            "last_event_time": _iso(self.latest.ts) if self.latest else None,
        }

    def pack_files(self) -> dict[str, bytes]:
        excerpt = "".join(json.dumps(x.to_dict(), ensure_ascii=False) + "\n" for x in self.lines)
        return {EXCERPT_PATH: excerpt.encode("utf-8"),
                SUMMARY_PATH: json.dumps(self.summary(), ensure_ascii=False, indent=2).encode("utf-8")}

    def timeline_items(self) -> list[tuple[datetime, datetime, str, str]]:
        """(event time, recorded time, what, source); a log line is written when the request is served."""
        items = []
        if self.earliest is not None:
            at = _time(self.earliest.ts)
            items.append((at, at, f"first access log line of the actors ({self.earliest.file} line "
                                  f"{self.earliest.line})", "access logs"))
        if self.latest is not None:
            at = _time(self.latest.ts)
            items.append((at, at, f"last access log line of the actors ({self.latest.file} line "
                                  f"{self.latest.line}); {self.matched} lines in all", "access logs"))
        return items


class ActorMatcher:
    """Which of the (stored, pseudonymised) actor keys a log record belongs to."""

    def __init__(self, actors: Iterable[str], pseudonymiser: Pseudonymiser) -> None:
        self.actors = frozenset(actors)
        self._pseudonymiser = pseudonymiser
        kinds = {a.partition(":")[0] for a in self.actors}
        self._by_net = "net" in kinds
        self._by_account = "account" in kinds
        self._by_session = "session" in kinds
        self._keys_of_ip = lru_cache(maxsize=65536)(self._ip_keys)

    def _ip_keys(self, ip: str) -> tuple[str, ...]:
        """The stored keys of an address: as written, and as IPv4 if it is IPv4-mapped IPv6."""
        forms = {ip}
        if ":" in ip:
            try:
                mapped = ipaddress.IPv6Address(ip).ipv4_mapped
            except ValueError:
                mapped = None
            if mapped is not None:
                forms.add(str(mapped))
        keys = [self._pseudonymiser.key("ip", form) for form in forms]
        if self._by_net:
            net = network_of(ip)
            if net:
                keys.append(self._pseudonymiser.key("net", net))
        return tuple(k for k in keys if k in self.actors)

    def match(self, record: LogRecord) -> tuple[str, ...]:
        found: tuple[str, ...] = self._keys_of_ip(record.ip) if record.ip else ()
        if self._by_account and record.account and f"account:{record.account}" in self.actors:
            found += (f"account:{record.account}",)
        if self._by_session and record.session and f"session:{record.session}" in self.actors:
            found += (f"session:{record.session}",)
        return found


def read_excerpt(paths: list[str], fmt: LogFormat, actors: Iterable[str], pseudonymiser: Pseudonymiser,
                 cap: int = DEFAULT_CAP) -> LogExcerpt:
    """Stream the log files (plain or gzip; not standard input) once and keep the actors' lines."""
    if cap < 0:
        raise ValueError("the cap is not negative")
    if "-" in paths:
        raise ValueError("standard input cannot be quoted in an evidence pack: give log files")
    excerpt = LogExcerpt(files=list(paths), cap=cap)
    excerpt.file_digests = {p: _digest(Path(p)) for p in paths}
    matcher = ActorMatcher(actors, pseudonymiser)
    for source, number, text, record in read_lines(paths, fmt, excerpt.stats):
        matched = matcher.match(record)
        if not matched:
            continue
        line = ExcerptLine(source, number, text, record.ts, matched)
        excerpt.matched += 1
        if len(excerpt.lines) < cap:
            excerpt.lines.append(line)
        if excerpt.earliest is None or line.ts < excerpt.earliest.ts:
            excerpt.earliest = line
        if excerpt.latest is None or line.ts >= excerpt.latest.ts:
            excerpt.latest = line
    return excerpt


def _digest(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), path.stat().st_size


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _iso(ts: float) -> str:
    return _time(ts).isoformat()
