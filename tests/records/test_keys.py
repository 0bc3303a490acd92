"""The pseudonym key: found the same way from any folder, outside the database's folder,
private, and checked against the fingerprint the database keeps (issue 14, item 12)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scrapeguard.records.db import Database
from scrapeguard.records.keys import KeyMismatch
from scrapeguard.records.privacy import Pseudonymiser


@pytest.fixture(autouse=True)
def _own_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("SCRAPEGUARD_PSEUDONYM_KEY", raising=False)
    return home


def _pseudonym(target: str, source: str | None = None) -> str:
    db = Database(target, key_source=source)
    db.ensure_schema()
    try:
        return Pseudonymiser(db.record_keys().pseudonym).actor("ip:203.0.113.7")
    finally:
        db.dispose()


def test_a_command_run_from_another_folder_finds_the_same_key(db_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    first = _pseudonym(db_url)
    monkeypatch.chdir(tmp_path / "two")
    assert _pseudonym(db_url) == first
    assert not list((tmp_path / "one").iterdir()) and not list((tmp_path / "two").iterdir())


def test_the_auto_key_lives_outside_the_database_folder_and_is_private(tmp_path: Path,
                                                                       _own_config_home: Path) -> None:
    target = tmp_path / "data" / "records.db"
    target.parent.mkdir()
    _pseudonym(str(target))
    assert sorted(p.name for p in target.parent.iterdir() if p.suffix == ".key") == []
    [key_file] = (_own_config_home / "scrapeguard" / "keys").iterdir()
    assert key_file == Database(str(target)).key_file_default()
    assert key_file.name.startswith("records.db-") and key_file.suffix == ".key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700


def test_another_key_is_refused_with_how_to_point_at_the_right_one(db_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _pseudonym(db_url)
    monkeypatch.setenv("SCRAPEGUARD_PSEUDONYM_KEY", "some-other-key-0123456789")
    with pytest.raises(KeyMismatch) as refused:
        _pseudonym(db_url)
    message = str(refused.value)
    assert "not the one this records database was set up with" in message
    assert "SCRAPEGUARD_PSEUDONYM_KEY" in message and "file:PATH" in message


def test_env_and_file_sources_are_honoured_and_remembered(db_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "site.key"
    key_file.write_text("a-key-kept-in-a-file-0123456789\n")
    named = _pseudonym(db_url, f"file:{key_file}")
    # a command without --policy (no source) finds the file the database was last opened with
    assert _pseudonym(db_url) == named
    monkeypatch.setenv("SITE_KEY", "a-key-kept-in-a-file-0123456789")
    assert _pseudonym(db_url, "env:SITE_KEY") == named
    with pytest.raises(KeyMismatch):
        _pseudonym(db_url, "env:NOT_SET_ANYWHERE")


def test_an_old_auto_key_beside_a_sqlite_file_is_moved_out(tmp_path: Path) -> None:
    target = tmp_path / "records.db"
    old = tmp_path / "records.db.key"
    old.write_text("the-key-from-before-0123456789\n")
    expected = Pseudonymiser(b"the-key-from-before-0123456789").actor("ip:203.0.113.7")
    assert _pseudonym(str(target)) == expected
    assert not old.exists()
    assert Database(str(target)).key_file_default().read_text().strip() == "the-key-from-before-0123456789"


def test_a_database_with_records_but_no_fingerprint_gets_no_new_key(db: Database) -> None:
    """Set up before fingerprints, its key not found: refused, instead of a new key that splits
    each actor into two pseudonyms."""
    with db.engine.begin() as conn:  # an audit entry from before fingerprints
        conn.exec_driver_sql("INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, details, "
                             "prev_hash, hash) VALUES (1, '2026-01-01 00:00:00', 'root', 'user.add', 'user', "
                             "'root', '{}', 'x', 'y')")
    fresh = Database(db.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(KeyMismatch, match="no fingerprint of it yet"):
            fresh.record_keys()
    finally:
        fresh.dispose()
