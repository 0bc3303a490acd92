from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text

from scrapeguard.records.db import Database, database_url, head_revision
from scrapeguard.records.errors import DatabaseUnavailable, NoDatabase, RecordsError, SchemaOutOfDate


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


def test_a_missing_database_is_not_created_unless_asked(tmp_path: Path,
                                                        pg_schema_url: tuple[str, str]) -> None:
    typo = tmp_path / "recrods.db"
    for target in (str(typo), pg_schema_url[0]):  # a SQLite file, an empty PostgreSQL schema
        db = Database(target)
        with pytest.raises(NoDatabase, match=r"no records database at .*scrapeguard db upgrade"):
            db.ensure_schema(create=False)
        assert not db.exists()
        db.ensure_schema(create=True)
        assert db.exists() and db.current_revision() == head_revision()
        db.ensure_schema(create=False)
        db.dispose()


def test_the_upgrade_keeps_one_row_per_decision(db_url: str) -> None:
    """Decisions imported twice before 0004 (the same id and time, twice): one of each is kept,
    with its actor links, and the database then refuses a second copy."""
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    from scrapeguard.records.db import _alembic_config

    db = Database(db_url)
    with db.engine.connect() as conn, conn.begin():
        command.upgrade(_alembic_config(conn), "0001")
        for pk, decision_id, second in [(1, "sg-a", 0), (2, "sg-b", 0), (3, "sg-a", 0), (4, "sg-a", 5)]:
            conn.execute(text("INSERT INTO decisions (id, decision_id, at, action, enforced, route, path, "
                              "actors, keys, reasons, source) VALUES (:id, :did, :at, 'block', true, "
                              "'profile', '/', '[]', '{}', '[]', 'replay')"),
                         {"id": pk, "did": decision_id, "at": f"2026-11-01 10:00:0{second}"})
            conn.execute(text("INSERT INTO decision_actors (decision_pk, actor) VALUES (:id, 'ip:p-a')"),
                         {"id": pk})
    db.upgrade()
    with db.engine.connect() as conn:
        kept = conn.execute(text("SELECT id, decision_id FROM decisions ORDER BY id")).all()
        links = conn.execute(text("SELECT decision_pk FROM decision_actors ORDER BY decision_pk")) \
            .scalars().all()
    assert [tuple(r) for r in kept] == [(1, "sg-a"), (2, "sg-b"), (4, "sg-a")]
    assert links == [1, 2, 4]
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text("INSERT INTO decisions (decision_id, at, action, enforced, route, path, actors, "
                          "keys, reasons, source) VALUES ('sg-b', '2026-11-01 10:00:00', 'block', true, "
                          "'profile', '/', '[]', '{}', '[]', 'replay')"))
    db.dispose()


def test_the_migrations_make_the_schema_of_the_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from scrapeguard.records.models import Base

    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
