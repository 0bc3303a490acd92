"""Reading access logs: plain or gzip files, several of them, or standard input.

Bad lines never stop a run: they are counted by reason, and the first few are
kept with their file and line number for the summary.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scrapeguard.logs.formats import BadLine, LogFormat, LogRecord

#: Lines longer than this are bad lines, not memory hogs.
MAX_LINE = 64 * 1024


@dataclass
class BadLineSample:
    source: str
    line_number: int
    reason: str
    text: str


@dataclass
class ReadStats:
    lines: int = 0
    parsed: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    samples: list[BadLineSample] = field(default_factory=list)
    max_samples: int = 5
    #: Parsed lines whose client field was not an IP address (their actor is the session or account).
    invalid_ips: int = 0

    @property
    def skipped(self) -> int:
        return sum(self.bad.values())

    def record_bad(self, source: str, number: int, reason: str, text: str) -> None:
        self.bad[reason] += 1
        if len(self.samples) < self.max_samples:
            self.samples.append(BadLineSample(source, number, reason, text[:200]))


def _open(path: str) -> io.BufferedIOBase:
    if path == "-":
        return sys.stdin.buffer  # type: ignore[return-value]
    p = Path(path)
    with p.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(p, "rb")
    return p.open("rb")


def read_records(paths: Iterable[str], fmt: LogFormat, stats: ReadStats) -> Iterator[LogRecord]:
    """Records from every file in order ('-' is standard input); bad lines go to `stats`."""
    for _source, _number, _text, record in read_lines(paths, fmt, stats):
        yield record


#: (file name, line number from 1, the line's text without its line break, its record)
NumberedRecord = tuple[str, int, str, LogRecord]


def read_lines(paths: Iterable[str], fmt: LogFormat, stats: ReadStats) -> Iterator[NumberedRecord]:
    """As `read_records`, with where each record comes from and its text (for quoting lines)."""
    for path in paths:
        source = "<stdin>" if path == "-" else path
        stream = _open(path)
        position = _Position()
        try:
            yield from _records(stream, source, fmt, stats, position)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            # the line that could not be read is the one after the last read line of this file
            stats.record_bad(source, position.line + 1, "file unreadable from here on", str(exc))
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


@dataclass
class _Position:
    """How many lines of the current file have been read."""

    line: int = 0


def _records(reader: io.BufferedIOBase, source: str, fmt: LogFormat, stats: ReadStats,
             position: _Position) -> Iterator[NumberedRecord]:
    number = 0
    while True:
        raw = reader.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        position.line = number
        stats.lines += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = reader.readline(MAX_LINE)
            stats.record_bad(source, number, f"line longer than {MAX_LINE} bytes", "")
            continue
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text.strip():
            stats.record_bad(source, number, "empty line", "")
            continue
        try:
            record = fmt.parse(text)
        except BadLine as exc:
            stats.record_bad(source, number, exc.reason, text)
            continue
        stats.parsed += 1
        if record.invalid_ip:
            stats.invalid_ips += 1
        yield source, number, text, record
