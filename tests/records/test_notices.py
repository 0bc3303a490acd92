from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, cases, incidents, notices, obligations
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, NotFound, PermissionDenied, RecordsError
from scrapeguard.records.users import ANALYST, LEGAL, PRIVACY_OFFICER, Actor

from .helpers import directory, exposure, seed  # type: ignore[import-not-found]

OPTIONS = IncidentOptions(organisation="Example Social Ltd", contact="dpo@example.org")
A = "ip:p-aaaa"
ANN, DORA, LEO = Actor("ann", ANALYST), Actor("dora", PRIVACY_OFFICER), Actor("leo", LEGAL)


def assessed_incident(db: Database) -> tuple[int, datetime]:
    directory(db, {1: "DE", 2: "DE", 3: "GB", 4: "CA", 5: "AU"})
    seed(db, exposure(A, range(1, 6)))
    aware = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with db.session() as s:
        number = incidents.open_incident(s, ANN, "scraper", {A}).id
        incidents.advance(s, ANN, number, "contained")
        incidents.mark_aware(s, DORA, number, at=aware)
        notices.assess_incident(s, ANN, number, OPTIONS)
    return number, aware


def test_assessment_is_kept_with_the_incident_and_its_clocks_start_at_awareness(db: Database) -> None:
    number, aware = assessed_incident(db)
    with db.session() as s:
        incident = incidents.get(s, number)
        assert incident.state == "assessed" and incident.assessment is not None
        result = notices.assessment_of(incident)
        assert {r.regime: r.affected for r in result.regimes} == {"eu_gdpr": 2, "uk_gdpr": 1, "ca_pipeda": 1,
                                                                  "au_ndb": 1}
        gdpr = [d for d in result.regime("eu_gdpr").deadlines if d.audience == "regulator"]
        assert gdpr[0].kind == "notify" and gdpr[0].due == aware + timedelta(hours=72)
        au = [d for d in result.regime("au_ndb").deadlines if d.kind == "assess"]
        assert au[0].due == aware + timedelta(days=30)
        assert incident.notifiable is result.notifiable and incident.reasoning == result.reasoning
        assert [e.action for e in audit.entries_for(s, "incident", number)][-1] == "incident.assess"


