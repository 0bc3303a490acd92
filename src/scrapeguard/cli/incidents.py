"""`scrapeguard incidents ...`: incidents, their assessment, notices to draft and evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scrapeguard.cli.common import (
    LogArgs,
    as_option,
    clear_errors,
    database_session,
    db_option,
    emit,
    evidence_text,
    iso,
    json_option,
    log_excerpt_options,
    open_database,
    policy_option,
    policy_or_exit,
    pseudonymiser_for,
    signed_in,
    stated_time,
    write_evidence_pack,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _incident_dict(session: Session, incident: Any, full: bool = False) -> dict[str, Any]:
    from scrapeguard.records import incidents
    from scrapeguard.records.exposure import ledger, listing_pages
    from scrapeguard.records.notices import notices_of
    from scrapeguard.records.obligations import obligations_of

    actors = incidents.actors_of(session, incident.id)
    members = ledger(session, actors)
    data: dict[str, Any] = {
        "id": incidents.public_id(incident.id), "title": incident.title, "state": incident.state,
        "started_at": iso(incident.started_at), "detected_at": iso(incident.detected_at),
        "aware_at": iso(incident.aware_at), "contained_at": iso(incident.contained_at),
        "closed_at": iso(incident.closed_at), "members": len(members), "actors": sorted(actors),
        "notifiable": incident.notifiable,
    }
    if full:
        data["exposure"] = [m.to_dict() for m in members]
        data["listing_pages"] = listing_pages(session, actors)
        data["steps"] = [{"state": s.state, "by": s.by, "at": iso(s.at), "note": s.note}
                         for s in incidents.steps_of(session, incident.id)]
        data["assessment"] = incident.assessment
        data["reasoning"] = incident.reasoning
        data["data_was_public"] = incident.data_was_public if incident.public_stated else None
        data["aggregated"] = incident.aggregated
        data["notices"] = [{"id": n.id, "regime": n.regime, "audience": n.audience, "state": n.state,
                            "drafted_by": n.drafted_by, "approved_by": n.approved_by, "sent_by": n.sent_by,
                            "sent_at": iso(n.sent_at), "channel": n.channel}
                           for n in notices_of(session, incident.id)]
        data["aware_by"] = incident.aware_by
        data["obligations"] = [o.to_dict() for o in obligations_of(session, incident.id)]
        data["deadlines"] = [
            {"regime": r["regime"], **d} for r in (incident.assessment or {}).get("regimes", [])
            for d in r["deadlines"]]
    return data


@click.group("incidents")
def incidents_group() -> None:
    """Incidents: list, show, open, advance, reopen, aware, assess, waive, notify, export-affected, evidence,
    register."""


@incidents_group.command("list")
@click.option("--state", help="Only incidents in this state.")
@db_option
@as_option
@json_option
@clear_errors
def incidents_list(state: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.incidents import list_incidents

    with database_session(db_target) as session:
        found = list_incidents(session, signed_in(session, as_user), state)
        rows = [_incident_dict(session, i) for i in found]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:<8} {r['state']:<10} {r['members']:>6} members  {r['title']}" for r in rows)
        or "no incidents")


@incidents_group.command("show")
@click.argument("incident")
@db_option
@as_option
@json_option
@clear_errors
def incidents_show(incident: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """One incident: detection, awareness, steps, every deadline, the obligations and the notices."""
    from scrapeguard.records import incidents

    with database_session(db_target) as session:
        found = incidents.read_incident(session, signed_in(session, as_user), incident)
        data = _incident_dict(session, found, full=True)

    def text() -> str:
        lines = [f"{data['id']}  {data['title']}", f"state {data['state']}; {data['members']} members; "
                 f"actors: {', '.join(data['actors'])}",
                 f"started {data['started_at']}; detected {data['detected_at']}; aware "
                 + (f"{data['aware_at']} (by {data['aware_by']})" if data["aware_at"]
                    else "not recorded (`incidents aware`): the notification clocks have not started")]
        lines += [f"  {s['at']}  {s['state']:<10} by {s['by']}  {s['note']}" for s in data["steps"]]
        if data["deadlines"]:
            lines.append("deadlines:")
            lines += [f"  {d['regime']} {d['kind']} {d['audience']} ({d['applies']}): {_due_text(d)}; "
                      f"{d['basis']}" for d in data["deadlines"]]
        if data["obligations"]:
            lines.append("obligations:")
        for o in data["obligations"]:
            met = {"sent": f"sent (notice {o['notice']}, {o['sent_at']})",
                   "waived": f"waived by {o['waived_by']}: {o['waiver_reason']}"}.get(
                o["met"] or "", "OWED" if o["owed"] else "-")
            lines.append(f"  {o['regime']} {o['audience']}: {o['status']}; "
                         f"due {o['due'] or 'no fixed date'}; {met}")
        lines += [f"  notice {n['id']}: {n['regime']} {n['audience']} ({n['state']})"
                  + (f" sent {n['sent_at']} via {n['channel']}" if n["sent_at"] else "")
                  for n in data["notices"]]
        if data["reasoning"]:
            lines.append(f"assessment: {data['reasoning']}")
        return "\n".join(lines)

    emit(as_json, data, text)


@incidents_group.command("open")
@click.option("--title", required=True)
@click.option("--actor", "actors", multiple=True, required=True, metavar="KEY",
              help="An actor key, e.g. ip:203.0.113.7 or account:42 "
                   "(repeatable; addresses are pseudonymised).")
@click.option("--note", default="", help="Why it is opened (kept with the first step).")
@click.option("--detected-at", "detected_text", metavar="TIME",
              help="When it was really detected (ISO 8601 with zone, e.g. 2026-12-01T10:00+00:00); now if "
                   "omitted.")
@click.option("--started-at", "started_text", metavar="TIME",
              help="When the scraping started (ISO 8601 with zone); from the exposure ledger if omitted.")
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def incidents_open(title: str, actors: tuple[str, ...], note: str, detected_text: str | None,
                   started_text: str | None, db_target: str | None, as_user: str,
                   policy_path: str | None, as_json: bool) -> None:
    """Open an incident by hand (e.g. reported by a member or found in logs)."""
    from scrapeguard.records.incidents import open_incident

    policy = policy_or_exit(policy_path)
    db = open_database(db_target)
    pseudonymiser = pseudonymiser_for(policy, db)
    keys = set()
    for key in actors:
        if ":" not in key:
            raise click.BadParameter(f"{key!r} is not name:value (e.g. ip:203.0.113.7)", param_hint="--actor")
        keys.add(pseudonymiser.actor(key))
    with db.session() as session:
        incident = open_incident(session, signed_in(session, as_user), title, keys, note=note,
                                 detected_at=stated_time(detected_text, "--detected-at"),
                                 started_at=stated_time(started_text, "--started-at"))
        data = _incident_dict(session, incident)
    db.dispose()
    emit(as_json, data, lambda: f"opened {data['id']} ({data['members']} members exposed so far)")


@incidents_group.command("advance")
@click.argument("incident")
@click.option("--to", "to_state", required=True, type=click.Choice(["contained", "notified", "closed"]))
@click.option("--note", default="", help="A note kept with the step.")
@click.option("--at", "at_text", metavar="TIME",
              help="When it happened (ISO 8601 with zone, e.g. 2026-12-01T10:00+00:00); now if omitted.")
@click.option("--reason", default="",
              help="With --to closed for an incident never assessed: why no assessment is owed "
                   "(e.g. \"false positive: our own crawler\").")
@db_option
@as_option
@json_option
@clear_errors
def incidents_advance(incident: str, to_state: str, note: str, at_text: str | None, reason: str,
                      db_target: str | None, as_user: str, as_json: bool) -> None:
    """Move an incident on: contained, notified (when every notification obligation is sent or waived),
    closed (after an assessment, or with --reason)."""
    from scrapeguard.records.incidents import advance

    with database_session(db_target) as session:
        row = advance(session, signed_in(session, as_user), incident, to_state, note,
                      stated_time(at_text, "--at"), reason)
        data = _incident_dict(session, row)
    emit(as_json, data, lambda: f"{data['id']} is {data['state']}")


@incidents_group.command("aware")
@click.argument("incident")
@click.option("--at", "at_text", metavar="TIME",
              help="When the controller became aware (ISO 8601 with zone, e.g. 2026-12-01T10:00+00:00; "
                   "not in the future); now if omitted.")
@click.option("--note", default="", help="A note for the audit log.")
@click.option("--reason", default="",
              help="Needed when the awareness is earlier than the recorded detection: why.")
@db_option
@as_option
@json_option
@clear_errors
def incidents_aware(incident: str, at_text: str | None, note: str, reason: str, db_target: str | None,
                    as_user: str, as_json: bool) -> None:
    """Record when the controller became aware of a breach: notification clocks start there."""
    from scrapeguard.records.incidents import mark_aware

    with database_session(db_target) as session:
        row = mark_aware(session, signed_in(session, as_user), incident, stated_time(at_text, "--at"), note,
                         reason)
        data = _incident_dict(session, row)
    emit(as_json, data, lambda: f"{data['id']}: aware at {data['aware_at']}")


@incidents_group.command("assess")
@click.argument("incident")
@click.option("--public/--not-public", "data_was_public", default=None,
              help="Was the data visible to the public or members before it was scraped? No default: until "
                   "stated it is an open question and the severity gets no reduction for it.")
@click.option("--aggregated/--not-aggregated", default=None,
              help="Was it compiled into profiles or a dataset?")
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def incidents_assess(incident: str, data_was_public: bool | None, aggregated: bool | None,
                     db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Breach assessment per jurisdiction: severity (ENISA), who must likely be notified, deadlines."""
    from scrapeguard.records.incidents import set_circumstances
    from scrapeguard.records.notices import assess_incident

    policy = policy_or_exit(policy_path)
    with database_session(db_target) as session:
        actor = signed_in(session, as_user)
        if data_was_public is not None or aggregated is not None:
            set_circumstances(session, actor, incident, data_was_public, aggregated)
        result = assess_incident(session, actor, incident, policy.incidents)
        data = result.to_dict()

    def text() -> str:
        lines = [f"{data['incident_id']}: {data['reasoning']}"]
        for r in data["regimes"]:
            lines.append(f"  {r['name']}: {r['affected']} members; "
                         f"regulator {r['notify_regulator']['verdict']}, "
                         f"individuals {r['notify_individuals']['verdict']}")
            lines += [f"    {d['kind']} {d['audience']} by {_due_text(d)} ({d['basis']})"
                      for d in r["deadlines"]]
        if data["open_questions"]:
            lines.append(f"open questions ({len(data['open_questions'])}):")
            lines += [f"  - {q}" for q in data["open_questions"]]
        if data["note"] not in data["reasoning"]:
            lines.append(data["note"])
        return "\n".join(lines)

    emit(as_json, data, text)


