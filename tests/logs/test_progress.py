"""The progress bar: on a terminal it shows bytes read; otherwise (or with --quiet) nothing at all."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from scrapeguard.logs.progress import BytesProgress


def test_counts_bytes_of_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"x" * 100)
    b.write_bytes(b"y" * 50)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with BytesProgress((str(a), str(b)), enabled=True) as progress:
        assert progress.total == 150
        progress.advance(120)
        progress.phase("aggregating")
        task = progress._bar.tasks[0]
        assert (task.completed, task.description) == (120, "aggregating")


def test_disabled_it_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "a.log"
    log.write_text("x")
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with BytesProgress((str(log),), enabled=False) as progress:
        progress.advance(1)
        progress.phase("x")
    assert err.getvalue() == ""


def test_stdin_has_no_total() -> None:
    assert BytesProgress(("-",), enabled=False).total is None
