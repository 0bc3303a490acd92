from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.keys import KeyMismatch
from scrapeguard.records.models import (
    AuditEntry,
    AuditHead,
    IncidentRecord,
    IncidentStep,
    NoticeRecord,
    SettingRecord,
    UserRecord,
)
from scrapeguard.records.users import Actor

from .helpers import ROOT  # type: ignore[import-not-found]


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


# -- keyed chain (issue 14, item 10a) ---------------------------------------------------------


def _unkeyed_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The chain's hash as anyone can compute it without a key (its form before schema 0004)."""
    content = json.dumps([entry.seq, entry.at.astimezone(UTC).isoformat(timespec="microseconds"), entry.actor,
                          entry.action, entry.entity, entry.entity_id, entry.details],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _rewrite_without_the_key(db: Database, delete_seq: int) -> None:
    """What someone with only database access does: delete an entry, renumber and rehash the rest
    (plain SHA-256, no key), and point the head at the new end."""
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == delete_seq))
        prev = audit.GENESIS
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        for new_seq, entry in enumerate(entries, 1):
            s.execute(update(AuditEntry).where(AuditEntry.seq == entry.seq).values(seq=new_seq))
        s.expire_all()
        for entry in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            values: dict[str, object] = {"prev_hash": prev, "hash": _unkeyed_hash(prev, entry)}
            if hasattr(AuditEntry, "scheme"):
                values["scheme"] = "sha256"  # and claim the entries were written before keying
            s.execute(update(AuditEntry).where(AuditEntry.seq == entry.seq).values(**values))
            prev = str(values["hash"])
        s.execute(update(AuditHead).values(seq=len(entries), hash=prev))


def test_an_entry_deleted_and_the_chain_rehashed_without_the_key_is_detected(db: Database) -> None:
    _fill(db)
    _rewrite_without_the_key(db, delete_seq=3)
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert result.problems


