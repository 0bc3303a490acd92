from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from scrapeguard.cli import main
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, incidents, notices, obligations
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, PermissionDenied, RecordsError
from scrapeguard.records.models import AuditEntry, IncidentRecord
from scrapeguard.records.users import ANALYST, PRIVACY_OFFICER, VIEWER, Actor

from .helpers import ROOT, T0, directory, exposure, refusal, seed  # type: ignore[import-not-found]

PASSWORD = "a long enough password"

OPTIONS = IncidentOptions(open_at_members=10)
A, B, C = "ip:p-aaaa", "ip:p-bbbb", "ip:p-cccc"


def detect(db: Database, batch: list[dict]) -> list[int]:
    seed(db, batch)
    with db.session() as s:
        return [i.id for i in incidents.detect(s, batch, OPTIONS)]


def test_an_incident_opens_when_a_refused_actors_exposure_crosses_the_threshold(db: Database) -> None:
    assert detect(db, [*exposure(A, range(9)), refusal(A, 1)]) == []  # 9 members: below 10
    opened = detect(db, [*exposure(A, [9]), refusal(A, 2)])
    assert len(opened) == 1
    with db.session() as s:
        incident = incidents.get(s, opened[0])
        assert incident.state == "detected" and incident.opened_by == "scrapeguard"
        assert incidents.actors_of(s, incident.id) == {A}
        assert "10 members" in incident.title
        assert incident.started_at.timestamp() == T0
        assert [e.action for e in s.scalars(select(AuditEntry))] == ["incident.open"]
    # more refusals of the same actor: the same incident, no new one
    assert detect(db, [refusal(A, 3, t=T0 + 2000)]) == []
    with db.session() as s:
        assert len(list(s.scalars(select(IncidentRecord)))) == 1


def test_one_incident_per_campaign_not_per_address(db: Database) -> None:
    campaign = "campaign:c7"
    batch = exposure(A, range(0, 4)) + exposure(B, range(4, 8)) + exposure(C, range(8, 12))
    batch += [refusal(A, 1, campaign=campaign), refusal(B, 2, campaign=campaign)]
    opened = detect(db, batch)  # A and B: 8 members together, below 10
    assert opened == []
    opened = detect(db, [refusal(C, 3, campaign=campaign)])  # with C: 12
    assert len(opened) == 1
    with db.session() as s:
        incident = incidents.get(s, opened[0])
        assert incident.group_key == campaign and "campaign c7" in incident.title
        assert incidents.actors_of(s, incident.id) == {A, B, C}


def test_a_campaign_opens_sooner_and_its_earlier_actors_are_in_it(db: Database) -> None:
    options = IncidentOptions(open_at_members=50, open_at_campaign_members=6)
    campaign = "campaign:ids-c7"
    # A swept members 0..3 before the campaign was recognised and was never refused; B's refusal
    # names it as a related actor (what the guard's campaign decisions carry)
    batch = exposure(A, range(0, 4)) + exposure(B, range(4, 7))
    related = {**refusal(B, 1, campaign=campaign), "actors": [B, A]}
    seed(db, [*batch, related])
    with db.session() as s:
        (incident,) = incidents.detect(s, [related], options)  # 7 members >= 6, though < 50
        assert incidents.actors_of(s, incident.id) == {A, B}
        assert "7 members" in incident.title
    # a lone actor still needs open_at_members
    lone = [*exposure(C, range(20, 40)), refusal(C, 2)]
    seed(db, lone)
    with db.session() as s:
        assert incidents.detect(s, lone, options) == []


def test_lifecycle_with_who_and_when_and_roles_enforced(db: Database) -> None:
    seed(db, exposure(A, range(3)))
    analyst, viewer, dpo = Actor("ann", ANALYST), Actor("vic", VIEWER), Actor("dora", PRIVACY_OFFICER)
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            incidents.open_incident(s, viewer, "scraper", {A})
        incident = incidents.open_incident(s, analyst, "scraper seen by support", {A}, note="ticket 12")
        number = incident.id
        assert incident.started_at.timestamp() == T0  # from the ledger
    with db.session() as s:
        with pytest.raises(InvalidStep, match="incidents assess"):
            incidents.advance(s, analyst, number, "assessed")
        with pytest.raises(PermissionDenied):
            incidents.mark_aware(s, analyst, number)
        incidents.advance(s, analyst, number, "contained", note="blocked /24")
        incidents.mark_aware(s, dpo, number, note="DPO call")
        with pytest.raises(InvalidStep, match="can go to: closed"):
            incidents.advance(s, dpo, number, "notified")
    with db.session() as s:
        steps = incidents.steps_of(s, number)
        assert [(x.state, x.by) for x in steps] == [("detected", "ann"), ("contained", "ann")]
        incident = incidents.get(s, f"INC-{number}")
        assert incident.contained_at is not None and incident.aware_by == "dora"
        assert audit.verify(s).ok
        incidents.advance(s, ROOT, number, "closed", reason="false alarm")
        with pytest.raises(InvalidStep, match="closed"):
            incidents.advance(s, ROOT, number, "contained")


