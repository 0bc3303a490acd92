"""The records sink: decisions and exposure written to the database off the hot path.

The guard hands records to `RecordSink`: decisions go on a bounded queue, exposure is counted
in a bounded dict (a member seen again by the same actor is one more count, not one more
record); no I/O. A worker thread writes them in batches, one transaction per batch. If the
database is down, the worker keeps its batch and retries with growing pauses; meanwhile the
buffers fill, and records that find them full go to a JSON Lines spill file on disk instead
(so does whatever is buffered at shutdown while the database is down). When the database
answers again, spilled records are read back and written. Nothing is lost unless the disk
itself fails; that is counted as `dropped`. Addresses are pseudonymised before a record is
buffered, so neither the spill file nor the database ever holds one.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from scrapeguard.decisions import Decision
from scrapeguard.events import Event
from scrapeguard.policy.model import AUDIENCES, RouteRule
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.errors import DatabaseUnavailable
from scrapeguard.records.exposure import write_exposure
from scrapeguard.records.live import traffic_record, write_traffic
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.routes import MEMBER_DATA_KINDS

log = logging.getLogger(__name__)

#: Exposure is recorded under these keys of the actor (sessions are short-lived; the address
#: and the account are whom an incident is about).
EXPOSURE_KEYS = ("ip", "account")
#: Route kinds whose successful responses show members' data.
EXPOSING_KINDS = MEMBER_DATA_KINDS


def audience_of(event: Event, said: str | None = None) -> str:
    """Whom a response was shown to: what the site said (`said`, e.g. "connection" from its audience
    header) when it names an audience, else "member" for a logged-in viewer, else "anonymous"."""
    if said in AUDIENCES:
        return str(said)
    return "member" if event.account else "anonymous"


@dataclass
class SinkCounts:
    queued: int = 0
    written: int = 0
    spilled: int = 0
    reimported: int = 0
    dropped: int = 0
    batches: int = 0
    db_failures: int = 0
    after_batch_errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class RecordSink:
    def __init__(self, db: Database, pseudonymiser: Pseudonymiser, spill_path: str | Path,
                 max_queue: int = 20_000, batch_size: int = 500, flush_seconds: float = 0.25,
                 max_backoff: float = 30.0,
                 after_batch: Callable[[Database, list[dict[str, Any]]], None] | None = None,
                 prepare: Callable[[], None] | None = None, routes: Sequence[RouteRule] = ()) -> None:
        self.db = db
        #: The route map's rules by pattern: what each route shows to each audience.
        self._rules = {rule.pattern: rule for rule in routes}
        self.pseudonymiser = pseudonymiser
        self.spill_path = Path(spill_path)
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.max_backoff = max_backoff
        self.after_batch = after_batch
        #: Run before the first write until it succeeds (creating the schema of a database that
        #: was down when the guard started).
        self._prepare = prepare
        self.counts = SinkCounts()
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(max_queue)
        #: Exposure is aggregated here between writes: (actors, member, route, audience) ->
        #: [first ts, last ts, count, categories]. A member viewed again costs a dict update.
        self.max_pending = max_queue
        self._exposure: dict[tuple[tuple[str, ...], str, str, str], list[Any]] = {}
        self._exposure_lock = threading.Lock()
        #: Requests judged (allows included) between writes: (minute, route kind, action) -> count.
        self._traffic: dict[tuple[float, str, str], int] = {}
        self._traffic_lock = threading.Lock()
        self._in_flight = 0
        self._spill_lock = threading.Lock()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._db_down = False
        self._thread = threading.Thread(target=self._run, name="scrapeguard-records", daemon=True)
        self._thread.start()

    # -- the hot path: no I/O unless the queue is full ---------------------------------

    def decision(self, decision: Decision, source: str = "live") -> None:
        if decision.refused:
            self.put(decision_record(decision, self.pseudonymiser, source))

    def traffic(self, decision: Decision) -> None:
        """Count a judged request (any action) in its minute: a dict increment, written with the
        next batch into `traffic_minutes`."""
        key = (decision.ts // 60 * 60, decision.route, decision.action)
        with self._traffic_lock:
            count = self._traffic.get(key)
            if count is not None or len(self._traffic) < self.max_pending:
                self._traffic[key] = (count or 0) + 1
                return
        self.put(traffic_record(*key, 1))  # (the database is down for long: queued, or spilled)

    def exposure(self, event: Event, audience: str | None = None) -> None:
        """A successful response of a member-data route: what this actor received. `audience`: whom
        the site says it showed the response to (see `audience_of`); the categories are that
        audience's, as the route map declares them."""
        route = event.route
        if route.kind not in EXPOSING_KINDS:
            return
        # the actor keys of EXPOSURE_KEYS, built directly (Event.keys() would also compute the network)
        if event.ip:
            ip = "ip:" + self.pseudonymiser.value(event.ip)
            actors: tuple[str, ...] = (ip, "account:" + event.account) if event.account else (ip,)
        elif event.account:
            actors = ("account:" + event.account,)
        else:
            return
        shown_to = audience_of(event, audience)
        key = (actors, route.subject or "", route.pattern or event.path, shown_to)
        with self._exposure_lock:
            entry = self._exposure.get(key)
            if entry is not None:  # seen again since the last write: count it, no new record
                entry[1] = max(entry[1], event.ts)
                entry[2] += 1
                return
            rule = self._rules.get(route.pattern) if route.pattern else None
            categories = rule.categories_for(shown_to) if rule is not None else route.categories
            if len(self._exposure) < self.max_pending:
                self._exposure[key] = [event.ts, event.ts, 1, categories]
                return
        self.put(_exposure_record(key, [event.ts, event.ts, 1, categories]))  # buffer full: queue it

    def put(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
            self.counts.queued += 1
        except queue.Full:
            self._spill([record])

    # -- status and shutdown -------------------------------------------------------

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def status(self) -> dict[str, Any]:
        c = self.counts
        return {"database": "down" if self._db_down else "ok", "queued": self.backlog,
                "pending": len(self._exposure) + self._in_flight,
                "written": c.written, "spilled": c.spilled, "reimported": c.reimported,
                "dropped": c.dropped, "db_failures": c.db_failures,
                "spill_file": str(self.spill_path) if self.spill_path.exists() else None}

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything handed over so far is written (or spilled); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0 and not self._exposure and not self._traffic \
                    and self._in_flight == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued; whatever cannot be written in time goes to the spill file."""
        self._stopping.set()
        self._thread.join(timeout)
        leftovers: list[dict[str, Any]] = self._drain_exposure() + self._drain_traffic()
        while True:
            try:
                leftovers.append(self._queue.get_nowait())
                self._queue.task_done()
            except queue.Empty:
                break
        if leftovers:
            self._spill(leftovers)

    # -- the worker ------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.25
        pending: list[dict[str, Any]] = []
        from_queue = 0  # how many of `pending` came off the queue (task_done owed)
        reimport_at = 0.0  # (monotonic) while the database is down: when to try the spill file again
        while True:
            if not pending:
                pending = self._take()
                from_queue = len(pending)
                pending += self._drain_exposure() + self._drain_traffic()
                self._in_flight = len(pending)
            if not pending:
                if self._stopping.is_set():
                    return
                # with nothing new to write, the re-import itself tells when the database is back
                if self.spill_path.exists() and (not self._db_down or time.monotonic() >= reimport_at):
                    self._reimport()
                    if self._db_down:
                        reimport_at = time.monotonic() + backoff
                        backoff = min(self.max_backoff, backoff * 2)
                    else:
                        backoff = 0.25
                continue
            try:
                self._write(pending)
            except (DatabaseUnavailable, SQLAlchemyError) as exc:
                self.counts.db_failures += 1
                if not self._db_down:
                    log.warning("records database unavailable, buffering: %s", exc)
                self._db_down = True
                if self._stopping.is_set():
                    self._spill(pending)
                    self._done(from_queue)
                    pending, self._in_flight = [], 0
                    continue
                self._stopping.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
                continue
            self._done(from_queue)
            pending, self._in_flight = [], 0
            backoff = 0.25
            if self._db_down:
                log.warning("records database is back")
                self._db_down = False

    def _take(self) -> list[dict[str, Any]]:
        try:
            first = self._queue.get(timeout=self.flush_seconds)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _drain_exposure(self) -> list[dict[str, Any]]:
        with self._exposure_lock:
            taken, self._exposure = self._exposure, {}
        return [_exposure_record(key, entry) for key, entry in taken.items()]

    def _drain_traffic(self) -> list[dict[str, Any]]:
        with self._traffic_lock:
            taken, self._traffic = self._traffic, {}
        return [traffic_record(minute, route, action, n) for (minute, route, action), n in taken.items()]

    def _done(self, n: int) -> None:
        for _ in range(n):
            self._queue.task_done()

    def _write(self, batch: list[dict[str, Any]], reimport: bool = False) -> None:
        if self._prepare is not None:
            self._prepare()
            self._prepare = None
        try:
            with self.db.session() as session:
                write_batch(session, batch)
        except IntegrityError:
            # another writer inserted the same exposure row at the same moment: once more
            with self.db.session() as session:
                write_batch(session, batch)
        self.counts.batches += 1
        if reimport:
            self.counts.reimported += len(batch)
        else:
            self.counts.written += len(batch)
        if self.after_batch is not None:
            try:
                self.after_batch(self.db, batch)
            except Exception:  # incidents must never stop the records from being written
                self.counts.after_batch_errors += 1
                log.exception("incident detection after a records batch failed")

    # -- spilling to disk ----------------------------------------------------------

    def _spill(self, records: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        with self._spill_lock:
            try:
                self.spill_path.parent.mkdir(parents=True, exist_ok=True)
                with self.spill_path.open("a", encoding="utf-8") as out:
                    out.write(lines)
                    out.flush()
                    os.fsync(out.fileno())
                self.counts.spilled += len(records)
            except OSError as exc:
                self.counts.dropped += len(records)
                log.error("records lost: cannot write the spill file %s: %s", self.spill_path, exc)

    def _reimport(self) -> None:
        """Write spilled records back; what cannot be written yet stays in the spill file."""
        with self._spill_lock:
            if not self.spill_path.exists():
                return
            taken = self.spill_path.with_name(self.spill_path.name + f".importing-{os.getpid()}")
            os.replace(self.spill_path, taken)
        records: list[dict[str, Any]] = []
        bad: list[str] = []
        with taken.open(encoding="utf-8", errors="surrogateescape") as lines:
            for line in lines:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    bad.append(line)  # a line cut short by a crash: kept aside, not thrown away
        if bad:
            aside = self.spill_path.with_name(self.spill_path.name + ".bad")
            with aside.open("a", encoding="utf-8", errors="surrogateescape") as out:
                out.writelines(bad)
        done = 0
        refused: list[Any] = []
        try:
            while done < len(records):
                chunk = records[done:done + self.batch_size]
                try:
                    self._write(chunk, reimport=True)
                except (DatabaseUnavailable, OperationalError):
                    raise
                except Exception as exc:
                    # Not the database: a record it cannot take (another version's, or damaged into
                    # valid JSON). The first of the chunk alone: written, or kept aside; then on.
                    chunk = chunk[:1]
                    try:
                        self._write(chunk, reimport=True)
                    except (DatabaseUnavailable, OperationalError):
                        raise
                    except Exception:
                        refused.append(chunk[0])
                        log.error("a spilled record cannot be written (%s: %s); kept in %s.bad",
                                  type(exc).__name__, exc, self.spill_path.name)
                done += len(chunk)
            if self._db_down:
                log.warning("records database is back")
                self._db_down = False
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            self._db_down = True
            self.counts.db_failures += 1
            log.warning("re-importing spilled records stopped: %s", exc)
            rest = records[done:]
            self.counts.spilled -= len(rest)  # counted again as they go back
            self._spill(rest)
        if refused:
            self.counts.extra["set_aside"] = self.counts.extra.get("set_aside", 0) + len(refused)
            aside = self.spill_path.with_name(self.spill_path.name + ".bad")
            with aside.open("a", encoding="utf-8", errors="surrogateescape") as out:
                out.writelines(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                               for r in refused)
        taken.unlink(missing_ok=True)


def _exposure_record(key: tuple[tuple[str, ...], str, str, str], entry: list[Any]) -> dict[str, Any]:
    first, last, count, categories = entry
    return {"type": "exposure", "ts": last, "first_ts": first, "count": count, "actors": list(key[0]),
            "member": key[1], "route": key[2], "categories": list(categories), "audience": key[3],
            "source": "live"}


def write_batch(session: Session, batch: list[dict[str, Any]]) -> None:
    """One batch of sink records into the tables (decisions appended, exposure merged, traffic
    counts added)."""
    add_decisions(session, [r for r in batch if r.get("type") == "decision"])
    write_exposure(session, [r for r in batch if r.get("type") == "exposure"])
    write_traffic(session, [r for r in batch if r.get("type") == "traffic"])
