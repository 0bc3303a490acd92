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
    assert purged == {"decisions": 0, "exposure": 0}
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