# -- closing, reopening ------------------------------------------------------------------------

DORA = Actor("dora", PRIVACY_OFFICER)
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def opened(db: Database, **kwargs: Any) -> int:
    seed(db, exposure(A, range(3)))
    with db.session() as s:
        return incidents.open_incident(s, Actor("ann", ANALYST), "scraper", {A}, **kwargs).id


def test_closing_needs_an_assessment_or_a_reason_and_a_privacy_officer(db: Database) -> None:
    number = opened(db)
    with db.session() as s:
        with pytest.raises(InvalidStep, match=r"has not been assessed: .*--reason"):
            incidents.advance(s, DORA, number, "closed")
        with pytest.raises(PermissionDenied):
            incidents.advance(s, Actor("ann", ANALYST), number, "closed", reason="false positive")
        closed = incidents.advance(s, DORA, number, "closed", reason="false positive: our own crawler")
        assert closed.state == "closed"
        assert "false positive: our own crawler" in incidents.steps_of(s, number)[-1].note
        entry = audit.entries_for(s, "incident", number)[-1]
        assert entry.action == "incident.closed" and "our own crawler" in entry.details


def test_awareness_after_the_close_is_refused_and_a_closed_incident_can_be_reopened(db: Database) -> None:
    number = opened(db)
    with db.session() as s:
        incidents.advance(s, DORA, number, "contained")
        incidents.advance(s, DORA, number, "closed", reason="false positive")
        with pytest.raises(InvalidStep, match="closed: reopen it"):
            incidents.mark_aware(s, DORA, number)
        with pytest.raises(PermissionDenied):
            incidents.reopen(s, Actor("ann", ANALYST), number, "member sent a copy of their data")
        with pytest.raises(RecordsError, match="reason"):
            incidents.reopen(s, DORA, number, " ")
        reopened = incidents.reopen(s, DORA, number, "a member sent us a copy of the scraped data")
        assert reopened.state == "contained" and reopened.closed_at is None  # where it stood
        assert audit.entries_for(s, "incident", number)[-1].action == "incident.reopen"
        incidents.mark_aware(s, DORA, number)  # the clocks can start now
        with pytest.raises(InvalidStep, match="not closed"):
            incidents.reopen(s, DORA, number, "again")
        assert audit.verify(s).ok


def test_a_reopened_assessed_incident_is_assessed_again_and_must_pass_notified_again(db: Database) -> None:
    directory(db, {0: "DE", 1: "DE", 2: "GB"})
    number = opened(db)
    with db.session() as s:
        incidents.advance(s, DORA, number, "contained")
        incidents.set_circumstances(s, DORA, number, data_was_public=True, aggregated=False)
        notices.assess_incident(s, DORA, number, IncidentOptions())
        for o in obligations.outstanding(s, number):
            obligations.waive(s, DORA, number, o.row.regime, o.row.audience, "counsel: memo 3")
        incidents.advance(s, DORA, number, "closed")
        assert incidents.reopen(s, DORA, number, "new actors found").state == "assessed"


# -- times a person states -----------------------------------------------------------------------


def test_awareness_in_the_future_or_without_a_zone_is_refused(db: Database) -> None:
    number = opened(db, detected_at=NOW - timedelta(days=1), now=NOW)
    with db.session() as s:
        with pytest.raises(RecordsError, match="in the future"):
            incidents.mark_aware(s, DORA, number, at=datetime(2030, 1, 1, tzinfo=UTC), now=NOW)
        with pytest.raises(RecordsError, match=r"no time zone: .*2026-12-01T10:00\+00:00"):
            incidents.mark_aware(s, DORA, number, at=datetime(2026, 11, 30, 12, 0), now=NOW)
        skewed = incidents.mark_aware(s, DORA, number, at=NOW + timedelta(minutes=4), now=NOW)
        assert skewed.aware_at == NOW + timedelta(minutes=4)  # within the clock-skew tolerance


def test_awareness_before_detection_needs_a_reason(db: Database) -> None:
    number = opened(db, detected_at=NOW - timedelta(hours=2), now=NOW)
    earlier = NOW - timedelta(days=2)
    with db.session() as s:
        with pytest.raises(RecordsError, match=r"before the recorded detection .*--reason"):
            incidents.mark_aware(s, DORA, number, at=earlier, now=NOW)
        row = incidents.mark_aware(s, DORA, number, at=earlier, reason="a member reported it by email first",
                                   now=NOW)
        assert row.aware_at == earlier
        details = json.loads(audit.entries_for(s, "incident", number)[-1].details)
        assert details["before_detection"] is True
        assert details["reason"] == "a member reported it by email first"


