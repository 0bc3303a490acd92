"""The incidents pages through the console (TestClient, FakeClock): the list with each owed
notification's countdown, the incident's page, every step as a role that may take it and refused
(403, nothing changed) for one that may not, the downloads, the uploaded final document's hash, and
the four-eyes rule on notices as the records layer enforces it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scrapeguard.records import incidents, notices
from scrapeguard.records.db import Database
from scrapeguard.records.models import AuditEntry

from .helpers import ConsoleClient, ConsoleHarness, make_harness  # type: ignore[import-not-found]
from .incident_seed import MEMBERS, auto_opened_incident  # type: ignore[import-not-found]

HOUR = 3600.0


@pytest.fixture
def ref(harness: ConsoleHarness, tmp_path: Path) -> str:
    """INC-1, opened by the guard's detection two hours before the console's clock (on a whole minute,
    as the forms give times)."""
    harness.clock.now -= harness.clock.now % 60
    return incidents.public_id(auto_opened_incident(harness.db, tmp_path, harness.clock.now - 2 * HOUR))


def now_text(harness: ConsoleHarness, offset: float = 0.0) -> str:
    return datetime.fromtimestamp(harness.clock.now + offset, UTC).isoformat(timespec="minutes")


def audit_count(harness: ConsoleHarness) -> int:
    with harness.db.session() as s:
        return int(s.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def text_of(response: object) -> str:
    """The page's text without tags, entities decoded (for messages)."""
    html = getattr(response, "text")  # noqa: B009
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def ok(response: object, where: str = "") -> None:
    status = getattr(response, "status_code")  # noqa: B009
    assert status == 303, f"{where}: {status} {text_of(response)[:500]}"


def aware_and_assess(harness: ConsoleHarness, ref: str) -> tuple[ConsoleClient, ConsoleClient]:
    pia, ana = harness.client("pia"), harness.client("ana")
    ok(pia.post(f"/incidents/{ref}/aware", {"aware_at": now_text(harness)}), "aware")
    ok(ana.post(f"/incidents/{ref}/contain", {"note": "blocked the address"}), "contain")
    ok(ana.post(f"/incidents/{ref}/assess", {"data_was_public": "yes", "aggregated": "yes"}), "assess")
    return pia, ana


def test_the_list_counts_down_each_owed_notification_per_regime_and_audience(
        harness: ConsoleHarness, ref: str) -> None:
    viewer = harness.client("vic")
    page = text_of(viewer.get("/incidents"))
    assert f"{ref}" in page and "detected" in page and "not assessed yet" in page
    aware_and_assess(harness, ref)
    page = text_of(viewer.get("/incidents"))
    # GDPR Art. 33: the regulator within 72 h of awareness; the console's clock is at awareness
    assert "eu_gdpr → regulator" in page and "uk_gdpr → regulator" in page
    assert re.search(r"eu_gdpr → regulator \((likely|required|open question)\): due in 3 d", page), page
    harness.clock.advance(70 * HOUR)  # (a new sign-in each time: sessions end after 12 h)
    page = text_of(harness.client("vic").get("/incidents"))
    assert re.search(r"eu_gdpr → regulator \([a-z ]+\): due in 2 h", page), page
    harness.clock.advance(5 * HOUR)
    viewer = harness.client("vic")
    html = viewer.get("/incidents").text
    assert re.search(r'<span class="badge bad">overdue by 3 h</span>', html), html
    assert "No incident is closed" in text_of(viewer.get("/incidents?state=closed"))
    assert ref in text_of(viewer.get("/incidents?state=assessed"))
    assert viewer.get("/incidents?state=nonsense").status_code == 400


def test_the_incident_page_shows_times_actors_members_assessment_and_timeline(
        harness: ConsoleHarness, ref: str) -> None:
    aware_and_assess(harness, ref)
    response = harness.client("vic").get(f"/incidents/{ref}")
    assert response.status_code == 200
    html, page = response.text, text_of(response)
    assert f"{len(MEMBERS)} members affected" in page
    assert re.search(r'href="/actors/ip%3Ap-[0-9a-f]{24}"', html)
    assert "opened by scrapeguard" in page and "decided by pia" in page
    assert "Data was public before scraping yes" in page
    assert "Open questions (" in page and "Malicious intent is not established" in page
    assert "EU GDPR" in page or "eu_gdpr" in page
    for when in ("incident.open", "incident.aware", "incident.contained", "incident.assess"):
        assert when in page, when
    # a viewer reads, and is offered no step, no export
    assert "Record awareness" not in page and "affected.csv" not in html and "Draft notice" not in page


