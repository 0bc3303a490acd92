"""Migration 0003_letters: an existing database keeps its letters (as sent), cases and exposure."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from scrapeguard.records import cases
from scrapeguard.records.db import Database, _alembic_config, head_revision
from scrapeguard.records.models import ExposureRecord


def test_a_database_at_0001_upgrades_with_its_letters_sent_as_they_were(db_url: str) -> None:
    db = Database(db_url)
    with db.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO cases (id, respondent, actors, status, opened_by, opened_at) "
            "VALUES (1, 'Data Harvest Inc.', '[\"ip:p-aaaa\"]', 'letter_sent', 'leo', "
            "'2026-03-01 10:00:00')"))
        connection.execute(text(
            "INSERT INTO case_letters "
            "(id, case_id, kind, title, text, sha256, created_by, created_at, deadline) "
            "VALUES (1, 1, 'cease_and_desist', 't', 'the letter', 'abc', 'leo', '2026-03-02 09:00:00', "
            "'2026-03-16 09:00:00')"))
        connection.execute(text(
            "INSERT INTO exposure (actor, member, route, categories, first_at, last_at, count, source) "
            "VALUES ('ip:p-aaaa', 'id:1', '/u/{username}', '[\"user.name\"]', '2026-03-01 10:00:00', "
            "'2026-03-01 10:00:00', 1, 'live')"))
    assert db.upgrade()[1] == head_revision()
    with db.session() as s:
        (letter,) = cases.letters_of(s, 1)
        assert (letter.state, letter.sent_by, letter.channel, letter.final_text) == \
            ("sent", "leo", "not recorded", "the letter")
        assert letter.sent_at == letter.created_at
        assert cases.get(s, 1).clear_actors == {}
        (row,) = s.query(ExposureRecord).all()
        assert row.audiences == [] and row.categories == ["user.name"]
    db.dispose()