def test_a_manually_opened_incident_keeps_its_true_detection_and_start(db: Database) -> None:
    detected, started = NOW - timedelta(days=3), NOW - timedelta(days=5)
    number = opened(db, detected_at=detected, started_at=started, now=NOW)
    with db.session() as s:
        incident = incidents.get(s, number)
        assert (incident.detected_at, incident.started_at) == (detected, started)
        assert incidents.steps_of(s, number)[0].at == detected
        incidents.mark_aware(s, DORA, number, at=detected + timedelta(hours=1), now=NOW)
        result = notices.assess_incident(s, DORA, number, IncidentOptions())
    assert result.incident_id == f"INC-{number}"
    with db.session() as s:
        with pytest.raises(RecordsError, match="in the future"):
            incidents.open_incident(s, DORA, "later", {B}, detected_at=NOW + timedelta(hours=1), now=NOW)
        with pytest.raises(RecordsError, match="cannot come after the detection"):
            incidents.open_incident(s, DORA, "backwards", {B}, detected_at=detected, started_at=NOW, now=NOW)


# -- the commands ----------------------------------------------------------------------------------


def cli(db_url: str, *args: str, user: str | None = "dora") -> Result:
    env = {"SCRAPEGUARD_PASSWORD": PASSWORD, "SCRAPEGUARD_NEW_PASSWORD": PASSWORD,
           "SCRAPEGUARD_PSEUDONYM_KEY": "incidents-test-key-0123456789"}
    extra = ["--db", db_url] + (["--as", user] if user else [])
    return CliRunner().invoke(main, [*args, *extra], env=env)


@pytest.fixture
def team(db_url: str) -> str:
    assert cli(db_url, "users", "add", "root", "--role", "admin", user=None).exit_code == 0
    for name, role in (("dora", "privacy_officer"), ("ann", "analyst")):
        assert cli(db_url, "users", "add", name, "--role", role, user="root").exit_code == 0
    return db_url


def test_the_commands_refuse_zoneless_times_and_show_detection_awareness_and_deadlines(team: str) -> None:
    db = Database(team)
    directory(db, {1: "DE", 2: "GB"})
    seed(db, exposure("account:77", [1, 2], t0=NOW.timestamp() - 20 * 86400))
    db.dispose()
    result = cli(team, "incidents", "open", "--title", "reported by a member", "--actor", "account:77",
                 "--detected-at", "2026-11-20T08:00")
    assert result.exit_code == 2 and "no time zone" in result.output
    assert "2026-12-01T10:00+00:00" in result.output  # the form expected
    assert cli(team, "incidents", "open", "--title", "reported by a member", "--actor", "account:77",
               "--detected-at", "2026-11-20T08:00+01:00", "--started-at", "2026-11-19T00:00Z").exit_code == 0
    zoneless = cli(team, "incidents", "aware", "INC-1", "--at", "2026-11-20T09:00")
    assert zoneless.exit_code == 2 and "no time zone" in zoneless.output
    future = cli(team, "incidents", "aware", "INC-1", "--at", "2030-01-01T00:00+00:00")
    assert future.exit_code == 1 and "in the future" in future.output
    assert cli(team, "incidents", "aware", "INC-1", "--at", "2026-11-20T10:00+00:00").exit_code == 0
    assert cli(team, "incidents", "advance", "INC-1", "--to", "contained").exit_code == 0
    assessed = cli(team, "incidents", "assess", "INC-1", "--public")
    assert assessed.exit_code == 0 and "open questions (" in assessed.output
    assert "controller_country" in assessed.output  # one of them, listed in the text output
    shown = cli(team, "incidents", "show", "INC-1").output
    assert "detected 2026-11-20T07:00:00+00:00" in shown
    assert "aware 2026-11-20T10:00:00+00:00 (by dora)" in shown
    assert "started 2026-11-19T00:00:00+00:00" in shown
    assert "eu_gdpr notify regulator (" in shown and "2026-11-23T10:00:00+00:00" in shown  # 72 h from aware
    assert "obligations:" in shown and "uk_gdpr regulator: " in shown and "OWED" in shown


def test_the_commands_close_with_a_reason_and_reopen(team: str) -> None:
    cli(team, "incidents", "open", "--title", "noise", "--actor", "ip:203.0.113.9")
    refused = cli(team, "incidents", "advance", "INC-1", "--to", "closed")
    assert refused.exit_code == 1 and "--reason" in refused.output
    closed = cli(team, "incidents", "advance", "INC-1", "--to", "closed", "--reason", "false positive")
    assert closed.exit_code == 0 and "closed" in closed.output
    reopened = cli(team, "incidents", "reopen", "INC-1", "--reason", "it was not our crawler", "--json")
    assert reopened.exit_code == 0 and json.loads(reopened.output)["state"] == "detected"
