from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text

from scrapeguard.records.db import Database, database_url, head_revision
from scrapeguard.records.errors import DatabaseUnavailable, RecordsError, SchemaOutOfDate


def test_a_path_is_a_sqlite_file_and_postgres_urls_use_psycopg(tmp_path: Path) -> None:
    assert database_url(str(tmp_path / "r.db")).render_as_string() == f"sqlite:///{tmp_path / 'r.db'}"
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(RecordsError, match="not supported"):
        database_url("mysql://u@h/db")


def test_an_empty_database_gets_the_current_schema(db_url: str) -> None:
    db = Database(db_url)
    db.ensure_schema()
    assert db.current_revision() == head_revision()
    db.ensure_schema()  # twice is fine
    before, after = db.upgrade()
    assert before == after == head_revision()
    db.dispose()


def test_an_out_of_date_schema_is_refused_with_the_command_to_run(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaOutOfDate, match="scrapeguard db upgrade"):
        db.ensure_schema()


def test_an_unreachable_database_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    db = Database(f"postgresql://postgres@127.0.0.1:{port}/test", connect_timeout=1)
    with pytest.raises(DatabaseUnavailable, match="cannot use the records database"):
        db.ensure_schema()