def test_awareness_needs_a_time_with_its_zone_not_in_the_future(harness: ConsoleHarness, ref: str) -> None:
    pia = harness.client("pia")
    naive = pia.post(f"/incidents/{ref}/aware", {"aware_at": "2026-11-30T01:00"})
    assert naive.status_code == 400 and "has no time zone" in text_of(naive)
    future = pia.post(f"/incidents/{ref}/aware", {"aware_at": now_text(harness, 2 * HOUR)})
    assert future.status_code == 400 and "is in the future" in text_of(future)
    garbage = pia.post(f"/incidents/{ref}/aware", {"aware_at": "yesterday"})
    assert garbage.status_code == 400 and "is not a date and time" in text_of(garbage)
    nowhere = pia.post(f"/incidents/{ref}/aware", {"aware_at": "2026-11-30T01:00", "zone": "Mars/Olympus"})
    assert nowhere.status_code == 400 and "is not a time zone" in text_of(nowhere)
    # the hour the clocks skip in Berlin (last Sunday of March 2026, 02:00 -> 03:00)
    skipped = pia.post(f"/incidents/{ref}/aware", {"aware_at": "2026-03-29T02:30", "zone": "Europe/Berlin"})
    assert skipped.status_code == 400 and "does not exist in Europe/Berlin" in text_of(skipped)
    with harness.db.session() as s:
        assert incidents.get(s, ref).aware_at is None


def test_awareness_is_stated_as_the_form_asks_a_local_time_and_its_zone(harness: ConsoleHarness,
                                                                        ref: str) -> None:
    """The form's date-and-time picker and zone field: 09:30 in Berlin (winter, +01:00) is 08:30 UTC,
    and the deadlines run from that moment."""
    berlin = datetime.fromtimestamp(harness.clock.now - 3 * HOUR, UTC).astimezone(ZoneInfo("Europe/Berlin"))
    pia = harness.client("pia")
    ok(pia.post(f"/incidents/{ref}/aware", {"aware_at": f"{berlin:%Y-%m-%dT%H:%M}", "zone": "Europe/Berlin",
                                                   "reason": "a member wrote to us before the detection"}),
       "aware")
    page = pia.get(f"/incidents/{ref}")
    assert 'type="datetime-local"' in page.text and 'list="zones"' in page.text
    with harness.db.session() as s:
        aware = incidents.get(s, ref).aware_at
    assert aware is not None
    stored = aware if aware.tzinfo else aware.replace(tzinfo=UTC)  # (SQLite keeps UTC without a zone)
    assert stored == berlin.replace(second=0, microsecond=0).astimezone(UTC)
    assert berlin.utcoffset() == timedelta(hours=1)  # (the test's clock is in winter)