def _regime(name: str) -> str:
    """A regime name given by a user: one of the rules' regimes, or a clear error (a misspelt
    name is not "affects no members"). Use as the callback of any --regime option."""
    from scrapeguard.compliance.rules import packaged_rules

    known = [r.id for r in packaged_rules().regimes]
    if name not in known:
        raise click.BadParameter(f"{name!r} is not a regime (known: {', '.join(known)})",
                                 param_hint="--regime")
    return name


@incidents_group.command("reopen")
@click.argument("incident")
@click.option("--reason", required=True, help="Why the closed incident is reopened (audited).")
@db_option
@as_option
@json_option
@clear_errors
def incidents_reopen(incident: str, reason: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Reopen a closed incident: back to assessed (if it was assessed), contained or detected."""
    from scrapeguard.records.incidents import reopen

    with database_session(db_target) as session:
        row = reopen(session, signed_in(session, as_user), incident, reason)
        data = _incident_dict(session, row)
    emit(as_json, data, lambda: f"{data['id']} reopened: {data['state']}")


@incidents_group.command("waive")
@click.argument("incident")
@click.option("--regime", required=True, help="The regime of the obligation, e.g. eu_gdpr.")
@click.option("--audience", required=True, type=click.Choice(["regulator", "individuals"]),
              help="Whom the obligation is to notify.")
@click.option("--reason", required=True,
              help="Why no notice will be sent (counsel's reasoning; kept for the breach register).")
@db_option
@as_option
@json_option
@clear_errors
def incidents_waive(incident: str, regime: str, audience: str, reason: str, db_target: str | None,
                    as_user: str, as_json: bool) -> None:
    """Waive one notification obligation with a reason (a privacy officer; audited)."""
    from scrapeguard.records.obligations import waive

    with database_session(db_target) as session:
        data = waive(session, signed_in(session, as_user), incident, regime, audience, reason).to_dict()
    emit(as_json, data, lambda: f"{regime} {audience} ({data['status']}) waived: {reason}")


def _due_text(deadline: dict[str, Any]) -> str:
    if deadline["due"]:
        return str(deadline["due"])
    if deadline["starts_at"] is None and deadline["clock_start"] == "awareness":
        return "? (record awareness: `incidents aware`)"
    return "no fixed date"


@incidents_group.command("notify")
@click.argument("incident")
@click.option("--regime", required=True, callback=lambda ctx, param, value: _regime(value),
              help="A regime of the rules, e.g. eu_gdpr, uk_gdpr, ca_pipeda, au_ndb.")
@click.option("--audience", required=True, type=click.Choice(["regulator", "individuals"]))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the draft to this file.")
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def incidents_notify(incident: str, regime: str, audience: str, out: str | None, db_target: str | None,
                     as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Draft a notice (regulator or individuals) for one jurisdiction; then `notices approve|send`."""
    from scrapeguard.records.notices import draft, missing_in

    policy = policy_or_exit(policy_path)
    with database_session(db_target) as session:
        notice = draft(session, signed_in(session, as_user), incident, regime, audience,  # type: ignore[arg-type]
                       policy.incidents)
        missing = missing_in(session, notice, policy.incidents)
        data = {"notice": notice.id, "state": notice.state, "title": notice.title, "text": notice.text,
                "missing_contents": missing}
    if out:
        Path(out).write_text(notice.text, "utf-8")
    warning = "".join(f"\nmissing required content: {item}" for item in missing)
    emit(as_json, data, lambda: f"notice {data['notice']} drafted: {data['title']}{warning}"
                                 + (f" (written to {out})" if out else f"\n\n{data['text']}"))


@incidents_group.command("export-affected")
@click.argument("incident")
@click.option("--out", type=click.Path(dir_okay=False), help="Write CSV here (JSON with --json).")
@db_option
@as_option
@json_option
@clear_errors
def incidents_export_affected(incident: str, out: str | None, db_target: str | None, as_user: str,
                              as_json: bool) -> None:
    """The affected members (id, country, data categories, first/last time): who to notify."""
    import csv
    import io

    from scrapeguard.records.notices import affected_members

    with database_session(db_target) as session:
        rows = affected_members(session, signed_in(session, as_user), incident)
    if as_json:
        text = json.dumps(rows, indent=2)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["member", "country", "categories", "first", "last", "count"])
        for r in rows:
            writer.writerow([r["member"], r["country"] or "", " ".join(r["categories"]), r["first"],
                             r["last"], r["count"]])
        text = buffer.getvalue()
    if out:
        Path(out).write_text(text, "utf-8")
        click.echo(f"{len(rows)} members written to {out}", err=True)
    else:
        click.echo(text, nl=False)


