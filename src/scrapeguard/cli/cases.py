"""`scrapeguard cases ...`: legal cases against scrapers."""

from __future__ import annotations

from datetime import UTC
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
    log_format_or_exit,
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


def _case_dict(session: Session, case: Any, full: bool = False) -> dict[str, Any]:
    from scrapeguard.records import cases

    data: dict[str, Any] = {
        "id": cases.public_id(case.id), "respondent": case.respondent, "status": case.status,
        "incident": f"INC-{case.incident_id}" if case.incident_id else None, "actors": case.actors,
        "deadline": iso(case.deadline), "deletion_confirmed_at": iso(case.deletion_confirmed_at),
        "deletion_sha256": case.deletion_sha256,
    }
    if full:
        data["address"] = case.respondent_address
        data["reply"] = case.reply
        data["history"] = [{"status": s.status, "by": s.by, "at": iso(s.at), "note": s.note}
                           for s in cases.steps_of(session, case.id)]
        data["letters"] = [_letter_dict(x) for x in cases.letters_of(session, case.id)]
        data["clear_actors"] = case.clear_actors or {}
    return data


def _letter_dict(letter: Any, text: bool = False) -> dict[str, Any]:
    data = {"letter": letter.id, "kind": letter.kind, "state": letter.state, "title": letter.title,
            "drafted_by": letter.created_by, "drafted_at": iso(letter.created_at),
            "approved_by": letter.approved_by, "approved_at": iso(letter.approved_at),
            "sent_by": letter.sent_by, "sent_at": iso(letter.sent_at), "channel": letter.channel,
            "deadline": iso(letter.deadline), "sha256": letter.sha256, "final_sha256": letter.final_sha256}
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
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def cases_open(respondent: str, address: str | None, incident: str | None, actors: tuple[str, ...], note: str,
               db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    from scrapeguard.records.cases import open_case

    policy = policy_or_exit(policy_path)
    db = open_database(db_target)
    pseudonymiser = pseudonymiser_for(policy, db)
    clear = {pseudonymiser.actor(a): a for a in actors if pseudonymiser.actor(a) != a}
    with db.session() as session:
        case = open_case(session, signed_in(session, as_user), respondent, address, incident,
                         {pseudonymiser.actor(a) for a in actors}, note, clear_actors=clear)
        data = _case_dict(session, case)
    db.dispose()
    emit(as_json, data, lambda: f"opened {data['id']} against {respondent}")


@cases_group.command("list")
@click.option("--status")
@db_option
@as_option
@json_option
@clear_errors
def cases_list(status: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.cases import list_cases

    with database_session(db_target) as session:
        rows = [_case_dict(session, c) for c in list_cases(session, signed_in(session, as_user), status)]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:<8} {r['status']:<18} due {r['deadline'] or '-':<32} {r['respondent']}" for r in rows)
        or "no cases")