def test_each_step_as_a_role_that_may_and_refused_for_one_that_may_not(harness: ConsoleHarness, ref: str,
                                                                       tmp_path: Path) -> None:
    def refused(user: str, path: str, form: dict[str, str], files: object = None) -> None:
        before = audit_count(harness)
        response = harness.client(user).post(path, form, files=files)
        assert response.status_code == 403, f"{user} {path}: {response.status_code}"
        assert audit_count(harness) == before, f"{user} {path} changed the records"

    def state() -> str:
        with harness.db.session() as s:
            return incidents.get(s, ref).state

    aware = {"aware_at": now_text(harness)}
    refused("ana", f"/incidents/{ref}/aware", aware)  # analysts do not decide awareness
    ok(harness.client("pia").post(f"/incidents/{ref}/aware", aware))
    refused("leo", f"/incidents/{ref}/contain", {})
    refused("vic", f"/incidents/{ref}/contain", {})
    ok(harness.client("ana").post(f"/incidents/{ref}/contain", {}))
    assert state() == "contained"
    refused("leo", f"/incidents/{ref}/assess", {"data_was_public": "no"})
    ok(harness.client("ana").post(f"/incidents/{ref}/assess", {"data_was_public": "no"}))
    assert state() == "assessed"
    refused("leo", f"/incidents/{ref}/notices", {"regime": "eu_gdpr", "audience": "regulator"})
    ok(harness.client("ana").post(f"/incidents/{ref}/notices", {"regime": "eu_gdpr",
                                                                "audience": "regulator"}))
    refused("ana", "/notices/1/approve", {})
    ok(harness.client("leo").post("/notices/1/approve", {}))
    send = {"channel": "regulator portal", "sent_at": now_text(harness)}
    refused("ana", "/notices/1/send", send)
    refused("vic", "/notices/1/send", send)
    ok(harness.client("pia").post("/notices/1/send", send))
    with harness.db.session() as s:
        owed = [(o.row.regime, o.row.audience) for o in incidents_owed(s, ref)]
    assert owed and ("eu_gdpr", "regulator") not in owed
    for regime, audience in owed:
        form = {"regime": regime, "audience": audience, "reason": "counsel: memo 7"}
        refused("ana", f"/incidents/{ref}/waive", form)
        ok(harness.client("pia").post(f"/incidents/{ref}/waive", form))
    refused("ana", f"/incidents/{ref}/notified", {})
    ok(harness.client("pia").post(f"/incidents/{ref}/notified", {}))
    refused("ana", f"/incidents/{ref}/close", {})
    ok(harness.client("pia").post(f"/incidents/{ref}/close", {"note": "done"}))
    assert state() == "closed"
    refused("ana", f"/incidents/{ref}/reopen", {"reason": "new facts"})
    ok(harness.client("pia").post(f"/incidents/{ref}/reopen", {"reason": "new facts"}))
    assert state() == "assessed"


def incidents_owed(session: object, ref: str) -> list[object]:
    from scrapeguard.records.obligations import outstanding

    return list(outstanding(session, incidents.parse_id(ref)))  # type: ignore[arg-type]


def test_the_records_rules_reach_the_page_as_messages(harness: ConsoleHarness, ref: str) -> None:
    pia = harness.client("pia")
    close = pia.post(f"/incidents/{ref}/close", {})
    assert close.status_code == 409 and "has not been assessed" in text_of(close)
    notified = pia.post(f"/incidents/{ref}/notified", {})
    assert notified.status_code == 409 and "from detected it can go to" in text_of(notified)
    draft = harness.client("ana").post(f"/incidents/{ref}/notices", {"regime": "eu_gdpr",
                                                                      "audience": "regulator"})
    assert draft.status_code == 409 and "has not been assessed yet" in text_of(draft)
    assert "href=\"/incidents/INC-1\"" in close.text  # the error page leads back to the incident


def test_the_drafter_cannot_approve_and_the_notice_stays_a_draft(harness: ConsoleHarness, ref: str) -> None:
    pia, _ = aware_and_assess(harness, ref)
    ok(pia.post(f"/incidents/{ref}/notices", {"regime": "eu_gdpr", "audience": "regulator"}))
    page = text_of(pia.get(f"/incidents/{ref}"))
    assert "approval must come from someone other than pia" in page
    refused = pia.post("/notices/1/approve", {})
    assert refused.status_code == 403
    message = "pia drafted notice 1 and so cannot approve it: another person must (four eyes)"
    assert message in text_of(refused)
    assert 'href="/notices/1"' in refused.text  # Back: the notice on its incident's page
    assert pia.get("/notices/1").headers["location"] == f"/incidents/{ref}#notice-1"
    with harness.db.session() as s:
        notice = notices.get_notice(s, 1)
        assert (notice.state, notice.approved_by) == ("draft", None)
    ok(harness.client("pat").post("/notices/1/approve", {"note": "checked"}))  # another privacy officer
    assert "Approved by pat" in text_of(pia.get(f"/incidents/{ref}"))