@incidents_group.command("evidence")
@click.argument("incident")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the zip.")
@log_excerpt_options
@db_option
@as_option
@json_option
@clear_errors
def incidents_evidence(incident: str, out_dir: str, logs: tuple[str, ...], fmt: str | None,
                       session_var: str | None, account_var: str | None, json_fields: tuple[str, ...],
                       excerpt_cap: int, policy_path: str | None, db_target: str | None, as_user: str,
                       as_json: bool) -> None:
    """Evidence pack (zip): decisions, exposure, timeline, audit entries, manifest of SHA-256 hashes;
    with --log, the lines of the site's access logs that are the incident's actors'."""
    log_args = LogArgs(logs, fmt, session_var, account_var, json_fields, excerpt_cap, policy_path)
    result = write_evidence_pack(db_target, as_user, out_dir, log_args, incident_id=incident)
    emit(as_json, result, lambda: evidence_text(result))


@incidents_group.command("register")
@db_option
@as_option
@json_option
@clear_errors
def incidents_register(db_target: str | None, as_user: str, as_json: bool) -> None:
    """The breach register (GDPR Art. 33(5)): every incident, notifiable or not, with the reasoning."""
    from scrapeguard.records.notices import register

    with database_session(db_target) as session:
        rows = register(session, signed_in(session, as_user))
    emit(as_json, rows, lambda: "\n".join(
        f"{r['incident']:<8} {r['state']:<10} notifiable={r['notifiable']}  {r['reasoning']}" for r in rows)
        or "no incidents")

