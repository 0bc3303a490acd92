"""The team: users with roles, passwords hashed with Argon2id, and what each role may do.

The records functions that act for a user are marked with the permission they need
(`records/permissions.py`, which calls `require` here); the commands never check roles themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from scrapeguard.records import audit
from scrapeguard.records.errors import NotFound, PermissionDenied, RecordsError
from scrapeguard.records.models import ConsoleSessionRecord, UserRecord
from scrapeguard.records.permissions import requires

ADMIN, ANALYST, PRIVACY_OFFICER, LEGAL, VIEWER = "admin", "analyst", "privacy_officer", "legal", "viewer"
#: The site's support team: answers people's appeals of refusals, and sees nothing else of the records.
SUPPORT = "support"
ROLES = (ADMIN, ANALYST, PRIVACY_OFFICER, LEGAL, VIEWER, SUPPORT)

#: What each role may do. Reading the records is open to every role of the anti-scraping team; the
#: support team only looks up and resolves appeals ("appeal.resolve": a refusal by its reference,
#: what else that client did, lifting its penalty, allowlisting it for a while).
#: "actor.act": block, unblock, allowlist or annotate an actor in the guard's store.
PERMISSIONS: dict[str, frozenset[str]] = {
    VIEWER: frozenset({"read"}),
    SUPPORT: frozenset({"appeal.resolve"}),
    ANALYST: frozenset({"read", "incident.open", "incident.contain", "incident.assess", "notice.draft",
                        "evidence.export", "exposure.import", "drill.record", "appeal.resolve",
                        "actor.act"}),
    LEGAL: frozenset({"read", "case.manage", "notice.approve", "notice.send", "evidence.export",
                      "affected.export"}),
    PRIVACY_OFFICER: frozenset({"read", "incident.open", "incident.contain", "incident.assess",
                                "incident.aware", "incident.notify", "incident.close", "notice.draft",
                                "notice.approve", "notice.send", "affected.export", "evidence.export",
                                "case.manage", "report", "exposure.import", "drill.record"}),
}
PERMISSIONS[ADMIN] = frozenset().union(*PERMISSIONS.values()) | {"user.manage", "records.purge",
                                                                 "policy.change"}

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user (name and role) or the guard itself."""

    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


#: The guard itself (incidents it opens, records it writes).
GUARD = Actor(audit.SYSTEM, ADMIN)


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        allowed = ", ".join(r for r in ROLES if permission in PERMISSIONS[r])
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not do this ({permission}); "
                               f"roles that may: {allowed}")


def add_user(session: Session, by: Actor | None, name: str, role: str, password: str) -> UserRecord:
    """Add a user. The very first user needs no one to add them and must be an admin."""
    if role not in ROLES:
        raise RecordsError(f"{role!r} is not a role ({', '.join(ROLES)})")
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name) or name == audit.SYSTEM:
        raise RecordsError("a user name is 1-100 characters without spaces (and not 'scrapeguard')")
    if len(password) < MIN_PASSWORD:
        raise RecordsError(f"a password has at least {MIN_PASSWORD} characters")
    existing = session.execute(select(func.count()).select_from(UserRecord)).scalar_one()
    if existing == 0:
        if role != ADMIN:
            raise RecordsError("the first user must be an admin (--role admin)")
        by_name = name
    else:
        if by is None:
            raise PermissionDenied("adding a user needs an admin (--as ADMIN)")
        require(by, "user.manage")
        by_name = by.name
    if session.execute(select(UserRecord).where(UserRecord.name == name)).scalar_one_or_none():
        raise RecordsError(f"user {name!r} exists already")
    user = UserRecord(name=name, role=role, password_hash=_hasher.hash(password),
                      created_at=datetime.now(UTC), active=True)
    session.add(user)
    session.flush()
    audit.record(session, by_name, "user.add", "user", name, {"role": role})
    return user


def authenticate(session: Session, name: str, password: str) -> Actor:
    """The user, if the password is right; one message for every failure (no user enumeration)."""
    user = session.execute(select(UserRecord).where(UserRecord.name == name)).scalar_one_or_none()
    failure = PermissionDenied(f"unknown user or wrong password for {name!r}")
    if user is None or not user.active:
        _hasher.hash(password)  # same cost as a real check
        raise failure
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise failure from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        # audited like every change of the row: the chain binds the users' rows (audit.py)
        audit.record(session, user.name, "user.rehash", "user", user.name, {"reason": "hash parameters"})
    return Actor(user.name, user.role)


def get_actor(session: Session, name: str) -> Actor:
    user = session.execute(select(UserRecord).where(UserRecord.name == name)).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(f"no active user {name!r}")
    return Actor(user.name, user.role)


@requires("read")
def list_users(session: Session, by: Actor) -> list[UserRecord]:
    return list(session.execute(select(UserRecord).order_by(UserRecord.name)).scalars())


def _user(session: Session, name: str) -> UserRecord:
    user = session.execute(select(UserRecord).where(UserRecord.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def _other_active_admins(session: Session, name: str) -> int:
    return session.execute(select(func.count()).select_from(UserRecord).where(
        UserRecord.role == ADMIN, UserRecord.active.is_(True), UserRecord.name != name)).scalar_one()


def _end_console_sessions(session: Session, name: str) -> None:
    """A disabled user, or one whose role changed, is signed out of every console at once (from the
    console's team page and from `scrapeguard users` alike): their sessions are in the records."""
    session.execute(delete(ConsoleSessionRecord).where(ConsoleSessionRecord.user_name == name))


@requires("user.manage")
def set_active(session: Session, by: Actor, name: str, active: bool, note: str = "") -> UserRecord:
    """Disable a user (who can then no longer sign in) or enable them again; the last active
    admin cannot be disabled (no one could manage the team any more)."""
    user = _user(session, name)
    if user.active == active:
        raise RecordsError(f"user {name!r} is {'active' if active else 'disabled'} already")
    if not active and user.role == ADMIN and _other_active_admins(session, name) == 0:
        raise RecordsError(f"{name!r} is the last active admin: make another user admin first")
    user.active = active
    if not active:
        _end_console_sessions(session, name)
    audit.record(session, by.name, "user.enable" if active else "user.disable", "user", name, {"note": note})
    return user


@requires("user.manage")
def set_role(session: Session, by: Actor, name: str, role: str, note: str = "") -> UserRecord:
    """Change a user's role; the last active admin cannot be demoted."""
    if role not in ROLES:
        raise RecordsError(f"{role!r} is not a role ({', '.join(ROLES)})")
    user = _user(session, name)
    if user.role == role:
        raise RecordsError(f"user {name!r} is {role} already")
    if user.role == ADMIN and user.active and _other_active_admins(session, name) == 0:
        raise RecordsError(f"{name!r} is the last active admin: make another user admin first")
    before = user.role
    user.role = role
    _end_console_sessions(session, name)
    audit.record(session, by.name, "user.role", "user", name, {"from": before, "to": role, "note": note})
    return user
