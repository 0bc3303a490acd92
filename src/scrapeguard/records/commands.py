"""The records' commands: `scrapeguard db|users|members|exposure|decisions|incidents|notices|cases|
audit|report|records ...`. Every command takes --db (or SCRAPEGUARD_DB) and --json.

Who acts: `--as USER` (or SCRAPEGUARD_USER), whose password is read from SCRAPEGUARD_PASSWORD
or asked for on a terminal; the user's role decides what is allowed (checked in the records
functions themselves). Heavy imports happen inside the commands, so `scrapeguard --help` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scrapeguard.policy.model import Policy
    from scrapeguard.records.db import Database
    from scrapeguard.records.privacy import Pseudonymiser
    from scrapeguard.records.users import Actor

F = TypeVar("F", bound=Callable[..., Any])


def _db_option(f: F) -> F:
    return click.option("--db", "db_target", envvar="SCRAPEGUARD_DB", metavar="URL", default=None,
                        help="Records database: a SQLite file path or postgresql://... "
                             "[env SCRAPEGUARD_DB; default ./scrapeguard.db]")(f)


def _as_option(f: F) -> F:
    return click.option("--as", "as_user", envvar="SCRAPEGUARD_USER", metavar="USER", required=True,
                        help="Who acts (a user; password from SCRAPEGUARD_PASSWORD or asked) "
                             "[env SCRAPEGUARD_USER].")(f)


def _json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def _policy_option(f: F) -> F:
    return click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
                        help="Policy file ([incidents]: organisation, contact, thresholds); defaults if "
                             "omitted.")(f)


def _clear_errors(f: F) -> F:
    """Records errors become one clear line and exit status 1 (3 for a refused permission)."""

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from scrapeguard.compliance.rules import RulesError
        from scrapeguard.compliance.templating import TemplateProblem
        from scrapeguard.records.errors import PermissionDenied, RecordsError

        try:
            return f(*args, **kwargs)
        except PermissionDenied as exc:
            click.echo(f"Error: not allowed: {exc}", err=True)
            sys.exit(3)
        except (RecordsError, RulesError, TemplateProblem) as exc:
            raise click.ClickException(str(exc)) from exc
        except SQLAlchemyError as exc:  # nothing was changed: the transaction was rolled back
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"the records database refused the change: {first}") from exc

    return wrapper  # type: ignore[return-value]


def _open(db_target: str | None, create: bool = False) -> Database:
    """The records database, at the current schema. Only the commands that may set one up pass
    `create` (the first `users add`): the others refuse a database that is not there."""
    from scrapeguard.records.db import Database

    db = Database(db_target)
    db.ensure_schema(create=create)
    return db


@contextmanager
def _session(db_target: str | None, create: bool = False) -> Iterator[Session]:
    db = _open(db_target, create)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def _password(prompt: str = "Password", env: str = "SCRAPEGUARD_PASSWORD", confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise click.ClickException(f"no password: set {env} or run on a terminal")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _actor(session: Session, name: str) -> Actor:
    from scrapeguard.records.users import authenticate

    return authenticate(session, name, _password(f"Password for {name}"))


def _policy(path: str | None) -> Policy:
    from scrapeguard.cli import _load_policy_or_exit

    return _load_policy_or_exit(path)


def _pseudonymiser(policy: Policy, db: Database, session: Session | None = None) -> Pseudonymiser:
    """The records' keyed IP pseudonymiser, with the key the policy names (or the database's),
    checked against the fingerprint the database keeps. Inside a session, pass it (SQLite
    would wait for the session's write lock)."""
    from scrapeguard.records.privacy import Pseudonymiser

    db.key_source = policy.incidents.pseudonym_key
    return Pseudonymiser(db.record_keys(session).pseudonym)


def _emit(as_json: bool, data: Any, text: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _stated_time(value: str | None, name: str) -> datetime | None:
    """A time a person states on the command line: ISO 8601 with its zone, never assumed UTC."""
    if value is None:
        return None
    from scrapeguard.records.incidents import TIME_FORM

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. {TIME_FORM})",
                                 param_hint=name) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone: give it with its offset, e.g. {TIME_FORM}",
                                 param_hint=name)
    return parsed


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}") from exc


# -- db, users, imports --------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """The records database's schema."""


@db_group.command("upgrade")
@_db_option
@_json_option
@_clear_errors
def db_upgrade(db_target: str | None, as_json: bool) -> None:
    """Create or upgrade the schema (back the database up first)."""
    from scrapeguard.records.db import Database

    db = Database(db_target)
    before, after = db.upgrade()
    db.dispose()
    _emit(as_json, {"database": db.display_url, "from": before, "to": after},
          lambda: f"{db.display_url}: schema {before or 'empty'} -> {after}")


@click.group("users")
def users_group() -> None:
    """The team: users and roles (admin, analyst, privacy_officer, legal, viewer)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "privacy_officer", "legal",
                                                          "viewer"]))
@click.option("--as", "as_user", envvar="SCRAPEGUARD_USER", metavar="ADMIN",
              help="The admin adding the user (not needed for the very first user, who must be an admin).")
@_db_option
@_json_option
@_clear_errors
def users_add(name: str, role: str, as_user: str | None, db_target: str | None, as_json: bool) -> None:
    """Add a user; the new password is read from SCRAPEGUARD_NEW_PASSWORD or asked twice."""
    from sqlalchemy import func, select

    from scrapeguard.records.models import UserRecord
    from scrapeguard.records.users import add_user

    # only the first admin (added without --as) may set the database up
    with _session(db_target, create=as_user is None) as session:
        first = session.execute(select(func.count()).select_from(UserRecord)).scalar_one() == 0
        by = None if first or as_user is None else _actor(session, as_user)
        password = _password(f"Password for {name}", "SCRAPEGUARD_NEW_PASSWORD", confirm=True)
        user = add_user(session, by, name, role, password)
        data = {"name": user.name, "role": user.role}
    _emit(as_json, data, lambda: f"added {name} ({role})")


@users_group.command("list")
@_db_option
@_as_option
@_json_option
@_clear_errors
def users_list(db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.users import list_users

    with _session(db_target) as session:
        rows = [{"name": u.name, "role": u.role, "active": u.active, "created_at": _iso(u.created_at)}
                for u in list_users(session, _actor(session, as_user))]
    _emit(as_json, rows, lambda: "\n".join(f"{r['name']:<20} {r['role']:<16} "
                                           f"{'active' if r['active'] else 'disabled'}" for r in rows)
          or "no users")


def _user_change(name: str, doc: str) -> click.Command:
    """`users disable|enable NAME`: admins only, audited."""

    @click.argument("user")
    @click.option("--note", default="", help="Why (kept in the audit log).")
    @_db_option
    @_as_option
    @_json_option
    @_clear_errors
    def command(user: str, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
        from scrapeguard.records.users import set_active

        with _session(db_target) as session:
            row = set_active(session, _actor(session, as_user), user, name == "enable", note)
            data = {"name": row.name, "role": row.role, "active": row.active}
        _emit(as_json, data, lambda: f"{user} is {'active' if data['active'] else 'disabled'}")

    command.__doc__ = doc
    return users_group.command(name)(command)


_user_change("disable", "Disable a user: they can no longer sign in (not the last active admin).")
_user_change("enable", "Enable a disabled user again.")


@users_group.command("role")
@click.argument("user")
@click.argument("role", type=click.Choice(["admin", "analyst", "privacy_officer", "legal", "viewer"]))
@click.option("--note", default="", help="Why (kept in the audit log).")
@_db_option
@_as_option
@_json_option
@_clear_errors
def users_role(user: str, role: str, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Change a user's role (admins only; the last active admin cannot be demoted)."""
    from scrapeguard.records.users import set_role

    with _session(db_target) as session:
        row = set_role(session, _actor(session, as_user), user, role, note)
        data = {"name": row.name, "role": row.role, "active": row.active}
    _emit(as_json, data, lambda: f"{user} is now {data['role']}")


