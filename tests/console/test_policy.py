"""The policy page: the policy in force, a change previewed (diff, what would change), proposed by
one admin and written only when a second admin approves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from scrapeguard.console.policy import diff_lines
from scrapeguard.policy import load_policy_text
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decision_record
from scrapeguard.records.models import AuditEntry
from scrapeguard.records.privacy import Pseudonymiser

from .helpers import ConsoleHarness, make_harness  # type: ignore[import-not-found]

POLICY = '# our policy\nmode = "observe"\n\n[allowlist]\ncidrs = []\naccounts = ["monitor"]\n'


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, "utf-8")
    return path


@pytest.fixture
def editable(team_db: Database, policy_file: Path) -> ConsoleHarness:
    return make_harness(team_db, policy_path=policy_file)


def seed_observed_refusals(harness: ConsoleHarness) -> None:
    """Two refusals logged in observe mode in the last hour: one from 192.0.2.7, one from 203.0.113.5."""
    pseudonymiser = Pseudonymiser(harness.db.record_keys().pseudonym)
    records = []
    for n, ip in enumerate(["192.0.2.7", "203.0.113.5"]):
        records.append(decision_record({
            "ts": harness.clock.now - 600 + n, "id": f"sg-{n:012x}", "action": "throttle", "enforced": False,
            "keys": {"ip": ip, "net": ip.rsplit(".", 1)[0] + ".0/24"}, "route": "profile", "path": "/u/x",
            "reasons": [{"detector": "profile_quota", "key": f"ip:{ip}", "score": 0.6, "detail": "x"}]},
            pseudonymiser))
    with harness.db.session() as s:
        add_decisions(s, records)


def audit_details(db: Database, action: str) -> list[dict[str, Any]]:
    with db.session() as s:
        return [json.loads(e.details) | {"by": e.actor} for e in s.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).scalars()]


def test_without_a_policy_file_the_page_shows_the_defaults_read_only(harness: ConsoleHarness) -> None:
    page = harness.client("vic").get("/policy")
    assert page.status_code == 200
    assert "built-in defaults (read-only): start the console with --policy FILE to edit" in page.text
    assert ">enforce</span>" in page.text and "/policy/propose" not in page.text
    refused = harness.client("ada").post("/policy/propose", {"mode": "observe", "summary": "x"})
    assert refused.status_code == 409 and "--policy FILE" in refused.text


def test_one_admin_proposes_a_second_approves_and_the_file_is_written(editable: ConsoleHarness,
                                                                      policy_file: Path) -> None:
    seed_observed_refusals(editable)
    ada, abe = editable.client("ada"), editable.client("abe")
    shown = ada.get("/policy")
    assert ">observe</span>" in shown.text and "<code>monitor</code>" in shown.text
    form = {"mode": "enforce", "cidrs": "192.0.2.0/24", "accounts": "monitor"}
    preview = ada.get("/policy/propose", params={"preview": "1", **form})
    assert preview.status_code == 200
    assert "+ added" in preview.text and "− removed" in preview.text  # words, not colour only
    assert "<code>mode = &#34;enforce&#34;</code>" in preview.text
    assert "would have let through <strong>1</strong>" in preview.text  # 192.0.2.7 in the new /24
    assert "<strong>1</strong> refusal would have been enforced" in preview.text  # 203.0.113.5
    proposed = ada.post("/policy/propose", {**form, "summary": "enforce; trust the office"})
    assert proposed.status_code == 303 and proposed.headers["location"] == "/policy#change-1"
    assert policy_file.read_text("utf-8") == POLICY  # nothing written before the second admin
    pending = ada.get("/policy").text
    assert "You proposed this change: another admin must approve it" in pending
    assert "Approve change 1" not in pending
    refused = ada.post("/policy/changes/1/approve", {})
    assert refused.status_code == 403 and "a second admin must approve" in refused.text
    assert policy_file.read_text("utf-8") == POLICY
    assert "Approve change 1 and write the file" in abe.get("/policy").text
    approved = abe.post("/policy/changes/1/approve", {"note": "looked at the replay"})
    assert approved.status_code == 303
    written = policy_file.read_text("utf-8")
    assert written == ('# our policy\nmode = "enforce"\n\n[allowlist]\ncidrs = ["192.0.2.0/24"]\n'
                       'accounts = ["monitor"]\n')
    policy = load_policy_text(written)
    assert policy.mode == "enforce" and [str(c) for c in policy.allowlist.cidrs] == ["192.0.2.0/24"]
    after = abe.get("/policy").text
    assert ">enforce</span>" in after and ">applied</span>" in after and "No change is waiting." in after
    [propose_entry] = audit_details(editable.db, "policy.propose")
    [apply_entry] = audit_details(editable.db, "policy.apply")
    assert propose_entry["by"] == "ada" and apply_entry["by"] == "abe"
    assert apply_entry["to_sha256"] == propose_entry["new_sha256"] != apply_entry["from_sha256"]


def test_only_admins_change_the_policy(editable: ConsoleHarness, policy_file: Path) -> None:
    form = {"mode": "enforce", "cidrs": "", "accounts": "", "summary": "enforce"}
    for name in ("ana", "pia", "leo", "vic"):
        client = editable.client(name)
        assert client.post("/policy/propose", form).status_code == 403
        assert client.get("/policy/propose").status_code == 403
        assert client.get("/policy").status_code == 200
    assert editable.client("sue").get("/policy").status_code == 403
    assert editable.client("ada").post("/policy/propose", form).status_code == 303
    assert editable.client("vic").post("/policy/changes/1/approve", {}).status_code == 403
    assert editable.client("ana").post("/policy/changes/1/reject", {"note": "no"}).status_code == 403
    assert policy_file.read_text("utf-8") == POLICY


def test_bad_values_are_refused_with_what_is_wrong(editable: ConsoleHarness) -> None:
    ada = editable.client("ada")
    preview = ada.get("/policy/propose", params={"preview": "1", "mode": "enforce",
                                                 "cidrs": "192.0.2.0/24\nbad-network", "accounts": ""})
    assert preview.status_code == 200 and "not an IP network" in preview.text and "&#39;bad-network&#39;" \
        in preview.text
    bad = ada.post("/policy/propose", {"mode": "enforce", "cidrs": "300.0.0.0/8", "summary": "x"})
    assert bad.status_code == 400 and "not an IP network" in bad.text
    same = ada.post("/policy/propose", {"mode": "observe", "cidrs": "", "accounts": "monitor",
                                        "summary": "x"})
    assert same.status_code == 400 and "nothing to change" in same.text
    no_summary = ada.post("/policy/propose", {"mode": "enforce", "accounts": "monitor"})
    assert no_summary.status_code == 400 and "summary" in no_summary.text


def test_a_change_is_rejected_with_a_reason_and_an_edited_file_needs_a_new_proposal(
        editable: ConsoleHarness, policy_file: Path) -> None:
    ada, abe = editable.client("ada"), editable.client("abe")
    for summary in ("first", "second"):
        ada.post("/policy/propose", {"mode": "enforce", "accounts": "monitor", "summary": summary})
    assert abe.post("/policy/changes/1/reject", {}).status_code == 400  # a reason is needed
    assert abe.post("/policy/changes/1/reject", {"note": "not yet"}).status_code == 303
    assert ">rejected</span>" in abe.get("/policy").text
    assert audit_details(editable.db, "policy.reject") == [{"note": "not yet", "by": "abe"}]
    policy_file.write_text(POLICY + "# edited by hand\n", "utf-8")
    stale = abe.post("/policy/changes/2/approve", {})
    assert stale.status_code == 409 and "changed since this was proposed: propose again" in stale.text
    assert policy_file.read_text("utf-8").endswith("# edited by hand\n")
    assert abe.post("/policy/changes/x/approve", {}).status_code == 404


def test_diff_lines_say_in_words_what_changed() -> None:
    rows = diff_lines("--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n same\n")
    assert [(r.kind, r.change, r.text) for r in rows] == [
        ("hunk", "…", "@@ -1 +1 @@"), ("del", "− removed", "old"), ("add", "+ added", "new"),
        ("same", "", "same")]
