"""Issue 7's "must show", on SQLite and on PostgreSQL: a scraper runs against the demo site through
the proxy and is refused; an incident opens on its own; its exposure lists exactly the members
the scraper received; the assessment for EU GDPR, UK, Canada and Australia gives the thresholds
and deadlines; notices and a cease-and-desist letter are generated; deletion is confirmed; the
incident closes; `audit verify` passes, then fails after a row is altered."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from scrapeguard.cli import main
from scrapeguard.demo.members import make_member
from scrapeguard.records.db import Database
from scrapeguard.records.models import IncidentRecord, NoticeRecord

POLICY = """
[incidents]
open_at_members = 5
organisation = "Demo Social Ltd"
contact = "dpo@demo.example"
pseudonym_key = "env:SG_E2E_PSEUDONYM_KEY"
"""
PASSWORD = "a long enough password"


class Cli:
    def __init__(self, db_url: str, policy: Path) -> None:
        self.db_url = db_url
        self.policy = policy
        self.runner = CliRunner()

    def run(self, *args: str, as_user: str | None = None, expect: int = 0, policy: bool = False) -> Any:
        argv = [*args, "--db", self.db_url]
        if as_user:
            argv += ["--as", as_user]
        if policy:
            argv += ["--policy", str(self.policy)]
        env = {"SCRAPEGUARD_PASSWORD": PASSWORD, "SCRAPEGUARD_NEW_PASSWORD": PASSWORD,
               "SG_E2E_PSEUDONYM_KEY": "e2e-pseudonym-key-0123456789"}
        result = self.runner.invoke(main, argv, env=env, catch_exceptions=False)
        assert result.exit_code == expect, f"{argv}: {result.output}"
        if "--json" in args and expect == 0:
            return json.loads(result.stdout)
        return result.output


def test_scraper_to_closed_incident_with_a_verified_audit_log(
    demo_site: str, make_guard: Callable[..., Any], db_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SG_E2E_PSEUDONYM_KEY", "e2e-pseudonym-key-0123456789")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    guard = make_guard(demo_site, POLICY, db=db_url)

    # -- a scraper walks the member API anonymously, throwing cookies away ---------------------
    members = [make_member(1, i) for i in range(1, 301)]  # the demo site's members (seed 1)
    first_of = {c: next(m.id for m in members if m.country == c) for c in ("DE", "GB", "CA", "AU")}
    order = [*first_of.values(), *(i for i in range(1, 101) if i not in first_of.values())]
    received: set[str] = set()
    refused = 0
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
               "Accept-Language": "en-GB,en;q=0.5"}  # an HTTP library's own user agent: challenged at once
    with httpx.Client(base_url=guard.url, headers=browser) as scraper:
        for n, member_id in enumerate(order):
            time.sleep((n * 7919) % 10 * 4 / 1000)  # uneven pace, as in tests/integrations/test_proxy_e2e.py
            scraper.cookies.clear()
            response = scraper.get(f"/api/v1/members/{member_id}")
            if response.status_code == 200:
                received.add(str(response.json()["id"]))
            else:
                refused += 1
    assert len(received) >= 5 and refused > 0  # the guard let some through, then refused it
    assert {str(i) for i in first_of.values()} <= received
    assert guard.proxy.records.flush()
    status = httpx.get(f"{guard.url}/.well-known/scrapeguard/status").json()["records"]
    assert status["database"] == "ok" and status["spilled"] == 0 and status["dropped"] == 0

    # -- the team ------------------------------------------------------------------------------
    cli = Cli(db_url, policy)
    cli.run("users", "add", "root", "--role", "admin")
    for name, role in [("ann", "analyst"), ("dora", "privacy_officer"), ("leo", "legal")]:
        cli.run("users", "add", name, "--role", role, as_user="root")
    directory = tmp_path / "members.json"
    directory.write_text(json.dumps([{"member_id": str(m.id), "country": m.country,
                                      "aliases": [f"id:{m.id}", f"username:{m.username}"]} for m in members]))
    cli.run("members", "import", str(directory), as_user="ann")

    # -- the incident opened on its own, one for this scraper ----------------------------------
    (incident,) = cli.run("incidents", "list", "--json", as_user="ann")
    assert incident["state"] == "detected"
    number = incident["id"]
    shown = cli.run("incidents", "show", number, "--json", as_user="ann")
    assert shown["steps"][0]["by"] == "scrapeguard"
    assert {m["member"] for m in shown["exposure"]} == received  # exactly what the scraper received
    assert all(m["count"] == 1 and m["routes"] == ["/api/v1/members/{id}"] for m in shown["exposure"])
    # an anonymous scraper got what anonymous visitors get: no contact details (issue 14, item 7)
    assert all(m["audiences"] == ["anonymous"] and "user.contact.email" not in m["categories"]
               and "user.contact.phone_number" not in m["categories"] for m in shown["exposure"])
    assert "127.0.0.1" not in json.dumps(shown)  # addresses are pseudonymised at rest
    countries = {m.country for m in members if str(m.id) in received}
    assert {"DE", "GB", "CA", "AU"} <= countries

    # -- contained, aware, assessed --------------------------------------------------------
    cli.run("incidents", "advance", number, "--to", "contained", "--note", "blocked", as_user="ann")
    aware = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    cli.run("incidents", "aware", number, "--at", aware.isoformat(), as_user="dora")
    assessment = cli.run("incidents", "assess", number, "--json", as_user="ann", policy=True)
    regimes = {r["regime"]: r for r in assessment["regimes"]}
    assert {"eu_gdpr", "uk_gdpr", "ca_pipeda", "au_ndb"} <= set(regimes)
    eu_countries = set(regimes["eu_gdpr"]["countries"])
    assert regimes["eu_gdpr"]["affected"] == sum(1 for m in members if str(m.id) in received
                                                 and m.country in eu_countries)

    def deadline(regime: str, kind: str, audience: str) -> dict[str, Any]:
        (found,) = [d for d in regimes[regime]["deadlines"]
                    if d["kind"] == kind and d["audience"] == audience]
        return found

    def due(regime: str, kind: str, audience: str) -> datetime:
        return datetime.fromisoformat(deadline(regime, kind, audience)["due"])

    for regime in ("eu_gdpr", "uk_gdpr"):  # 72 hours from awareness, to the regulator
        assert due(regime, "notify", "regulator") == aware + timedelta(hours=72)
    # Australia: 30 days to assess (an "assess" clock), kept apart from the notify clocks
    assert due("au_ndb", "assess", "controller") == aware + timedelta(days=30)
    assert deadline("au_ndb", "notify", "regulator")["due"] is None  # "as soon as practicable"
    assert deadline("ca_pipeda", "notify", "regulator")["due"] is None  # "as soon as feasible"
    for r in regimes.values():
        for audience in ("notify_regulator", "notify_individuals"):
            assert r[audience]["verdict"] in ("likely", "unlikely", "open question")
            assert r[audience]["reasons"]
    assert "counsel" in assessment["note"]

    # -- notices: drafted, approved by someone else, sent ------------------------------------
    draft = cli.run("incidents", "notify", number, "--regime", "eu_gdpr", "--audience", "regulator", "--json",
                    as_user="dora", policy=True)
    assert "Demo Social Ltd" in draft["text"] and "counsel" in draft["text"].lower()
    assert draft["missing_contents"] == []  # every checkable element GDPR Art. 33(3) requires
    individuals = cli.run("incidents", "notify", number, "--regime", "uk_gdpr", "--audience", "individuals",
                          "--json", as_user="ann", policy=True)
    refused_approval = cli.run("notices", "approve", str(draft["notice"]), as_user="dora", expect=3)
    assert "four eyes" in refused_approval
    cli.run("notices", "approve", str(draft["notice"]), as_user="leo")
    sent_at = datetime.now(UTC).isoformat()
    cli.run("notices", "send", str(draft["notice"]), "--channel", "regulator portal", "--sent-at", sent_at,
            as_user="dora")
    cli.run("notices", "approve", str(individuals["notice"]), as_user="dora")
    cli.run("notices", "send", str(individuals["notice"]), "--channel", "email", "--sent-at",
            datetime.now(UTC).isoformat(), as_user="dora")
    sent = cli.run("notices", "show", str(draft["notice"]), "--json", as_user="ann")
    assert sent["channel"] == "regulator portal" and "DRAFT" not in sent["final_text"]
    shown = cli.run("incidents", "show", number, "--json", as_user="ann")
    owed = [o for o in shown["obligations"] if o["owed"]]
    assert owed, "the four regimes owe more than the two notices sent"
    refused = cli.run("incidents", "advance", number, "--to", "notified", as_user="dora", expect=1)
    assert "neither sent nor waived" in refused
    sent_notices = 2
    for o in owed:
        if o["status"] in ("required", "likely"):  # every notice the law asks for: drafted, approved, sent
            owed_notice = cli.run("incidents", "notify", number, "--regime", o["regime"], "--audience",
                                  o["audience"], "--json", as_user="ann", policy=True)
            cli.run("notices", "approve", str(owed_notice["notice"]), as_user="leo")
            cli.run("notices", "send", str(owed_notice["notice"]), "--channel", "email", "--sent-at",
                    datetime.now(UTC).isoformat(), as_user="dora")
            final = cli.run("notices", "show", str(owed_notice["notice"]), "--json", as_user="ann")
            assert final["final_text"] and "DRAFT" not in final["final_text"]
            sent_notices += 1
        else:  # an open question counsel decided: waived with the reasoning, for the register
            cli.run("incidents", "waive", number, "--regime", o["regime"], "--audience", o["audience"],
                    "--reason", "counsel: see memo 7", as_user="dora")
    assert sent_notices > 2
    cli.run("incidents", "advance", number, "--to", "notified", as_user="dora")
    affected = cli.run("incidents", "export-affected", number, "--json", as_user="dora")
    assert {m["member"] for m in affected} == received

    # -- the legal case: letter, confirmation of deletion --------------------------------------
    case = cli.run("cases", "open", "--incident", number, "--respondent",
                   "the unknown operator of the scraper", "--json", as_user="leo", policy=True)
    letter = cli.run("cases", "letter", case["id"], "--kind", "cease_and_desist", "--deadline-days", "14",
                     "--json", as_user="leo", policy=True)
    assert f"{len(received)} members" in letter["text"] and "counsel" in letter["text"].lower()
    assert letter["sha256"] == hashlib.sha256(letter["text"].encode()).hexdigest()
    assert "(14 days from the date of this letter)" in letter["text"]
    assert "127.0.0.1" not in letter["text"] and "not identified" in letter["text"]
    cli.run("cases", "approve-letter", str(letter["letter"]), as_user="dora", expect=1)  # an unknown address
    cli.run("cases", "identify", case["id"], "--actor", "ip:127.0.0.1", as_user="leo", policy=True)
    letter = cli.run("cases", "letter", case["id"], "--kind", "cease_and_desist", "--deadline-days", "14",
                     "--json", as_user="leo", policy=True)
    assert "ip 127.0.0.1" in letter["text"]  # the respondent's address in clear, as they know it
    cli.run("cases", "approve-letter", str(letter["letter"]), as_user="leo", expect=3)  # its drafter
    cli.run("cases", "approve-letter", str(letter["letter"]), as_user="dora")
    sent = cli.run("cases", "send-letter", str(letter["letter"]), "--channel", "email", "--json",
                   as_user="leo")
    assert sent["state"] == "sent" and "DRAFT" not in sent["final_text"]
    confirmation = tmp_path / "confirmation.txt"
    confirmation.write_text("We confirm that we deleted all data collected from the site.")
    confirmed = cli.run("cases", "confirm-deletion", case["id"], "--document", str(confirmation), "--json",
                        as_user="leo")
    assert confirmed["deletion_sha256"] == hashlib.sha256(confirmation.read_bytes()).hexdigest()
    cli.run("cases", "close", case["id"], as_user="leo")

    # -- closed, evidence, register ---------------------------------------------------------------
    cli.run("incidents", "advance", number, "--to", "closed", as_user="dora")
    pack = cli.run("incidents", "evidence", number, "--out", str(tmp_path / "packs"), "--json", as_user="ann")
    names = zipfile.ZipFile(pack["pack"]).namelist()
    assert f"{number}/manifest.json" in names and f"{number}/timeline.json" in names
    (entry,) = cli.run("incidents", "register", "--json", as_user="ann")
    assert entry["state"] == "closed" and entry["reasoning"] and len(entry["notices_sent"]) == sent_notices

    # -- the audit log verifies, then an incident, a notice and the log itself are edited in SQL --
    verified = cli.run("audit", "verify", "--json")
    assert verified["ok"] and verified["entries"] > 20 and verified["rows_checked"] > 5
    checkpoints = tmp_path / "audit-checkpoints.jsonl"
    cli.run("audit", "checkpoint", "--out", str(checkpoints))
    db = Database(db_url)
    incident_pk = int(number.removeprefix("INC-"))
    with db.engine.begin() as conn:
        aware = conn.execute(select(IncidentRecord.aware_at).where(IncidentRecord.id == incident_pk)) \
            .scalar_one()
        conn.execute(update(IncidentRecord).where(IncidentRecord.id == incident_pk)
                     .values(aware_at=aware + timedelta(days=3)))
        notice_pk = conn.execute(select(NoticeRecord.id).order_by(NoticeRecord.id).limit(1)).scalar_one()
        conn.execute(update(NoticeRecord).where(NoticeRecord.id == notice_pk)
                     .values(text="Nothing happened."))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    db.dispose()
    tampered = cli.run("audit", "verify", "--against", str(checkpoints), expect=1)
    assert "TAMPERED" in tampered and "entry 3" in tampered
    assert f"incident {incident_pk}: differs" in tampered and f"notice {notice_pk}: differs" in tampered
