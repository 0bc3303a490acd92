"""The audit log: append-only and hash-chained, keyed, and bound to the rows it is about.

Each entry's hash covers the previous entry's hash and the entry's own content in a canonical
JSON form. Since schema 0004 the hash is an HMAC-SHA256 with a secret derived from the pseudonym
key (`records.keys`), which the database does not hold: someone with only database access can
no longer delete an entry and recompute the hashes after it. Entries written before are plain
SHA-256 (scheme "sha256") and still verify; an unkeyed entry after a keyed one is reported.

`verify` recomputes the chain from the start and compares its end with the head row (which
every append updates under a lock), so rows cut off the end show too. Checkpoints of the head,
signed and written outside the database (`checkpoint`, `verify(..., checkpoints=...)`), show a
chain rewritten as a whole (even by someone holding the key, once a checkpoint is kept apart).

The state rows (incidents, notices, cases, users, with their steps) are bound into the chain:
an entry about one of them stores the digest of the row as written (`row_digest`), and `verify`
compares each current row with the digest of its last audited change, so a direct SQL edit of
an incident's awareness time, a notice's text or a user's role shows. Every `record` about a
bound entity gets the digest by itself; the digest covers all the row's columns (SQLAlchemy
inspection), so columns added later are covered without changes here. A change to a bound row
that is not followed by an audit entry about it, in the same transaction, is reported as an edit.

Appends happen in the caller's transaction: a change and its audit entry commit together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Table, select
from sqlalchemy.orm import DeclarativeBase, Session

from scrapeguard.records.errors import RecordsError
from scrapeguard.records.keys import RecordKeys
from scrapeguard.records.models import (
    AuditEntry,
    AuditHead,
    CaseLetter,
    CaseRecord,
    CaseStep,
    DrillRecord,
    IncidentActor,
    IncidentRecord,
    IncidentStep,
    NoticeRecord,
    PolicyChange,
    SettingRecord,
    UserRecord,
)
from scrapeguard.records.permissions import requires

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

GENESIS = "0" * 64
#: The name under which the guard itself acts (auto-opened incidents, imports).
SYSTEM = "scrapeguard"
UNKEYED, KEYED = "sha256", "hmac-sha256"
#: The setting that marks, signed, the last entry written before the chain was keyed.
UNKEYED_UNTIL = "audit.unkeyed_until"


# -- the state rows bound into the chain ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Binding:
    """An audited entity whose rows are bound into the chain: its table, the column that the
    audit entries' `entity_id` names, and its child tables (rows that belong to it by a column)."""

    entity: str
    table: Table
    key: str
    children: tuple[tuple[Table, str], ...] = ()


#: entity name (as in audit entries) -> its binding.
BINDINGS: dict[str, Binding] = {}


def bind(entity: str, model: type[DeclarativeBase], key: str = "id",
         children: Iterable[tuple[type[DeclarativeBase], str]] = ()) -> None:
    """Bind an entity's rows into the chain (other modules may bind their own tables): every
    audit entry about it stores the digest of its row and of the rows of `children`, given as
    (model, column naming the parent's key)."""
    table = model.__table__
    assert isinstance(table, Table)
    child_tables = []
    for child, column in children:
        assert isinstance(child.__table__, Table)
        child_tables.append((child.__table__, column))
    BINDINGS[entity] = Binding(entity, table, key, tuple(child_tables))


bind("incident", IncidentRecord, children=[(IncidentStep, "incident_id"), (IncidentActor, "incident_id")])
bind("notice", NoticeRecord)
bind("case", CaseRecord, children=[(CaseStep, "case_id"), (CaseLetter, "case_id")])
bind("user", UserRecord, key="name")
bind("drill", DrillRecord)
bind("policy_change", PolicyChange)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _row_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(name): _plain(value) for name, value in row.items()}