@click.group("members")
def members_group() -> None:
    """The member directory: route subjects -> member id and country (for breach assessment)."""


@members_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@_db_option
@_as_option
@_json_option
@_clear_errors
def members_import(file: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """FILE: a JSON list of {"member_id", "country", "aliases": ["id:42", "username:ann"]}."""
    from scrapeguard.records.exposure import import_members
    from scrapeguard.records.users import require

    data = _read_json(file)
    if not isinstance(data, list):
        raise click.ClickException(f"{file}: must be a JSON list of members")
    with _session(db_target) as session:
        actor = _actor(session, as_user)
        require(actor, "exposure.import")
        count = import_members(session, data, actor.name)
    _emit(as_json, {"members": count}, lambda: f"imported {count} members")


@click.group("exposure")
def exposure_group() -> None:
    """The exposure ledger: what each actor received."""


@exposure_group.command("import")
@click.argument("file", type=click.Path(exists=True))
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def exposure_import(file: str, db_target: str | None, as_user: str, policy_path: str | None,
                    as_json: bool) -> None:
    """Exposure computed from logs: what `scrapeguard analyze` wrote (its exposed-members.csv, or
    its --out folder), or JSON in the shape of docs/records.md."""
    from scrapeguard.records.analysis_import import read_exposure_file
    from scrapeguard.records.exposure import parse_exposure_import, write_exposure
    from scrapeguard.records.users import require

    policy = _policy(policy_path)
    db = _open(db_target)
    pseudonymiser = _pseudonymiser(policy, db)
    records = parse_exposure_import(read_exposure_file(Path(file)), pseudonymiser)
    with db.session() as session:
        actor = _actor(session, as_user)
        require(actor, "exposure.import")
        write_exposure(session, records)
        from scrapeguard.records import audit

        audit.record(session, actor.name, "exposure.import", "exposure", Path(file).name,
                     {"rows": len(records)})
    db.dispose()
    _emit(as_json, {"rows": len(records)}, lambda: f"imported {len(records)} exposure rows")


@click.group("decisions")
def decisions_group() -> None:
    """Decisions from a decisions file (`scrapeguard replay --decisions-out`)."""


@decisions_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def decisions_import(file: str, db_target: str | None, as_user: str, policy_path: str | None,
                     as_json: bool) -> None:
    """Import a decisions file (JSON Lines); incidents open as they would have live. Decisions
    stored already (same id and time) are skipped: importing a file twice adds nothing."""
    import hashlib

    from scrapeguard.records import audit
    from scrapeguard.records.decisions import add_decisions, parse_decision_line
    from scrapeguard.records.errors import RecordsError
    from scrapeguard.records.incidents import detect
    from scrapeguard.records.users import require

    policy = _policy(policy_path)
    db = _open(db_target)
    pseudonymiser = _pseudonymiser(policy, db)
    records, bad = [], []
    with open(file, "rb") as raw:
        file_sha256 = hashlib.file_digest(raw, "sha256").hexdigest()
    with open(file, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            try:
                records.append(parse_decision_line(line, pseudonymiser))
            except RecordsError as exc:
                bad.append({"line": number, "problem": str(exc)})
    with db.session() as session:
        actor = _actor(session, as_user)
        require(actor, "exposure.import")
        added = add_decisions(session, records)
        counts = {"read": len(records) + len(bad), "added": added, "already_stored": len(records) - added,
                  "bad_lines": len(bad)}
        audit.record(session, actor.name, "decisions.import", "decisions", Path(file).name[:100],
                     {"file": Path(file).name, "sha256": file_sha256, **counts})
    with db.session() as session:
        opened = detect(session, records, policy.incidents)
        result = {"decisions": added, "already_stored": counts["already_stored"], "bad_lines": bad[:100],
                  "incidents_opened": [i.id for i in opened]}
    db.dispose()
    _emit(as_json, result, lambda: "\n".join(
        [f"imported {added} decisions ({counts['already_stored']} stored already, skipped), "
         f"{len(opened)} incident(s) opened; {len(bad)} line(s) skipped:"]
        + [f"  line {b['line']}: {b['problem']}" for b in bad[:20]]))


# -- incidents -----------------------------------------------------------------------


def _incident_dict(session: Session, incident: Any, full: bool = False) -> dict[str, Any]:
    from scrapeguard.records import incidents
    from scrapeguard.records.exposure import ledger, listing_pages
    from scrapeguard.records.notices import notices_of
    from scrapeguard.records.obligations import obligations_of

    actors = incidents.actors_of(session, incident.id)
    members = ledger(session, actors)
    data: dict[str, Any] = {
        "id": incidents.public_id(incident.id), "title": incident.title, "state": incident.state,
        "started_at": _iso(incident.started_at), "detected_at": _iso(incident.detected_at),
        "aware_at": _iso(incident.aware_at), "contained_at": _iso(incident.contained_at),
        "closed_at": _iso(incident.closed_at), "members": len(members), "actors": sorted(actors),
        "notifiable": incident.notifiable,
    }
    if full:
        data["exposure"] = [m.to_dict() for m in members]
        data["listing_pages"] = listing_pages(session, actors)
        data["steps"] = [{"state": s.state, "by": s.by, "at": _iso(s.at), "note": s.note}
                         for s in incidents.steps_of(session, incident.id)]
        data["assessment"] = incident.assessment
        data["reasoning"] = incident.reasoning
        data["data_was_public"] = incident.data_was_public if incident.public_stated else None
        data["aggregated"] = incident.aggregated
        data["notices"] = [{"id": n.id, "regime": n.regime, "audience": n.audience, "state": n.state,
                            "drafted_by": n.drafted_by, "approved_by": n.approved_by, "sent_by": n.sent_by,
                            "sent_at": _iso(n.sent_at), "channel": n.channel}
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
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_list(state: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.incidents import list_incidents

    with _session(db_target) as session:
        found = list_incidents(session, _actor(session, as_user), state)
        rows = [_incident_dict(session, i) for i in found]
    _emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:<8} {r['state']:<10} {r['members']:>6} members  {r['title']}" for r in rows)
        or "no incidents")


@incidents_group.command("show")
@click.argument("incident")
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_show(incident: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """One incident: detection, awareness, steps, every deadline, the obligations and the notices."""
    from scrapeguard.records import incidents
    from scrapeguard.records.users import require

    with _session(db_target) as session:
        require(_actor(session, as_user), "read")
        data = _incident_dict(session, incidents.get(session, incident), full=True)

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

    _emit(as_json, data, text)


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
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def incidents_open(title: str, actors: tuple[str, ...], note: str, detected_text: str | None,
                   started_text: str | None, db_target: str | None, as_user: str,
                   policy_path: str | None, as_json: bool) -> None:
    """Open an incident by hand (e.g. reported by a member or found in logs)."""
    from scrapeguard.records.incidents import open_incident

    policy = _policy(policy_path)
    db = _open(db_target)
    pseudonymiser = _pseudonymiser(policy, db)
    keys = set()
    for key in actors:
        if ":" not in key:
            raise click.BadParameter(f"{key!r} is not name:value (e.g. ip:203.0.113.7)", param_hint="--actor")
        keys.add(pseudonymiser.actor(key))
    with db.session() as session:
        incident = open_incident(session, _actor(session, as_user), title, keys, note=note,
                                 detected_at=_stated_time(detected_text, "--detected-at"),
                                 started_at=_stated_time(started_text, "--started-at"))
        data = _incident_dict(session, incident)
    db.dispose()
    _emit(as_json, data, lambda: f"opened {data['id']} ({data['members']} members exposed so far)")


@incidents_group.command("advance")
@click.argument("incident")
@click.option("--to", "to_state", required=True, type=click.Choice(["contained", "notified", "closed"]))
@click.option("--note", default="", help="A note kept with the step.")
@click.option("--at", "at_text", metavar="TIME",
              help="When it happened (ISO 8601 with zone, e.g. 2026-12-01T10:00+00:00); now if omitted.")
@click.option("--reason", default="",
              help="With --to closed for an incident never assessed: why no assessment is owed "
                   "(e.g. \"false positive: our own crawler\").")
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_advance(incident: str, to_state: str, note: str, at_text: str | None, reason: str,
                      db_target: str | None, as_user: str, as_json: bool) -> None:
    """Move an incident on: contained, notified (when every notification obligation is sent or waived),
    closed (after an assessment, or with --reason)."""
    from scrapeguard.records.incidents import advance

    with _session(db_target) as session:
        row = advance(session, _actor(session, as_user), incident, to_state, note,
                      _stated_time(at_text, "--at"), reason)
        data = _incident_dict(session, row)
    _emit(as_json, data, lambda: f"{data['id']} is {data['state']}")


@incidents_group.command("aware")
@click.argument("incident")
@click.option("--at", "at_text", metavar="TIME",
              help="When the controller became aware (ISO 8601 with zone, e.g. 2026-12-01T10:00+00:00; "
                   "not in the future); now if omitted.")
@click.option("--note", default="", help="A note for the audit log.")
@click.option("--reason", default="",
              help="Needed when the awareness is earlier than the recorded detection: why.")
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_aware(incident: str, at_text: str | None, note: str, reason: str, db_target: str | None,
                    as_user: str, as_json: bool) -> None:
    """Record when the controller became aware of a breach: notification clocks start there."""
    from scrapeguard.records.incidents import mark_aware

    with _session(db_target) as session:
        row = mark_aware(session, _actor(session, as_user), incident, _stated_time(at_text, "--at"), note,
                         reason)
        data = _incident_dict(session, row)
    _emit(as_json, data, lambda: f"{data['id']}: aware at {data['aware_at']}")


@incidents_group.command("assess")
@click.argument("incident")
@click.option("--public/--not-public", "data_was_public", default=None,
              help="Was the data visible to the public or members before it was scraped? No default: until "
                   "stated it is an open question and the severity gets no reduction for it.")
@click.option("--aggregated/--not-aggregated", default=None,
              help="Was it compiled into profiles or a dataset?")
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def incidents_assess(incident: str, data_was_public: bool | None, aggregated: bool | None,
                     db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Breach assessment per jurisdiction: severity (ENISA), who must likely be notified, deadlines."""
    from scrapeguard.records.incidents import set_circumstances
    from scrapeguard.records.notices import assess_incident

    policy = _policy(policy_path)
    with _session(db_target) as session:
        actor = _actor(session, as_user)
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

    _emit(as_json, data, text)


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
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_reopen(incident: str, reason: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Reopen a closed incident: back to assessed (if it was assessed), contained or detected."""
    from scrapeguard.records.incidents import reopen

    with _session(db_target) as session:
        row = reopen(session, _actor(session, as_user), incident, reason)
        data = _incident_dict(session, row)
    _emit(as_json, data, lambda: f"{data['id']} reopened: {data['state']}")


@incidents_group.command("waive")
@click.argument("incident")
@click.option("--regime", required=True, help="The regime of the obligation, e.g. eu_gdpr.")
@click.option("--audience", required=True, type=click.Choice(["regulator", "individuals"]),
              help="Whom the obligation is to notify.")
@click.option("--reason", required=True,
              help="Why no notice will be sent (counsel's reasoning; kept for the breach register).")
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_waive(incident: str, regime: str, audience: str, reason: str, db_target: str | None,
                    as_user: str, as_json: bool) -> None:
    """Waive one notification obligation with a reason (a privacy officer; audited)."""
    from scrapeguard.records.obligations import waive

    with _session(db_target) as session:
        data = waive(session, _actor(session, as_user), incident, regime, audience, reason).to_dict()
    _emit(as_json, data, lambda: f"{regime} {audience} ({data['status']}) waived: {reason}")


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
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def incidents_notify(incident: str, regime: str, audience: str, out: str | None, db_target: str | None,
                     as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Draft a notice (regulator or individuals) for one jurisdiction; then `notices approve|send`."""
    from scrapeguard.records.notices import draft, missing_in

    policy = _policy(policy_path)
    with _session(db_target) as session:
        notice = draft(session, _actor(session, as_user), incident, regime, audience,  # type: ignore[arg-type]
                       policy.incidents)
        missing = missing_in(session, notice, policy.incidents)
        data = {"notice": notice.id, "state": notice.state, "title": notice.title, "text": notice.text,
                "missing_contents": missing}
    if out:
        Path(out).write_text(notice.text, "utf-8")
    warning = "".join(f"\nmissing required content: {item}" for item in missing)
    _emit(as_json, data, lambda: f"notice {data['notice']} drafted: {data['title']}{warning}"
                                 + (f" (written to {out})" if out else f"\n\n{data['text']}"))


@incidents_group.command("export-affected")
@click.argument("incident")
@click.option("--out", type=click.Path(dir_okay=False), help="Write CSV here (JSON with --json).")
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_export_affected(incident: str, out: str | None, db_target: str | None, as_user: str,
                              as_json: bool) -> None:
    """The affected members (id, country, data categories, first/last time): who to notify."""
    import csv
    import io

    from scrapeguard.records.notices import affected_members

    with _session(db_target) as session:
        rows = affected_members(session, _actor(session, as_user), incident)
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


def _log_options(f: F) -> F:
    """--log and the log format options of `scrapeguard replay`, for access log excerpts."""
    options = [
        click.option("--log", "logs", multiple=True, type=click.Path(dir_okay=False, exists=True),
                     metavar="FILE", help="An access log (plain or gzip) to quote the actors' lines from. "
                                          "Repeatable."),
        click.option("--format", "fmt", metavar="FMT",
                     help="With --log: combined, common, json, or an nginx log_format string in quotes."),
        click.option("--session-var", metavar="VAR",
                     help="With --log: the format variable holding the session."),
        click.option("--account-var", metavar="VAR",
                     help="With --log: the format variable holding the account."),
        click.option("--json-field", "json_fields", multiple=True, metavar="NAME=KEY",
                     help="With --log --format json: which key holds NAME (as for replay). Repeatable."),
        click.option("--excerpt-cap", type=click.IntRange(0, None), default=10_000, show_default=True,
                     help="At most this many matching lines are quoted; the rest are counted."),
        _policy_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True)
class _LogArgs:
    logs: tuple[str, ...]
    fmt: str | None
    session_var: str | None
    account_var: str | None
    json_fields: tuple[str, ...]
    cap: int
    policy_path: str | None


def _write_evidence(db_target: str | None, as_user: str, out_dir: str, log_args: _LogArgs,
                    incident_id: str | None = None, case_id: str | None = None) -> dict[str, Any]:
    """Write the pack; with --log, read the logs for the pack's actors first."""
    from scrapeguard.cli import _log_format_or_exit
    from scrapeguard.records.evidence import pack_actors, write_pack
    from scrapeguard.records.log_excerpts import read_excerpt

    if log_args.fmt is not None and not log_args.logs:
        raise click.BadParameter("--format is for --log: give the access logs too", param_hint="--format")
    log_format = None
    if log_args.logs:
        if log_args.fmt is None:
            raise click.BadParameter("--log needs the logs' --format", param_hint="--format")
        log_format = _log_format_or_exit(log_args.fmt, log_args.session_var, log_args.account_var,
                                         log_args.json_fields)
    policy = _policy(log_args.policy_path)
    db = _open(db_target)
    try:
        with db.session() as session:
            actor = _actor(session, as_user)
            excerpt = None
            if log_format is not None:
                pseudonymiser = _pseudonymiser(policy, db, session)
                actors = pack_actors(session, actor, incident_id, case_id)
                try:
                    excerpt = read_excerpt(list(log_args.logs), log_format, actors, pseudonymiser,
                                           log_args.cap)
                except OSError as exc:
                    raise click.ClickException(f"cannot read {exc.filename or 'a log'}: "
                                               f"{exc.strerror}") from exc
            path = write_pack(session, actor, Path(out_dir), incident_id=incident_id, case_id=case_id,
                              excerpt=excerpt)
    finally:
        db.dispose()
    result: dict[str, Any] = {"pack": str(path)}
    if excerpt is not None:
        summary = excerpt.summary()
        result["log_excerpts"] = {k: summary[k] for k in (
            "lines_read", "matched", "kept", "left_out", "bad_lines_skipped", "bad_lines_by_reason")}
    return result


def _evidence_text(result: dict[str, Any]) -> str:
    lines = [f"evidence pack written to {result['pack']}"]
    logs = result.get("log_excerpts")
    if logs:
        lines.append(f"access logs: {logs['lines_read']} lines read, {logs['matched']} of the actors' "
                     f"({logs['kept']} quoted, {logs['left_out']} over the cap), "
                     f"{logs['bad_lines_skipped']} bad lines skipped")
        lines += [f"  skipped {n}: {reason}" for reason, n in logs["bad_lines_by_reason"].items()]
    return "\n".join(lines)


@incidents_group.command("evidence")
@click.argument("incident")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the zip.")
@_log_options
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_evidence(incident: str, out_dir: str, logs: tuple[str, ...], fmt: str | None,
                       session_var: str | None, account_var: str | None, json_fields: tuple[str, ...],
                       excerpt_cap: int, policy_path: str | None, db_target: str | None, as_user: str,
                       as_json: bool) -> None:
    """Evidence pack (zip): decisions, exposure, timeline, audit entries, manifest of SHA-256 hashes;
    with --log, the lines of the site's access logs that are the incident's actors'."""
    log_args = _LogArgs(logs, fmt, session_var, account_var, json_fields, excerpt_cap, policy_path)
    result = _write_evidence(db_target, as_user, out_dir, log_args, incident_id=incident)
    _emit(as_json, result, lambda: _evidence_text(result))


@incidents_group.command("register")
@_db_option
@_as_option
@_json_option
@_clear_errors
def incidents_register(db_target: str | None, as_user: str, as_json: bool) -> None:
    """The breach register (GDPR Art. 33(5)): every incident, notifiable or not, with the reasoning."""
    from scrapeguard.records.notices import register

    with _session(db_target) as session:
        rows = register(session, _actor(session, as_user))
    _emit(as_json, rows, lambda: "\n".join(
        f"{r['incident']:<8} {r['state']:<10} notifiable={r['notifiable']}  {r['reasoning']}" for r in rows)
        or "no incidents")


# -- notices ---------------------------------------------------------------------------


@click.group("notices")
def notices_group() -> None:
    """Notices: draft (incidents notify) -> approved (by someone else) -> sent."""


def _notice_step(name: str, doc: str) -> click.Command:
    @click.argument("notice", type=int)
    @click.option("--note", default="")
    @_db_option
    @_as_option
    @_json_option
    @_clear_errors
    def command(notice: int, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
        from scrapeguard.records import notices

        with _session(db_target) as session:
            row = notices.approve(session, _actor(session, as_user), notice, note)
            data = {"notice": row.id, "state": row.state}
        _emit(as_json, data, lambda: f"notice {notice} is {data['state']}")

    command.__doc__ = doc
    return notices_group.command(name)(command)


_notice_step("approve", "Approve a drafted notice (not by the person who drafted it).")


@notices_group.command("send")
@click.argument("notice", type=int)
@click.option("--channel", required=True, help='How it was sent, e.g. "regulator portal", "email", "post".')
@click.option("--sent-at", "sent_text", required=True, metavar="TIME",
              help="When it really went out (ISO 8601 with zone, e.g. 2026-12-01T10:00+00:00; not in the "
                   "future).")
@click.option("--final-file", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="The final document that was sent (stored with its SHA-256); without it, the approved "
                   "draft without its draft-only parts is recorded as sent.")
@click.option("--note", default="", help="A note for the audit log.")
@_db_option
@_as_option
@_json_option
@_clear_errors
def notices_send(notice: int, channel: str, sent_text: str, final_file: str | None, note: str,
                 db_target: str | None, as_user: str, as_json: bool) -> None:
    """Record that an approved notice was sent: when, how, and what exactly."""
    from scrapeguard.records import notices

    sent_at = _stated_time(sent_text, "--sent-at")
    assert sent_at is not None
    document = Path(final_file).read_bytes() if final_file else None
    with _session(db_target) as session:
        row = notices.send(session, _actor(session, as_user), notice, channel, sent_at, note, document,
                           Path(final_file).name if final_file else None)
        data = {"notice": row.id, "state": row.state, "sent_at": _iso(row.sent_at), "channel": row.channel,
                "sha256": row.final_sha256, "final_document": row.final_document_name}
    _emit(as_json, data, lambda: f"notice {notice} is {data['state']} ({data['channel']}, {data['sent_at']}; "
                                 f"sha256 {data['sha256']})")


@notices_group.command("list")
@click.option("--incident", help="Only this incident's notices.")
@_db_option
@_as_option
@_json_option
@_clear_errors
def notices_list(incident: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    """The notices, with their state and who drafted, approved and sent them."""
    from sqlalchemy import select

    from scrapeguard.records.incidents import get, public_id
    from scrapeguard.records.models import NoticeRecord
    from scrapeguard.records.users import require

    with _session(db_target) as session:
        require(_actor(session, as_user), "read")
        query = select(NoticeRecord).order_by(NoticeRecord.id)
        if incident:
            query = query.where(NoticeRecord.incident_id == get(session, incident).id)
        rows = [{"notice": n.id, "incident": public_id(n.incident_id), "regime": n.regime,
                 "audience": n.audience, "state": n.state, "drafted_by": n.drafted_by,
                 "approved_by": n.approved_by, "sent_by": n.sent_by, "sent_at": _iso(n.sent_at),
                 "channel": n.channel} for n in session.execute(query).scalars()]
    _emit(as_json, rows, lambda: "\n".join(
        f"{r['notice']:>5} {r['incident']:<8} {r['regime']:<12} {r['audience']:<12} {r['state']:<9}"
        + (f" sent {r['sent_at']} via {r['channel']}" if r["sent_at"] else "") for r in rows)
        or "no notices")


@notices_group.command("show")
@click.argument("notice", type=int)
@_db_option
@_as_option
@_json_option
@_clear_errors
def notices_show(notice: int, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.notices import get_notice
    from scrapeguard.records.users import require

    with _session(db_target) as session:
        require(_actor(session, as_user), "read")
        n = get_notice(session, notice)
        data = {"notice": n.id, "incident": n.incident_id, "regime": n.regime, "audience": n.audience,
                "state": n.state, "drafted_by": n.drafted_by, "approved_by": n.approved_by,
                "sent_by": n.sent_by, "title": n.title, "text": n.text, "sent_at": _iso(n.sent_at),
                "channel": n.channel, "final_text": n.final_text, "final_document": n.final_document_name,
                "final_sha256": n.final_sha256}

    def text() -> str:
        if data["state"] != "sent":
            return f"{data['title']} ({data['state']})\n\n{data['text']}"
        head = (f"notice {data['notice']}: sent {data['sent_at']} via {data['channel']}; "
                f"sha256 {data['final_sha256']}")
        if data["final_text"] is None:
            return f"{head}\nfinal document: {data['final_document']}"
        return f"{head}\n\n{data['final_text']}"

    _emit(as_json, data, text)


# -- cases -------------------------------------------------------------------------------


def _case_dict(session: Session, case: Any, full: bool = False) -> dict[str, Any]:
    from scrapeguard.records import cases

    data: dict[str, Any] = {
        "id": cases.public_id(case.id), "respondent": case.respondent, "status": case.status,
        "incident": f"INC-{case.incident_id}" if case.incident_id else None, "actors": case.actors,
        "deadline": _iso(case.deadline), "deletion_confirmed_at": _iso(case.deletion_confirmed_at),
        "deletion_sha256": case.deletion_sha256,
    }
    if full:
        data["address"] = case.respondent_address
        data["reply"] = case.reply
        data["history"] = [{"status": s.status, "by": s.by, "at": _iso(s.at), "note": s.note}
                           for s in cases.steps_of(session, case.id)]
        data["letters"] = [_letter_dict(x) for x in cases.letters_of(session, case.id)]
        data["clear_actors"] = case.clear_actors or {}
    return data


def _letter_dict(letter: Any, text: bool = False) -> dict[str, Any]:
    data = {"letter": letter.id, "kind": letter.kind, "state": letter.state, "title": letter.title,
            "drafted_by": letter.created_by, "drafted_at": _iso(letter.created_at),
            "approved_by": letter.approved_by, "approved_at": _iso(letter.approved_at),
            "sent_by": letter.sent_by, "sent_at": _iso(letter.sent_at), "channel": letter.channel,
            "deadline": _iso(letter.deadline), "sha256": letter.sha256, "final_sha256": letter.final_sha256}
    if text:
        data["text"] = letter.text
        data["final_text"] = letter.final_text
    return data


@click.group("cases")
def cases_group() -> None:
    """Legal cases: open, list, show, identify, letter, approve-letter, send-letter, reply,
    confirm-deletion, remind, close, evidence."""


@cases_group.command("open")
@click.option("--respondent", required=True, help="A person, a company, or 'the unknown operator of ...'.")
@click.option("--address", help="The respondent's postal or e-mail address.")
@click.option("--incident", help="The incident (its actors become the case's).")
@click.option("--actor", "actors", multiple=True, metavar="KEY",
              help="Actor keys (ip:203.0.113.7, account:42); addresses given in clear are kept for the "
                   "letters (stored pseudonymised elsewhere).")
@click.option("--note", default="", help="Why the case is opened.")
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def cases_open(respondent: str, address: str | None, incident: str | None, actors: tuple[str, ...], note: str,
               db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    from scrapeguard.records.cases import open_case

    policy = _policy(policy_path)
    db = _open(db_target)
    pseudonymiser = _pseudonymiser(policy, db)
    clear = {pseudonymiser.actor(a): a for a in actors if pseudonymiser.actor(a) != a}
    with db.session() as session:
        case = open_case(session, _actor(session, as_user), respondent, address, incident,
                         {pseudonymiser.actor(a) for a in actors}, note, clear_actors=clear)
        data = _case_dict(session, case)
    db.dispose()
    _emit(as_json, data, lambda: f"opened {data['id']} against {respondent}")


@cases_group.command("list")
@click.option("--status")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_list(status: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.cases import list_cases

    with _session(db_target) as session:
        rows = [_case_dict(session, c) for c in list_cases(session, _actor(session, as_user), status)]
    _emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:<8} {r['status']:<18} due {r['deadline'] or '-':<32} {r['respondent']}" for r in rows)
        or "no cases")


@cases_group.command("show")
@click.argument("case")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_show(case: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records import cases
    from scrapeguard.records.users import require

    with _session(db_target) as session:
        require(_actor(session, as_user), "read")
        data = _case_dict(session, cases.get(session, case), full=True)
    _emit(as_json, data, lambda: "\n".join(
        [f"{data['id']} against {data['respondent']}: {data['status']}"]
        + [f"  {h['at']}  {h['status']:<18} by {h['by']}  {h['note']}" for h in data["history"]]
        + [f"  letter {x['letter']} {x['kind']}: {x['state']}"
           + (f", approved by {x['approved_by']}" if x["approved_by"] else "")
           + (f", sent {x['sent_at']} by {x['channel']}" if x["sent_at"] else "") for x in data["letters"]]))


def _zoned_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time that must say its zone (a letter's sending time is a legal fact)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone (add Z or +00:00)", param_hint=name)
    return parsed.astimezone(UTC)


@cases_group.command("identify")
@click.argument("case")
@click.option("--actor", "actors", multiple=True, metavar="KEY",
              help="The clear address of a pseudonymised actor of the case (ip:203.0.113.7); checked "
                   "against the case's pseudonyms with the records' key. Repeatable.")
@click.option("--log", "logs", multiple=True, type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="Access logs (plain or gzip) to look the case's pseudonymised addresses up in: each "
                   "address there is pseudonymised with the records' key and compared. Repeatable.")
@click.option("--format", "fmt", metavar="FMT",
              help="With --log: combined, common, json, or an nginx log_format string in quotes.")
@click.option("--json-field", "json_fields", multiple=True, metavar="NAME=KEY",
              help="With --log --format json: which key holds NAME (as for replay). Repeatable.")
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def cases_identify(case: str, actors: tuple[str, ...], logs: tuple[str, ...], fmt: str | None,
                   json_fields: tuple[str, ...], db_target: str | None, as_user: str,
                   policy_path: str | None, as_json: bool) -> None:
    """Record the clear addresses a letter names (the respondent knows them, not our pseudonyms):
    given (--actor) or looked up in access logs (--log)."""
    from scrapeguard.cli import _log_format_or_exit
    from scrapeguard.logs.reading import ReadStats, read_lines
    from scrapeguard.records.cases import addresses_in_logs, get, identify, unidentified
    from scrapeguard.records.users import require

    if not actors and not logs:
        raise click.UsageError("give the addresses (--actor ip:...) or access logs to find them in (--log)")
    if logs and fmt is None:
        raise click.BadParameter("--log needs the logs' --format", param_hint="--format")
    policy = _policy(policy_path)
    db = _open(db_target)
    pseudonymiser = _pseudonymiser(policy, db)
    clear = list(actors)
    try:
        with db.session() as session:
            actor = _actor(session, as_user)
            require(actor, "case.manage")
            if logs:
                assert fmt is not None
                log_format = _log_format_or_exit(fmt, None, None, json_fields)
                wanted = set(unidentified(session, get(session, case)))
                records = (r for _, _, _, r in read_lines(list(logs), log_format, ReadStats()))
                try:
                    clear += sorted(addresses_in_logs(records, wanted, pseudonymiser).values())
                except OSError as exc:
                    raise click.ClickException(f"cannot read {exc.filename or 'a log'}: "
                                               f"{exc.strerror}") from exc
            # (nothing found in the logs: nothing recorded)
            record = identify(session, actor, case, clear, pseudonymiser) if clear else get(session, case)
            data = {**_case_dict(session, record), "clear_actors": record.clear_actors,
                    "unidentified": unidentified(session, record)}
    finally:
        db.dispose()
    _emit(as_json, data, lambda: f"{data['id']}: {len(data['clear_actors'])} address(es) identified, "
                                 f"{len(data['unidentified'])} not")


@cases_group.command("letter")
@click.argument("case")
@click.option("--kind", required=True, type=click.Choice(["cease_and_desist", "deletion_demand"]),
              help="Which letter.")
@click.option("--deadline-days", type=click.IntRange(1, 365), default=14, show_default=True,
              help="Calendar days the respondent has, from the day the letter is sent.")
@click.option("--templates", type=click.Path(file_okay=False, exists=True),
              help="Your template folder (overrides the packaged letters).")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the draft to this file.")
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def cases_letter(case: str, kind: str, deadline_days: int, templates: str | None, out: str | None,
                 db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Draft a letter with the incident's evidence. It counts once another person approves it
    (`cases approve-letter`) and it is recorded as sent (`cases send-letter`)."""
    from scrapeguard.records.cases import write_letter

    policy = _policy(policy_path)
    with _session(db_target) as session:
        letter = write_letter(session, _actor(session, as_user), case, kind, deadline_days,  # type: ignore[arg-type]
                              policy.incidents, Path(templates) if templates else None)
        data = _letter_dict(letter, text=True)
    if out:
        Path(out).write_text(data["text"], "utf-8")
    _emit(as_json, data, lambda: f"letter {data['letter']} ({kind}) drafted, to be approved by another person"
                                 + (f", written to {out}" if out else f"\n\n{data['text']}"))


@cases_group.command("approve-letter")
@click.argument("letter", type=int)
@click.option("--note", default="", help="A note kept with the approval.")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_approve_letter(letter: int, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Approve a drafted letter (legal, privacy officer or admin; not its drafter)."""
    from scrapeguard.records.cases import approve_letter

    with _session(db_target) as session:
        data = _letter_dict(approve_letter(session, _actor(session, as_user), letter, note))
    _emit(as_json, data, lambda: f"letter {letter} approved by {data['approved_by']}")


@cases_group.command("send-letter")
@click.argument("letter", type=int)
@click.option("--channel", required=True, metavar="HOW",
              help="How it was sent: email, post, registered post, courier, ...")
@click.option("--at", "at_text", metavar="TIME",
              help="When it was sent (ISO 8601 with a zone); now if omitted. Not in the future.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the letter as sent to this file.")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_send_letter(letter: int, channel: str, at_text: str | None, out: str | None, db_target: str | None,
                      as_user: str, as_json: bool) -> None:
    """Record that an approved letter was sent: its final text (dated that day) and the case's deadline."""
    from scrapeguard.records.cases import send_letter

    at = _zoned_time(at_text, "--at")
    with _session(db_target) as session:
        data = _letter_dict(send_letter(session, _actor(session, as_user), letter, channel, at), text=True)
    if out:
        Path(out).write_text(data["final_text"], "utf-8")
    _emit(as_json, data, lambda: f"letter {letter} sent {data['sent_at']} by {data['channel']}; "
                                 f"deadline {data['deadline']}" + (f", written to {out}" if out else ""))


@cases_group.command("reply")
@click.argument("case")
@click.option("--text", "reply_text", help="The reply (or --file).")
@click.option("--file", "reply_file", type=click.Path(dir_okay=False, exists=True))
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_reply(case: str, reply_text: str | None, reply_file: str | None, db_target: str | None,
                as_user: str, as_json: bool) -> None:
    from scrapeguard.records.cases import record_reply

    if (reply_text is None) == (reply_file is None):
        raise click.UsageError("give the reply with --text or --file (one of them)")
    if reply_text is not None:
        text = reply_text
    else:
        text = Path(str(reply_file)).read_text("utf-8", errors="replace")
    with _session(db_target) as session:
        data = _case_dict(session, record_reply(session, _actor(session, as_user), case, text))
    _emit(as_json, data, lambda: f"{data['id']}: reply recorded")


@cases_group.command("confirm-deletion")
@click.argument("case")
@click.option("--document", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The confirmation received (its SHA-256 is recorded).")
@click.option("--note", default="")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_confirm_deletion(case: str, document: str, note: str, db_target: str | None, as_user: str,
                           as_json: bool) -> None:
    from scrapeguard.records.cases import confirm_deletion

    with _session(db_target) as session:
        data = _case_dict(session, confirm_deletion(session, _actor(session, as_user), case, Path(document),
                                                    note=note))
    _emit(as_json, data, lambda: f"{data['id']}: deletion confirmed (sha256 {data['deletion_sha256']})")


@cases_group.command("remind")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_remind(db_target: str | None, as_user: str, as_json: bool) -> None:
    """Record a reminder on every overdue case and list them (run daily)."""
    from scrapeguard.records.cases import remind

    with _session(db_target) as session:
        rows = [_case_dict(session, c) for c in remind(session, _actor(session, as_user))]
    _emit(as_json, rows, lambda: "\n".join(f"OVERDUE {r['id']} (due {r['deadline']}) {r['respondent']}"
                                           for r in rows) or "no overdue cases")


@cases_group.command("close")
@click.argument("case")
@click.option("--note", default="", help="Why (required unless deletion is confirmed).")
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_close(case: str, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.cases import close_case

    with _session(db_target) as session:
        data = _case_dict(session, close_case(session, _actor(session, as_user), case, note))
    _emit(as_json, data, lambda: f"{data['id']} is closed")


@cases_group.command("evidence")
@click.argument("case")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@_log_options
@_db_option
@_as_option
@_json_option
@_clear_errors
def cases_evidence(case: str, out_dir: str, logs: tuple[str, ...], fmt: str | None, session_var: str | None,
                   account_var: str | None, json_fields: tuple[str, ...], excerpt_cap: int,
                   policy_path: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Evidence pack (zip) of a case and its incident; with --log, the actors' access log lines."""
    log_args = _LogArgs(logs, fmt, session_var, account_var, json_fields, excerpt_cap, policy_path)
    result = _write_evidence(db_target, as_user, out_dir, log_args, case_id=case)
    _emit(as_json, result, lambda: _evidence_text(result))


# -- audit, report, retention ------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """The append-only, hash-chained audit log."""


@audit_group.command("verify")
@click.option("--against", "checkpoint_file", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="A checkpoint file (`audit checkpoint --out FILE`): each checkpoint's signature must "
                   "hold and the chain must still pass through it.")
@_db_option
@_policy_option
@_json_option
@_clear_errors
def audit_verify(checkpoint_file: str | None, db_target: str | None, policy_path: str | None,
                 as_json: bool) -> None:
    """Recompute the keyed chain and compare every incident, notice, case and user with its last
    audited change; exit status 1 if anything was altered, deleted, reordered or edited directly."""
    from scrapeguard.records.audit import read_checkpoints, verify

    db = _open(db_target)
    if policy_path is not None:
        db.key_source = _policy(policy_path).incidents.pseudonym_key
    try:
        with db.session() as session:
            points = read_checkpoints(session, Path(checkpoint_file)) if checkpoint_file else None
            result = verify(session, checkpoints=points)
    finally:
        db.dispose()

    def text() -> str:
        lines = [f"audit log OK: {result.entries} entries, head {result.head_seq} {result.head_hash}; "
                 f"{result.rows_checked} rows match their last audited change"
                 + (f"; {result.checkpoints} checkpoint(s) hold" if checkpoint_file else "")
                 if result.ok else "audit log TAMPERED:"]
        lines += [f"  {p}" for p in result.problems]
        lines += [f"note: {n}" for n in result.notes]
        return "\n".join(lines)

    _emit(as_json, result.to_dict(), text)
    if not result.ok:
        sys.exit(1)


@audit_group.command("bind")
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def audit_bind(db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """After upgrading to schema 0004: bind the rows last changed before (incidents, notices,
    cases, users) into the chain as they are now, so a later direct edit of them shows (admins)."""
    from scrapeguard.records.audit import bind_unbound
    from scrapeguard.records.users import require

    db = _open(db_target)
    if policy_path is not None:
        db.key_source = _policy(policy_path).incidents.pseudonym_key
    try:
        with db.session() as session:
            actor = _actor(session, as_user)
            require(actor, "user.manage")
            counts = bind_unbound(session, actor.name)
    finally:
        db.dispose()
    _emit(as_json, counts, lambda: "bound " + (", ".join(f"{n} {entity}(s)" for entity, n in counts.items())
                                               or "nothing (every row is bound already)"))


@audit_group.command("checkpoint")
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Append the checkpoint to this file (created 0600). Keep it outside the database's "
                   "machine or backups, e.g. on write-once storage.")
@_db_option
@_policy_option
@_json_option
@_clear_errors
def audit_checkpoint(out: str, db_target: str | None, policy_path: str | None, as_json: bool) -> None:
    """Append a signed checkpoint of the chain's head (seq, hash, time) to FILE; run it regularly
    (e.g. from cron). `audit verify --against FILE` then finds a chain rewritten since."""
    from scrapeguard.records.audit import append_checkpoint, checkpoint, verify

    db = _open(db_target)
    if policy_path is not None:
        db.key_source = _policy(policy_path).incidents.pseudonym_key
    try:
        with db.session() as session:
            result = verify(session)
            if not result.ok:  # a checkpoint vouches for the chain: never for a broken one
                raise click.ClickException("the audit log does not verify, no checkpoint written:\n"
                                           + "\n".join(f"  {p}" for p in result.problems))
            point = checkpoint(session)
    finally:
        db.dispose()
    append_checkpoint(Path(out), point)
    data = {"seq": point.seq, "hash": point.hash, "at": point.at, "out": out}
    _emit(as_json, data, lambda: f"checkpoint of entry {point.seq} ({point.hash}) appended to {out}")


@click.group("report")
def report_group() -> None:
    """Reports."""


@report_group.command("regulator")
@click.option("--from", "start_text", metavar="DATE", help="Start (ISO 8601); 90 days ago if omitted.")
@click.option("--to", "end_text", metavar="DATE", help="End (ISO 8601); now if omitted.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="html", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def report_regulator(start_text: str | None, end_text: str | None, fmt: str, out: str, db_target: str | None,
                     as_user: str, policy_path: str | None, as_json: bool) -> None:
    """How this deployment meets each measure regulators expect, from the live policy, with figures."""
    from scrapeguard.compliance import render_regulator_report, report_pdf
    from scrapeguard.records import audit
    from scrapeguard.records.figures import report_figures
    from scrapeguard.records.users import require

    policy = _policy(policy_path)
    end = _when(end_text, "--to") or datetime.now(UTC)
    start = _when(start_text, "--from") or end - timedelta(days=90)
    with _session(db_target) as session:
        actor = _actor(session, as_user)
        require(actor, "report")
        figures = report_figures(session, start, end)
        if fmt == "pdf":
            Path(out).write_bytes(report_pdf(policy, figures, organisation=policy.incidents.organisation))
        else:
            Path(out).write_text(render_regulator_report(policy, figures,
                                                         organisation=policy.incidents.organisation), "utf-8")
        audit.record(session, actor.name, "report.regulator", "report", Path(out).name,
                     {"from": start.isoformat(), "to": end.isoformat(), "format": fmt})
    data = {"out": out, "refusals_by_action": figures.refusals_by_action,
            "incidents_total": figures.incidents_total, "cases_by_status": figures.cases_by_status}
    _emit(as_json, data, lambda: f"regulator report written to {out}")


@click.group("records")
def records_group() -> None:
    """Data protection of the records themselves."""


@records_group.command("purge")
@_db_option
@_as_option
@_policy_option
@_json_option
@_clear_errors
def records_purge(db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Delete decisions and exposure past their retention ([incidents.retention_days])."""
    from scrapeguard.records.privacy import purge
    from scrapeguard.records.users import require

    options = _policy(policy_path).incidents
    with _session(db_target) as session:
        actor = _actor(session, as_user)
        require(actor, "records.purge")
        counts = purge(session, options.retain_decisions_days, options.retain_exposure_days, actor.name)
    _emit(as_json, counts,
          lambda: f"purged {counts['decisions']} decisions, {counts['exposure']} exposure rows")


@records_group.command("pseudonym")
@click.argument("key", metavar="NAME:VALUE")
@_db_option
@_policy_option
@_clear_errors
def records_pseudonym(key: str, db_target: str | None, policy_path: str | None) -> None:
    """What an actor key looks like at rest (e.g. ip:203.0.113.7), to find it in the records."""

    if ":" not in key:
        raise click.BadParameter("give name:value, e.g. ip:203.0.113.7", param_hint="KEY")
    policy = _policy(policy_path)
    db = _open(db_target)
    try:
        click.echo(_pseudonymiser(policy, db).actor(key))
    finally:
        db.dispose()


COMMANDS = (db_group, users_group, members_group, exposure_group, decisions_group, incidents_group,
            notices_group, cases_group, audit_group, report_group, records_group)
