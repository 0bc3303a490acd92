"""Wiring the records into the guard: `scrapeguard proxy --db URL` opens the database, the
pseudonymisation key and the sink, with incident detection after each batch."""

from __future__ import annotations

import logging
from pathlib import Path

from scrapeguard.policy.model import Policy
from scrapeguard.records.db import Database
from scrapeguard.records.errors import DatabaseUnavailable
from scrapeguard.records.incidents import detector
from scrapeguard.records.privacy import Pseudonymiser, load_key
from scrapeguard.records.sink import RecordSink

log = logging.getLogger(__name__)


def spill_path_for(db: Database) -> Path:
    """Beside a SQLite file; in the working directory for a database server."""
    if db.is_sqlite and db.url.database and db.url.database != ":memory:":
        return Path(db.url.database + ".spill.jsonl")
    return Path("scrapeguard-records.spill.jsonl").resolve()


def open_sink(policy: Policy, target: str | None, spill_path: Path | None = None) -> RecordSink:
    """A running sink for the guard. A database that is down at start is not fatal: records are
    buffered and spilled until it answers (and its schema is made then). An out-of-date schema
    is fatal: it needs `scrapeguard db upgrade`."""
    db = Database(target)
    prepare = None
    try:
        db.ensure_schema()
    except DatabaseUnavailable as exc:
        log.warning("%s; records are buffered until it answers", exc)
        prepare = db.ensure_schema
    key = load_key(policy.incidents.pseudonym_key, db.key_file_default())
    return RecordSink(db, Pseudonymiser(key), spill_path or spill_path_for(db),
                      after_batch=detector(policy.incidents), prepare=prepare)
