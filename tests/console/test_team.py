"""The team page: users and roles for everyone who reads the records; adding, disabling, enabling
and changing roles for admins, audited, and ending the sessions of whom it concerns."""

from __future__ import annotations

import json

from sqlalchemy import select

from scrapeguard.records.models import AuditEntry

from .helpers import PASSWORD, ConsoleHarness  # type: ignore[import-not-found]


def audit_of(harness: ConsoleHarness, action: str) -> list[tuple[str, str, dict[str, str]]]:
    with harness.db.session() as s:
        return [(e.actor, e.entity_id, json.loads(e.details)) for e in s.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).scalars()]


def test_everyone_who_reads_sees_the_team_but_only_admins_manage_it(harness: ConsoleHarness) -> None:
    viewer = harness.client("vic").get("/team")
    assert viewer.status_code == 200
    assert "<td>privacy officer</td>" in viewer.text and ">active</span>" in viewer.text
    assert "Add a user" not in viewer.text and "Disable" not in viewer.text
    admin = harness.client("ada").get("/team").text
    assert "Add a user" in admin and 'for="new-password-again"' in admin and "Disable ana" in admin
    assert harness.client("sue").get("/team").status_code == 403
    for name in ("ana", "pia", "vic"):
        client = harness.client(name)
        assert client.post("/team/add", {"name": "x", "role": "viewer", "password": PASSWORD,
                                         "password_again": PASSWORD}).status_code == 403
        assert client.post("/team/leo/disable", {}).status_code == 403
        assert client.post("/team/leo/role", {"role": "admin"}).status_code == 403


def test_an_admin_adds_a_user_who_then_signs_in(harness: ConsoleHarness) -> None:
    ada = harness.client("ada")
    differ = ada.post("/team/add", {"name": "nia", "role": "analyst", "password": PASSWORD,
                                    "password_again": PASSWORD + "x"})
    assert differ.status_code == 400 and "the two passwords differ" in differ.text
    short = ada.post("/team/add", {"name": "nia", "role": "analyst", "password": "short",
                                   "password_again": "short"})
    assert short.status_code == 400 and "at least 10 characters" in short.text
    added = ada.post("/team/add", {"name": "nia", "role": "analyst", "password": PASSWORD,
                                   "password_again": PASSWORD})
    assert added.status_code == 303
    assert "User nia added as analyst." in ada.get("/team").text
    assert harness.client().sign_in("nia").status_code == 303
    again = ada.post("/team/add", {"name": "nia", "role": "viewer", "password": PASSWORD,
                                   "password_again": PASSWORD})
    assert again.status_code == 400 and "exists already" in again.text
    assert audit_of(harness, "user.add")[-1] == ("ada", "nia", {"role": "analyst"})


def test_disabling_ends_the_users_sessions_at_once_and_enabling_lets_them_back(
        harness: ConsoleHarness) -> None:
    ada, ana = harness.client("ada"), harness.client("ana")
    assert ana.get("/").status_code == 200
    assert ada.post("/team/ana/disable", {}).status_code == 303
    assert ana.get("/").status_code == 303  # signed out at once
    assert harness.console.sessions.end_user("ana") == 0  # no session was left behind
    assert harness.client().sign_in("ana").status_code == 401
    assert ">disabled</span>" in ada.get("/team").text
    assert ada.post("/team/ana/enable", {}).status_code == 303
    assert harness.client().sign_in("ana").status_code == 303
    assert [(a, e) for a, e, _ in audit_of(harness, "user.disable")] == [("ada", "ana")]
    assert [(a, e) for a, e, _ in audit_of(harness, "user.enable")] == [("ada", "ana")]
    assert ada.post("/team/nobody/disable", {}).status_code == 404


def test_a_role_change_ends_the_sessions_and_the_last_admin_stays(harness: ConsoleHarness) -> None:
    ada, vic = harness.client("ada"), harness.client("vic")
    assert vic.get("/").status_code == 200
    assert ada.post("/team/vic/role", {"role": "analyst"}).status_code == 303
    assert vic.get("/").status_code == 303
    assert "<td>analyst</td>" in ada.get("/team").text.split("vic</td>", 1)[1][:200]
    assert audit_of(harness, "user.role")[-1] == ("ada", "vic",
                                                  {"from": "viewer", "to": "analyst", "note": ""})
    assert ada.post("/team/vic/role", {"role": "wizard"}).status_code == 400
    assert ada.post("/team/abe/disable", {}).status_code == 303
    last = ada.post("/team/ada/role", {"role": "viewer"})
    assert last.status_code == 400 and "last active admin" in last.text
