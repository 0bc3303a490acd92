from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, incidents, notices
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, PermissionDenied
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
            notices.send(s, LEO, notice.id)
        with pytest.raises(InvalidStep, match="no notice has been sent"):
            incidents.advance(s, DORA, number, "notified")
        notices.approve(s, LEO, notice.id)
        notices.send(s, DORA, notice.id)
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
