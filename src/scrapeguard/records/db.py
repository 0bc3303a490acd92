"""Opening the records database: URL or file path -> engine and sessions; schema migrations.

A plain path (or nothing: `scrapeguard.db` in the working directory) is a SQLite file;
`postgresql://...` uses psycopg 3. A new, empty database is created at the current schema only
where that is asked for (`db upgrade`, the first `users add`, the guard): a command that reads
refuses a database that is not there, so a mistyped --db is an error, not a new empty database.
An existing one at an older schema is upgraded only by `scrapeguard db upgrade`, and until
then every command says so instead of failing half-way.

Each database has its keys (`records.keys`): loaded on first need, checked against the
fingerprint the database keeps, and handed to the audit log through the sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from scrapeguard.records.errors import DatabaseUnavailable, NoDatabase, RecordsError, SchemaOutOfDate
from scrapeguard.records.keys import RecordKeys, default_key_file, open_keys

DEFAULT_DB = "scrapeguard.db"


def database_url(target: str | None) -> URL:
    """`None` -> ./scrapeguard.db; a path -> SQLite file; `postgres(ql)://` -> psycopg 3."""
    target = target or DEFAULT_DB
    if "://" not in target:
        return URL.create("sqlite", database=str(Path(target).expanduser().resolve()))
    try:
        url = make_url(target)
    except ArgumentError as exc:
        raise RecordsError(f"{target!r} is not a database URL (sqlite:///FILE or postgresql://...)") from exc
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise RecordsError(f"database {url.get_backend_name()!r} is not supported (SQLite or PostgreSQL)")
    return url


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("scrapeguard.records") / "migrations"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(resources.files("scrapeguard.records") / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


class Database:
    """An engine and a session factory for one records database."""

    def __init__(self, target: str | None = None, connect_timeout: float = 5.0,
                 key_source: str | None = None) -> None:
        self.url = database_url(target)
        #: The policy's `incidents.pseudonym_key` ("auto", "env:NAME", "file:PATH"); None: see open_keys.
        self.key_source = key_source
        self._keys: RecordKeys | None = None
        self._open_sessions = threading.local()
        connect_args: dict[str, Any] = {}
        if self.url.get_backend_name() == "sqlite":
            connect_args["timeout"] = 30
        else:
            # a schema other than public: postgresql://.../db?options=-csearch_path%3Dmyschema
            connect_args["connect_timeout"] = max(1, int(connect_timeout))
        self.engine: Engine = create_engine(self.url, connect_args=connect_args, pool_pre_ping=True)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def key_file_default(self) -> Path:
        """Where the "auto" pseudonym key file lives: outside the database's folder (records.keys)."""
        return default_key_file(self.url)

    def record_keys(self, session: Session | None = None) -> RecordKeys:
        """The pseudonym key and its derived secrets, checked against the database's fingerprint
        (recorded on first use, in `session`'s transaction when one is given)."""
        if self._keys is not None:
            return self._keys
        if session is None:
            session = getattr(self._open_sessions, "current", None)
        if session is None:  # (a second session inside an open one would wait for SQLite's write lock)
            with self.session() as own:
                return self.record_keys(own)
        keys, recorded_now = open_keys(session, self.url, self.key_source)
        if recorded_now:  # (kept only if the session commits: not cached)
            from scrapeguard.records.audit import seal_unkeyed_prefix

            seal_unkeyed_prefix(session, keys)
        else:
            self._keys = keys
        return keys

    def exists(self) -> bool:
        """Whether the database is there: a SQLite file that exists, or a server database with tables."""
        if self.is_sqlite:
            return self.url.database in (None, "", ":memory:") or Path(str(self.url.database)).exists()
        with self._connect() as connection:
            return bool(inspect(connection).get_table_names())

    # -- schema -----------------------------------------------------------------

    def current_revision(self) -> str | None:
        with self._connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the current version; returns (before, after) revisions."""
        with self._connect() as connection, connection.begin():
            before = MigrationContext.configure(connection).get_current_revision()
            command.upgrade(_alembic_config(connection), "head")
        return before, head_revision()

    def ensure_schema(self, create: bool = True) -> None:
        """Create the schema in an empty database (only if `create`: else a missing database is
        NoDatabase); refuse (clearly) to use an out-of-date one."""
        if not create and not self.exists():
            where = self.url.database if self.is_sqlite else self.display_url
            raise NoDatabase(f"no records database at {where}; create it with `scrapeguard db upgrade --db "
                             f"{where}` or `scrapeguard users add` (the first admin)")
        with self._connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            empty = not inspect(connection).get_table_names()
        if current is None and empty:
            self.upgrade()
            return
        if current != head_revision():
            raise SchemaOutOfDate(
                f"the records database {self.display_url} is at schema {current or 'unknown'}, this "
                f"version needs {head_revision()}: back it up, then run `scrapeguard db upgrade --db ...`")

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except OperationalError as exc:
            raise DatabaseUnavailable(f"cannot use the records database {self.display_url}: "
                                      f"{str(exc.orig).strip().splitlines()[0]}") from exc

    # -- sessions ---------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed at the end, rolled back on error."""
        session = self._sessions()
        session.info["database"] = self  # the audit log asks it for the keys
        outer = getattr(self._open_sessions, "current", None)
        self._open_sessions.current = session
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise DatabaseUnavailable(f"the records database {self.display_url} failed: "
                                      f"{str(exc.orig).strip().splitlines()[0]}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            self._open_sessions.current = outer
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_on_connect(dbapi_connection: Any, record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock at BEGIN: two writers wait for each other instead of one failing
    with "database is locked" after both have read (the audit chain reads its head, then writes)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


__all__ = ["DEFAULT_DB", "Database", "SQLAlchemyError", "database_url", "head_revision"]
