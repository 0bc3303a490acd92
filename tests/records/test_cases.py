from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, cases, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, NotFound, PermissionDenied, RecordsError
from scrapeguard.records.models import CaseDocument
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.users import ANALYST, LEGAL, PRIVACY_OFFICER, Actor

from .helpers import exposure, refusal, seed  # type: ignore[import-not-found]

OPTIONS = IncidentOptions(organisation="Example Social Ltd", contact="legal@example.org")
A = "ip:p-aaaa"
ANN, LEO, PIA = Actor("ann", ANALYST), Actor("leo", LEGAL), Actor("pia", PRIVACY_OFFICER)
#: Friday 6 March 2026, 10:00 UTC: when the letters of these tests are drafted (and approved).
SENT = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)


def test_a_case_from_letter_to_confirmed_deletion(db: Database, tmp_path: Path) -> None:
    seed(db, [*exposure(A, range(1, 8)), refusal(A, 1)])
    with db.session() as s:
        incident = incidents.open_incident(s, ANN, "scraper", {A}).id
        with pytest.raises(PermissionDenied):
            cases.open_case(s, ANN, "Data Harvest Inc.")
        case = cases.open_case(s, LEO, "Data Harvest Inc.", "1 Main St", incident_id=incident,
                               clear_actors={A: "ip:203.0.113.7"})
        number = case.id
        assert case.actors == [A]
    with db.session() as s:
        letter = cases.write_letter(s, LEO, number, "cease_and_desist", 14, OPTIONS, now=SENT)
        assert "Data Harvest Inc." in letter.text and "7 members" in letter.text
        assert "counsel" in letter.text.lower()
        assert letter.sha256 == hashlib.sha256(letter.text.encode()).hexdigest()
        other = cases.write_letter(s, LEO, number, "deletion_demand", 14, OPTIONS, now=SENT)
        for drafted in (letter, other):
            cases.approve_letter(s, PIA, drafted.id, now=SENT)
            cases.send_letter(s, LEO, drafted.id, "registered post", now=SENT)
        deadline = cases.get(s, number).deadline
        assert deadline == datetime(2026, 3, 20, 23, 59, tzinfo=UTC)  # 14 calendar days after 6 March
        assert cases.overdue(s, now=SENT) == []
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
        # two drafts (the case stays open), two letters sent, a reminder, the reply, deletion, closed
        assert statuses == ["open", "open", "open", "letter_sent", "letter_sent", "letter_sent", "replied",
                            "deletion_confirmed", "closed"]
        assert any("reminder" in x.note for x in cases.steps_of(s, number))
        assert audit.verify(s).ok


def test_a_drafted_letter_counts_only_once_approved_by_another_person_and_sent(db: Database) -> None:
    with db.session() as s:
        number = cases.open_case(s, LEO, "Data Harvest Inc.", actors={"account:42"}).id
        letter = cases.write_letter(s, LEO, number, "cease_and_desist", 14, OPTIONS, now=SENT).id
        assert cases.get(s, number).status == "open" and cases.get(s, number).deadline is None
        with pytest.raises(InvalidStep, match="only an approved letter"):
            cases.send_letter(s, LEO, letter, "email", now=SENT)
        with pytest.raises(PermissionDenied, match="four eyes"):
            cases.approve_letter(s, LEO, letter, now=SENT)
        with pytest.raises(PermissionDenied,
                           match=r"\(case\.manage\); roles that may: admin, privacy_officer, legal"):
            cases.approve_letter(s, ANN, letter, now=SENT)
        cases.approve_letter(s, PIA, letter, now=SENT)
        assert cases.get(s, number).status == "open"
        with pytest.raises(RecordsError, match="future"):
            cases.send_letter(s, LEO, letter, "email", at=SENT + timedelta(days=1),
                              now=SENT + timedelta(hours=1))
        with pytest.raises(RecordsError, match="before the approval"):
            cases.send_letter(s, LEO, letter, "email", at=SENT - timedelta(days=1), now=SENT)
        with pytest.raises(RecordsError, match="--channel"):
            cases.send_letter(s, LEO, letter, " ", now=SENT)
        # approved on Friday 6 March, really posted on Monday 9 March: the deadline runs from the 9th
        posted = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)
        sent = cases.send_letter(s, LEO, letter, "registered post", at=posted,
                                 now=posted + timedelta(hours=1))
        assert (sent.state, sent.sent_at, sent.channel, sent.sent_by) == ("sent", posted, "registered post",
                                                                          "leo")
        assert sent.final_text is not None
        assert "DRAFT" not in sent.final_text and "Not sent" not in sent.final_text
        assert "2026-03-09" in sent.final_text and "By 2026-03-23 23:59 UTC (14 days" in sent.final_text
        assert sent.final_sha256 == hashlib.sha256(sent.final_text.encode()).hexdigest()
        assert sent.text.startswith("DRAFT for counsel")  # the draft as approved is kept
        case = cases.get(s, number)
        assert case.status == "letter_sent" and case.deadline == datetime(2026, 3, 23, 23, 59, tzinfo=UTC)
        with pytest.raises(InvalidStep, match="only an approved letter"):
            cases.send_letter(s, LEO, letter, "email", now=posted + timedelta(hours=2))
        actions = [e.action for e in audit.entries_for(s, "case", number)]
        assert actions == ["case.open", "case.letter_draft", "case.letter_approve", "case.letter_sent"]


