"""The proxy takes a changed policy file without a restart (serving.PolicyReloader): checked by
calling the check directly (no waiting on the 2-second timer) and by SIGHUP."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from scrapeguard.policy import load_policy
from scrapeguard.records.db import Database
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.policy_changes import write_atomically
from scrapeguard.serving import PolicyReloader, build_proxy

OBSERVE = 'mode = "observe"\n'
ENFORCE = 'mode = "enforce"\n[allowlist]\ncidrs = ["192.0.2.0/24"]\naccounts = ["partner"]\n'


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(OBSERVE, "utf-8")
    return path


def test_a_changed_file_is_put_in_force_on_the_same_store(policy_file: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    guard = build_proxy(load_policy(policy_file), "http://127.0.0.1:9")
    store, counts, keys = guard.engine.store, guard.engine.counts, guard.guard.sessions._stamp_keys
    counts["decisions"] += 5
    reloader = PolicyReloader(guard, policy_file)
    assert reloader.check() is False and reloader.check(force=True) is False  # nothing changed
    write_atomically(policy_file, ENFORCE)
    with caplog.at_level(logging.WARNING, "scrapeguard.serving"):
        assert reloader.check() is True
    assert "policy reloaded from" in caplog.text and "mode enforce" in caplog.text
    assert guard.policy.mode == "enforce" and guard.engine.enforcing and guard.guard.engine is guard.engine
    assert guard.engine.store is store and guard.engine.counts is counts and counts["decisions"] == 5
    assert guard.guard.sessions._stamp_keys == keys  # clearances and stamps given stay valid
    assert guard.policy.allowlist.accounts == {"partner"}
    assert guard.engine._in_allowlist("192.0.2.99")
    assert reloader.check() is False  # the same file again: nothing to do


def test_a_file_that_does_not_load_is_logged_and_the_policy_in_force_kept(
        policy_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    guard = build_proxy(load_policy(policy_file), "http://127.0.0.1:9")
    engine = guard.engine
    reloader = PolicyReloader(guard, policy_file)
    policy_file.write_text('mode = "panic"\n', "utf-8")
    with caplog.at_level(logging.ERROR, "scrapeguard.serving"):
        assert reloader.check() is False
    assert "not loaded, the policy in force stays" in caplog.text and "mode" in caplog.text
    assert guard.engine is engine and guard.policy.mode == "observe"
    caplog.clear()
    assert reloader.check(force=True) is False and caplog.text == ""  # reported once
    policy_file.unlink()
    assert reloader.check() is False and guard.engine is engine
    write_atomically(policy_file, ENFORCE)
    assert reloader.check() is True and guard.policy.mode == "enforce"


def test_sighup_reloads_at_once(policy_file: Path) -> None:
    guard = build_proxy(load_policy(policy_file), "http://127.0.0.1:9")
    reloader = PolicyReloader(guard, policy_file, interval=3600)  # only the signal can do it

    async def main() -> None:
        reloader.start()
        try:
            write_atomically(policy_file, ENFORCE)
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(500):  # the handler runs on the loop's next turns
                if guard.policy.mode == "enforce":
                    break
                await asyncio.sleep(0.01)
        finally:
            await reloader.stop()

    asyncio.run(main())
    assert guard.policy.mode == "enforce"


@pytest.fixture
def records_guard(policy_file: Path, tmp_path: Path) -> Iterator[tuple[object, Database]]:
    db_path = tmp_path / "records.db"
    guard = build_proxy(load_policy(policy_file), "http://127.0.0.1:9", db=str(db_path))
    yield guard, Database(f"sqlite:///{db_path}")
    guard.guard.close()


def test_with_records_each_policy_put_in_force_is_audited(policy_file: Path,
                                                          records_guard: tuple[object, Database]) -> None:
    guard, db = records_guard
    reloader = PolicyReloader(guard, policy_file)  # type: ignore[arg-type]
    write_atomically(policy_file, ENFORCE)
    assert reloader.check() is True  # (no running loop here: audited before it returns)
    with db.session() as s:
        entries = [json.loads(e.details) for e in s.execute(
            select(AuditEntry).where(AuditEntry.action == "policy.in_force")
            .order_by(AuditEntry.seq)).scalars()]
    assert [e["mode"] for e in entries] == ["observe", "enforce"]
    assert entries[-1]["allowlist"] == {"cidrs": ["192.0.2.0/24"], "accounts": ["partner"]}
    db.dispose()
