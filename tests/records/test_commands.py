"""The records' commands: JSON output, roles, and clear errors (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scrapeguard.cli import main
from scrapeguard.records.db import head_revision

PASSWORD = "a long enough password"
ENV = {"SCRAPEGUARD_PASSWORD": PASSWORD, "SCRAPEGUARD_NEW_PASSWORD": PASSWORD,
       "SCRAPEGUARD_PSEUDONYM_KEY": "commands-test-key-0123456789"}


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**ENV, **(env or {})}, input=input)


def ok(*args: str) -> Any:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.output


@pytest.fixture
def team(db_url: str) -> str:
    ok("users", "add", "root", "--role", "admin", "--db", db_url)
    ok("users", "add", "ann", "--role", "analyst", "--db", db_url, "--as", "root")
    ok("users", "add", "vic", "--role", "viewer", "--db", db_url, "--as", "root")
    return db_url


def test_db_upgrade_and_users(team: str) -> None:
    assert ok("db", "upgrade", "--db", team, "--json")["to"] == head_revision()
    users = ok("users", "list", "--db", team, "--as", "vic", "--json")
    assert [(u["name"], u["role"]) for u in users] == [("ann", "analyst"), ("root", "admin"),
                                                       ("vic", "viewer")]


def test_roles_wrong_passwords_and_unknown_things_are_clear_errors(team: str, tmp_path: Path) -> None:
    denied = run("records", "purge", "--db", team, "--as", "ann")
    assert denied.exit_code == 3 and "not allowed" in denied.output and "admin" in denied.output
    wrong = run("users", "list", "--db", team, "--as", "ann", env={"SCRAPEGUARD_PASSWORD": "not it at all"})
    assert wrong.exit_code == 3 and "wrong password" in wrong.output
    missing = run("incidents", "show", "INC-99", "--db", team, "--as", "ann")
    assert missing.exit_code == 1 and "no incident INC-99" in missing.output
    bad_id = run("incidents", "show", "ninety", "--db", team, "--as", "ann")
    assert bad_id.exit_code == 1 and "not an incident id" in bad_id.output
    no_password = CliRunner().invoke(main, ["users", "list", "--db", team, "--as", "ann"], env={
        "SCRAPEGUARD_PASSWORD": ""})
    assert no_password.exit_code == 1 and "SCRAPEGUARD_PASSWORD" in no_password.output
    for result in (denied, wrong, missing, bad_id, no_password):
        assert "Traceback" not in result.output


def test_bad_database_urls_are_clear_errors(tmp_path: Path) -> None:
    result = run("audit", "verify", "--db", "mysql://x@y/z")
    assert result.exit_code == 1 and "not supported" in result.output
    result = run("audit", "verify", "--db", "postgresql://postgres@127.0.0.1:1/test")
    assert result.exit_code == 1 and "cannot use the records database" in result.output


def test_decisions_from_replay_open_incidents_and_exposure_imports(team: str, tmp_path: Path) -> None:
    exposure = {"actors": [{"actor": "ip:198.51.100.9", "exposure": [
        {"member": f"id:{i}", "route": "/api/v1/members/{id}", "categories": ["user.name"],
         "first": "2026-11-01T10:00:00Z", "last": "2026-11-01T10:00:00Z", "count": 1} for i in range(60)]}]}
    (tmp_path / "exposure.json").write_text(json.dumps(exposure))
    assert ok("exposure", "import", str(tmp_path / "exposure.json"), "--db", team, "--as", "ann",
              "--json") == {"rows": 60}
    lines = [json.dumps({"ts": 1_793_000_000 + i, "id": f"sg-{i:012x}", "action": "block", "enforced": True,
                         "keys": {"ip": "198.51.100.9"}, "route": "profile", "subject": "id:1",
                         "path": "/api/v1/members/1",
                         "reasons": [{"detector": "profile_quota", "key": "ip:198.51.100.9", "score": 0.6,
                                      "detail": "over"}]}) for i in range(3)]
    (tmp_path / "decisions.jsonl").write_text("\n".join([*lines, "not json", '{"action": "allow"}']) + "\n")
    result = ok("decisions", "import", str(tmp_path / "decisions.jsonl"), "--db", team, "--as", "ann",
                "--json")
    assert result["decisions"] == 3 and len(result["incidents_opened"]) == 1
    assert [(b["line"], b["problem"][:7]) for b in result["bad_lines"]] == [(4, "not JSO"), (5, "action ")]
    (incident,) = ok("incidents", "list", "--db", team, "--as", "vic", "--json")
    assert incident["members"] == 60
    pseudonym = ok("records", "pseudonym", "ip:198.51.100.9", "--db", team).strip()
    assert incident["actors"] == [pseudonym]
    bad = tmp_path / "bad.json"
    bad.write_text('{"actors": [{"actor": "ip:1.2.3.4", "exposure": [{"member": 1}]}]}')
    result = run("exposure", "import", str(bad), "--db", team, "--as", "ann")
    assert result.exit_code == 1 and "actors[0].exposure[0]" in result.output


def test_manual_incident_and_regulator_report(team: str, tmp_path: Path) -> None:
    opened = ok("incidents", "open", "--title", "member reported a scraped copy", "--actor", "account:77",
                "--db", team, "--as", "ann", "--json")
    assert opened["id"] == "INC-1" and opened["actors"] == ["account:77"]
    ok("users", "add", "dora", "--role", "privacy_officer", "--db", team, "--as", "root")
    ok("incidents", "advance", "INC-1", "--to", "contained", "--db", team, "--as", "ann")
    html = tmp_path / "report.html"
    data = ok("report", "regulator", "--out", str(html), "--db", team, "--as", "dora", "--json")
    assert data["incidents_total"] == 1
    assert "counsel" in html.read_text().lower()
    pdf = tmp_path / "report.pdf"
    ok("report", "regulator", "--format", "pdf", "--out", str(pdf), "--db", team, "--as", "dora")
    assert pdf.read_bytes().startswith(b"%PDF")
    purged = ok("records", "purge", "--db", team, "--as", "root", "--json")
    assert purged == {"decisions": 0, "exposure": 0, "traffic_minutes": 0}
    assert ok("audit", "verify", "--db", team, "--json")["ok"]


def test_evidence_with_access_logs_quotes_the_actors_lines(team: str, tmp_path: Path) -> None:
    import gzip
    import zipfile

    def log_line(ip: str, second: int, user: str = "-") -> str:
        return (f'{ip} - {user} [21/Sep/2026:10:00:{second:02d} +0000] "GET /api/v1/members/{second} '
                f'HTTP/1.1" 200 512 "-" "curl/8.0"')

    ok("incidents", "open", "--title", "found in logs", "--actor", "ip:203.0.113.7", "--actor",
       "account:harvester", "--db", team, "--as", "ann")
    plain, packed = tmp_path / "access.log", tmp_path / "access.log.1.gz"
    plain.write_text("\n".join([log_line("198.51.100.1", 1), log_line("203.0.113.7", 2), "}{ nonsense",
                                log_line("198.51.100.2", 3, user="harvester")]) + "\n")
    packed.write_bytes(gzip.compress((log_line("203.0.113.7", 4) + "\n").encode()))
    result = ok("incidents", "evidence", "INC-1", "--out", str(tmp_path / "packs"), "--log", str(plain),
                "--log", str(packed), "--format", "combined", "--account-var", "remote_user",
                "--db", team, "--as", "ann", "--json")
    assert result["log_excerpts"]["matched"] == 3 and result["log_excerpts"]["bad_lines_skipped"] == 1
    pack = zipfile.ZipFile(result["pack"])
    quoted = [json.loads(x) for x in pack.read("INC-1/logs/excerpts.jsonl").splitlines()]
    assert [(Path(q["file"]).name, q["line"]) for q in quoted] == [("access.log", 2), ("access.log", 4),
                                                                 ("access.log.1.gz", 1)]
    text = run("incidents", "evidence", "INC-1", "--out", str(tmp_path / "packs"), "--log", str(plain),
               "--format", "combined", "--db", team, "--as", "ann")
    assert text.exit_code == 0 and "1 of the actors'" in text.output and "skipped 1:" in text.output
    no_format = run("incidents", "evidence", "INC-1", "--out", str(tmp_path), "--log", str(plain),
                    "--db", team, "--as", "ann")
    assert no_format.exit_code == 2 and "--format" in no_format.output
    bad_format = run("incidents", "evidence", "INC-1", "--out", str(tmp_path), "--log", str(plain),
                     "--format", "$nothing", "--db", team, "--as", "ann")
    assert bad_format.exit_code == 2 and "--format" in bad_format.output
    missing = run("cases", "evidence", "CASE-1", "--out", str(tmp_path), "--log", str(tmp_path / "gone.log"),
                  "--format", "combined", "--db", team, "--as", "ann")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    for bad in (no_format, bad_format, missing):
        assert "Traceback" not in bad.output


def test_a_letter_from_draft_to_sent(team: str) -> None:
    ok("users", "add", "leo", "--role", "legal", "--db", team, "--as", "root")
    ok("users", "add", "pia", "--role", "privacy_officer", "--db", team, "--as", "root")
    case = ok("cases", "open", "--respondent", "Data Harvest Inc.", "--actor", "ip:203.0.113.7",
              "--db", team, "--as", "leo", "--json")
    letter = ok("cases", "letter", case["id"], "--kind", "cease_and_desist", "--deadline-days", "14",
                "--db", team, "--as", "leo", "--json")
    assert "(14 days from the date of this letter)" in letter["text"]
    assert "ip 203.0.113.7" in letter["text"] and "p-" not in letter["text"]
    assert letter["state"] == "draft"
    number = str(letter["letter"])
    assert "four eyes" in run("cases", "approve-letter", number, "--db", team, "--as", "leo").output
    ok("cases", "approve-letter", number, "--db", team, "--as", "pia")
    zoneless = run("cases", "send-letter", number, "--channel", "email", "--at", "2026-03-06T10:00",
                   "--db", team, "--as", "leo")
    assert zoneless.exit_code != 0 and "time zone" in zoneless.output
    sent = ok("cases", "send-letter", number, "--channel", "email", "--db", team, "--as", "leo", "--json")
    assert sent["state"] == "sent" and sent["channel"] == "email" and sent["sent_at"]
    assert "DRAFT" not in sent["final_text"]
    assert "(14 days from the date of this letter)" in sent["final_text"]
    shown = ok("cases", "show", case["id"], "--db", team, "--as", "vic", "--json")
    assert shown["status"] == "letter_sent" and shown["deadline"] == sent["deadline"]
    text = ok("cases", "show", case["id"], "--db", team, "--as", "vic")
    assert f"letter {number} cease_and_desist: sent, approved by pia, sent {sent['sent_at']} by email" in text


def test_a_case_finds_its_clear_addresses_in_the_access_logs(team: str, tmp_path: Path) -> None:
    ok("users", "add", "leo", "--role", "legal", "--db", team, "--as", "root")
    pseudonym = ok("records", "pseudonym", "ip:203.0.113.7", "--db", team).strip()
    case = ok("cases", "open", "--respondent", "the unknown operator", "--actor", pseudonym,
              "--db", team, "--as", "leo", "--json")
    draft = ok("cases", "letter", case["id"], "--kind", "deletion_demand", "--db", team, "--as", "leo",
               "--json")
    assert "not identified" in draft["text"] and "203.0.113.7" not in draft["text"]
    log = tmp_path / "access.log"
    log.write_text(
        '198.51.100.9 - - [01/Nov/2026:10:00:00 +0000] "GET /u/ann HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
        '203.0.113.7 - - [01/Nov/2026:10:00:01 +0000] "GET /u/bob HTTP/1.1" 200 512 "-" "curl/8"\n')
    found = ok("cases", "identify", case["id"], "--log", str(log), "--format", "combined",
               "--db", team, "--as", "leo", "--json")
    assert found["clear_actors"] == {pseudonym: "ip:203.0.113.7"} and found["unidentified"] == []
    letter = ok("cases", "letter", case["id"], "--kind", "deletion_demand", "--db", team, "--as", "leo",
                "--json")
    assert "ip 203.0.113.7" in letter["text"] and "not identified" not in letter["text"]
    wrong = run("cases", "identify", case["id"], "--actor", "ip:192.0.2.1", "--db", team, "--as", "leo")
    assert wrong.exit_code == 1 and "none of the actors" in wrong.output


# -- issue 14: imports, operations, tamper evidence from the command line -----------------------


def _decision_lines(n: int) -> str:
    return "".join(json.dumps({"ts": 1_793_000_000 + i, "id": f"sg-{i:012x}", "action": "block",
                               "enforced": True, "keys": {"ip": "198.51.100.9"}, "route": "profile",
                               "subject": "id:1", "path": "/api/v1/members/1",
                               "reasons": [{"detector": "profile_quota", "key": "ip:198.51.100.9",
                                            "score": 0.6, "detail": "over"}]}) + "\n" for i in range(n))


def test_decisions_import_is_audited_and_importing_twice_adds_nothing(team: str, tmp_path: Path) -> None:
    import hashlib

    from scrapeguard.records.db import Database
    from scrapeguard.records.models import AuditEntry, DecisionRecord

    file = tmp_path / "decisions.jsonl"
    file.write_text(_decision_lines(4) + "not json\n")
    first = ok("decisions", "import", str(file), "--db", team, "--as", "ann", "--json")
    again = ok("decisions", "import", str(file), "--db", team, "--as", "ann", "--json")
    assert (first["decisions"], first["already_stored"]) == (4, 0)
    assert (again["decisions"], again["already_stored"]) == (0, 4)
    db = Database(team)
    try:
        with db.session() as s:
            assert s.query(DecisionRecord).count() == 4
            imports = [json.loads(e.details) for e in s.query(AuditEntry).filter(
                AuditEntry.action == "decisions.import").order_by(AuditEntry.seq)]
            actors = {e.actor for e in s.query(AuditEntry).filter(AuditEntry.action == "decisions.import")}
    finally:
        db.dispose()
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    assert actors == {"ann"}
    assert [(i["file"], i["sha256"], i["read"], i["added"], i["already_stored"], i["bad_lines"])
            for i in imports] == [("decisions.jsonl", digest, 5, 4, 0, 1),
                                  ("decisions.jsonl", digest, 5, 0, 4, 1)]


def test_read_commands_never_create_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "recrods.db"
    for args in (["incidents", "list", "--as", "ann"], ["audit", "verify"], ["users", "list", "--as", "ann"],
                 ["records", "pseudonym", "ip:203.0.113.7"]):
        result = run(*args, "--db", str(typo))
        assert result.exit_code == 1, args
        assert f"no records database at {typo}" in result.output and "scrapeguard db upgrade" in result.output
        assert "Traceback" not in result.output
    added = run("users", "add", "bob", "--role", "analyst", "--as", "root", "--db", str(typo))
    assert added.exit_code == 1 and "no records database at" in added.output
    assert not typo.exists()
    ok("users", "add", "root", "--role", "admin", "--db", str(typo))  # the first admin sets one up
    assert typo.exists()


def test_users_are_disabled_enabled_and_given_roles_by_an_admin(team: str) -> None:
    denied = run("users", "disable", "vic", "--db", team, "--as", "ann")
    assert denied.exit_code == 3 and "user.manage" in denied.output
    assert ok("users", "disable", "ann", "--note", "left", "--db", team, "--as", "root", "--json") == {
        "name": "ann", "role": "analyst", "active": False}
    refused = run("incidents", "list", "--db", team, "--as", "ann")
    assert refused.exit_code == 3 and "wrong password" in refused.output
    last = run("users", "disable", "root", "--db", team, "--as", "root")
    assert last.exit_code == 1 and "last active admin" in last.output
    ok("users", "enable", "ann", "--db", team, "--as", "root")
    assert ok("users", "role", "ann", "privacy_officer", "--db", team, "--as", "root", "--json")["role"] == \
        "privacy_officer"
    users = {u["name"]: (u["role"], u["active"]) for u in ok("users", "list", "--db", team, "--as", "ann",
                                                               "--json")}
    assert users["ann"] == ("privacy_officer", True)
    assert ok("audit", "verify", "--db", team, "--json")["ok"]


def test_notices_list_and_an_unknown_regime_is_an_error(team: str, tmp_path: Path) -> None:
    members = tmp_path / "members.json"
    members.write_text(json.dumps([{"member_id": str(i), "country": "DE", "aliases": [f"id:{i}"]}
                                   for i in range(20)]))
    ok("members", "import", str(members), "--db", team, "--as", "ann")
    exposure = {"actors": [{"actor": "ip:198.51.100.9", "exposure": [
        {"member": f"id:{i}", "route": "/api/v1/members/{id}", "categories": ["user.name"],
         "first": "2026-11-01T10:00:00Z", "last": "2026-11-01T10:00:00Z", "count": 1} for i in range(20)]}]}
    (tmp_path / "exposure.json").write_text(json.dumps(exposure))
    ok("exposure", "import", str(tmp_path / "exposure.json"), "--db", team, "--as", "ann")
    ok("incidents", "open", "--title", "t", "--actor", "ip:198.51.100.9", "--db", team, "--as", "ann")
    ok("incidents", "advance", "INC-1", "--to", "contained", "--db", team, "--as", "ann")
    ok("incidents", "assess", "INC-1", "--db", team, "--as", "ann")
    assert ok("notices", "list", "--db", team, "--as", "vic", "--json") == []
    misspelt = run("incidents", "notify", "INC-1", "--regime", "eu-gdpr", "--audience", "regulator",
                   "--db", team, "--as", "ann")
    assert misspelt.exit_code == 2 and "'eu-gdpr' is not a regime (known:" in misspelt.output
    assert "eu_gdpr" in misspelt.output
    ok("incidents", "notify", "INC-1", "--regime", "eu_gdpr", "--audience", "regulator", "--db", team,
       "--as", "ann")
    listed = ok("notices", "list", "--db", team, "--as", "vic", "--json")
    assert [(n["incident"], n["regime"], n["audience"], n["state"]) for n in listed] == [
        ("INC-1", "eu_gdpr", "regulator", "draft")]
    assert "INC-1" in ok("notices", "list", "--db", team, "--as", "vic")


def test_exposure_import_accepts_what_analyze_writes(team: str, tmp_path: Path) -> None:
    """End to end: `analyze` a small access log, import its output (the folder or the CSV)."""
    log = tmp_path / "access.log"
    log.write_text("".join(
        f'203.0.113.7 - - [01/Nov/2026:10:{i // 60:02d}:{i % 60:02d} +0000] "GET /api/v1/members/{i} '
        f'HTTP/1.1" 200 512 "-" "python-requests/2.31"\n' for i in range(1, 121)))
    analysis = run("analyze", str(log), "--format", "combined", "--out", str(tmp_path / "analysis"), "-q")
    assert analysis.exit_code == 0, analysis.output
    assert ok("exposure", "import", str(tmp_path / "analysis"), "--db", team, "--as", "ann",
              "--json") == {"rows": 120}
    opened = ok("incidents", "open", "--title", "from the logs", "--actor", "ip:203.0.113.7", "--db", team,
                "--as", "ann", "--json")
    assert opened["members"] == 120
    csv_file = tmp_path / "analysis" / "exposed-members.csv"
    assert ok("exposure", "import", str(csv_file), "--db", team, "--as", "ann", "--json") == {"rows": 120}
    summary = run("exposure", "import", str(tmp_path / "analysis" / "analysis.json"), "--db", team,
                  "--as", "ann")
    assert summary.exit_code == 1 and "exposed-members.csv" in summary.output


def test_audit_checkpoints_and_a_direct_edit_found_by_verify(team: str, tmp_path: Path) -> None:
    import os
    import stat

    from sqlalchemy import update

    from scrapeguard.records.db import Database
    from scrapeguard.records.models import UserRecord

    points = tmp_path / "audit-checkpoints.jsonl"
    first = ok("audit", "checkpoint", "--out", str(points), "--db", team, "--json")
    assert first["seq"] == 3 and stat.S_IMODE(os.stat(points).st_mode) == 0o600
    ok("users", "add", "leo", "--role", "legal", "--db", team, "--as", "root")
    ok("audit", "checkpoint", "--out", str(points), "--db", team)
    assert len(points.read_text().splitlines()) == 2
    verified = ok("audit", "verify", "--against", str(points), "--db", team, "--json")
    assert verified["ok"] and verified["checkpoints"] == 2 and verified["rows_checked"] == 4
    db = Database(team)
    with db.engine.begin() as conn:
        conn.execute(update(UserRecord).where(UserRecord.name == "vic").values(role="admin"))
    db.dispose()
    result = run("audit", "verify", "--against", str(points), "--db", team)
    assert result.exit_code == 1 and "TAMPERED" in result.output and "user vic: differs" in result.output
    refused = run("audit", "checkpoint", "--out", str(points), "--db", team)
    assert refused.exit_code == 1 and "no checkpoint written" in refused.output
