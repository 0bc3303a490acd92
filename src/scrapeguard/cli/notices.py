"""`scrapeguard notices ...`: approving, sending and reading notices."""

from __future__ import annotations

from pathlib import Path

import click

from scrapeguard.cli.common import (
    as_option,
    clear_errors,
    database_session,
    db_option,
    emit,
    iso,
    json_option,
    signed_in,
    stated_time,
)


@click.group("notices")
def notices_group() -> None:
    """Notices: draft (incidents notify) -> approved (by someone else) -> sent."""


def _notice_step(name: str, doc: str) -> click.Command:
    @click.argument("notice", type=int)
    @click.option("--note", default="")
    @db_option
    @as_option
    @json_option
    @clear_errors
    def command(notice: int, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
        from scrapeguard.records import notices

        with database_session(db_target) as session:
            row = notices.approve(session, signed_in(session, as_user), notice, note)
            data = {"notice": row.id, "state": row.state}
        emit(as_json, data, lambda: f"notice {notice} is {data['state']}")

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
@db_option
@as_option
@json_option
@clear_errors
def notices_send(notice: int, channel: str, sent_text: str, final_file: str | None, note: str,
                 db_target: str | None, as_user: str, as_json: bool) -> None:
    """Record that an approved notice was sent: when, how, and what exactly."""
    from scrapeguard.records import notices

    sent_at = stated_time(sent_text, "--sent-at")
    assert sent_at is not None
    document = Path(final_file).read_bytes() if final_file else None
    with database_session(db_target) as session:
        row = notices.send(session, signed_in(session, as_user), notice, channel, sent_at, note, document,
                           Path(final_file).name if final_file else None)
        data = {"notice": row.id, "state": row.state, "sent_at": iso(row.sent_at), "channel": row.channel,
                "sha256": row.final_sha256, "final_document": row.final_document_name}
    emit(as_json, data, lambda: f"notice {notice} is {data['state']} ({data['channel']}, {data['sent_at']}; "
                                 f"sha256 {data['sha256']})")


@notices_group.command("list")
@click.option("--incident", help="Only this incident's notices.")
@db_option
@as_option
@json_option
@clear_errors
def notices_list(incident: str | None, db_target: str | None, as_user: str, as_json: bool) -> None:
    """The notices, with their state and who drafted, approved and sent them."""
    from scrapeguard.records.incidents import public_id
    from scrapeguard.records.notices import list_notices

    with database_session(db_target) as session:
        found = list_notices(session, signed_in(session, as_user), incident or None)
        rows = [{"notice": n.id, "incident": public_id(n.incident_id), "regime": n.regime,
                 "audience": n.audience, "state": n.state, "drafted_by": n.drafted_by,
                 "approved_by": n.approved_by, "sent_by": n.sent_by, "sent_at": iso(n.sent_at),
                 "channel": n.channel} for n in found]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['notice']:>5} {r['incident']:<8} {r['regime']:<12} {r['audience']:<12} {r['state']:<9}"
        + (f" sent {r['sent_at']} via {r['channel']}" if r["sent_at"] else "") for r in rows)
        or "no notices")


@notices_group.command("show")
@click.argument("notice", type=int)
@db_option
@as_option
@json_option
@clear_errors
def notices_show(notice: int, db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.notices import read_notice

    with database_session(db_target) as session:
        n = read_notice(session, signed_in(session, as_user), notice)
        data = {"notice": n.id, "incident": n.incident_id, "regime": n.regime, "audience": n.audience,
                "state": n.state, "drafted_by": n.drafted_by, "approved_by": n.approved_by,
                "sent_by": n.sent_by, "title": n.title, "text": n.text, "sent_at": iso(n.sent_at),
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

    emit(as_json, data, text)