def _digest(row: Mapping[Any, Any], children: Mapping[str, list[dict[str, Any]]]) -> str:
    content = {"row": _row_json(row), "children": {name: sorted(rows, key=_canonical_text)
                                                    for name, rows in children.items()}}
    return hashlib.sha256(_canonical_text(content).encode("utf-8")).hexdigest()


def _canonical_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _key_value(binding: Binding, entity_id: str) -> Any:
    column: Column[Any] = binding.table.c[binding.key]
    if column.type.python_type is int:
        return int(entity_id) if entity_id.isdigit() else None
    return entity_id


def row_digest(session: Session, entity: str, entity_id: str | int) -> str | None:
    """The digest of a bound entity's row as the database has it now (None: not bound, or no row)."""
    binding = BINDINGS.get(entity)
    if binding is None:
        return None
    key = _key_value(binding, str(entity_id))
    if key is None:
        return None
    session.flush()
    row = session.execute(select(binding.table).where(binding.table.c[binding.key] == key)).mappings() \
        .one_or_none()
    if row is None:
        return None
    children: dict[str, list[dict[str, Any]]] = {}
    for child, column in binding.children:
        parent = row[_parent_column(binding)]
        found = session.execute(select(child).where(child.c[column] == parent)).mappings()
        children[child.name] = [_row_json(r) for r in found]
    return _digest(row, children)


def _parent_column(binding: Binding) -> str:
    """The parent's column the children's foreign keys name (its primary key)."""
    return str(next(iter(binding.table.primary_key.columns)).name)


def _all_digests(session: Session, binding: Binding) -> dict[str, str]:
    """entity_id -> digest of every row of a bound entity (one query per table)."""
    parent_column = _parent_column(binding)
    children: dict[Any, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {child.name: [] for child, _ in binding.children})
    for child, column in binding.children:
        for r in session.execute(select(child)).mappings():
            children[r[column]][child.name].append(_row_json(r))
    return {str(row[binding.key]): _digest(row, children[row[parent_column]])
            for row in session.execute(select(binding.table)).mappings()}


# -- keys ----------------------------------------------------------------------------------


def record_keys(session: Session) -> RecordKeys:
    """The keys of the database this session belongs to (see `Database.record_keys`)."""
    database = session.info.get("database")
    if database is None:
        raise RecordsError("the audit log is keyed: open the session with Database.session()")
    keys: RecordKeys = database.record_keys(session)
    return keys


def _entry_hash(scheme: str, key: bytes | None, prev_hash: str, seq: int, at: datetime, actor: str,
                action: str, entity: str, entity_id: str, details: str, row_digest_: str | None) -> str:
    fields: list[Any] = [seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action,
                         entity, entity_id, details]
    if scheme == UNKEYED:
        content = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()
    assert key is not None
    content = json.dumps([*fields, row_digest_], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, (prev_hash + content).encode("utf-8"), hashlib.sha256).hexdigest()


# -- appending -----------------------------------------------------------------------------


def record(session: Session, actor: str, action: str, entity: str, entity_id: str | int,
           details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEntry:
    """Append one entry (in the session's transaction). About a bound entity (incident, notice,
    case, user), call it after the change: the entry stores the digest of the row as written."""
    key = record_keys(session).audit
    head_row = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()) \
        .scalar_one_or_none()
    if head_row is None:
        head_row = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head_row)
        session.flush()
    when = (at or datetime.now(UTC)).astimezone(UTC)
    # microsecond precision is what every database keeps
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    seq = head_row.seq + 1
    digest_of_row = row_digest(session, entity, entity_id)
    digest = _entry_hash(KEYED, key, head_row.hash, seq, when, actor, action, entity, str(entity_id), text,
                         digest_of_row)
    entry = AuditEntry(seq=seq, at=when, actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                       details=text, prev_hash=head_row.hash, hash=digest, scheme=KEYED,
                       row_digest=digest_of_row)
    session.add(entry)
    head_row.seq, head_row.hash = seq, digest
    session.flush()
    return entry


