"""Reading ahead: log lines read, parsed and routed in a second process while this one judges them.

Replaying a log is one engine working through the lines in order, so it
cannot be split between processes; but reading and parsing a line costs
about a sixth of judging it, and can run on another core. The reader process
sends what judging needs of each record in batches of plain tuples (cheap to
pickle), with the index of the route rule its path matches; this process
rebuilds the route and makes the event. Bad lines
are counted there and reported here exactly as without reading ahead.

Standard input is read in this process (a child process does not get it).
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

from scrapeguard.logs.formats import LogFormat, LogRecord
from scrapeguard.logs.reading import ReadStats, read_records
from scrapeguard.routes import UNMATCHED, RouteMap, RouteMatch

#: Records per message from the reader process. Sending blocks while the pipe is full, so the
#: reader is never more than a few batches ahead: memory stays bounded however long the log.
BATCH = 2000

#: What judging a record needs of it (`record_row`): time, ip, method, path, query, status, user
#: agent, session, account.
Row = tuple[float, str | None, str, str, str, int | None, str, str | None, str | None]


def record_row(r: LogRecord) -> Row:
    """The fields of a record that judging it needs, as a plain tuple (cheap to pickle)."""
    return (r.ts, r.ip, r.method, r.path, r.query, r.status, r.user_agent, r.session, r.account)


@dataclass(frozen=True, slots=True)
class _Done:
    stats: ReadStats


@dataclass(frozen=True, slots=True)
class _Failed:
    error: str


def can_read_ahead(paths: Iterable[str]) -> bool:
    """Whether the logs can be read by another process (files, not standard input) on this system."""
    return "-" not in paths and "fork" in multiprocessing.get_all_start_methods()


def _reader(conn: Connection, paths: list[str], fmt: LogFormat, routes: RouteMap, max_samples: int) -> None:
    stats = ReadStats(max_samples=max_samples)
    # each row is sent with the index of the route rule its path matches, and the subject
    batch: list[tuple[Row, int | None, str | None]] = []
    try:
        for r in read_records(paths, fmt, stats):
            batch.append((record_row(r), *routes.index_of(r.path, r.query)))
            if len(batch) >= BATCH:
                conn.send_bytes(pickle.dumps((stats.lines, batch), protocol=pickle.HIGHEST_PROTOCOL))
                batch = []
        if batch:
            conn.send_bytes(pickle.dumps((stats.lines, batch), protocol=pickle.HIGHEST_PROTOCOL))
        conn.send_bytes(pickle.dumps(_Done(stats)))
    except BrokenPipeError:
        pass  # the judging process stopped early
    except BaseException as exc:  # reported in the judging process, which raises it
        if batch:  # what was read before the failure is judged first
            conn.send_bytes(pickle.dumps((stats.lines, batch), protocol=pickle.HIGHEST_PROTOCOL))
        conn.send_bytes(pickle.dumps(_Failed(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def rows_ahead(paths: Iterable[str], fmt: LogFormat, stats: ReadStats,
               routes: RouteMap) -> Iterator[tuple[Row, RouteMatch]]:
    """Every record of the logs (as its `record_row`) with its route, read and parsed by a second
    process. `stats` is kept current (lines read) and, at the end, holds everything the reader
    counted."""
    paths = list(paths)
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_reader, args=(sending, paths, fmt, routes, stats.max_samples),
                              daemon=True, name="scrapeguard-log-reader")
    process.start()
    sending.close()
    rules = routes.rules
    try:
        while True:
            try:
                message = pickle.loads(receiving.recv_bytes())
            except EOFError:
                raise RuntimeError("the log reader process ended without finishing") from None
            if isinstance(message, _Done):
                _take(stats, message.stats)
                return
            if isinstance(message, _Failed):
                raise RuntimeError(f"reading the logs failed: {message.error}")
            stats.lines, rows = message
            for row, index, subject in rows:
                if index is None:
                    route = UNMATCHED
                else:
                    rule = rules[index]
                    route = RouteMatch(rule.kind, subject, rule.categories, rule.pattern)
                yield row, route
    finally:
        receiving.close()
        if process.is_alive():
            process.terminate()
        process.join()


def _take(stats: ReadStats, theirs: ReadStats) -> None:
    stats.lines, stats.parsed, stats.invalid_ips = theirs.lines, theirs.parsed, theirs.invalid_ips
    stats.bad = theirs.bad
    stats.samples = theirs.samples
