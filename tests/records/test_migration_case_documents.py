"""Migration 0007_case_documents: a database with audited cases upgrades and its audit chain still
verifies (the documents are a table of their own, not a column of the bound case rows, so no
case's digest changes); a deletion confirmed before it has no stored document, and says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command

from scrapeguard.records import audit, cases
from scrapeguard.records.db import Database, _alembic_config, head_revision
from scrapeguard.records.errors import NotFound
from scrapeguard.records.models import CaseRecord
from scrapeguard.records.users import LEGAL, Actor

LEO = Actor("leo", LEGAL)


def test_cases_audited_before_0007_still_verify_after_it(db_url: str) -> None:
    db = Database(db_url)
    with db.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0005_drill")
    with db.session() as s:  # written as the code before 0007 did: the case row and its audit entry
        now = datetime.now(UTC)
        case = CaseRecord(respondent="Data Harvest Inc.", respondent_address=None, incident_id=None,
                                actors=["account:42"], status=cases.OPEN, opened_by="leo",
                                opened_at=now, deadline=None, reply=None,
                                replied_at=None, deletion_confirmed_at=now,
                                deletion_document="confirmation.pdf", deletion_sha256="ab" * 32,
                                clear_actors={})
        s.add(case)
        s.flush()
        audit.record(s, "leo", "case.deletion_confirmed", "case", case.id, {"sha256": "ab" * 32})
        number = case.id
    assert db.upgrade() == ("0005_drill", head_revision())
    with db.session() as s:
        result = audit.verify(s)
        assert result.ok, result.problems
        assert result.rows_checked == 1
        with pytest.raises(NotFound, match="recorded before documents were kept"):
            cases.document(s, LEO, number)
    db.dispose()
