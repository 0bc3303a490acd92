from __future__ import annotations

import pytest
from sqlalchemy import select

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, PermissionDenied
from scrapeguard.records.models import AuditEntry, IncidentRecord
from scrapeguard.records.users import ANALYST, PRIVACY_OFFICER, VIEWER, Actor

from .helpers import ROOT, T0, exposure, refusal, seed  # type: ignore[import-not-found]

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