def test_notices_go_draft_approved_sent_and_the_drafter_cannot_approve(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        notice = notices.draft(s, DORA, number, "eu_gdpr", "regulator", OPTIONS)
        assert notice.state == "draft" and "Example Social Ltd" in notice.text
        assert "draft" in notice.text.lower() and "counsel" in notice.text.lower()
        with pytest.raises(PermissionDenied, match="four eyes"):
            notices.approve(s, DORA, notice.id)
        with pytest.raises(PermissionDenied):
            notices.approve(s, ANN, notice.id)  # analysts do not approve
        with pytest.raises(InvalidStep, match="only an approved notice"):
            notices.send(s, LEO, notice.id, "email", datetime.now(UTC))
        notices.approve(s, LEO, notice.id)
        notices.send(s, DORA, notice.id, "regulator portal", datetime.now(UTC))
        for o in obligations.outstanding(s, number):
            obligations.waive(s, DORA, number, o.row.regime, o.row.audience, "counsel: see memo 7")
        incidents.advance(s, DORA, number, "notified")
        incidents.advance(s, DORA, number, "closed")
    with db.session() as s:
        notice = notices.get_notice(s, notice.id)
        who = (notice.state, notice.drafted_by, notice.approved_by, notice.sent_by)
        assert who == ("sent", "dora", "leo", "dora")
        assert audit.verify(s).ok


def test_the_register_lists_every_incident_with_its_reasoning(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        other = incidents.open_incident(s, ANN, "not assessed", {"ip:p-zzzz"}).id
        rows = {r["incident"]: r for r in notices.register(s, ANN)}
    assert rows[f"INC-{number}"]["reasoning"].startswith("Overall ENISA severity")
    assert rows[f"INC-{number}"]["notifiable"] in (True, False)
    assert rows[f"INC-{other}"]["reasoning"] == "not assessed yet"


def test_exporting_the_affected_members_needs_the_right_role_and_is_audited(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            notices.affected_members(s, ANN, number)
        members = notices.affected_members(s, DORA, number)
        assert sorted(m["member"] for m in members) == ["1", "2", "3", "4", "5"]
        assert {m["country"] for m in members} == {"DE", "GB", "CA", "AU"}
        assert audit.entries_for(s, "incident", number)[-1].action == "incident.export_affected"


# -- obligations per regime and audience -------------------------------------------------------


def sent_notice(db: Database, number: int, regime: str, audience: str) -> int:
    with db.session() as s:
        notice = notices.draft(s, DORA, number, regime, audience, OPTIONS)  # type: ignore[arg-type]
        notices.approve(s, LEO, notice.id)
        notices.send(s, DORA, notice.id, "regulator portal", datetime.now(UTC))
        return notice.id


def test_obligations_are_stored_per_regime_and_audience_with_reasoning_and_deadline(db: Database) -> None:
    number, aware = assessed_incident(db)
    with db.session() as s:
        found = {(o.row.regime, o.row.audience): o for o in obligations.obligations_of(s, number)}
        assert set(found) == {(r, a) for r in ("eu_gdpr", "uk_gdpr", "ca_pipeda", "au_ndb")
                              for a in ("regulator", "individuals")}
        eu = found[("eu_gdpr", "regulator")]
        assert eu.row.status == "likely" and "Art. 33(1)" in eu.row.reasoning
        assert eu.row.due == aware + timedelta(hours=72)
        assert eu.owed and eu.met is None


def test_notified_is_refused_while_a_likely_obligation_is_neither_sent_nor_waived(db: Database) -> None:
    number, _ = assessed_incident(db)
    sent_notice(db, number, "eu_gdpr", "regulator")
    with db.session() as s:
        owed = obligations.outstanding(s, number)
        assert ("eu_gdpr", "regulator") not in {(o.row.regime, o.row.audience) for o in owed}
        likely = [o for o in owed if o.row.status == "likely"]
        assert likely  # one sent of several likely ones: the case the issue saw accepted
        with pytest.raises(InvalidStep, match=r"neither sent nor waived: .*uk_gdpr regulator \(likely"):
            incidents.advance(s, DORA, number, "notified")
        for o in owed[:-1]:
            obligations.waive(s, DORA, number, o.row.regime, o.row.audience, "counsel: not needed, memo 7")
        last = owed[-1].row
        with pytest.raises(InvalidStep, match=f"{last.regime} {last.audience}"):
            incidents.advance(s, DORA, number, "notified")
        obligations.waive(s, DORA, number, last.regime, last.audience, "counsel: not needed, memo 7")
        assert incidents.advance(s, DORA, number, "notified").state == "notified"


def test_a_waiver_needs_a_privacy_officer_and_a_reason_and_is_audited(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            obligations.waive(s, ANN, number, "uk_gdpr", "regulator", "not needed")
        with pytest.raises(RecordsError, match="reason"):
            obligations.waive(s, DORA, number, "uk_gdpr", "regulator", "  ")
        with pytest.raises(NotFound, match="no nz_privacy obligation"):
            obligations.waive(s, DORA, number, "nz_privacy", "regulator", "not needed")
        obligations.waive(s, DORA, number, "uk_gdpr", "regulator", "ICO told by phone, ref 12")
        entry = audit.entries_for(s, "incident", number)[-1]
        assert entry.action == "incident.waive" and "ICO told by phone, ref 12" in entry.details
    sent = sent_notice(db, number, "eu_gdpr", "regulator")
    with db.session() as s, pytest.raises(InvalidStep, match=f"met by notice {sent}"):
        obligations.waive(s, DORA, number, "eu_gdpr", "regulator", "not needed")


def test_reassessment_rederives_the_status_and_keeps_waivers(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        obligations.waive(s, DORA, number, "au_ndb", "individuals", "published on the website instead")
        before = {(o.row.regime, o.row.audience): o.row.status for o in obligations.obligations_of(s, number)}
        incidents.set_circumstances(s, DORA, number, data_was_public=True, aggregated=False)
        notices.assess_incident(s, ANN, number, OPTIONS)
        after = {(o.row.regime, o.row.audience): o for o in obligations.obligations_of(s, number)}
    assert before[("eu_gdpr", "individuals")] != "not required"
    assert after[("eu_gdpr", "individuals")].row.status == "not required"  # public, not aggregated: lower
    kept = after[("au_ndb", "individuals")]
    assert kept.met == "waived" and kept.row.waiver_reason == "published on the website instead"


# -- what a sent notice records ------------------------------------------------------------------


def approved_notice(db: Database, regime: str = "ca_pipeda", audience: str = "individuals") -> int:
    number, _ = assessed_incident(db)
    with db.session() as s:
        notice = notices.draft(s, DORA, number, regime, audience, OPTIONS)  # type: ignore[arg-type]
        notices.approve(s, LEO, notice.id)
        return notice.id


def test_a_sent_notice_keeps_the_final_text_the_channel_and_the_real_time(db: Database) -> None:
    notice_id = approved_notice(db)
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)  # the clock the check uses
    with db.session() as s:
        with pytest.raises(RecordsError, match="in the future"):
            notices.send(s, DORA, notice_id, "email", now + timedelta(hours=1), now=now)
        with pytest.raises(RecordsError, match="no time zone"):
            notices.send(s, DORA, notice_id, "email", now.replace(tzinfo=None), now=now)
        with pytest.raises(RecordsError, match="--channel"):
            notices.send(s, DORA, notice_id, " ", now, now=now)
        notices.send(s, DORA, notice_id, "email", now - timedelta(seconds=30), now=now)
    with db.session() as s:
        notice = notices.get_notice(s, notice_id)
        assert notice.state == "sent" and notice.channel == "email"
        assert notice.sent_at == now - timedelta(seconds=30)
        final = notice.final_text or ""
        assert "Dear member" in final and "dpo@example.org" in final
        for draft_word in ("DRAFT", "Not sent", "counsel", "<!--"):
            assert draft_word not in final
        assert "DRAFT for counsel" in notice.text  # the approved draft itself is kept as it was
        assert notice.final_sha256 == hashlib.sha256(final.encode()).hexdigest()
        assert json.loads(audit.entries_for(s, "notice", notice_id)[-1].details)["channel"] == "email"


def test_a_final_document_is_stored_with_its_hash(db: Database) -> None:
    notice_id = approved_notice(db)
    document = b"%PDF-1.7 the letter as it was posted"
    with db.session() as s:
        notices.send(s, DORA, notice_id, "post", datetime.now(UTC), final_document=document,
                     document_name="letter.pdf")
    with db.session() as s:
        notice = notices.get_notice(s, notice_id)
        assert notice.final_document == document and notice.final_document_name == "letter.pdf"
        assert notice.final_sha256 == hashlib.sha256(document).hexdigest() and notice.final_text is None


def test_notices_claim_legal_action_only_when_a_case_exists(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        before = notices.draft(s, DORA, number, "eu_gdpr", "regulator", OPTIONS).text
        cases.open_case(s, LEO, "the unknown operator of the scraper", incident_id=number)
        after = notices.draft(s, DORA, number, "eu_gdpr", "regulator", OPTIONS).text
    assert "pursuing the operator" not in before and "no legal case is recorded" in before
    assert "pursuing the operator" in after


def test_assessment_inputs_record_that_public_was_not_stated(db: Database) -> None:
    number, _ = assessed_incident(db)
    with db.session() as s:
        unstated = notices.assessment_of(incidents.get(s, number))
        incidents.set_circumstances(s, DORA, number, data_was_public=True, aggregated=None)
        stated = notices.assess_incident(s, ANN, number, OPTIONS)
        details = json.loads(audit.entries_for(s, "incident", number)[-1].details)
    assert unstated.inputs["data_was_public"] is None
    assert any("--not-public" in q for q in unstated.open_questions)
    assert stated.inputs["data_was_public"] is True and details["inputs"]["data_was_public"] is True
    assert not any("--not-public" in q for q in stated.open_questions)
    assert stated.severity.score < unstated.severity.score  # the reduction only once it is stated


def test_the_controller_establishment_from_the_policy_reaches_the_assessment(db: Database) -> None:
    directory(db, {1: "DE", 2: "US"})
    seed(db, exposure(A, [1, 2]))
    options = IncidentOptions(organisation="Example Social Ltd", contact="dpo@example.org",
                              controller_country="IE")
    with db.session() as s:
        number = incidents.open_incident(s, ANN, "scraper", {A}).id
        result = notices.assess_incident(s, ANN, number, options)
    assert result.inputs["controller_country"] == "IE"
    assert result.regime("eu_gdpr").affected == 2  # the US member too: established in the EU
    assert "(IE)" in result.regime("eu_gdpr").regulator


def test_the_callers_clock_dates_assessment_draft_approval_and_steps(db: Database) -> None:
    """The console runs on an injected clock: the times it records are that clock's, not the wall's."""
    directory(db, {1: "DE", 2: "DE"})
    seed(db, exposure(A, range(1, 3)))
    clock = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with db.session() as s:
        number = incidents.open_incident(s, ANN, "scraper", {A}, now=clock).id
        incidents.advance(s, ANN, number, "contained", now=clock + timedelta(minutes=1))
        with pytest.raises(RecordsError, match="in the future"):  # "at" is judged against that clock
            incidents.advance(s, DORA, number, "closed", at=clock + timedelta(hours=1),
                              reason="false positive", now=clock + timedelta(minutes=2))
        incidents.mark_aware(s, DORA, number, at=clock, now=clock + timedelta(minutes=2))
        notices.assess_incident(s, ANN, number, OPTIONS, now=clock + timedelta(minutes=3))
        notice = notices.draft(s, ANN, number, "eu_gdpr", "regulator", OPTIONS,
                               now=clock + timedelta(minutes=4))
        notices.approve(s, DORA, notice.id, now=clock + timedelta(minutes=5))
        notices.send(s, DORA, notice.id, "regulator portal", clock + timedelta(minutes=6),
                     now=clock + timedelta(minutes=7))
    with db.session() as s:
        incident = incidents.get(s, number)
        notice = notices.get_notice(s, notice.id)
        times = [incident.contained_at, incident.assessed_at, notice.drafted_at, notice.approved_at]
        assert [t.replace(tzinfo=UTC) if t and t.tzinfo is None else t for t in times] == [
            clock + timedelta(minutes=n) for n in (1, 3, 4, 5)]
        assert [s_.state for s_ in incidents.steps_of(s, number)] == ["detected", "contained", "assessed"]


def test_what_was_sent_goes_in_the_evidence_pack_checked_against_its_hash(db: Database) -> None:
    """The pack holds each sent notice as it really went out: the final document under a safe name
    (a name from outside never climbs out of its folder), or the final text; a document altered in
    the database after sending is refused, not packed."""
    from scrapeguard.records import evidence
    from scrapeguard.records.models import NoticeRecord

    with_document = approved_notice(db)
    with db.session() as s:
        incident = notices.get_notice(s, with_document).incident_id
        with_text = notices.draft(s, DORA, incident, "ca_pipeda", "regulator", OPTIONS).id
        notices.approve(s, LEO, with_text)
    document = b"%PDF-1.7 the letter as it was posted"
    with db.session() as s:
        notices.send(s, DORA, with_document, "post", datetime.now(UTC), final_document=document,
                     document_name="../../etc/letter as posted.pdf")
        notices.send(s, DORA, with_text, "regulator portal", datetime.now(UTC))
        _name, data = evidence.build_pack(s, DORA, incident_id=incident)
    pack = zipfile.ZipFile(io.BytesIO(data))
    root = f"INC-{incident}"
    assert pack.read(f"{root}/notices/{with_document}-sent/letter_as_posted.pdf") == document
    assert b"DRAFT" not in pack.read(f"{root}/notices/{with_text}-sent/final.md")
    listed = {n["id"]: n for n in json.loads(pack.read(f"{root}/incident.json"))["notices"]}
    assert listed[with_document]["sent_sha256"] == hashlib.sha256(document).hexdigest()
    assert listed[with_document]["channel"] == "post"
    with db.session() as s:
        s.get(NoticeRecord, with_document).final_document = b"%PDF-1.7 another letter"  # type: ignore[union-attr]
    with db.session() as s, pytest.raises(RecordsError, match="does not match the SHA-256"):
        evidence.build_pack(s, DORA, incident_id=incident)
    with db.session() as s:  # the final text too
        s.get(NoticeRecord, with_document).final_document = document  # type: ignore[union-attr]
        s.get(NoticeRecord, with_text).final_text = "Dear regulator, nothing happened."  # type: ignore[union-attr]
    with db.session() as s, pytest.raises(RecordsError, match=f"notice {with_text} recorded as sent"):
        evidence.build_pack(s, DORA, incident_id=incident)
