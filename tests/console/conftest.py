"""Console fixtures: a seeded records database (SQLite; the records layer's own tests cover
PostgreSQL), a console on it with a settable clock, and a live console on a loopback port for the
browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapeguard.drill.harness import LoopThread
from scrapeguard.records.db import Database
from scrapeguard.serving import start_console

from .helpers import ConsoleHarness, make_harness, seed_team  # type: ignore[import-not-found]


@pytest.fixture
def team_db(tmp_path: Path) -> Iterator[Database]:
    """A records database with the team of helpers.TEAM (password helpers.PASSWORD)."""
    db = Database(f"sqlite:///{tmp_path / 'console.db'}")
    db.ensure_schema()
    seed_team(db)
    yield db
    db.dispose()


@pytest.fixture
def harness(team_db: Database) -> ConsoleHarness:
    return make_harness(team_db)


class LiveConsole:
    """A console served on a loopback port (uvicorn on a background loop)."""

    def __init__(self, harness: ConsoleHarness) -> None:
        self.harness = harness
        self.loop = LoopThread()
        self.server = self.loop.run(start_console(harness.app, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.loop.run(self.server.stop())
        self.loop.close()


@pytest.fixture
def live_console(harness: ConsoleHarness) -> Iterator[LiveConsole]:
    live = LiveConsole(harness)
    yield live
    live.close()