def test_letters_name_addresses_in_clear_and_data_in_words(db: Database,
                                                           pseudonymiser: Pseudonymiser) -> None:
    scraper, helper = pseudonymiser.actor("ip:203.0.113.7"), pseudonymiser.actor("ip:198.51.100.9")
    seed(db, [*exposure(scraper, range(1, 4)), *exposure(helper, range(4, 6))])
    with db.session() as s:
        incident = incidents.open_incident(s, ANN, "scraper", {scraper, helper}).id
        number = cases.open_case(s, LEO, "Data Harvest Inc.", incident_id=incident,
                                 clear_actors={scraper: "ip:203.0.113.7"}).id
        draft = cases.write_letter(s, LEO, number, "cease_and_desist", 14, OPTIONS, now=SENT)
        assert "ip 203.0.113.7" in draft.text
        assert scraper.split(":")[1] not in draft.text  # no pseudonym the recipient cannot recognise
        assert "email address" in draft.text and "user.contact.email" not in draft.text
        assert "employer" in draft.text and "user.professional_information" not in draft.text
        # the other address is not identified yet: the draft says so, and cannot be approved
        assert "not identified" in draft.text
        with pytest.raises(InvalidStep, match="not identified"):
            cases.approve_letter(s, PIA, draft.id, now=SENT)
        with pytest.raises(RecordsError, match="none of the actors"):
            cases.identify(s, LEO, number, ["ip:192.0.2.1"], pseudonymiser)
        with pytest.raises(RecordsError, match="pseudonym"):
            cases.identify(s, LEO, number, [helper], pseudonymiser)
        cases.identify(s, LEO, number, ["ip:198.51.100.9"], pseudonymiser)
        redrafted = cases.write_letter(s, LEO, number, "cease_and_desist", 14, OPTIONS, now=SENT)
        assert "ip 198.51.100.9" in redrafted.text and "not identified" not in redrafted.text
        cases.approve_letter(s, PIA, redrafted.id, now=SENT)
        assert audit.verify(s).ok


def test_closing_without_confirmation_needs_a_reason(db: Database) -> None:
    with db.session() as s:
        number = cases.open_case(s, LEO, "the unknown operator of ip:p-aaaa", actors={A}).id
        with pytest.raises(RecordsError, match="at least one day"):
            cases.write_letter(s, LEO, number, "cease_and_desist", 0, OPTIONS)
        with pytest.raises(RecordsError, match="say why"):
            cases.close_case(s, LEO, number)
        cases.close_case(s, LEO, number, note="operator could not be identified")
        with pytest.raises(InvalidStep, match="closed"):
            cases.write_letter(s, LEO, number, "cease_and_desist", 1, OPTIONS)


def test_documents_received_are_kept_with_their_sha256_and_checked_when_read(db: Database,
                                                                              tmp_path: Path) -> None:
    with db.session() as s:
        number = cases.open_case(s, LEO, "Data Harvest Inc.", actors={"account:42"}).id
        cases.record_reply(s, LEO, number, "See the attached letter.",
                           attachment=cases.Document("C:\\scans\\reply.txt", b"we will delete"))
        with pytest.raises(RecordsError, match="empty"):
            cases.confirm_deletion(s, LEO, number, cases.Document("empty.pdf", b""))
    confirmation = b"%PDF-1.4 deletion confirmed"
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            cases.confirm_deletion(s, ANN, number, cases.Document("deletion.pdf", confirmation))
        with pytest.raises(NotFound, match="no confirmation of deletion"):
            cases.document(s, ANN, number)
        cases.confirm_deletion(s, LEO, number, cases.Document("deletion.pdf", confirmation), note="signed")
    with db.session() as s:
        kept = cases.document(s, ANN, f"CASE-{number}")  # reading needs only "read"
        assert (kept.name, kept.data, kept.kind) == ("deletion.pdf", confirmation, "deletion_confirmation")
        assert kept.sha256 == cases.get(s, number).deletion_sha256 == hashlib.sha256(confirmation).hexdigest()
        reply = next(d for d in cases.documents_of(s, number) if d.kind == "reply")
        assert reply.name == "reply.txt"
        assert cases.document(s, ANN, number, reply.id).data == b"we will delete"
        entry = [e for e in audit.entries_for(s, "case", number) if e.action == "case.replied"][-1]
        assert hashlib.sha256(b"we will delete").hexdigest() in entry.details
        with pytest.raises(NotFound):
            cases.document(s, ANN, number, reply.id + 100)
        assert audit.verify(s).ok
    with db.session() as s:  # the bytes altered in the database: refused, not served
        s.get(CaseDocument, kept.id).data = b"%PDF-1.4 something else"  # type: ignore[union-attr]
    with db.session() as s, pytest.raises(RecordsError, match="altered"):
        cases.document(s, ANN, number)
    # the CLI's path still works (read into a document and kept)
    path = tmp_path / "second.pdf"
    path.write_bytes(b"second")
    with db.session() as s:
        other = cases.open_case(s, LEO, "Other Ltd", actors={"account:7"}).id
        cases.confirm_deletion(s, LEO, other, path)
        assert cases.document(s, ANN, other).data == b"second"
