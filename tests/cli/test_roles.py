"""Every records command run as each of the five roles: refused (exit 3) exactly when the role lacks
the command's permission, never refused otherwise.

The commands are read from the click tree, so a new command without a row in COMMAND_PERMISSIONS
fails here; which role may run a command comes from `users.PERMISSIONS`, not from this file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result

from scrapeguard.cli import main
from scrapeguard.records import users
from scrapeguard.records.users import PERMISSIONS, ROLES

PASSWORD = "a long enough password"
ENV = {"SCRAPEGUARD_PASSWORD": PASSWORD, "SCRAPEGUARD_NEW_PASSWORD": PASSWORD,
       "SCRAPEGUARD_PSEUDONYM_KEY": "roles-test-key-0123456789abcdef"}
RECORDS_GROUPS = ("db", "users", "members", "exposure", "decisions", "incidents", "notices", "cases", "audit",
                  "report", "records")

#: Each records command that acts as a user (`--as`): the permission it needs, and its arguments
#: against the seeded database ({dir} is a folder of input files and outputs).
COMMAND_PERMISSIONS: dict[str, tuple[str, list[str]]] = {
    "users add": ("user.manage", ["newcomer", "--role", "viewer"]),
    "users disable": ("user.manage", ["target"]),
    "users enable": ("user.manage", ["dormant"]),
    "users list": ("read", []),
    "users role": ("user.manage", ["target", "legal"]),
    "members import": ("exposure.import", ["{dir}/members.json"]),
    "exposure import": ("exposure.import", ["{dir}/exposure.json"]),
    "decisions import": ("exposure.import", ["{dir}/decisions.jsonl"]),
    "incidents list": ("read", []),
    "incidents show": ("read", ["INC-1"]),
    "incidents register": ("read", []),
    "incidents open": ("incident.open", ["--title", "t", "--actor", "ip:198.51.100.9"]),
    "incidents advance": ("incident.contain", ["INC-2", "--to", "contained"]),
    "incidents aware": ("incident.aware", ["INC-2"]),
    "incidents assess": ("incident.assess", ["INC-2"]),
    "incidents reopen": ("incident.close", ["INC-3", "--reason", "more found"]),
    "incidents waive": ("incident.notify", ["INC-1", "--regime", "eu_gdpr", "--audience", "individuals",
                                            "--reason", "public data only"]),
    "incidents notify": ("notice.draft", ["INC-1", "--regime", "eu_gdpr", "--audience", "regulator"]),
    "incidents export-affected": ("affected.export", ["INC-1", "--out", "{dir}/affected.csv"]),
    "incidents evidence": ("evidence.export", ["INC-1", "--out", "{dir}/packs"]),
    "notices list": ("read", []),
    "notices show": ("read", ["1"]),
    "notices approve": ("notice.approve", ["1"]),
    "notices send": ("notice.send", ["2", "--channel", "email", "--sent-at", "2026-11-02T10:00:00+00:00"]),
    "cases list": ("read", []),
    "cases show": ("read", ["CASE-1"]),
    "cases remind": ("read", []),
    "cases open": ("case.manage", ["--respondent", "Someone Ltd", "--actor", "ip:198.51.100.9"]),
    "cases identify": ("case.manage", ["CASE-1", "--actor", "ip:203.0.113.7"]),
    "cases letter": ("case.manage", ["CASE-1", "--kind", "cease_and_desist"]),
    "cases approve-letter": ("case.manage", ["1"]),
    "cases send-letter": ("case.manage", ["2", "--channel", "post", "--at", "2026-11-02T10:00:00+00:00"]),
    "cases reply": ("case.manage", ["CASE-1", "--text", "we deleted it"]),
    "cases confirm-deletion": ("case.manage", ["CASE-1", "--document", "{dir}/deletion.txt"]),
    "cases close": ("case.manage", ["CASE-1", "--note", "settled"]),
    "cases evidence": ("evidence.export", ["CASE-1", "--out", "{dir}/packs"]),
    "audit bind": ("user.manage", []),
    "report regulator": ("report", ["--out", "{dir}/report.html"]),
    "records purge": ("records.purge", []),
}


def acting_commands() -> list[str]:
    """Every records command with an --as option, from the click tree."""
    context = click.Context(main)
    found = []
    for group_name in RECORDS_GROUPS:
        group = main.get_command(context, group_name)
        assert isinstance(group, click.Group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None
            if any(param.name == "as_user" for param in command.params):
                found.append(f"{group_name} {name}")
    return found


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", str(db)], env=ENV)


def ok(db: Path, *args: str) -> None:
    result = run(db, *args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def cheap_hashes() -> Iterator[None]:
    """Argon2 at its lowest cost: the test signs in a few hundred times."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, cheap_hashes: None) -> Path:
    """A records database with one user per role, incidents in several states, two notices and two
    letters (drafted by other users, so four-eyes rules never refuse the role under test), a case."""
    folder = tmp_path_factory.mktemp("seeded")
    db = folder / "records.db"
    ok(db, "users", "add", "root", "--role", "admin")
    for name, role in [*((f"as-{r}", r) for r in ROLES), ("dan", "privacy_officer"), ("lee", "legal"),
                       ("target", "viewer"), ("dormant", "viewer")]:
        ok(db, "users", "add", name, "--role", role, "--as", "root")
    ok(db, "users", "disable", "dormant", "--as", "root")
    # members in an EU country exposed to the incidents' actor: notices under eu_gdpr are owed
    members = [{"member_id": str(i), "country": "DE"} for i in range(20)]
    (folder / "members.json").write_text(json.dumps(members))
    exposure = {"actors": [{"actor": "ip:203.0.113.7", "exposure": [
        {"member": f"id:{i}", "route": "/api/v1/members/{id}", "categories": ["user.name"],
         "first": "2026-11-01T10:00:00Z", "last": "2026-11-01T10:00:00Z", "count": 1} for i in range(20)]}]}
    (folder / "exposure.json").write_text(json.dumps(exposure))
    ok(db, "members", "import", str(folder / "members.json"), "--as", "root")
    ok(db, "exposure", "import", str(folder / "exposure.json"), "--as", "root")
    for title in ("one", "two", "three"):
        ok(db, "incidents", "open", "--title", title, "--actor", "ip:203.0.113.7", "--as", "dan")
    ok(db, "incidents", "advance", "INC-3", "--to", "closed", "--reason", "false positive", "--as", "dan")
    ok(db, "incidents", "assess", "INC-1", "--as", "dan")
    for audience in ("regulator", "individuals"):
        ok(db, "incidents", "notify", "INC-1", "--regime", "eu_gdpr", "--audience", audience, "--as", "dan")
    ok(db, "notices", "approve", "2", "--as", "lee")
    ok(db, "cases", "open", "--respondent", "Data Harvest Inc.", "--actor", "ip:203.0.113.7", "--as", "lee")
    ok(db, "cases", "identify", "CASE-1", "--actor", "ip:203.0.113.7", "--as", "lee")
    for _ in range(2):
        ok(db, "cases", "letter", "CASE-1", "--kind", "cease_and_desist", "--as", "lee")
    ok(db, "cases", "approve-letter", "2", "--as", "dan")
    (folder / "decisions.jsonl").write_text("")
    (folder / "deletion.txt").write_text("we confirm the deletion")
    return folder


def test_every_acting_command_has_a_permission_row() -> None:
    assert sorted(acting_commands()) == sorted(COMMAND_PERMISSIONS)


def test_the_table_names_only_permissions_some_role_has() -> None:
    known = frozenset().union(*PERMISSIONS.values())
    assert {permission for permission, _ in COMMAND_PERMISSIONS.values()} <= known


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", sorted(COMMAND_PERMISSIONS))
def test_refused_exactly_when_the_role_lacks_the_permission(command: str, role: str, seeded: Path,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "records"
    shutil.copytree(seeded, folder)
    permission, args = COMMAND_PERMISSIONS[command]
    result = run(folder / "records.db", *command.split(), *(a.format(dir=folder) for a in args),
                 "--as", f"as-{role}")
    assert "Traceback" not in result.output
    if permission in PERMISSIONS[role]:
        assert result.exit_code != 3, result.output
    else:
        assert result.exit_code == 3, result.output
        assert f"({permission})" in result.output
