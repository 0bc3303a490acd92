from __future__ import annotations

from sqlalchemy import delete, update

from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.models import AuditEntry, AuditHead


def _fill(db: Database, n: int = 5) -> None:
    for i in range(n):
        with db.session() as s:
            audit.record(s, "ann", "incident.open", "incident", i, {"n": i, "text": "ünïcode"})


def test_an_untouched_chain_verifies(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        result = audit.verify(s)
        assert result.ok, result.problems
        assert result.entries == 5 and result.head_seq == 5
        assert audit.head(s) == (5, result.head_hash)


def test_an_altered_row_is_detected(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(details='{"n":99}'))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert any("entry 3" in p and "altered" in p for p in result.problems)


def test_a_deleted_row_is_detected(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert any("entry 2 is missing" in p for p in result.problems)


def test_reordered_rows_are_detected(db: Database) -> None:
    _fill(db)
    with db.session() as s:  # swap the content of entries 2 and 4, hashes and all, renumbered
        rows = {e.seq: e for e in s.query(AuditEntry).filter(AuditEntry.seq.in_([2, 4]))}
        two, four = rows[2], rows[4]
        fields = ("at", "actor", "action", "entity", "entity_id", "details", "prev_hash", "hash")
        saved = {f: getattr(two, f) for f in fields}
        for f in fields:
            setattr(two, f, getattr(four, f))
            setattr(four, f, saved[f])
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert any("does not follow" in p for p in result.problems)


def test_rows_cut_off_the_end_are_detected(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert any("cut off the end" in p for p in result.problems)
    # ...unless the head is rewritten too; then the evidence packs that quoted the head disagree
    with db.session() as s:
        prev = s.get(AuditEntry, 4)
        assert prev is not None
        s.execute(update(AuditHead).values(seq=4, hash=prev.hash))
    with db.session() as s:
        assert audit.verify(s).ok
