from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scrapeguard.records import audit, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.models import DecisionRecord, ExposureRecord
from scrapeguard.records.privacy import ENV_KEY, Pseudonymiser, load_key, purge

from .helpers import ROOT, exposure, refusal, seed  # type: ignore[import-not-found]


def test_pseudonyms_are_stable_keyed_and_leave_accounts_alone() -> None:
    one, other = Pseudonymiser(b"k" * 32), Pseudonymiser(b"j" * 32)
    assert one.key("ip", "203.0.113.7") == one.key("ip", "203.0.113.7")
    assert one.key("ip", "203.0.113.7") != other.key("ip", "203.0.113.7")
    assert one.key("ip", "203.0.113.7") != one.key("ip", "203.0.113.8")
    assert one.key("ip", "203.0.113.7").startswith("ip:p-") and "203" not in one.key("ip", "203.0.113.7")
    assert one.key("account", "42") == "account:42"
    assert one.actor(one.key("net", "203.0.113.0/24")) == one.key("net", "203.0.113.0/24")  # not twice


def test_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    auto = tmp_path / "records.db.key"
    key = load_key("auto", auto)
    assert load_key("auto", auto) == key and len(key) == 64
    assert stat.S_IMODE(os.stat(auto).st_mode) == 0o600
    monkeypatch.setenv(ENV_KEY, "from-the-environment-0123")
    assert load_key("auto", auto) == b"from-the-environment-0123"
    monkeypatch.setenv("MY_KEY", "another-key-0123456789")
    assert load_key("env:MY_KEY", auto) == b"another-key-0123456789"
    assert load_key(f"file:{auto}", tmp_path / "unused") == key
    with pytest.raises(RecordsError, match="not set"):
        load_key("env:NOT_SET_ANYWHERE", auto)
    with pytest.raises(RecordsError, match="does not exist"):
        load_key(f"file:{tmp_path / 'missing'}", auto)


def test_purge_deletes_old_records_but_keeps_an_open_incidents_evidence(db: Database) -> None:
    kept, gone = "ip:p-kept", "ip:p-gone"
    seed(db, [*exposure(kept, range(3)), *exposure(gone, range(3)), refusal(kept, 1), refusal(gone, 2)])
    with db.session() as s:
        incidents.open_incident(s, ROOT, "still open", {kept})
    later = datetime.now(UTC) + timedelta(days=4000)
    with db.session() as s:
        counts = purge(s, 180, 365, "root", now=later)
    assert counts == {"decisions": 1, "exposure": 3, "traffic_minutes": 0}
    with db.session() as s:
        assert set(s.scalars(select(ExposureRecord.actor))) == {kept}
        assert s.scalar(select(func.count()).select_from(DecisionRecord)) == 1
        assert audit.entries_for(s, "records", "retention")[0].action == "records.purge"
        assert audit.verify(s).ok
