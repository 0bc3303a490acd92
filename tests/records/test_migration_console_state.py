"""Migration 0009_console_state: a database at 0008 gains the console's sessions and alert claims
(one claim per alert and channel), and downgrades again without them."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from scrapeguard.records.db import Database, _alembic_config, head_revision

CLAIM = ("INSERT INTO alert_claims (alert_key, channel, claimed_at, claimed_by) "
         "VALUES ('incident.opened:INC-1', :channel, '2026-11-30 10:00:00', 'host-a:1')")


def test_a_0008_database_gains_the_console_tables_and_loses_them_again(db_url: str) -> None:
    db = Database(db_url)
    with db.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0008_traffic")
    assert db.upgrade() == ("0008_traffic", head_revision())
    with db.engine.begin() as conn:
        assert {"console_sessions", "alert_claims"} <= set(inspect(conn).get_table_names())
        assert [ix["column_names"] for ix in inspect(conn).get_indexes("console_sessions")] == [["user_name"]]
        conn.execute(text(CLAIM), {"channel": "webhook"})
        conn.execute(text(CLAIM), {"channel": "email"})  # the same alert on another channel
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text(CLAIM), {"channel": "webhook"})  # a second claim of the same: refused
    with db.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0008_traffic")
    assert db.current_revision() == "0008_traffic"
    with db.engine.connect() as conn:
        assert not {"console_sessions", "alert_claims"} & set(inspect(conn).get_table_names())
    db.dispose()
