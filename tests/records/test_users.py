from __future__ import annotations

import pytest

from scrapeguard.records.db import Database
from scrapeguard.records.errors import PermissionDenied, RecordsError
from scrapeguard.records.models import AuditEntry, UserRecord
from scrapeguard.records.users import (
    ADMIN,
    ANALYST,
    LEGAL,
    PRIVACY_OFFICER,
    ROLES,
    VIEWER,
    Actor,
    add_user,
    authenticate,
    require,
    set_active,
    set_role,
)

PASSWORD = "correct horse battery"


def test_the_first_user_must_be_an_admin_and_adds_the_others(db: Database) -> None:
    with db.session() as s, pytest.raises(RecordsError, match="first user must be an admin"):
        add_user(s, None, "ann", ANALYST, PASSWORD)
    with db.session() as s:
        add_user(s, None, "root", ADMIN, PASSWORD)
    with db.session() as s, pytest.raises(PermissionDenied, match="needs an admin"):
        add_user(s, None, "bob", ANALYST, PASSWORD)
    with db.session() as s, pytest.raises(PermissionDenied, match="may not"):
        add_user(s, Actor("eve", ANALYST), "bob", ANALYST, PASSWORD)
    with db.session() as s:
        add_user(s, Actor("root", ADMIN), "bob", ANALYST, PASSWORD)
        actions = [e.action for e in s.query(AuditEntry).order_by(AuditEntry.seq)]
    assert actions == ["user.add", "user.add"]


def test_passwords_are_stored_as_argon2id_and_checked(db: Database) -> None:
    with db.session() as s:
        add_user(s, None, "root", ADMIN, PASSWORD)
    with db.session() as s:
        user = s.query(UserRecord).one()
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert authenticate(s, "root", PASSWORD) == Actor("root", ADMIN)
        with pytest.raises(PermissionDenied, match="unknown user or wrong password"):
            authenticate(s, "root", "wrong password!")
        with pytest.raises(PermissionDenied, match="unknown user or wrong password"):
            authenticate(s, "nobody", PASSWORD)


def test_bad_user_input_is_refused(db: Database) -> None:
    with db.session() as s:
        for name, role, password, message in [("ann", "boss", PASSWORD, "not a role"),
                                               ("a b", ADMIN, PASSWORD, "without spaces"),
                                               ("ann", ADMIN, "short", "at least")]:
            with pytest.raises(RecordsError, match=message):
                add_user(s, None, name, role, password)


@pytest.mark.parametrize(("role", "allowed", "denied"), [
    (VIEWER, ["read"], ["incident.open", "notice.approve", "case.manage", "user.manage"]),
    (ANALYST, ["incident.open", "incident.contain", "notice.draft"], ["notice.approve", "case.manage",
                                                                      "user.manage", "incident.aware"]),
    (LEGAL, ["case.manage", "notice.approve"], ["incident.open", "user.manage"]),
    (PRIVACY_OFFICER, ["incident.aware", "notice.approve", "incident.close"], ["user.manage",
                                                                               "records.purge"]),
    (ADMIN, ["user.manage", "records.purge", "notice.approve"], []),
])
def test_roles(role: str, allowed: list[str], denied: list[str]) -> None:
    assert role in ROLES
    actor = Actor("x", role)
    for permission in allowed:
        require(actor, permission)
    for permission in denied:
        with pytest.raises(PermissionDenied):
            require(actor, permission)


# -- disabling users and changing roles (issue 14, item 13) ------------------------------------


def _team(db: Database) -> None:
    with db.session() as s:
        add_user(s, None, "root", ADMIN, PASSWORD)
        add_user(s, Actor("root", ADMIN), "ann", ANALYST, PASSWORD)


def test_a_disabled_user_cannot_sign_in_until_enabled_again(db: Database) -> None:
    _team(db)
    with db.session() as s:
        set_active(s, Actor("root", ADMIN), "ann", False, note="left the team")
    with db.session() as s, pytest.raises(PermissionDenied, match="unknown user or wrong password"):
        authenticate(s, "ann", PASSWORD)
    with db.session() as s:
        set_active(s, Actor("root", ADMIN), "ann", True)
    with db.session() as s:
        assert authenticate(s, "ann", PASSWORD) == Actor("ann", ANALYST)
        entries = [(e.actor, e.action, e.entity_id) for e in s.query(AuditEntry).order_by(AuditEntry.seq)][2:]
    assert entries == [("root", "user.disable", "ann"), ("root", "user.enable", "ann")]


def test_a_role_change_takes_effect_and_is_audited(db: Database) -> None:
    _team(db)
    with db.session() as s:
        set_role(s, Actor("root", ADMIN), "ann", PRIVACY_OFFICER)
    with db.session() as s:
        assert authenticate(s, "ann", PASSWORD) == Actor("ann", PRIVACY_OFFICER)
        last = s.query(AuditEntry).order_by(AuditEntry.seq.desc()).first()
        assert last is not None and (last.action, last.details) == (
            "user.role", '{"from":"analyst","note":"","to":"privacy_officer"}')


def test_only_admins_manage_users_and_the_last_admin_stays(db: Database) -> None:
    _team(db)
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            set_role(s, Actor("ann", ANALYST), "ann", ADMIN)
        with pytest.raises(PermissionDenied):
            set_active(s, Actor("ann", ANALYST), "root", False)
        with pytest.raises(RecordsError, match="last active admin"):
            set_active(s, Actor("root", ADMIN), "root", False)
        with pytest.raises(RecordsError, match="last active admin"):
            set_role(s, Actor("root", ADMIN), "root", VIEWER)
        with pytest.raises(RecordsError, match="not a role"):
            set_role(s, Actor("root", ADMIN), "ann", "boss")
        with pytest.raises(RecordsError, match="no user"):
            set_active(s, Actor("root", ADMIN), "nobody", False)
    with db.session() as s:  # with a second admin, the first may step down
        set_role(s, Actor("root", ADMIN), "ann", ADMIN)
        set_role(s, Actor("ann", ADMIN), "root", LEGAL)
        assert {u.name: u.role for u in s.query(UserRecord)} == {"root": LEGAL, "ann": ADMIN}


def test_disabling_or_changing_a_role_ends_the_user_s_console_sessions(db: Database) -> None:
    """Whether done in the console or with `scrapeguard users`: the sessions are in the records."""
    from scrapeguard.console.sessions import SessionStore

    _team(db)
    store = SessionStore(db, idle_seconds=1800, max_seconds=43200)
    now = 1_800_000_000.0
    ann, root = store.start("ann", now), store.start("root", now)
    with db.session() as s:
        set_role(s, Actor("root", ADMIN), "ann", PRIVACY_OFFICER)
    assert store.find(ann.token, now + 1)[0] is None
    assert store.find(root.token, now + 1)[0] is not None  # nobody else is signed out
    again = store.start("ann", now + 2)
    with db.session() as s:
        set_active(s, Actor("root", ADMIN), "ann", False)
    assert store.find(again.token, now + 3)[0] is None
    enabled = store.start("ann", now + 4)
    with db.session() as s:
        set_active(s, Actor("root", ADMIN), "ann", True)  # enabling ends nothing
    assert store.find(enabled.token, now + 5)[0] is not None
