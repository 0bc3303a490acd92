"""`scrapeguard report ...`: the regulator report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from scrapeguard.cli.common import (
    as_option,
    clear_errors,
    database_session,
    db_option,
    emit,
    json_option,
    parse_time,
    policy_option,
    policy_or_exit,
    signed_in,
)


@click.group("report")
def report_group() -> None:
    """Reports."""


@report_group.command("regulator")
@click.option("--from", "start_text", metavar="DATE", help="Start (ISO 8601); 90 days ago if omitted.")
@click.option("--to", "end_text", metavar="DATE", help="End (ISO 8601); now if omitted.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="html", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def report_regulator(start_text: str | None, end_text: str | None, fmt: str, out: str, db_target: str | None,
                     as_user: str, policy_path: str | None, as_json: bool) -> None:
    """How this deployment meets each measure regulators expect, from the live policy, with figures."""
    from scrapeguard.compliance import render_regulator_report, report_pdf
    from scrapeguard.records import audit
    from scrapeguard.records.figures import figures_for_report

    policy = policy_or_exit(policy_path)
    end = parse_time(end_text, "--to") or datetime.now(UTC)
    start = parse_time(start_text, "--from") or end - timedelta(days=90)
    with database_session(db_target) as session:
        actor = signed_in(session, as_user)
        figures = figures_for_report(session, actor, start, end)
        if fmt == "pdf":
            Path(out).write_bytes(report_pdf(policy, figures, organisation=policy.incidents.organisation))
        else:
            Path(out).write_text(render_regulator_report(policy, figures,
                                                         organisation=policy.incidents.organisation), "utf-8")
        audit.record(session, actor.name, "report.regulator", "report", Path(out).name,
                     {"from": start.isoformat(), "to": end.isoformat(), "format": fmt})
    data = {"out": out, "refusals_by_action": figures.refusals_by_action,
            "incidents_total": figures.incidents_total, "cases_by_status": figures.cases_by_status}
    emit(as_json, data, lambda: f"regulator report written to {out}")