@cases_group.command("show")
@click.argument("case")
@db_option
@as_option
@json_option
@clear_errors
def cases_show(case: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records import cases

    with database_session(db_target) as session:
        data = _case_dict(session, cases.read_case(session, signed_in(session, as_user), case), full=True)
    emit(as_json, data, lambda: "\n".join(
        [f"{data['id']} against {data['respondent']}: {data['status']}"]
        + [f"  {h['at']}  {h['status']:<18} by {h['by']}  {h['note']}" for h in data["history"]]
        + [f"  letter {x['letter']} {x['kind']}: {x['state']}"
           + (f", approved by {x['approved_by']}" if x["approved_by"] else "")
           + (f", sent {x['sent_at']} by {x['channel']}" if x["sent_at"] else "") for x in data["letters"]]))


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
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def cases_identify(case: str, actors: tuple[str, ...], logs: tuple[str, ...], fmt: str | None,
                   json_fields: tuple[str, ...], db_target: str | None, as_user: str,
                   policy_path: str | None, as_json: bool) -> None:
    """Record the clear addresses a letter names (the respondent knows them, not our pseudonyms):
    given (--actor) or looked up in access logs (--log)."""
    from scrapeguard.logs.reading import ReadStats, read_lines
    from scrapeguard.records.cases import addresses_in_logs, identify, read_case, unidentified

    if not actors and not logs:
        raise click.UsageError("give the addresses (--actor ip:...) or access logs to find them in (--log)")
    if logs and fmt is None:
        raise click.BadParameter("--log needs the logs' --format", param_hint="--format")
    policy = policy_or_exit(policy_path)
    db = open_database(db_target)
    pseudonymiser = pseudonymiser_for(policy, db)
    clear = list(actors)
    try:
        with db.session() as session:
            actor = signed_in(session, as_user)
            if logs:
                assert fmt is not None
                log_format = log_format_or_exit(fmt, None, None, json_fields)
                wanted = set(unidentified(session, read_case(session, actor, case)))
                records = (r for _, _, _, r in read_lines(list(logs), log_format, ReadStats()))
                try:
                    clear += sorted(addresses_in_logs(records, wanted, pseudonymiser).values())
                except OSError as exc:
                    raise click.ClickException(f"cannot read {exc.filename or 'a log'}: "
                                               f"{exc.strerror}") from exc
            # (nothing found in the logs: nothing recorded)
            record = (identify(session, actor, case, clear, pseudonymiser) if clear
                      else read_case(session, actor, case))
            data = {**_case_dict(session, record), "clear_actors": record.clear_actors,
                    "unidentified": unidentified(session, record)}
    finally:
        db.dispose()
    emit(as_json, data, lambda: f"{data['id']}: {len(data['clear_actors'])} address(es) identified, "
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
@db_option
@as_option
@policy_option
@json_option
@clear_errors
def cases_letter(case: str, kind: str, deadline_days: int, templates: str | None, out: str | None,
                 db_target: str | None, as_user: str, policy_path: str | None, as_json: bool) -> None:
    """Draft a letter with the incident's evidence. It counts once another person approves it
    (`cases approve-letter`) and it is recorded as sent (`cases send-letter`)."""
    from scrapeguard.records.cases import write_letter

    policy = policy_or_exit(policy_path)
    with database_session(db_target) as session:
        letter = write_letter(session, signed_in(session, as_user), case, kind, deadline_days,  # type: ignore[arg-type]
                              policy.incidents, Path(templates) if templates else None)
        data = _letter_dict(letter, text=True)
    if out:
        Path(out).write_text(data["text"], "utf-8")
    emit(as_json, data, lambda: f"letter {data['letter']} ({kind}) drafted, to be approved by another person"
                                 + (f", written to {out}" if out else f"\n\n{data['text']}"))


@cases_group.command("approve-letter")
@click.argument("letter", type=int)
@click.option("--note", default="", help="A note kept with the approval.")
@db_option
@as_option
@json_option
@clear_errors
def cases_approve_letter(letter: int, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Approve a drafted letter (legal, privacy officer or admin; not its drafter)."""
    from scrapeguard.records.cases import approve_letter

    with database_session(db_target) as session:
        data = _letter_dict(approve_letter(session, signed_in(session, as_user), letter, note))
    emit(as_json, data, lambda: f"letter {letter} approved by {data['approved_by']}")


@cases_group.command("send-letter")
@click.argument("letter", type=int)
@click.option("--channel", required=True, metavar="HOW",
              help="How it was sent: email, post, registered post, courier, ...")
@click.option("--at", "at_text", metavar="TIME",
              help="When it was sent (ISO 8601 with a zone); now if omitted. Not in the future.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the letter as sent to this file.")
@db_option
@as_option
@json_option
@clear_errors
def cases_send_letter(letter: int, channel: str, at_text: str | None, out: str | None, db_target: str | None,
                      as_user: str, as_json: bool) -> None:
    """Record that an approved letter was sent: its final text (dated that day) and the case's deadline."""
    from scrapeguard.records.cases import send_letter

    stated = stated_time(at_text, "--at")  # a letter's sending time is a legal fact: its zone is stated
    at = stated.astimezone(UTC) if stated is not None else None
    with database_session(db_target) as session:
        data = _letter_dict(send_letter(session, signed_in(session, as_user), letter, channel, at), text=True)
    if out:
        Path(out).write_text(data["final_text"], "utf-8")
    emit(as_json, data, lambda: f"letter {letter} sent {data['sent_at']} by {data['channel']}; "
                                 f"deadline {data['deadline']}" + (f", written to {out}" if out else ""))


@cases_group.command("reply")
@click.argument("case")
@click.option("--text", "reply_text", help="The reply (or --file).")
@click.option("--file", "reply_file", type=click.Path(dir_okay=False, exists=True))
@db_option
@as_option
@json_option
@clear_errors
def cases_reply(case: str, reply_text: str | None, reply_file: str | None, db_target: str | None,
                as_user: str, as_json: bool) -> None:
    from scrapeguard.records.cases import record_reply

    if (reply_text is None) == (reply_file is None):
        raise click.UsageError("give the reply with --text or --file (one of them)")
    if reply_text is not None:
        text = reply_text
    else:
        text = Path(str(reply_file)).read_text("utf-8", errors="replace")
    with database_session(db_target) as session:
        data = _case_dict(session, record_reply(session, signed_in(session, as_user), case, text))
    emit(as_json, data, lambda: f"{data['id']}: reply recorded")


@cases_group.command("confirm-deletion")
@click.argument("case")
@click.option("--document", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The confirmation received (its SHA-256 is recorded).")
@click.option("--note", default="")
@db_option
@as_option
@json_option
@clear_errors
def cases_confirm_deletion(case: str, document: str, note: str, db_target: str | None, as_user: str,
                           as_json: bool) -> None:
    from scrapeguard.records.cases import confirm_deletion

    with database_session(db_target) as session:
        data = _case_dict(session, confirm_deletion(session, signed_in(session, as_user), case,
                                                    Path(document), note=note))
    emit(as_json, data, lambda: f"{data['id']}: deletion confirmed (sha256 {data['deletion_sha256']})")


@cases_group.command("remind")
@db_option
@as_option
@json_option
@clear_errors
def cases_remind(db_target: str | None, as_user: str, as_json: bool) -> None:
    """Record a reminder on every overdue case and list them (run daily)."""
    from scrapeguard.records.cases import remind

    with database_session(db_target) as session:
        rows = [_case_dict(session, c) for c in remind(session, signed_in(session, as_user))]
    emit(as_json, rows, lambda: "\n".join(f"OVERDUE {r['id']} (due {r['deadline']}) {r['respondent']}"
                                           for r in rows) or "no overdue cases")


@cases_group.command("close")
@click.argument("case")
@click.option("--note", default="", help="Why (required unless deletion is confirmed).")
@db_option
@as_option
@json_option
@clear_errors
def cases_close(case: str, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.cases import close_case

    with database_session(db_target) as session:
        data = _case_dict(session, close_case(session, signed_in(session, as_user), case, note))
    emit(as_json, data, lambda: f"{data['id']} is closed")


@cases_group.command("evidence")
@click.argument("case")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@log_excerpt_options
@db_option
@as_option
@json_option
@clear_errors
def cases_evidence(case: str, out_dir: str, logs: tuple[str, ...], fmt: str | None, session_var: str | None,
                   account_var: str | None, json_fields: tuple[str, ...], excerpt_cap: int,
                   policy_path: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Evidence pack (zip) of a case and its incident; with --log, the actors' access log lines."""
    log_args = LogArgs(logs, fmt, session_var, account_var, json_fields, excerpt_cap, policy_path)
    result = write_evidence_pack(db_target, as_user, out_dir, log_args, case_id=case)
    emit(as_json, result, lambda: evidence_text(result))

