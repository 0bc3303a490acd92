from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, cases, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, PermissionDenied, RecordsError
from scrapeguard.records.users import ANALYST, LEGAL, Actor

from .helpers import exposure, refusal, seed  # type: ignore[import-not-found]

OPTIONS = IncidentOptions(organisation="Example Social Ltd", contact="legal@example.org")
A = "ip:p-aaaa"
ANN, LEO = Actor("ann", ANALYST), Actor("leo", LEGAL)


def test_a_case_from_letter_to_confirmed_deletion(db: Database, tmp_path: Path) -> None:
    seed(db, [*exposure(A, range(1, 8)), refusal(A, 1)])
    with db.session() as s:
        incident = incidents.open_incident(s, ANN, "scraper", {A}).id
        with pytest.raises(PermissionDenied):
            cases.open_case(s, ANN, "Data Harvest Inc.")
        case = cases.open_case(s, LEO, "Data Harvest Inc.", "1 Main St", incident_id=incident)
        number = case.id
        assert case.actors == [A]
    deadline = datetime.now(UTC) + timedelta(days=14)
    with db.session() as s:
        letter = cases.write_letter(s, LEO, number, "cease_and_desist", deadline, OPTIONS)
        assert "Data Harvest Inc." in letter.text and "7 members" in letter.text
        assert "counsel" in letter.text.lower()
        assert letter.sha256 == hashlib.sha256(letter.text.encode()).hexdigest()
        cases.write_letter(s, LEO, number, "deletion_demand", deadline, OPTIONS)
        assert cases.overdue(s) == []
        later = deadline + timedelta(days=2)
        assert [c.id for c in cases.remind(s, LEO, now=later)] == [number]
        cases.record_reply(s, LEO, number, "We will delete the data.")
    confirmation = tmp_path / "deletion.pdf"
    confirmation.write_bytes(b"%PDF-1.4 signed confirmation")
    with db.session() as s:
        with pytest.raises(RecordsError, match="cannot read"):
            cases.confirm_deletion(s, LEO, number, tmp_path / "missing.pdf")
        cases.confirm_deletion(s, LEO, number, confirmation)
        assert cases.overdue(s, now=deadline + timedelta(days=30)) == []
        cases.close_case(s, LEO, number)
        with pytest.raises(InvalidStep):
            cases.record_reply(s, LEO, number, "again")
    with db.session() as s:
        case = cases.get(s, f"CASE-{number}")
        assert case.deletion_sha256 == hashlib.sha256(confirmation.read_bytes()).hexdigest()
        statuses = [x.status for x in cases.steps_of(s, number)]
        assert statuses == ["open", "letter_sent", "letter_sent", "letter_sent", "replied",
                            "deletion_confirmed", "closed"]  # the third letter_sent is the reminder
        assert any("reminder" in x.note for x in cases.steps_of(s, number))
        assert audit.verify(s).ok


def test_closing_without_confirmation_needs_a_reason(db: Database) -> None:
    with db.session() as s:
        number = cases.open_case(s, LEO, "the unknown operator of ip:p-aaaa", actors={A}).id
        with pytest.raises(RecordsError, match="future"):
            cases.write_letter(s, LEO, number, "cease_and_desist", datetime.now(UTC), OPTIONS)
        with pytest.raises(RecordsError, match="say why"):
            cases.close_case(s, LEO, number)
        cases.close_case(s, LEO, number, note="operator could not be identified")
        with pytest.raises(InvalidStep, match="closed"):
            cases.write_letter(s, LEO, number, "cease_and_desist", datetime.now(UTC) + timedelta(days=1),
                               OPTIONS)
