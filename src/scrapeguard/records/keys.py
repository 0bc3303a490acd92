"""The records' secret: where the pseudonym key lives, how it is checked, what is derived from it.

One key (the pseudonym key of `[incidents] pseudonym_key`) protects the records at rest:
addresses are pseudonymised with it, and the audit chain and its checkpoints are keyed with
secrets derived from it under distinct labels (so none of them is the key itself). The
database keeps only a fingerprint of the key, so that a command that found another key (run
from another folder, another machine, a mistyped variable) is refused instead of splitting one
actor into two pseudonyms or writing audit entries no one can verify.

"auto" (the default) takes SCRAPEGUARD_PSEUDONYM_KEY when set, else a key file outside the
database's folder: `$XDG_CONFIG_HOME/scrapeguard/keys/<name>-<id>.key` (~/.config when
XDG_CONFIG_HOME is unset), where `<id>` is a hash of the database's identity (its file, or its
server, database and search path). The folder is made 0700 and the file 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from scrapeguard.records.errors import RecordsError
from scrapeguard.records.models import AuditEntry, SettingRecord

ENV_KEY = "SCRAPEGUARD_PSEUDONYM_KEY"
AUTO = "auto"
FINGERPRINT_SETTING = "pseudonym_key.fingerprint"
SOURCE_SETTING = "pseudonym_key.source"
_AUDIT_LABEL = b"scrapeguard audit chain v1"
_CHECKPOINT_LABEL = b"scrapeguard audit checkpoint v1"
_FINGERPRINT_LABEL = b"scrapeguard key fingerprint v1"


class KeyMismatch(RecordsError):
    """The key found is not the one this database was set up with."""


@dataclass(frozen=True, slots=True)
class RecordKeys:
    """The pseudonym key and the secrets derived from it."""

    pseudonym: bytes
    source: str

    def _derive(self, label: bytes) -> bytes:
        return hmac.new(self.pseudonym, label, hashlib.sha256).digest()

    @property
    def audit(self) -> bytes:
        """Keys the audit chain's hashes (HMAC-SHA256)."""
        return self._derive(_AUDIT_LABEL)

    @property
    def checkpoint(self) -> bytes:
        """Signs the audit checkpoints written outside the database."""
        return self._derive(_CHECKPOINT_LABEL)

    @property
    def fingerprint(self) -> str:
        """What the database keeps to recognise the key (reveals nothing about it)."""
        return self._derive(_FINGERPRINT_LABEL).hex()[:32]


def database_identity(url: URL) -> str:
    """What names one database: its SQLite file, or its server, database and search path."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite:{url.database or ':memory:'}"
    options = url.query.get("options", "")
    return f"postgresql:{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}?{options}"


def keys_folder() -> Path:
    """$XDG_CONFIG_HOME/scrapeguard/keys, or ~/.config/scrapeguard/keys."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "scrapeguard" / "keys"


def default_key_file(url: URL) -> Path:
    """The "auto" key file of one database, outside the database's folder."""
    identity = database_identity(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        name = Path(url.database).name
    else:
        name = url.database or "records"
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "records"
    return keys_folder() / f"{readable}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}.key"


def legacy_key_file(url: URL) -> Path:
    """Where "auto" kept the key before: beside a SQLite file, else in the working directory."""
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".key")
    return Path("scrapeguard-pseudonym.key").resolve()


def load_key(source: str, default_file: Path, create: bool = True) -> bytes:
    """The pseudonym key from "auto", "env:NAME" or "file:PATH" (see [incidents] in the policy).
    "auto" makes a new key file only when `create` (a database that has no key yet)."""
    if source == AUTO:
        value = os.environ.get(ENV_KEY)
        if value:
            return value.encode()
        return _key_file(default_file, create=create)
    kind, _, where = source.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if not value:
            raise RecordsError(f"the pseudonym key variable {where} is not set (incidents.pseudonym_key)")
        return value.encode()
    if kind == "file":
        return _key_file(Path(where).expanduser(), create=False)
    raise RecordsError(f"{source!r} is not a key source (auto, env:NAME, file:PATH)")


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)