def _marker_signature(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"unkeyed until {seq} {hash_}".encode(), hashlib.sha256).hexdigest()


def seal_unkeyed_prefix(session: Session, keys: RecordKeys) -> None:
    """When a database's key is first recorded: if its chain was begun unkeyed (before schema
    0004), record, signed, where the unkeyed entries end; verify refuses unkeyed entries past it
    (or with no marker), so entries written later without the key show."""
    head_row = session.get(AuditHead, 1)
    if head_row is None or head_row.seq == 0 or session.get(SettingRecord, UNKEYED_UNTIL) is not None:
        return
    last = session.get(AuditEntry, head_row.seq)
    if last is None or last.scheme != UNKEYED:
        return
    value = {"seq": head_row.seq, "hash": head_row.hash,
             "signature": _marker_signature(keys.audit, head_row.seq, head_row.hash)}
    session.add(SettingRecord(name=UNKEYED_UNTIL, value=_canonical_text(value)))
    session.flush()


def _unkeyed_limit(session: Session, problems: list[str]) -> tuple[int, str] | None:
    """(seq, hash) of the last unkeyed entry the signed marker vouches for; None if there is none."""
    row = session.get(SettingRecord, UNKEYED_UNTIL)
    if row is None:
        return None
    try:
        value = json.loads(row.value)
        seq, hash_, signature = int(value["seq"]), str(value["hash"]), str(value["signature"])
    except (ValueError, KeyError, TypeError):
        problems.append("the marker of where unkeyed entries end is unreadable (altered)")
        return None
    if not hmac.compare_digest(_marker_signature(record_keys(session).audit, seq, hash_), signature):
        problems.append("the marker of where unkeyed entries end does not match its signature (altered)")
        return None
    return seq, hash_


def record_change(session: Session, actor: str, action: str, row: DeclarativeBase,
                  details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEntry:
    """`record` for a changed row of a bound entity, named by the row itself."""
    for binding in BINDINGS.values():
        if binding.table is row.__table__:
            return record(session, actor, action, binding.entity, getattr(row, binding.key), details, at)
    raise RecordsError(f"{type(row).__name__} is not bound into the audit chain (audit.bind)")


# -- verifying -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]
    #: Rows checked against the digest of their last audited change.
    rows_checked: int = 0
    #: Rows whose audit entries all predate row binding (schema 0004): not checked.
    rows_unbound: int = 0
    checkpoints: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "problems": list(self.problems),
                "rows_checked": self.rows_checked, "rows_unbound": self.rows_unbound,
                "checkpoints": self.checkpoints, "notes": list(self.notes)}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed record of the chain's head at one time, kept outside the database."""

    seq: int
    hash: str
    at: str
    signature: str
    #: Set by `read_checkpoints`: the signature matches the content (with this database's key).
    signature_ok: bool = True
    line: int = 0

    def signed_content(self) -> str:
        return _canonical_text({"seq": self.seq, "hash": self.hash, "at": self.at})


