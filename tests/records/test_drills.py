"""Drills in the records: kept audited with their policy's hash, the latest cited by the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from scrapeguard.compliance.report import build_report
from scrapeguard.drill.scorecard import PersonaScore, Scorecard, StrategyScore
from scrapeguard.policy import default_policy
from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.drills import latest_drill, record_drill
from scrapeguard.records.errors import PermissionDenied
from scrapeguard.records.figures import report_figures
from scrapeguard.records.models import DrillRecord
from scrapeguard.records.users import ANALYST, VIEWER, Actor

JAN = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)


def card(at: datetime, leaked: int) -> Scorecard:
    return Scorecard("built-in demo (loopback)", "<defaults>", "ef" * 32, at, "simulated",
                     [StrategyScore("curl", "", profiles=0, first_refusal=1),
                      StrategyScore("low-and-slow", "", profiles=leaked, first_refusal=300),
                      StrategyScore("headless-chromium", "", skipped="not installed")],
                     [PersonaScore("reader", "", people=1), PersonaScore("office-nat", "", people=20)])


def test_a_drill_is_kept_audited_and_the_report_cites_the_latest(db: Database) -> None:
    analyst = Actor("ann", ANALYST)
    with db.session() as session:
        record_drill(session, analyst, card(JAN - timedelta(days=30), 1200))
        row = record_drill(session, analyst, card(JAN, 900))
        assert row.policy_sha256 == "ef" * 32 and row.scorecard["strategies"][1]["profiles"] == 900
        [entry] = audit.entries_for(session, "drill", row.id)
        assert (entry.actor, entry.action) == ("ann", "drill.recorded")
        assert audit.verify(session).ok
    with db.session() as session:
        figures = report_figures(session, JAN - timedelta(days=90), JAN + timedelta(days=1))
        older = report_figures(session, JAN - timedelta(days=90), JAN - timedelta(days=1))
    expected = "controls tested on 2027-01-15: 2 strategies, 900 profiles leaked at most, 0 people refused"
    assert figures.latest_drill == expected
    assert older.latest_drill is not None and "2026-12-16" in older.latest_drill
    text = [line for m in build_report(default_policy(), figures).measures for line in m.how]
    assert any(expected in line for line in text)


def test_a_changed_drill_row_shows_in_the_audit(db: Database) -> None:
    with db.session() as session:
        row = record_drill(session, Actor("ann", ANALYST), card(JAN, 900))
        session.execute(update(DrillRecord).where(DrillRecord.id == row.id).values(max_profiles=3))
    with db.session() as session:
        assert not audit.verify(session).ok


def test_viewers_may_not_record_drills(db: Database) -> None:
    with db.session() as session, pytest.raises(PermissionDenied):
        record_drill(session, Actor("vic", VIEWER), card(JAN, 0))


def test_without_a_drill_the_report_says_so(db: Database) -> None:
    with db.session() as session:
        assert latest_drill(session) is None
        figures = report_figures(session, JAN - timedelta(days=90), JAN)
    assert figures.latest_drill is None
    text = [line for m in build_report(default_policy(), figures).measures for line in m.how]
    assert any("No drill recorded" in line for line in text)
