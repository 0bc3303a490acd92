"""The records sink when more than the database fails: a spill file that cannot be written (records
lost, and counted), spilled records the database will not take, and a re-import cut short by the
database going down again (records/sink.py)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from scrapeguard.records.db import Database
from scrapeguard.records.decisions import decision_record
from scrapeguard.records.models import DecisionRecord
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.sink import RecordSink

from .conftest import PG_URL, TcpForwarder  # type: ignore[import-not-found]
from .test_sink import refusal, wait_for  # type: ignore[import-not-found]


def decision_ids(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(DecisionRecord.decision_id)))


def spill_lines(records: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_records_that_find_neither_room_nor_a_spill_file_are_counted_as_lost(
        pseudonymiser: Pseudonymiser, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(f"sqlite:///{tmp_path / 'missing-folder' / 'records.db'}", connect_timeout=1)  # down
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spill file's folder should be")
    sink = RecordSink(db, pseudonymiser, blocker / "spill.jsonl", max_queue=5, batch_size=5, max_backoff=0.3)
    for i in range(30):
        sink.decision(refusal(i))
    sink.close(timeout=10)
    # every record was lost (the database down, the disk refusing): none unaccounted for
    assert sink.counts.written == 0 and sink.counts.spilled == 0
    assert sink.counts.dropped == 30
    assert sink.status()["dropped"] == 30 and sink.status()["spill_file"] is None
    assert "records lost: cannot write the spill file" in caplog.text
    db.dispose()


def test_spilled_records_the_database_cannot_take_are_set_aside_and_the_rest_written(
        db: Database, pseudonymiser: Pseudonymiser, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A spill file from another version, or damaged into valid JSON: the records the database takes
    are written, the others kept aside in `<spill>.bad`, and the sink goes on writing."""
    spill = tmp_path / "spill.jsonl"
    good = [decision_record(refusal(i), pseudonymiser) for i in range(10)]
    strangers = [{"type": "decision", "ts": 1_700_000_000.0}, 42, {"type": "exposure", "actors": "x"}]
    spill.write_text(spill_lines(good[:4] + strangers[:2] + good[4:7] + strangers[2:] + good[7:]))
    caplog.set_level(logging.ERROR, "scrapeguard.records.sink")
    sink = RecordSink(db, pseudonymiser, spill, batch_size=4, max_backoff=0.3)
    wait_for(lambda: sink.counts.reimported == 10 and not spill.exists(), timeout=20)
    aside = [json.loads(line) for line in spill.with_name(spill.name + ".bad").read_text().splitlines()]
    assert aside == strangers and sink.counts.extra["set_aside"] == 3
    sink.decision(refusal(99))  # the worker is alive: a new record is written
    wait_for(lambda: sink.counts.written == 1, timeout=20)
    sink.close()
    assert decision_ids(db) == sorted([r["id"] for r in good] + [refusal(99).id])
    assert sink.status()["database"] == "ok"


class CuttableRelay(TcpForwarder):  # type: ignore[misc]
    """The relay, stopped for sure: a listener closed while another thread waits in accept() keeps
    accepting on Linux, so it is shut down first (which wakes that thread)."""

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
        super().stop()


@pytest.fixture
def relayed_postgres(pg_schema_url: tuple[str, str]) -> Iterator[tuple[str, TcpForwarder]]:
    """A PostgreSQL schema reached through a relay the test can cut (the database is then down)."""
    forwarder = CuttableRelay(urlparse(PG_URL).port or 5432)
    forwarder.start()
    query = urlparse(pg_schema_url[0]).query
    yield f"postgresql://postgres@127.0.0.1:{forwarder.port}/test?{query}", forwarder
    forwarder.stop()


def test_a_reimport_cut_short_keeps_the_rest_and_resumes_without_new_traffic(
        relayed_postgres: tuple[str, TcpForwarder], pseudonymiser: Pseudonymiser, tmp_path: Path) -> None:
    """The database goes down after the first batch of a re-import: the records not yet written go
    back to the spill file (none twice, none lost), and once the database is back they are written,
    although no new record arrives to show that it is."""
    url, relay = relayed_postgres
    db = Database(url, connect_timeout=1)
    db.ensure_schema()
    spill = tmp_path / "spill.jsonl"
    records = [decision_record(refusal(i), pseudonymiser) for i in range(12)]
    spill.write_text(spill_lines(records))
    cut: list[float] = []

    def cut_after_first_batch(database: Database, batch: list[dict[str, Any]]) -> None:
        if not cut:
            cut.append(time.monotonic())
            relay.stop()

    sink = RecordSink(db, pseudonymiser, spill, batch_size=5, max_backoff=0.3,
                      after_batch=cut_after_first_batch)
    wait_for(lambda: sink.status()["database"] == "down", timeout=20)
    assert sink.counts.reimported == 5
    assert len(spill.read_text().splitlines()) == 7  # the rest, back on disk
    relay.start()
    wait_for(lambda: sink.counts.reimported == 12 and not spill.exists(), timeout=20)
    sink.close()
    assert sink.counts.dropped == 0 and sink.status()["database"] == "ok"
    assert decision_ids(db) == sorted(r["id"] for r in records)
    db.dispose()