def verify(session: Session, max_problems: int = 20,
           checkpoints: list[Checkpoint] | None = None) -> VerifyResult:
    """Recompute the chain (every broken link is reported with its seq), check the checkpoints
    given, then compare every bound row with the digest of its last audited change."""
    problems: list[str] = []
    key: bytes | None = None
    prev_hash, expected_seq, count, keyed_from = GENESIS, 1, 0, None
    wanted = {c.seq: c for c in checkpoints or () if c.signature_ok}
    problems += [f"checkpoint line {c.line} ({c.at}): the signature does not match (the checkpoint was "
                 "altered, or signed with another key)" for c in checkpoints or () if not c.signature_ok]
    matched: set[int] = set()
    last_digest: dict[tuple[str, str], tuple[int, str | None]] = {}
    if session.get(AuditHead, 1) is not None:
        record_keys(session)  # (the first use of a key seals an unkeyed prefix)
    unkeyed_limit = _unkeyed_limit(session, problems)
    unkeyed_seen = 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for entry in rows:
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entry {expected_seq}" + (f"..{entry.seq - 1}" if entry.seq - 1 > expected_seq
                                                        else "") + " is missing (deleted)")
        if entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.seq}: does not follow the entry before it "
                            "(an entry was deleted, inserted or reordered)")
        if entry.scheme != UNKEYED:
            key = key or record_keys(session).audit
            keyed_from = keyed_from or entry.seq
        if entry.scheme == UNKEYED:
            unkeyed_seen = entry.seq
            if keyed_from is not None or (unkeyed_limit is not None and entry.seq > unkeyed_limit[0]):
                problems.append(f"entry {entry.seq}: not keyed, after the keyed entries began "
                                "(written outside ScrapeGuard)")
            elif unkeyed_limit is not None and (entry.seq, entry.hash) != unkeyed_limit \
                    and entry.seq == unkeyed_limit[0]:
                problems.append(f"entry {entry.seq}: not the last unkeyed entry that was sealed (altered)")
        elif entry.scheme != KEYED:
            problems.append(f"entry {entry.seq}: unknown scheme {entry.scheme!r} (altered)")
        scheme = UNKEYED if entry.scheme == UNKEYED else KEYED
        digest = _entry_hash(scheme, key, entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action,
                             entry.entity, entry.entity_id, entry.details, entry.row_digest)
        if digest != entry.hash:
            problems.append(f"entry {entry.seq}: content does not match its hash (altered)")
        if entry.seq in wanted:
            matched.add(entry.seq)
            if wanted[entry.seq].hash != entry.hash:
                problems.append(f"entry {entry.seq}: differs from the checkpoint of {wanted[entry.seq].at} "
                                "(the chain was rewritten from there on)")
        if entry.entity in BINDINGS:
            known = last_digest.get((entry.entity, entry.entity_id))
            if entry.row_digest is not None or known is None:
                last_digest[(entry.entity, entry.entity_id)] = (entry.seq, entry.row_digest or
                                                                (known[1] if known else None))
        prev_hash, expected_seq = entry.hash, entry.seq + 1
        if len(problems) >= max_problems:
            break
    head_row = session.get(AuditHead, 1)
    head_seq, head_hash = (head_row.seq, head_row.hash) if head_row is not None else (0, GENESIS)
    if len(problems) < max_problems and (head_seq != expected_seq - 1 or head_hash != prev_hash):
        problems.append(f"the chain ends at entry {expected_seq - 1} but its head says {head_seq}: "
                        "entries were cut off the end or the head was altered")
    for seq, point in sorted(wanted.items()):
        if seq == 0:
            continue
        if seq not in matched and len(problems) < max_problems:
            problems.append(f"entry {seq} of the checkpoint of {point.at} is gone "
                            "(entries were deleted or cut off the end)")
    if unkeyed_seen and unkeyed_limit is None and len(problems) < max_problems:
        problems.append("unkeyed entries but no signed marker of where the entries written before the "
                        "chain was keyed end (the marker was deleted)")
    checked, unbound = _check_rows(session, last_digest, problems, max_problems)
    notes = []
    if unbound:
        notes.append(f"{unbound} row(s) were last changed before rows were bound into the audit chain "
                     "(schema 0004): a direct edit of them cannot be told from their audit entries")
    return VerifyResult(not problems, count, head_seq, head_hash, tuple(problems), checked, unbound,
                        len(checkpoints or ()), tuple(notes))