def test_entries_are_keyed_with_a_secret_the_database_does_not_hold(db: Database,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(db, 2)
    with db.session() as s:
        entry = s.get(AuditEntry, 2)
        assert entry is not None
        assert entry.hash != _unkeyed_hash(entry.prev_hash, entry)
        stored = " ".join(v for v in s.scalars(select(SettingRecord.value)))
        key = db.record_keys(s)
        assert key.pseudonym.decode() not in stored and key.audit.hex() not in stored
    # the same database opened with another key is refused, not verified with it
    other = Database(db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SCRAPEGUARD_PSEUDONYM_KEY", "another-key-0123456789")
    try:
        with pytest.raises(KeyMismatch, match="not the one this records database was set up with"), \
                other.session() as s:
            audit.verify(s)
    finally:
        other.dispose()


def test_a_chain_begun_before_keying_still_verifies_and_is_sealed(db_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A database at schema 0001 with unkeyed entries: upgraded, its old entries verify, new ones
    are keyed, and an unkeyed entry added after the seal is found."""
    monkeypatch.setenv("SCRAPEGUARD_PSEUDONYM_KEY", "the-key-it-had-0123456789")
    db = Database(db_url)
    with db.engine.connect() as conn, conn.begin():
        from alembic import command

        from scrapeguard.records.db import _alembic_config

        command.upgrade(_alembic_config(conn), "0001")
        prev = audit.GENESIS
        for seq in (1, 2):
            at = datetime(2026, 1, seq, tzinfo=UTC)
            entry = AuditEntry(seq=seq, at=at, actor="ann", action="incident.open", entity="report",
                               entity_id=str(seq), details="{}", prev_hash=prev, hash="")
            digest = _unkeyed_hash(prev, entry)
            conn.execute(text("INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, details, "
                              "prev_hash, hash) VALUES (:seq, :at, 'ann', 'incident.open', 'report', :id, "
                              "'{}', :prev, :hash)"),
                         {"seq": seq, "at": at.replace(tzinfo=None), "id": str(seq), "prev": prev,
                          "hash": digest})
            prev = digest
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 2, :hash)"), {"hash": prev})
    db.upgrade()
    try:
        with db.session() as s:
            assert audit.verify(s).ok, audit.verify(s).problems
        with db.session() as s:
            audit.record(s, "ann", "report.regulator", "report", "r.html")
        with db.session() as s:
            result = audit.verify(s)
            assert result.ok, result.problems
            schemes = [e.scheme for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert schemes == ["sha256", "sha256", "hmac-sha256"]
        with db.session() as s:  # an unkeyed entry after the keyed ones
            last = s.get(AuditEntry, 3)
            assert last is not None
            forged = AuditEntry(seq=4, at=datetime(2026, 2, 1, tzinfo=UTC), actor="eve", action="x",
                                entity="report", entity_id="4", details="{}", prev_hash=last.hash, hash="")
            forged.hash, forged.scheme = _unkeyed_hash(last.hash, forged), "sha256"
            s.add(forged)
            s.execute(update(AuditHead).values(seq=4, hash=forged.hash))
        with db.session() as s:
            result = audit.verify(s)
        assert not result.ok and any("entry 4: not keyed" in p for p in result.problems)
    finally:
        db.dispose()


# -- checkpoints outside the database (item 10b) ------------------------------------------------


def test_checkpoints_find_a_chain_rewritten_even_with_the_key(db: Database, tmp_path: Path) -> None:
    _fill(db, 5)
    out = tmp_path / "checkpoints.jsonl"
    with db.session() as s:
        audit.append_checkpoint(out, audit.checkpoint(s, now=datetime(2026, 12, 1, tzinfo=UTC)))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    line = json.loads(out.read_text().splitlines()[0])
    assert line["seq"] == 5 and set(line) == {"seq", "hash", "at", "signature"}
    with db.session() as s:
        assert audit.verify(s, checkpoints=audit.read_checkpoints(s, out)).ok
    # someone holding the key cuts entries 4-5 and appends others: the chain verifies on its own...
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
        third = s.get(AuditEntry, 3)
        assert third is not None
        s.execute(update(AuditHead).values(seq=3, hash=third.hash))
    for i in (4, 5):
        with db.session() as s:
            audit.record(s, "eve", "incident.open", "report", i, {"n": "rewritten"})
    with db.session() as s:
        assert audit.verify(s).ok
        # ...but not against the checkpoint taken before
        result = audit.verify(s, checkpoints=audit.read_checkpoints(s, out))
    assert not result.ok
    assert any("entry 5" in p and "checkpoint" in p for p in result.problems)


def test_an_altered_checkpoint_is_reported(db: Database, tmp_path: Path) -> None:
    _fill(db, 3)
    out = tmp_path / "checkpoints.jsonl"
    with db.session() as s:
        audit.append_checkpoint(out, audit.checkpoint(s))
    line = json.loads(out.read_text())
    line["seq"] = 2
    out.write_text(json.dumps(line) + "\n")
    with db.session() as s:
        result = audit.verify(s, checkpoints=audit.read_checkpoints(s, out))
    assert not result.ok and any("signature does not match" in p for p in result.problems)


# -- state rows bound into the chain (item 10c) --------------------------------------------------


def _open_incident(db: Database) -> int:
    from scrapeguard.records import incidents

    with db.session() as s:
        return incidents.open_incident(s, ROOT, "scraping", {"ip:p-aaaa"}).id


def test_a_direct_edit_of_an_incident_is_found(db: Database) -> None:
    from scrapeguard.records import incidents

    incident_id = _open_incident(db)
    with db.session() as s:
        incidents.mark_aware(s, Actor("po", "privacy_officer"), incident_id)
    with db.session() as s:
        result = audit.verify(s)
        assert result.ok, result.problems
        assert result.rows_checked == 1
    with db.session() as s:  # awareness moved 3 days later, in SQL
        row = s.get(IncidentRecord, incident_id)
        assert row is not None and row.aware_at is not None
        s.execute(update(IncidentRecord).where(IncidentRecord.id == incident_id)
                  .values(aware_at=row.aware_at + timedelta(days=3)))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert any(f"incident {incident_id}: differs from what its last audited change" in p
               for p in result.problems)


def test_a_direct_edit_of_an_incidents_steps_or_an_inserted_row_is_found(db: Database) -> None:
    incident_id = _open_incident(db)
    with db.session() as s:
        s.execute(update(IncidentStep).where(IncidentStep.incident_id == incident_id)
                  .values(by="someone else"))
        s.add(UserRecord(name="mallory", role="admin", password_hash="x", created_at=datetime.now(UTC),
                         active=True))
    with db.session() as s:
        problems = audit.verify(s).problems
    assert any(f"incident {incident_id}: differs" in p for p in problems)
    assert any("user mallory: not in the audit log" in p for p in problems)


def test_a_direct_edit_of_a_user_role_is_found(db: Database) -> None:
    from scrapeguard.records.users import add_user

    with db.session() as s:
        add_user(s, None, "root", "admin", "a long enough password")
        add_user(s, ROOT, "vic", "viewer", "a long enough password")
    with db.session() as s:
        assert audit.verify(s).ok
        s.execute(update(UserRecord).where(UserRecord.name == "vic").values(role="admin"))
    with db.session() as s:
        problems = list(audit.verify(s).problems)
    assert len(problems) == 1 and "user vic: differs" in problems[0]


def test_a_notice_whose_text_was_edited_or_that_was_deleted_is_found(db: Database) -> None:
    incident_id = _open_incident(db)
    with db.session() as s:
        notices = []
        for regime in ("eu_gdpr", "uk_gdpr"):
            notice = NoticeRecord(incident_id=incident_id, regime=regime, audience="regulator", title="t",
                                  text="We were scraped.", state="sent", drafted_by="ann",
                                  drafted_at=datetime.now(UTC))
            s.add(notice)
            s.flush()
            audit.record_change(s, "ann", "notice.draft", notice)
            notices.append(notice.id)
    with db.session() as s:
        assert audit.verify(s).ok
        s.execute(update(NoticeRecord).where(NoticeRecord.id == notices[0]).values(text="Nothing happened."))
        s.execute(delete(NoticeRecord).where(NoticeRecord.id == notices[1]))
    with db.session() as s:
        problems = audit.verify(s).problems
    assert any(f"notice {notices[0]}: differs" in p for p in problems)
    assert any(f"notice {notices[1]}: deleted outside ScrapeGuard" in p for p in problems)


def _changed(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, datetime):
        return value - timedelta(microseconds=1)
    if isinstance(value, str):
        return value + "!"
    if value is None:
        return "edited"
    return {"edited": True}


def test_every_column_of_a_bound_row_is_covered(db: Database) -> None:
    """The digest is built from the table's columns: an edit to any of them shows (so columns
    added later are covered too)."""
    incident_id = _open_incident(db)
    table = IncidentRecord.__table__
    names = [c.name for c in table.columns if c.name != "id"]
    assert {"aware_at", "state", "assessment", "data_was_public"} <= set(names)
    for name in names:
        with db.session() as s:
            before = s.execute(select(table.c[name]).where(table.c.id == incident_id)).scalar_one()
            if name in ("aware_at", "contained_at", "closed_at", "assessed_at"):
                value: object = datetime(2026, 5, 1, tzinfo=UTC)
            elif name in ("notifiable",):
                value = True
            elif name in ("reasoning", "aware_by"):
                value = "edited"
            elif name == "assessment":
                value = {"edited": True}
            else:
                value = _changed(before)
            s.execute(update(table).where(table.c.id == incident_id).values({name: value}))
        with db.session() as s:
            assert any(f"incident {incident_id}: differs" in p for p in audit.verify(s).problems), name
            s.execute(update(table).where(table.c.id == incident_id).values({name: before}))
        with db.session() as s:
            assert audit.verify(s).ok, name


def test_record_change_names_the_entity_by_its_row(db: Database) -> None:
    incident_id = _open_incident(db)
    with db.session() as s:
        row = s.get(IncidentRecord, incident_id)
        assert row is not None
        row.title = "renamed"
        entry = audit.record_change(s, "root", "incident.rename", row, {"title": "renamed"})
        digest = audit.row_digest(s, "incident", incident_id)
        assert (entry.entity, entry.entity_id, entry.row_digest) == ("incident", str(incident_id), digest)
    with db.session() as s:
        assert audit.verify(s).ok


def test_rows_last_changed_before_binding_are_counted_then_bound(db_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A user added before schema 0004 (its audit entry has no digest): counted as unbound, its
    direct edit cannot be told until `bind_unbound` binds it; after that it can."""
    monkeypatch.setenv("SCRAPEGUARD_PSEUDONYM_KEY", "the-key-it-had-0123456789")
    db = Database(db_url)
    with db.engine.connect() as conn, conn.begin():
        from alembic import command

        from scrapeguard.records.db import _alembic_config

        command.upgrade(_alembic_config(conn), "0001")
        at = datetime(2026, 1, 1, tzinfo=UTC)
        conn.execute(text("INSERT INTO users (id, name, role, password_hash, created_at, active) "
                          "VALUES (1, 'vic', 'viewer', 'x', :at, true)"), {"at": at.replace(tzinfo=None)})
        entry = AuditEntry(seq=1, at=at, actor="root", action="user.add", entity="user", entity_id="vic",
                           details='{"role":"viewer"}', prev_hash=audit.GENESIS, hash="")
        digest = _unkeyed_hash(audit.GENESIS, entry)
        conn.execute(text("INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, details, "
                          "prev_hash, hash) VALUES (1, :at, 'root', 'user.add', 'user', 'vic', "
                          "'{\"role\":\"viewer\"}', :prev, :hash)"),
                     {"at": at.replace(tzinfo=None), "prev": audit.GENESIS, "hash": digest})
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 1, :hash)"), {"hash": digest})
    db.upgrade()
    try:
        with db.session() as s:
            result = audit.verify(s)
            assert result.ok and result.rows_unbound == 1 and result.notes, result.problems
        with db.session() as s:
            s.execute(update(UserRecord).where(UserRecord.name == "vic").values(role="legal"))
        with db.session() as s:
            assert audit.verify(s).ok  # not bound yet: the edit cannot be told
            assert audit.bind_unbound(s, "root") == {"user": 1}
        with db.session() as s:
            assert audit.verify(s).rows_checked == 1
            s.execute(update(UserRecord).where(UserRecord.name == "vic").values(role="admin"))
        with db.session() as s:
            result = audit.verify(s)
        assert not result.ok and any("user vic: differs" in p for p in result.problems)
    finally:
        db.dispose()