def _key_file(path: Path, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise RecordsError(f"the pseudonym key file {path} does not exist")
        _private_folder(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    try:
        key = path.read_text("utf-8").strip()
    except OSError as exc:
        raise RecordsError(f"cannot read the pseudonym key file {path}: {exc.strerror}") from exc
    if len(key) < 16:
        raise RecordsError(f"the pseudonym key in {path} is too short (at least 16 characters)")
    return key.encode()


def _adopt_legacy(url: URL, default_file: Path) -> None:
    """A database set up before keys moved out of its folder: bring its old "auto" key along
    (moved from beside a SQLite file; copied from the working directory, which others may share)."""
    legacy = legacy_key_file(url)
    if default_file.exists() or not legacy.exists():
        return
    _private_folder(default_file.parent)
    shutil.copyfile(legacy, default_file)
    default_file.chmod(0o600)
    if url.get_backend_name() == "sqlite":
        legacy.unlink()


def _has_records(session: Session) -> bool:
    """Whether the database has been in use: every use leaves an audit entry (the guard records
    its policy on start, a team starts with `users add`)."""
    return session.execute(select(AuditEntry.seq).limit(1)).first() is not None


def _setting(session: Session, name: str) -> str | None:
    return session.execute(select(SettingRecord.value).where(SettingRecord.name == name)).scalar_one_or_none()


def _set(session: Session, name: str, value: str) -> None:
    row = session.get(SettingRecord, name)
    if row is None:
        session.add(SettingRecord(name=name, value=value))
    else:
        row.value = value
    session.flush()


def open_keys(session: Session, url: URL, source: str | None) -> tuple[RecordKeys, bool]:
    """The database's keys, checked against its fingerprint (recorded on first use).

    `source` is the policy's `incidents.pseudonym_key`; None or "auto" takes the source that last
    matched this database (when one was named), else "auto". Returns the keys and whether their
    fingerprint was recorded just now (it commits with the session)."""
    recorded = _setting(session, FINGERPRINT_SETTING)
    # "auto" (also what a command without --policy gets) is no preference: the source that
    # matched before wins, so `file:PATH` named once keeps working for every command
    chosen = source if source and source != AUTO else (_setting(session, SOURCE_SETTING) or AUTO)
    default_file = default_key_file(url)
    if recorded is None and chosen == AUTO and not os.environ.get(ENV_KEY):
        _adopt_legacy(url, default_file)
    # a new key only for a new database: one with records but no fingerprint (set up before
    # fingerprints) must be given the key its pseudonyms were made with
    create = recorded is None and not _has_records(session)
    try:
        keys = RecordKeys(load_key(chosen, default_file, create=create), chosen)
    except RecordsError as exc:
        if recorded is None and create:
            raise
        if recorded is None:
            raise KeyMismatch(f"{exc}; this records database has records made with a pseudonym key but "
                              f"no fingerprint of it yet (it was set up before key fingerprints). "
                              f"{_how_to_point(default_file)}") from exc
        raise KeyMismatch(f"{exc}; the records database was set up with the pseudonym key of fingerprint "
                          f"{recorded}. {_how_to_point(default_file)}") from exc
    if recorded is None:
        _set(session, FINGERPRINT_SETTING, keys.fingerprint)
    elif keys.fingerprint != recorded:
        found = ENV_KEY if chosen == AUTO and os.environ.get(ENV_KEY) else (
            str(default_file) if chosen == AUTO else chosen)
        raise KeyMismatch(f"the pseudonym key from {found} (fingerprint {keys.fingerprint}) is not the one "
                          f"this records database was set up with (fingerprint {recorded}): using it "
                          f"would split actors and break the audit chain. {_how_to_point(default_file)}")
    if _setting(session, SOURCE_SETTING) != chosen and chosen != AUTO:
        _set(session, SOURCE_SETTING, chosen)
    return keys, recorded is None


def _how_to_point(default_file: Path) -> str:
    return (f"Point at the right key: put it in {default_file} (mode 0600), or set {ENV_KEY}, or name it "
            f"in the policy (incidents.pseudonym_key = \"file:PATH\" or \"env:NAME\") and pass --policy.")