def test_a_final_document_upload_is_stored_and_hashed(harness: ConsoleHarness, ref: str) -> None:
    aware_and_assess(harness, ref)
    ok(harness.client("ana").post(f"/incidents/{ref}/notices", {"regime": "eu_gdpr",
                                                                "audience": "regulator"}))
    assert harness.client("leo").get("/notices/1/final").status_code == 409  # not sent yet
    ok(harness.client("pia").post("/notices/1/approve", {}))
    harness.clock.advance(HOUR)
    document = b"%PDF-1.4 the notice as filed on the regulator's portal\n"
    leo = harness.client("leo")
    no_zone = leo.post("/notices/1/send", {"channel": "portal", "sent_at": "2026-11-30T02:00"},
                       files={"final_document": ("filed.pdf", document, "application/pdf")})
    assert no_zone.status_code == 400 and "has no time zone" in text_of(no_zone)
    ok(leo.post("/notices/1/send", {"channel": "regulator portal", "sent_at": now_text(harness)},
                files={"final_document": ("filed notice.pdf", document, "application/pdf")}))
    digest = hashlib.sha256(document).hexdigest()
    page = text_of(leo.get(f"/incidents/{ref}"))
    assert f"SHA-256 of what was sent: {digest}" in page
    assert "Sent by leo via regulator portal" in page and "met by notice 1" in page
    final = harness.client("vic").get("/notices/1/final")
    assert final.status_code == 200 and final.content == document
    assert final.headers["content-disposition"].startswith('attachment; filename="filed_notice.pdf";')


def test_the_affected_members_csv_and_the_evidence_zip(harness: ConsoleHarness, ref: str) -> None:
    aware_and_assess(harness, ref)
    assert harness.client("ana").get(f"/incidents/{ref}/affected.csv").status_code == 403  # analysts
    exported = harness.client("leo").get(f"/incidents/{ref}/affected.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert f'attachment; filename="{ref}-affected-members.csv";' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["member"]: r["country"] for r in rows} == {str(m): c for m, c in MEMBERS.items()}
    assert harness.client("vic").get(f"/incidents/{ref}/evidence.zip").status_code == 403
    pack = harness.client("ana").get(f"/incidents/{ref}/evidence.zip")
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"
    assert f'attachment; filename="{ref}-evidence.zip";' in pack.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(pack.content)) as z:
        names = set(z.namelist())
        assert {f"{ref}/{n}" for n in ("incident.json", "decisions.jsonl", "exposure.csv", "audit.jsonl",
                                        "timeline.json", "manifest.json")} <= names
        manifest = json.loads(z.read(f"{ref}/manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(z.read(f"{ref}/{entry['path']}")).hexdigest() == entry["sha256"]
        summary = json.loads(z.read(f"{ref}/incident.json"))
        assert summary["members"] == len(MEMBERS) and summary["aware_at"] is not None
        assert len(z.read(f"{ref}/decisions.jsonl").splitlines()) == 3
    with harness.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert "incident.export_affected" in actions and "evidence.export" in actions


def test_the_times_recorded_are_the_consoles_clock(harness: ConsoleHarness, ref: str) -> None:
    aware_and_assess(harness, ref)
    with harness.db.session() as s:
        incident = incidents.get(s, ref)
        clock = datetime.fromtimestamp(harness.clock.now, UTC)
        for value in (incident.contained_at, incident.assessed_at):
            assert value is not None
            assert abs(value.replace(tzinfo=UTC) - clock) < timedelta(seconds=1)


def test_the_guards_policy_file_names_the_controller_and_a_broken_one_is_reported(
        team_db: Database, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[incidents]\norganisation = "Example Social Ltd"\ncontroller_country = "DE"\n',
                      "utf-8")
    harness = make_harness(team_db, policy_path=policy)
    ref = incidents.public_id(auto_opened_incident(harness.db, tmp_path, harness.clock.now - 2 * HOUR))
    ana = harness.client("ana")
    ok(ana.post(f"/incidents/{ref}/assess", {"data_was_public": "yes"}))
    ok(ana.post(f"/incidents/{ref}/notices", {"regime": "eu_gdpr", "audience": "regulator"}))
    with harness.db.session() as s:
        assert "Example Social Ltd" in notices.get_notice(s, 1).text
        assert incidents.get(s, ref).assessment["inputs"]["controller_country"] == "DE"  # type: ignore[index]
    policy.write_text('[incidents]\norganisation = 7\n', "utf-8")
    broken = ana.post(f"/incidents/{ref}/assess", {})
    assert broken.status_code == 503 and "the policy file cannot be used" in text_of(broken)
    assert "organisation" in text_of(broken)
