"""What the command modules share: the records options (--db, --as, --json, --policy), signing in,
printing, time parsing, the records' error handling, and the policy and log-format loaders."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scrapeguard.logs.formats import LogFormat
    from scrapeguard.policy.model import Policy
    from scrapeguard.records.db import Database
    from scrapeguard.records.privacy import Pseudonymiser
    from scrapeguard.records.users import Actor


class ListenAddress(click.ParamType):  # type: ignore[type-arg]
    name = "HOST:PORT"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        from scrapeguard.serving import parse_listen

        try:
            return parse_listen(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


LISTEN = ListenAddress()


def policy_or_exit(path: str | None) -> Policy:
    """The policy in `path` (the built-in defaults without one); every problem printed, exit 2."""
    from scrapeguard.policy import PolicyError, default_policy, load_policy

    if path is None:
        return default_policy()
    try:
        return load_policy(path)
    except PolicyError as exc:
        click.echo(f"policy {path} is not valid:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


F = TypeVar("F", bound=Callable[..., Any])


def check_cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    """--trusted-proxies values, each an IP network, or a usage error naming the bad one."""
    from scrapeguard.policy.editing import bad_networks

    for value in bad_networks(values)[:1]:
        raise click.BadParameter(f"{value!r} is not an IP network (e.g. 10.0.0.0/8)",
                                 param_hint="--trusted-proxies")
    return values


def connection_options(idle: float, per_client: int, note: str) -> Callable[[F], F]:
    """The connection limits `proxy` and `site` share (see docs/security.md, "Resource limits")."""
    def add(command: F) -> F:
        options = [
            click.option("--header-timeout", type=click.FloatRange(0.1, 3600), default=10.0,
                         show_default=True, metavar="SECONDS",
                         help="Close a connection whose request line and headers take longer than this."),
            click.option("--idle-timeout", type=click.FloatRange(0.1, 86400), default=idle, show_default=True,
                         metavar="SECONDS",
                         help="Close a keep-alive connection idle for this long (above a load "
                              "balancer's own idle timeout, if one is in front)."),
            click.option("--max-connections-per-client", type=click.IntRange(0, 1_000_000),
                         default=per_client, show_default=True, metavar="N",
                         help="Connections open at once per client address (IPv6: per /64); more are "
                              f"closed at once. 0: no cap. {note}"),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return add


def log_format_or_exit(fmt: str, session_var: str | None, account_var: str | None,
                        json_fields: tuple[str, ...]) -> LogFormat:
    from scrapeguard.logs.formats import FormatError, make_format

    fields = {}
    for item in json_fields:
        name, sep, key = item.partition("=")
        if not sep or not name or not key:
            raise click.BadParameter(f"{item!r} is not NAME=KEY", param_hint="--json-field")
        fields[name] = key
    try:
        return make_format(fmt, session_var, account_var, fields or None)
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from exc


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run_server(coro: Coroutine[Any, Any, None]) -> None:
    """Run a server coroutine on uvloop where it is installed (faster), else asyncio's loop."""
    import asyncio

    try:
        import uvloop

        run: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    except ImportError:  # pragma: no cover - platforms without uvloop
        run = asyncio.run
    try:
        run(coro)
    except OSError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


def db_option(f: F) -> F:
    return click.option("--db", "db_target", envvar="SCRAPEGUARD_DB", metavar="URL", default=None,
                        help="Records database: a SQLite file path or postgresql://... "
                             "[env SCRAPEGUARD_DB; default ./scrapeguard.db]")(f)


def as_option(f: F) -> F:
    return click.option("--as", "as_user", envvar="SCRAPEGUARD_USER", metavar="USER", required=True,
                        help="Who acts (a user; password from SCRAPEGUARD_PASSWORD or asked) "
                             "[env SCRAPEGUARD_USER].")(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def policy_option(f: F) -> F:
    return click.option("--policy", "policy_path", type=click.Path(dir_okay=False), metavar="FILE",
                        help="Policy file ([incidents]: organisation, contact, thresholds); defaults if "
                             "omitted.")(f)


def clear_errors(f: F) -> F:
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


def open_database(db_target: str | None, create: bool = False) -> Database:
    """The records database, at the current schema. Only the commands that may set one up pass
    `create` (the first `users add`): the others refuse a database that is not there."""
    from scrapeguard.records.db import Database

    db = Database(db_target)
    db.ensure_schema(create=create)
    return db


@contextmanager
def database_session(db_target: str | None, create: bool = False) -> Iterator[Session]:
    db = open_database(db_target, create)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def read_password(prompt: str = "Password", env: str = "SCRAPEGUARD_PASSWORD", confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise click.ClickException(f"no password: set {env} or run on a terminal")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def signed_in(session: Session, name: str) -> Actor:
    from scrapeguard.records.users import authenticate

    return authenticate(session, name, read_password(f"Password for {name}"))


def pseudonymiser_for(policy: Policy, db: Database, session: Session | None = None) -> Pseudonymiser:
    """The records' keyed IP pseudonymiser, with the key the policy names (or the database's),
    checked against the fingerprint the database keeps. Inside a session, pass it (SQLite
    would wait for the session's write lock)."""
    from scrapeguard.records.privacy import Pseudonymiser

    db.key_source = policy.incidents.pseudonym_key
    return Pseudonymiser(db.record_keys(session).pseudonym)


def emit(as_json: bool, data: Any, text: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text())


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def stated_time(value: str | None, name: str) -> datetime | None:
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


def read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}") from exc


def log_excerpt_options(f: F) -> F:
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
        policy_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True)
class LogArgs:
    logs: tuple[str, ...]
    fmt: str | None
    session_var: str | None
    account_var: str | None
    json_fields: tuple[str, ...]
    cap: int
    policy_path: str | None


def write_evidence_pack(db_target: str | None, as_user: str, out_dir: str, log_args: LogArgs,
                    incident_id: str | None = None, case_id: str | None = None) -> dict[str, Any]:
    """Write the pack; with --log, read the logs for the pack's actors first."""
    from scrapeguard.records.evidence import pack_actors, write_pack
    from scrapeguard.records.log_excerpts import read_excerpt

    if log_args.fmt is not None and not log_args.logs:
        raise click.BadParameter("--format is for --log: give the access logs too", param_hint="--format")
    log_format = None
    if log_args.logs:
        if log_args.fmt is None:
            raise click.BadParameter("--log needs the logs' --format", param_hint="--format")
        log_format = log_format_or_exit(log_args.fmt, log_args.session_var, log_args.account_var,
                                         log_args.json_fields)
    policy = policy_or_exit(log_args.policy_path)
    db = open_database(db_target)
    try:
        with db.session() as session:
            actor = signed_in(session, as_user)
            excerpt = None
            if log_format is not None:
                pseudonymiser = pseudonymiser_for(policy, db, session)
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


def evidence_text(result: dict[str, Any]) -> str:
    lines = [f"evidence pack written to {result['pack']}"]
    logs = result.get("log_excerpts")
    if logs:
        lines.append(f"access logs: {logs['lines_read']} lines read, {logs['matched']} of the actors' "
                     f"({logs['kept']} quoted, {logs['left_out']} over the cap), "
                     f"{logs['bad_lines_skipped']} bad lines skipped")
        lines += [f"  skipped {n}: {reason}" for reason, n in logs["bad_lines_by_reason"].items()]
    return "\n".join(lines)

