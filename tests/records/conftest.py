"""Records tests run on SQLite and on PostgreSQL (127.0.0.1:5432, db `test`, user postgres):
every test that takes `db_url` or `db` runs once per database, PostgreSQL in a schema of its
own that is dropped afterwards. Without PostgreSQL the PostgreSQL runs skip, or fail in CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapeguard.records.db import Database
from scrapeguard.records.privacy import Pseudonymiser

PG_URL = os.environ.get("SCRAPEGUARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        message = (f"PostgreSQL at {PG_URL} is not reachable ({exc}); "
                   "set SCRAPEGUARD_TEST_POSTGRES or start one")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty records database, once per database kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.db'}"
        return
    import psycopg

    _postgres_or_skip()
    schema = f"sgtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """An open records database at the current schema."""
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(b"test-key-0123456789abcdef")