def _check_rows(session: Session, last_digest: dict[tuple[str, str], tuple[int, str | None]],
                problems: list[str], max_problems: int) -> tuple[int, int]:
    checked = unbound = 0
    for entity, binding in BINDINGS.items():
        current = _all_digests(session, binding)
        for entity_id, digest in sorted(current.items()):
            audited = last_digest.get((entity, entity_id))
            if audited is None:
                problems.append(f"{entity} {entity_id}: not in the audit log (written outside ScrapeGuard)")
            elif audited[1] is None:
                unbound += 1
            else:
                checked += 1
                if audited[1] != digest:
                    problems.append(f"{entity} {entity_id}: differs from what its last audited change "
                                    f"(entry {audited[0]}) wrote (edited outside ScrapeGuard)")
        for (gone_entity, gone_id), (seq, audited_digest) in sorted(last_digest.items()):
            if gone_entity == entity and audited_digest is not None and gone_id not in current:
                problems.append(f"{entity} {gone_id}: deleted outside ScrapeGuard (last audited in "
                                f"entry {seq})")
        if len(problems) >= max_problems:
            del problems[max_problems:]
            break
    return checked, unbound


@requires("user.manage")
def bind_rows(session: Session, by: Actor) -> dict[str, int]:
    """`bind_unbound` on an admin's behalf (`scrapeguard audit bind`)."""
    return bind_unbound(session, by.name)


def bind_unbound(session: Session, actor: str) -> dict[str, int]:
    """Bind the rows last changed before row binding (schema 0004): one `audit.bind` entry each,
    with the digest of the row as it is now. Rows with no audit entry at all are left alone
    (verify reports them: they were written outside ScrapeGuard). Returns counts per entity."""
    audited: dict[tuple[str, str], bool] = {}
    for entity, entity_id, digest in session.execute(
            select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.row_digest)
            .where(AuditEntry.entity.in_(sorted(BINDINGS))).order_by(AuditEntry.seq)):
        audited[(entity, entity_id)] = audited.get((entity, entity_id), False) or digest is not None
    counts: dict[str, int] = {}
    for entity, binding in BINDINGS.items():
        for entity_id in sorted(_all_digests(session, binding)):
            if audited.get((entity, entity_id)) is False:
                record(session, actor, "audit.bind", entity, entity_id,
                       {"reason": "last changed before rows were bound into the chain"})
                counts[entity] = counts.get(entity, 0) + 1
    return counts


# -- checkpoints outside the database --------------------------------------------------------


def checkpoint(session: Session, now: datetime | None = None) -> Checkpoint:
    """A signed checkpoint of the chain's head now."""
    seq, head_hash = head(session)
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    unsigned = Checkpoint(seq, head_hash, at, "")
    signature = hmac.new(record_keys(session).checkpoint, unsigned.signed_content().encode("utf-8"),
                         hashlib.sha256).hexdigest()
    return Checkpoint(seq, head_hash, at, signature)


def append_checkpoint(path: Path, point: Checkpoint) -> None:
    """Append a checkpoint as a JSON line to a file readable by its owner only (0600)."""
    line = _canonical_text({"seq": point.seq, "hash": point.hash, "at": point.at,
                            "signature": point.signature}) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        path.chmod(0o600)
    except OSError as exc:
        raise RecordsError(f"cannot write the checkpoint file {path}: {exc.strerror}") from exc


def read_checkpoints(session: Session, path: Path) -> list[Checkpoint]:
    """The checkpoints of a file, each signature checked (`verify` reports the bad ones)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise RecordsError(f"cannot read the checkpoint file {path}: {exc.strerror}") from exc
    key = record_keys(session).checkpoint
    points = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            point = Checkpoint(int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["signature"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordsError(f"{path}, line {number}: not a checkpoint ({exc})") from exc
        expected = hmac.new(key, point.signed_content().encode("utf-8"), hashlib.sha256).hexdigest()
        points.append(Checkpoint(point.seq, point.hash, point.at, point.signature,
                                 hmac.compare_digest(expected, point.signature), number))
    return points


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the last entry: quoted in evidence manifests."""
    row = session.get(AuditHead, 1)
    return (row.seq, row.hash) if row is not None else (0, GENESIS)


def entries_for(session: Session, entity: str, entity_id: str | int) -> list[AuditEntry]:
    return list(session.execute(
        select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.seq)).scalars())
