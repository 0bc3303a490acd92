"""Wiring the records into the guard: `scrapeguard proxy --db URL` opens the database, the
pseudonymisation key and the sink, with incident detection after each batch."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from scrapeguard.policy import defaults_text
from scrapeguard.policy.model import Policy
from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.errors import DatabaseUnavailable
from scrapeguard.records.incidents import detector
from scrapeguard.records.models import AuditEntry
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
    buffered and spilled until it answers (and its schema is made then, and the key checked
    against its fingerprint). An out-of-date schema or another key than the database's is fatal."""
    db = Database(target, key_source=policy.incidents.pseudonym_key)
    key: bytes | None = None

    def prepare() -> None:
        db.ensure_schema()
        keys = db.record_keys()
        if key is not None and keys.pseudonym != key:
            log.error("the pseudonym key loaded while the records database was down is not the "
                      "database's; records are spilled, not written, until the guard restarts")
            raise DatabaseUnavailable("the pseudonym key is not the records database's")
        record_policy(db, policy)

    ready: Callable[[], None] | None = None
    try:
        prepare()
    except DatabaseUnavailable as exc:
        log.warning("%s; records are buffered until it answers", exc)
        key = load_key(policy.incidents.pseudonym_key, db.key_file_default())
        ready = prepare
    pseudonymiser = Pseudonymiser(key if key is not None else db.record_keys().pseudonym)
    return RecordSink(db, pseudonymiser, spill_path or spill_path_for(db),
                      after_batch=detector(policy.incidents), prepare=ready, routes=policy.routes)


def policy_fingerprint(policy: Policy) -> tuple[str, str]:
    """(what the policy is, SHA-256 of its text): the file's, or the built-in defaults'."""
    text = defaults_text()
    if policy.source != "<defaults>":
        try:
            text = Path(policy.source).read_text("utf-8")
        except OSError:
            text = repr(policy)
    return policy.source, hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_policy(db: Database, policy: Policy) -> None:
    """Audit the policy in force when it differs from the last one recorded: changes to the
    policy (quotas, allowlists, mode) leave a trace, with the allowlists spelled out."""
    source, digest = policy_fingerprint(policy)
    with db.session() as session:
        last = session.execute(select(AuditEntry.details).where(AuditEntry.action == "policy.in_force")
                               .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
        if last is not None and json.loads(last).get("sha256") == digest:
            return
        audit.record(session, audit.SYSTEM, "policy.in_force", "policy", source[:100], {
            "sha256": digest, "mode": policy.mode,
            "allowlist": {"cidrs": [str(c) for c in policy.allowlist.cidrs],
                          "accounts": sorted(policy.allowlist.accounts)}})
