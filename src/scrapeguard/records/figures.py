"""The figures of the regulator response report, counted from the records."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scrapeguard.compliance import ReportFigures
from scrapeguard.records.models import CaseRecord, DecisionRecord, IncidentRecord
from scrapeguard.records.permissions import requires

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor


@requires("report")
def figures_for_report(session: Session, by: Actor, start: datetime, end: datetime) -> ReportFigures:
    """`report_figures` for a person writing the regulator report."""
    return report_figures(session, start, end)


def report_figures(session: Session, start: datetime, end: datetime) -> ReportFigures:
    """Refusals by action and incidents detected in [start, end); cases opened in it, by status."""
    refusals = {action: count for action, count in session.execute(
        select(DecisionRecord.action, func.count()).where(DecisionRecord.at >= start, DecisionRecord.at < end)
        .group_by(DecisionRecord.action))}
    incidents = list(session.execute(select(IncidentRecord).where(
        IncidentRecord.detected_at >= start, IncidentRecord.detected_at < end)).scalars())
    by_state: dict[str, int] = {}
    for incident in incidents:
        by_state[incident.state] = by_state.get(incident.state, 0) + 1
    hours = [(i.contained_at - i.detected_at).total_seconds() / 3600 for i in incidents if i.contained_at]
    cases = {status: count for status, count in session.execute(
        select(CaseRecord.status, func.count())
        .where(CaseRecord.opened_at >= start, CaseRecord.opened_at < end)
        .group_by(CaseRecord.status))}
    return ReportFigures(period_start=start, period_end=end,
                         refusals_by_action={str(k): int(v) for k, v in refusals.items()},
                         incidents_total=len(incidents), incidents_by_state=by_state,
                         median_hours_to_containment=round(statistics.median(hours), 2) if hours else None,
                         cases_by_status={str(k): int(v) for k, v in cases.items()},
                         latest_drill=_latest_drill(session, end))


def _latest_drill(session: Session, end: datetime) -> str | None:
    from scrapeguard.records.drills import drill_citation, latest_drill

    row = latest_drill(session, before=end)
    return drill_citation(row) if row is not None else None
