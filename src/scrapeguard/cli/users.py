"""`scrapeguard users ...`: the team, its users and roles."""

from __future__ import annotations

import click

from scrapeguard.cli.common import (
    as_option,
    clear_errors,
    database_session,
    db_option,
    emit,
    iso,
    json_option,
    read_password,
    signed_in,
)
from scrapeguard.records.users import ROLES


@click.group("users")
def users_group() -> None:
    """The team: users and roles (admin, analyst, privacy_officer, legal, viewer, support)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="admin, analyst, privacy_officer, legal, viewer, or support (the site's support team: "
                   "appeals only).")
@click.option("--as", "as_user", envvar="SCRAPEGUARD_USER", metavar="ADMIN",
              help="The admin adding the user (not needed for the very first user, who must be an admin).")
@db_option
@json_option
@clear_errors
def users_add(name: str, role: str, as_user: str | None, db_target: str | None, as_json: bool) -> None:
    """Add a user; the new password is read from SCRAPEGUARD_NEW_PASSWORD or asked twice."""
    from sqlalchemy import func, select

    from scrapeguard.records.models import UserRecord
    from scrapeguard.records.users import add_user

    # only the first admin (added without --as) may set the database up
    with database_session(db_target, create=as_user is None) as session:
        first = session.execute(select(func.count()).select_from(UserRecord)).scalar_one() == 0
        by = None if first or as_user is None else signed_in(session, as_user)
        password = read_password(f"Password for {name}", "SCRAPEGUARD_NEW_PASSWORD", confirm=True)
        user = add_user(session, by, name, role, password)
        data = {"name": user.name, "role": user.role}
    emit(as_json, data, lambda: f"added {name} ({role})")


@users_group.command("list")
@db_option
@as_option
@json_option
@clear_errors
def users_list(db_target: str | None, as_user: str, as_json: bool) -> None:
    from scrapeguard.records.users import list_users

    with database_session(db_target) as session:
        rows = [{"name": u.name, "role": u.role, "active": u.active, "created_at": iso(u.created_at)}
                for u in list_users(session, signed_in(session, as_user))]
    emit(as_json, rows, lambda: "\n".join(f"{r['name']:<20} {r['role']:<16} "
                                           f"{'active' if r['active'] else 'disabled'}" for r in rows)
          or "no users")


def _user_change(name: str, doc: str) -> click.Command:
    """`users disable|enable NAME`: admins only, audited."""

    @click.argument("user")
    @click.option("--note", default="", help="Why (kept in the audit log).")
    @db_option
    @as_option
    @json_option
    @clear_errors
    def command(user: str, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
        from scrapeguard.records.users import set_active

        with database_session(db_target) as session:
            row = set_active(session, signed_in(session, as_user), user, name == "enable", note)
            data = {"name": row.name, "role": row.role, "active": row.active}
        emit(as_json, data, lambda: f"{user} is {'active' if data['active'] else 'disabled'}")

    command.__doc__ = doc
    return users_group.command(name)(command)


_user_change("disable", "Disable a user: they can no longer sign in (not the last active admin).")


_user_change("enable", "Enable a disabled user again.")


@users_group.command("role")
@click.argument("user")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--note", default="", help="Why (kept in the audit log).")
@db_option
@as_option
@json_option
@clear_errors
def users_role(user: str, role: str, note: str, db_target: str | None, as_user: str, as_json: bool) -> None:
    """Change a user's role (admins only; the last active admin cannot be demoted)."""
    from scrapeguard.records.users import set_role

    with database_session(db_target) as session:
        row = set_role(session, signed_in(session, as_user), user, role, note)
        data = {"name": row.name, "role": row.role, "active": row.active}
    emit(as_json, data, lambda: f"{user} is now {data['role']}")

