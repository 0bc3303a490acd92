"""Migration 0002_workflow: a database made by 0001, with an incident and a sent notice, upgrades and
keeps what it holds; the new columns start empty and the new table is usable; it downgrades again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from scrapeguard.records import db as records_db
from scrapeguard.records.db import Database


def test_a_0001_database_with_records_upgrades(db_url: str) -> None:
    database = Database(db_url)
    with database.engine.connect() as connection, connection.begin():
        command.upgrade(records_db._alembic_config(connection), "0001")
    with database.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO incidents (id, title, group_key, state, opened_by, started_at, detected_at, "
            "data_was_public, aggregated) VALUES (1, 'old', 'manual:1', 'assessed', 'ann', "
            "'2026-11-01 10:00:00', '2026-11-01 11:00:00', :public, :aggregated)"),
            {"public": True, "aggregated": True})
        conn.execute(text(
            "INSERT INTO notices (id, incident_id, regime, audience, title, text, state, drafted_by, "
            "drafted_at, sent_by, sent_at) VALUES (1, 1, 'eu_gdpr', 'regulator', 't', 'DRAFT text', 'sent', "
            "'dora', '2026-11-02 10:00:00', 'dora', '2026-11-03 10:00:00')"))
    before, after = database.upgrade()
    assert before == "0001" and after == records_db.head_revision()
    with database.engine.begin() as conn:
        stated = conn.execute(text("SELECT public_stated FROM incidents WHERE id = 1")).scalar_one()
        assert bool(stated) is False  # the old silent default is not taken for an answer
        notice = conn.execute(text("SELECT channel, final_text, final_sha256 FROM notices")).one()
        assert tuple(notice) == (None, None, None)
        conn.execute(text("INSERT INTO incidents (id, title, group_key, state, opened_by, started_at, "
                          "detected_at, data_was_public, aggregated) VALUES (2, 'new', 'manual:2', "
                          "'detected', 'ann', '2026-11-01 10:00:00', '2026-11-01 11:00:00', :t, :t)"),
                     {"t": True})
        assert not conn.execute(text("SELECT public_stated FROM incidents WHERE id = 2")).scalar_one()
        conn.execute(text("INSERT INTO incident_obligations (incident_id, regime, audience, status, "
                          "reasoning, deadline, derived_at) VALUES (1, 'eu_gdpr', 'regulator', 'likely', "
                          "'r', 'd', '2026-11-04 10:00:00')"))
    with database.engine.connect() as connection, connection.begin():  # and back, records kept
        command.downgrade(records_db._alembic_config(connection), "0001")
    assert database.current_revision() == "0001"
    with database.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM notices")).scalar_one() == 1
    database.dispose()
